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
}

export interface ArgSpec {
  name: string
  description: string
  /** Takes every remaining positional argument (click nargs=-1). */
  variadic?: boolean
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
const WATCH_2S: FlagSpec = {kind: 'boolean', char: 'W', description: 'Auto update the screen every 2 seconds'}
const WATCH_N: FlagSpec = {kind: 'float', char: 'w', description: 'Auto update the screen every X seconds', helpValue: 'SECONDS'}
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
  },
}

export const TOPOLOGY_SPEC: CommandSpec = {
  id: 'topology',
  summary: 'Prints ASCII topology for given cluster',
  examples: ['<%= config.bin %> topology'],
  args: [{name: 'cluster_names', description: 'clusters to show (default: scope from the configuration)', variadic: true}],
  flags: {W: WATCH_2S, watch: WATCH_N},
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

/** Commands the fast path serves without loading oclif (src/cli.ts). */
export const FAST_CTL_SPECS: Readonly<Record<string, CommandSpec>> = {
  list: LIST_SPEC,
  topology: TOPOLOGY_SPEC,
  history: HISTORY_SPEC,
  'show-config': SHOW_CONFIG_SPEC,
  dsn: DSN_SPEC,
  version: VERSION_SPEC,
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
