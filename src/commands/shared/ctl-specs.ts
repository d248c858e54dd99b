/**
 * Flags and arguments of the patronictl-compatible commands, as plain data. Two consumers read
 * this one table: the oclif command classes (help text, `hactl help list`) and the small parser
 * of the fast path in src/ctl (no oclif loaded), so both always accept the same options.
 * Keep this file free of imports: the fast path loads it on every `hactl list`.
 */

export type FlagKind = 'boolean' | 'string' | 'float'

export interface FlagSpec {
  kind: FlagKind
  /** Single-letter short form, e.g. `c` for `-c`. */
  char?: string
  /** Other long names, e.g. `dcs` for `--dcs-url`. */
  aliases?: readonly string[]
  description: string
  /** Accepted values (click.Choice). */
  options?: readonly string[]
  default?: string | boolean | number
  /** Environment variable read when the flag is not given (shown in help). */
  env?: string
  helpValue?: string
  /** May be given several times; the value is a string[] (click multiple=True). */
  multiple?: boolean
  /** Only the short form exists (patronictl's `-W`): help, man page and completion show no long name. */
  shortOnly?: boolean
}

export interface ArgSpec {
  name: string
  description: string
  /** Takes every remaining positional argument (click nargs=-1), minus those the arguments after it need. */
  variadic?: boolean
  /** click's required argument: missing it is a usage error (exit 2). */
  required?: boolean
  /** Accepted values (click.Choice). */
  options?: readonly string[]
}

export interface CommandSpec {
  id: string
  summary: string
  description?: string
  examples?: readonly string[]
  args: readonly ArgSpec[]
  flags: Readonly<Record<string, FlagSpec>>
}

/** patronictl's group options; hactl accepts them before the command id and after it. */
export const GLOBAL_FLAGS = {
  'config-file': {
    kind: 'string',
    char: 'c',
    description: 'Configuration file (a Patroni YAML file or a directory of them)',
    env: 'PATRONICTL_CONFIG_FILE',
    helpValue: 'FILE',
  },
  'dcs-url': {
    kind: 'string',
    char: 'd',
    aliases: ['dcs'],
    description: 'The DCS connect url, [etcd3://]host[:port][/namespace]; replaces the etcd3 section of the config',
    env: 'DCS_URL',
    helpValue: 'URL',
  },
  insecure: {kind: 'boolean', char: 'k', description: 'Allow connections to SSL sites without certs'},
} as const satisfies Record<string, FlagSpec>

export type GlobalFlagName = keyof typeof GLOBAL_FLAGS

const FORMAT: FlagSpec = {
  kind: 'string',
  char: 'f',
  description: 'Output format',
  options: ['pretty', 'tsv', 'json', 'yaml', 'yml'],
  default: 'pretty',
}
const WATCH_2S: FlagSpec = {kind: 'boolean', char: 'W', shortOnly: true, description: 'Auto update the screen every 2 seconds'}
const WATCH_N: FlagSpec = {kind: 'float', char: 'w', description: 'Auto update the screen every X seconds', helpValue: 'SECONDS'}
const LSN: FlagSpec = {
  kind: 'boolean',
  description: "Show Patroni 4.1's Receive LSN, Replay LSN and their lag columns instead of Lag in MB (hactl addition; patronictl 4.1 always does)",
}
const CLUSTER_ARG: ArgSpec = {name: 'cluster_name', description: 'cluster name (default: scope from the configuration)'}

export const ROLE_CHOICES = ['leader', 'primary', 'standby-leader', 'replica', 'standby', 'any', 'master'] as const

export const LIST_SPEC: CommandSpec = {
  id: 'list',
  summary: 'List the Patroni members for a given Patroni',
  description: 'Reads the cluster straight from etcd (no REST call), like patronictl list.',
  examples: ['<%= config.bin %> -c /etc/patroni/config.yml list', '<%= config.bin %> list -f json', '<%= config.bin %> list -e -W'],
  args: [{name: 'cluster_names', description: 'clusters to list (default: scope from the configuration)', variadic: true}],
  flags: {
    extended: {kind: 'boolean', char: 'e', description: 'Show some extra information'},
    timestamp: {kind: 'boolean', char: 't', description: 'Print timestamp'},
    format: FORMAT,
    W: WATCH_2S,
    watch: WATCH_N,
    lsn: LSN,
  },
}

export const TOPOLOGY_SPEC: CommandSpec = {
  id: 'topology',
  summary: 'Prints ASCII topology for given cluster',
  examples: ['<%= config.bin %> topology'],
  args: [{name: 'cluster_names', description: 'clusters to show (default: scope from the configuration)', variadic: true}],
  flags: {W: WATCH_2S, watch: WATCH_N, lsn: LSN},
}

export const HISTORY_SPEC: CommandSpec = {
  id: 'history',
  summary: 'Show the history of failovers/switchovers',
  args: [CLUSTER_ARG],
  flags: {format: FORMAT},
}

export const SHOW_CONFIG_SPEC: CommandSpec = {
  id: 'show-config',
  summary: 'Show cluster configuration',
  args: [CLUSTER_ARG],
  flags: {},
}

export const DSN_SPEC: CommandSpec = {
  id: 'dsn',
  summary: 'Generate a dsn for the provided member, defaults to a dsn of the leader',
  args: [CLUSTER_ARG],
  flags: {
    role: {kind: 'string', char: 'r', description: 'Give a dsn of any member with this role', options: ROLE_CHOICES},
    member: {kind: 'string', char: 'm', description: 'Generate a dsn for this member'},
  },
}

export const VERSION_SPEC: CommandSpec = {
  id: 'version',
  summary: 'Output version of hactl or of the running Patroni members of a cluster',
  args: [
    {name: 'cluster_name', description: 'cluster whose members to ask (GET /patroni)'},
    {name: 'member_names', description: 'only these members', variadic: true},
  ],
  flags: {},
}

// --- the commands that change the cluster (src/ctl/write-commands.ts) ---------------------------

const FORCE: FlagSpec = {kind: 'boolean', description: 'Do not ask for confirmation at any point'}
const LEADER: FlagSpec = {kind: 'string', aliases: ['primary', 'master'], description: 'The name of the current leader'}
const CANDIDATE: FlagSpec = {kind: 'string', description: 'The name of the candidate'}
const REQUIRED_CLUSTER: ArgSpec = {name: 'cluster_name', description: 'cluster name', required: true}
const membersArg = (what: string): ArgSpec => ({name: 'member_names', description: what, variadic: true})
const MEMBERS_WITH_ROLE = membersArg('members to act on (default: every member with the --role)')
const roleFlag = (what: string, dflt?: string): FlagSpec => ({
  kind: 'string',
  char: 'r',
  description: what,
  options: ROLE_CHOICES,
  ...(dflt === undefined ? {} : {default: dflt}),
})

export const SWITCHOVER_SPEC: CommandSpec = {
  id: 'switchover',
  summary: 'Switchover to a replica',
  description: 'Asks the leader (POST /switchover) to hand the leader lock to a healthy replica, now or at a scheduled time.',
  examples: ['<%= config.bin %> switchover --leader pg1 --candidate pg2 --force', '<%= config.bin %> switchover --scheduled 2030-01-01T03:00'],
  args: [CLUSTER_ARG],
  flags: {
    leader: LEADER,
    candidate: CANDIDATE,
    scheduled: {kind: 'string', description: 'Timestamp of a scheduled switchover in unambiguous format (e.g. ISO 8601)'},
    force: FORCE,
  },
}

export const FAILOVER_SPEC: CommandSpec = {
  id: 'failover',
  summary: 'Failover to a replica',
  description: 'Promotes the given candidate (POST /failover), also when the cluster has no healthy leader.',
  examples: ['<%= config.bin %> failover --candidate pg2 --force'],
  args: [CLUSTER_ARG],
  flags: {leader: LEADER, candidate: CANDIDATE, force: FORCE},
}

export const EDIT_CONFIG_SPEC: CommandSpec = {
  id: 'edit-config',
  summary: 'Edit cluster configuration',
  description:
    'Changes the dynamic configuration (the config key in etcd, compare-and-swap). Shows a unified diff and asks before applying. Without --set/--pg/--apply/--replace it opens $EDITOR.',
  examples: [
    '<%= config.bin %> edit-config --set loop_wait=5 --pg max_connections=200',
    'cat patch.yml | <%= config.bin %> edit-config --apply - --force',
  ],
  args: [CLUSTER_ARG],
  flags: {
    quiet: {kind: 'boolean', char: 'q', description: 'Do not show changes'},
    set: {kind: 'string', char: 's', multiple: true, description: 'Set specific configuration value. Can be specified multiple times', helpValue: 'KEY=VALUE'},
    pg: {
      kind: 'string',
      char: 'p',
      multiple: true,
      description: 'Set specific PostgreSQL parameter value. Shorthand for -s postgresql.parameters. Can be specified multiple times',
      helpValue: 'NAME=VALUE',
    },
    apply: {kind: 'string', description: 'Apply configuration from file. Use - for stdin.', helpValue: 'FILE'},
    replace: {kind: 'string', description: 'Apply configuration from file, replacing existing configuration. Use - for stdin.', helpValue: 'FILE'},
    force: FORCE,
  },
}

export const RESTART_SPEC: CommandSpec = {
  id: 'restart',
  summary: 'Restart cluster member',
  examples: ['<%= config.bin %> restart demo pg2 --force', '<%= config.bin %> restart demo --role replica --pending --force'],
  args: [REQUIRED_CLUSTER, MEMBERS_WITH_ROLE],
  flags: {
    role: roleFlag('Restart only members with this role', 'any'),
    any: {kind: 'boolean', description: 'Restart a single member only'},
    scheduled: {kind: 'string', description: 'Timestamp of a scheduled restart in unambiguous format (e.g. ISO 8601)'},
    'pg-version': {kind: 'string', description: 'Restart if the PostgreSQL version is less than provided (e.g. 9.5.2)'},
    pending: {kind: 'boolean', description: 'Restart if pending'},
    timeout: {kind: 'string', description: 'Return error and fail over if necessary when restarting takes longer than this.'},
    force: FORCE,
  },
}

export const RELOAD_SPEC: CommandSpec = {
  id: 'reload',
  summary: 'Reload cluster member configuration',
  args: [REQUIRED_CLUSTER, MEMBERS_WITH_ROLE],
  flags: {role: roleFlag('Reload only members with this role', 'any'), force: FORCE},
}

export const REINIT_SPEC: CommandSpec = {
  id: 'reinit',
  summary: 'Reinitialize cluster member',
  description: 'Asks each named member (POST /reinitialize) to wipe its data directory and clone it again; with no member names it asks which one.',
  examples: ['<%= config.bin %> reinit demo pg3 --force --wait'],
  args: [REQUIRED_CLUSTER, membersArg('members to reinitialize (default: asks which one)')],
  flags: {
    force: FORCE,
    'from-leader': {kind: 'boolean', description: 'Get basebackup from leader (Patroni 4.1; agents before 4.1 ignore it)'},
    wait: {kind: 'boolean', description: 'Wait until reinitialization completes'},
  },
}

export const PAUSE_SPEC: CommandSpec = {
  id: 'pause',
  summary: 'Disable auto failover',
  args: [CLUSTER_ARG],
  flags: {wait: {kind: 'boolean', description: 'Wait until pause is applied on all nodes'}},
}

export const RESUME_SPEC: CommandSpec = {
  id: 'resume',
  summary: 'Resume auto failover',
  args: [CLUSTER_ARG],
  flags: {wait: {kind: 'boolean', description: 'Wait until pause is cleared on all nodes'}},
}

export const REMOVE_SPEC: CommandSpec = {
  id: 'remove',
  summary: 'Remove cluster from DCS',
  description: 'Deletes every key of the cluster in etcd, after you type the cluster name, "Yes I am aware" and the leader name.',
  args: [REQUIRED_CLUSTER],
  flags: {format: FORMAT},
}

export const QUERY_SPEC: CommandSpec = {
  id: 'query',
  summary: 'Query a Patroni PostgreSQL member',
  examples: ["<%= config.bin %> query -U postgres -c 'SELECT 1'", '<%= config.bin %> query -r replica --file report.sql'],
  args: [CLUSTER_ARG],
  flags: {
    format: {kind: 'string', description: 'Output format (pretty, tsv, json, yaml)', options: ['pretty', 'tsv', 'json', 'yaml', 'yml'], default: 'tsv'},
    file: {kind: 'string', char: 'f', description: 'Execute the SQL commands from this file', helpValue: 'FILE'},
    password: {kind: 'boolean', description: 'force password prompt'},
    username: {kind: 'string', char: 'U', description: 'database user name'},
    W: WATCH_2S,
    watch: WATCH_N,
    role: roleFlag('The role of the query'),
    member: {kind: 'string', char: 'm', description: 'Query a specific member'},
    delimiter: {kind: 'string', description: 'The column delimiter', default: '\t'},
    command: {kind: 'string', char: 'c', description: 'The SQL commands to execute', helpValue: 'SQL'},
    dbname: {kind: 'string', char: 'd', description: 'database name to connect to'},
  },
}

export const FLUSH_SPEC: CommandSpec = {
  id: 'flush',
  summary: 'Discard scheduled events',
  examples: ['<%= config.bin %> flush demo restart --force', '<%= config.bin %> flush demo switchover'],
  args: [REQUIRED_CLUSTER, MEMBERS_WITH_ROLE, {name: 'target', description: 'what to discard', required: true, options: ['restart', 'switchover']}],
  flags: {role: roleFlag('Flush only members with this role', 'any'), force: FORCE},
}

export const DEMOTE_CLUSTER_SPEC: CommandSpec = {
  id: 'demote-cluster',
  summary: 'Demote cluster to a standby cluster',
  description: 'Patroni 4.1: adds standby_cluster to the dynamic configuration; the primary becomes a standby leader following the given remote.',
  examples: ['<%= config.bin %> demote-cluster demo --host 10.0.0.5 --port 5432 --force'],
  args: [CLUSTER_ARG],
  flags: {
    force: FORCE,
    host: {kind: 'string', description: 'Address of the remote node'},
    port: {kind: 'string', description: 'Port of the remote node', helpValue: 'INTEGER'},
    'restore-command': {kind: 'string', description: 'Command to restore WAL records from the remote primary'},
    'primary-slot-name': {kind: 'string', description: 'Name of the slot on the remote node to use for replication'},
  },
}

export const PROMOTE_CLUSTER_SPEC: CommandSpec = {
  id: 'promote-cluster',
  summary: 'Promote cluster, make it run standalone',
  description: 'Patroni 4.1: removes standby_cluster from the dynamic configuration; the standby leader promotes.',
  args: [CLUSTER_ARG],
  flags: {force: FORCE},
}

/** The commands that change the cluster; served by the same runner as the read commands. */
export const WRITE_CTL_SPECS: Readonly<Record<string, CommandSpec>> = {
  switchover: SWITCHOVER_SPEC,
  failover: FAILOVER_SPEC,
  'edit-config': EDIT_CONFIG_SPEC,
  restart: RESTART_SPEC,
  reload: RELOAD_SPEC,
  reinit: REINIT_SPEC,
  pause: PAUSE_SPEC,
  resume: RESUME_SPEC,
  remove: REMOVE_SPEC,
  query: QUERY_SPEC,
  flush: FLUSH_SPEC,
  'demote-cluster': DEMOTE_CLUSTER_SPEC,
  'promote-cluster': PROMOTE_CLUSTER_SPEC,
}

/** Commands the fast path serves without loading oclif (src/cli.ts). */
export const FAST_CTL_SPECS: Readonly<Record<string, CommandSpec>> = {
  list: LIST_SPEC,
  topology: TOPOLOGY_SPEC,
  history: HISTORY_SPEC,
  'show-config': SHOW_CONFIG_SPEC,
  dsn: DSN_SPEC,
  version: VERSION_SPEC,
  ...WRITE_CTL_SPECS,
}

/**
 * The command's own flags plus the global ones. A command flag wins a short letter both want
 * (patronictl's `query -c/--command` against `-c/--config-file`); the global keeps its long name.
 */
export function withGlobalFlags(spec: CommandSpec): Record<string, FlagSpec> {
  const taken = new Set(Object.values(spec.flags).map((f) => f.char).filter((c) => c !== undefined))
  const out: Record<string, FlagSpec> = {}
  for (const [name, f] of Object.entries(GLOBAL_FLAGS) as [string, FlagSpec][]) {
    out[name] = f.char !== undefined && taken.has(f.char) ? {...f, char: undefined} : f
  }
  return {...out, ...spec.flags}
}
