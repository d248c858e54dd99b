/**
 * The local YAML configuration of one node (Patroni's schema in patroni/validator.py: 3.3.1 with
 * the 4.x additions). `validateLocalConfig` finds every problem in one pass and returns the typed
 * config with Patroni's defaults applied. Unsupported settings are reported via the table in
 * support.ts.
 */
import {dynamicConfigParser, type DynamicConfig} from './dynamic-schema'
import {ConfigIssue, IssueCollector} from './issues'
import {
  address,
  anything,
  bool,
  dict,
  duration,
  either,
  type HostPort,
  int,
  isPlainObject,
  joinPath,
  list,
  listOrCsv,
  obj,
  oneOf,
  optional,
  type Parser,
  parseHostPort,
  required,
  str,
  typeName,
  withDefault,
} from './kit'
import {applySupportTable} from './support'

/** 4.x refuses this member name: it is the placeholder used in the quorum `/sync` key. */
const RESERVED_NAME = '__patroni_strict_sync_replica_placeholder__'
export const DEFAULT_ETCD_PORT = 2379

const userPass = obj({
  username: optional(str()),
  password: optional(str()),
})

const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL'] as const

const log = obj({
  type: withDefault(oneOf(['plain', 'json'] as const), 'plain' as 'plain' | 'json'),
  level: withDefault(oneOf(LOG_LEVELS), 'INFO' as (typeof LOG_LEVELS)[number]),
  traceback_level: withDefault(oneOf(['DEBUG', 'ERROR'] as const), 'ERROR' as 'DEBUG' | 'ERROR'),
  format: optional(either<string, string[]>(str(), list(str()), 'must be a format string or a list of field names')),
  dateformat: optional(str()),
  static_fields: optional(dict()),
  max_queue_size: withDefault(int({min: 1}), 1000),
  dir: optional(str({nonEmpty: true})),
  file_num: withDefault(int({min: 1}), 4),
  file_size: withDefault(int({min: 1, unit: 'B'}), 25000000),
  loggers: optional(dict(oneOf(LOG_LEVELS))),
  mode: optional(int({min: 0})),
  deduplicate_heartbeat_logs: optional(bool()),
})

const restapi = obj({
  listen: required(address()),
  connect_address: required(address({connect: true})),
  authentication: optional(userPass),
  certfile: optional(str({nonEmpty: true})),
  keyfile: optional(str({nonEmpty: true})),
  keyfile_password: optional(str()),
  cafile: optional(str({nonEmpty: true})),
  ciphers: optional(str()),
  verify_client: optional(oneOf(['none', 'optional', 'required'] as const)),
  allowlist: optional(list(str({nonEmpty: true}))),
  allowlist_include_members: optional(bool()),
  http_extra_headers: optional(dict(str())),
  https_extra_headers: optional(dict(str())),
  request_queue_size: withDefault(int({min: 0, max: 4096}), 5),
  thread_pool_size: optional(anything()),
  server_tokens: optional(anything()),
})

const ctl = obj({
  insecure: optional(bool()),
  cacert: optional(str({nonEmpty: true})),
  certfile: optional(str({nonEmpty: true})),
  keyfile: optional(str({nonEmpty: true})),
  keyfile_password: optional(str()),
  authentication: optional(userPass),
})

const etcdEndpoint = address({defaultPort: DEFAULT_ETCD_PORT})

const etcdUrl: Parser<string> = (v, path, c) => {
  const s = str({nonEmpty: true})(v, path, c)
  if (s === undefined) return undefined
  let u: URL
  try {
    u = new URL(s)
  } catch {
    c.error(path, 'must be a URL such as http://10.0.0.1:2379', v)
    return undefined
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    c.error(path, 'must use http:// or https://', v)
    return undefined
  }
  return s
}

// Where the etcd endpoints come from (srv under its Patroni aliases too).
const ETCD_ENDPOINT_KEYS = ['host', 'hosts', 'url', 'srv', 'discovery_srv', 'srv_domain', 'proxy'] as const

const etcd3 = obj(
  {
    host: optional(etcdEndpoint),
    hosts: optional(listOrCsv(etcdEndpoint)),
    url: optional(etcdUrl),
    srv: optional(str({nonEmpty: true}), {aliases: ['discovery_srv', 'srv_domain']}),
    srv_suffix: optional(str()),
    proxy: optional(etcdUrl),
    use_proxies: optional(bool()),
    protocol: optional(oneOf(['http', 'https'] as const)),
    port: optional(int({min: 1, max: 65535})),
    username: optional(str()),
    password: optional(str()),
    cacert: optional(str({nonEmpty: true}), {aliases: ['ca']}),
    cert: optional(str({nonEmpty: true})),
    key: optional(str({nonEmpty: true})),
    key_password: optional(str()),
  },
  {
    check: (e, path, c, raw) => {
      const given = ETCD_ENDPOINT_KEYS.filter((k) => raw[k] !== undefined && raw[k] !== null)
      // Patroni refuses to start without one of them (patroni/dcs/etcd.py _load_machines_cache).
      if (given.length === 0 && c.requireKeys) {
        c.error(path, 'needs the etcd endpoints: set hosts (a list of host:port), host, url, srv (a DNS domain with SRV records) or proxy')
      }
      // srv_suffix only changes the SRV names asked, and proxy replaces every other source.
      if (e.srv_suffix && e.srv === undefined) c.warn(joinPath(path, 'srv_suffix'), 'is ignored without etcd3.srv')
      if (e.proxy !== undefined && given.some((k) => k !== 'proxy')) {
        c.warn(joinPath(path, 'proxy'), `is the only etcd endpoint used, as in Patroni: ${given.filter((k) => k !== 'proxy').join(', ')} ignored`)
      }
      // Patroni authenticates only when both are set and uses key only with cert
      // (patroni/dcs/etcd.py, etcd3.py): the other half alone is ignored, with a warning here.
      if (e.password && !e.username) c.warn(joinPath(path, 'password'), 'is ignored without etcd3.username: hactl connects without authentication, as Patroni does')
      if (e.key !== undefined && e.cert === undefined) c.warn(joinPath(path, 'key'), 'is ignored without etcd3.cert: no client certificate is sent, as in Patroni')
    },
  },
)

/**
 * etcd3 section plus the endpoints configured one by one (proxy, or hosts/host/url); empty when
 * only `srv` is set: the etcd3 adapter finds them in DNS, and falls back to these when SRV
 * discovery finds nothing.
 */
export type Etcd3Config = NonNullable<ReturnType<typeof etcd3>> & {endpoints: string[]; scheme: 'http' | 'https'}

function etcdEndpoints(e: NonNullable<ReturnType<typeof etcd3>>): {endpoints: string[]; scheme: 'http' | 'https'} {
  // As in Patroni: http unless protocol says otherwise (or the url's scheme, when only url is given).
  let scheme: 'http' | 'https' = e.protocol ?? 'http'
  if (e.proxy !== undefined) {
    // Patroni reads proxy as it reads url (its scheme is the protocol) and uses nothing else.
    const u = new URL(e.proxy)
    scheme = u.protocol === 'https:' ? 'https' : 'http'
    return {endpoints: [`${scheme}://${u.host}`], scheme}
  }
  const hostPorts: HostPort[] = e.hosts ?? (e.host ? [e.host] : [])
  const endpoints = hostPorts.map((h) => `${scheme}://${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`)
  if (endpoints.length === 0 && e.url !== undefined) {
    const u = new URL(e.url)
    if (e.protocol === undefined) scheme = u.protocol === 'https:' ? 'https' : 'http'
    endpoints.push(`${scheme}://${u.host}`)
  }
  return {endpoints, scheme}
}

const bootstrap = obj(
  {
    dcs: withDefault(dynamicConfigParser, () => dynamicConfigParser({}, '', new IssueCollector()) as DynamicConfig),
    method: optional(str({nonEmpty: true})),
    initdb: optional(
      list(
        either<string, Record<string, string>>(
          str({nonEmpty: true}),
          dict(str()),
          'must be an initdb option: a string such as data-checksums or a mapping such as {encoding: UTF8}',
        ),
      ),
    ),
    post_bootstrap: optional(str()),
    post_init: optional(str()),
    users: optional(dict()),
    pg_hba: optional(anything()),
    pg_ident: optional(anything()),
  },
  {
    // The section named by `method` holds that method's command and options (patroni/postgresql/
    // bootstrap.py Bootstrap.bootstrap, _custom_bootstrap); kept for the agent.
    extra: (key, value, path, c, raw) => {
      if (raw['method'] !== key || key === 'initdb') return false
      if (value === null) return true
      if (!isPlainObject(value)) {
        c.error(joinPath(path, key), `must be a mapping with the command of bootstrap method ${key}`, value)
        return true
      }
      const command = value['command']
      if (command !== undefined && command !== null && (typeof command !== 'string' || !command.trim())) {
        c.error(joinPath(joinPath(path, key), 'command'), 'must be a non-empty command line', command)
      }
      if (value['recovery_conf'] !== undefined && value['recovery_conf'] !== null && !isPlainObject(value['recovery_conf'])) {
        c.error(joinPath(joinPath(path, key), 'recovery_conf'), 'must be a mapping of recovery settings', value['recovery_conf'])
      }
      return 'keep'
    },
    check: (b, path, c, raw) => {
      const m = b.method
      if (m === undefined || m === 'initdb') return
      const section = raw[m]
      if (!isPlainObject(section) || typeof section['command'] !== 'string') {
        // Patroni runs initdb when the method's section or its command is missing.
        c.warn(joinPath(path, 'method'), `names ${m}, but bootstrap.${m}.command is not set: initdb is used instead, as Patroni does`)
      }
    },
  },
)

/** A custom bootstrap method's section as kept in the validated configuration. */
export interface BootstrapMethodSection {
  command: string
  no_params?: unknown
  keep_existing_recovery_conf?: unknown
  recovery_conf?: Record<string, unknown>
  [option: string]: unknown
}

/**
 * The custom bootstrap method to run, or null for initdb: Patroni runs `bootstrap.<method>.command`
 * only when the method is not initdb and its section has a command (patroni/postgresql/bootstrap.py
 * Bootstrap.bootstrap).
 */
export function customBootstrap(b: {method?: string} | undefined): {name: string; section: BootstrapMethodSection} | null {
  const m = b?.method
  if (!m || m === 'initdb') return null
  const section = (b as Record<string, unknown>)[m]
  if (!isPlainObject(section) || typeof section['command'] !== 'string') return null
  return {name: m, section: section as BootstrapMethodSection}
}

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const

function pgUser(requireUsername: boolean) {
  return obj({
    username: requireUsername ? required(str({nonEmpty: true})) : optional(str({nonEmpty: true})),
    password: optional(str()),
    sslmode: optional(oneOf(SSL_MODES)),
    sslcert: optional(str()),
    sslkey: optional(str()),
    sslpassword: optional(str()),
    sslrootcert: optional(str()),
    sslcrl: optional(str()),
    sslcrldir: optional(str()),
    gssencmode: optional(oneOf(['disable', 'prefer', 'require'] as const)),
    channel_binding: optional(oneOf(['disable', 'prefer', 'require'] as const)),
    sslnegotiation: optional(oneOf(['postgres', 'direct'] as const)),
  })
}

const authentication = obj({
  superuser: required(pgUser(true)),
  replication: required(pgUser(true)),
  rewind: optional(pgUser(true)),
})

const BIN_NAMES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind'] as const

const binName = obj(Object.fromEntries(BIN_NAMES.map((b) => [b, optional(str({nonEmpty: true}))])) as Record<
  (typeof BIN_NAMES)[number],
  ReturnType<typeof optional<string>>
>)

const callbacks = obj({
  on_reload: optional(str()),
  on_restart: optional(str()),
  on_role_change: optional(str()),
  on_start: optional(str()),
  on_stop: optional(str()),
})

/** GUCs Patroni passes on the postgres command line; only the dynamic config can set them. */
export const CMDLINE_GUCS = [
  'listen_addresses', 'port', 'cluster_name', 'max_connections', 'max_locks_per_transaction', 'max_worker_processes',
  'max_prepared_transactions', 'wal_level', 'track_commit_timestamp', 'max_wal_senders', 'max_replication_slots',
  'wal_keep_segments', 'wal_keep_size', 'wal_log_hints', 'hot_standby',
] as const

/** A replica-creation method's section: `command` plus options passed as --name=value. */
const replicaMethod = dict()

const postgresql = obj(
  {
    listen: required(address({multiple: true})),
    connect_address: required(address({connect: true})),
    proxy_address: optional(address({connect: true})),
    data_dir: required(str({nonEmpty: true})),
    config_dir: optional(str({nonEmpty: true})),
    bin_dir: withDefault(str(), ''),
    bin_name: optional(binName),
    authentication: required(authentication),
    database: withDefault(str({nonEmpty: true}), 'postgres'),
    parameters: withDefault(dict(), {} as Record<string, unknown>),
    pg_hba: optional(list(str())),
    pg_ident: optional(list(str())),
    pg_ctl_timeout: withDefault(duration({min: 1}), 60),
    use_pg_rewind: optional(bool()),
    use_slots: optional(bool()),
    callbacks: optional(callbacks),
    // Patroni reads create_replica_methods, and create_replica_method when that one is empty or
    // missing (patroni/postgresql/__init__.py Postgresql.create_replica_methods); the result is
    // resolved in the section's check below. Default basebackup.
    create_replica_methods: withDefault(list(str({nonEmpty: true})), [] as string[]),
    create_replica_method: optional(list(str({nonEmpty: true}))),
    basebackup: optional(
      either<unknown[], Record<string, unknown>>(list(anything()), dict(), 'must be a list of options or a mapping of option: value'),
    ),
    pgpass: optional(str({nonEmpty: true})),
    recovery_conf: optional(dict()),
    custom_conf: optional(str({nonEmpty: true})),
    use_unix_socket: withDefault(bool(), false),
    use_unix_socket_repl: withDefault(bool(), false),
    remove_data_directory_on_rewind_failure: withDefault(bool(), false),
    remove_data_directory_on_diverged_timelines: withDefault(bool(), false),
    pre_promote: optional(str()),
    before_stop: optional(str()),
  },
  {
    extra: (key, value, path, c, raw) => {
      const listed = (k: string) => (Array.isArray(raw[k]) ? (raw[k] as unknown[]) : [])
      // A section with a command is kept too: a standby cluster names its replica methods in the
      // dynamic standby_cluster.create_replica_methods, and Patroni reads their options here
      // (patroni/postgresql/__init__.py Postgresql.replica_method_options).
      const methodLike = isPlainObject(value) && typeof value['command'] === 'string'
      if (!listed('create_replica_methods').includes(key) && !listed('create_replica_method').includes(key) && !methodLike) return false
      if (value === null) return true
      const parsed = replicaMethod(value, joinPath(path, key), c)
      const command = parsed?.['command']
      if (command !== undefined && (typeof command !== 'string' || !command.trim())) {
        c.error(joinPath(joinPath(path, key), 'command'), 'must be a non-empty command line', command)
      }
      // kept: the agent runs the method with these options (Patroni's create_replica)
      return 'keep'
    },
    check: (pg, path, c, raw) => {
      if (pg.create_replica_methods.length === 0) pg.create_replica_methods = pg.create_replica_method?.length ? pg.create_replica_method : ['basebackup']
      else if (pg.create_replica_method?.length && raw['create_replica_methods'] !== undefined) {
        c.warn(joinPath(path, 'create_replica_method'), 'is ignored: create_replica_methods is set and takes precedence, as in Patroni')
      }
      if (raw['use_slots'] !== undefined) {
        c.warn(joinPath(path, 'use_slots'), 'is read only from the dynamic configuration (bootstrap.dcs.postgresql.use_slots, edit-config); the local value is ignored')
      }
      for (const guc of CMDLINE_GUCS) {
        if (pg.parameters[guc] !== undefined) {
          c.warn(
            joinPath(joinPath(path, 'parameters'), guc),
            guc === 'listen_addresses' || guc === 'port' ? 'is ignored: it comes from postgresql.listen'
              : guc === 'cluster_name' ? 'is ignored: it comes from scope'
              : 'is ignored in the local config: set it in bootstrap.dcs.postgresql.parameters or with edit-config',
          )
        }
      }
    },
  },
)

/**
 * watchdog.mode as patroni/watchdog/base.py parse_mode reads it: false is off; require(d),
 * auto(matic), off/disable(d) in any case; anything else disables the watchdog with a warning.
 */
function watchdogMode(v: unknown, path: string, c: IssueCollector): 'off' | 'automatic' | 'required' {
  if (v === false) return 'off'
  const s = (typeof v === 'string' ? v : v === true ? 'True' : String(v)).toLowerCase()
  if (s === 'require' || s === 'required') return 'required'
  if (s === 'auto' || s === 'automatic') return 'automatic'
  if (!['off', 'disable', 'disabled'].includes(s)) c.warn(path, `Watchdog mode ${String(v)} not recognized, disabling watchdog`, v)
  return 'off'
}

const watchdog = obj({
  mode: withDefault(watchdogMode, 'automatic'),
  /** `default` (the Linux device) or `testing` (Patroni's named-pipe driver); others mean no watchdog. */
  driver: withDefault(str({nonEmpty: true}), 'default'),
  device: withDefault(str({nonEmpty: true}), '/dev/watchdog'),
  safety_margin: withDefault(int({min: -1}), 5),
})

const KNOWN_TAGS = ['nofailover', 'failover_priority', 'sync_priority', 'clonefrom', 'noloadbalance', 'nosync', 'nostream', 'replicatefrom']
const squash = (s: string) => s.replace(/[-_]/g, '').toLowerCase()

const tagsShape = {
  nofailover: optional(bool()),
  failover_priority: optional(int({min: 0})),
  sync_priority: optional(int({min: 0})),
  clonefrom: optional(bool()),
  noloadbalance: optional(bool()),
  nosync: optional(bool()),
  nostream: optional(bool()),
  replicatefrom: optional(str({nonEmpty: true})),
}

const tags = obj(tagsShape, {
  unknown: 'keep',
  check: (t, path, c, raw) => {
    // A boolean tag and its priority that say different things: the boolean wins, with
    // Patroni's warning (patroni/config.py Config._validate_contradictory_tags).
    for (const [boolName, prioName] of [['nofailover', 'failover_priority'], ['nosync', 'sync_priority']] as const) {
      if (raw[boolName] === undefined || raw[boolName] === null) continue
      const b = Boolean(t[boolName] ?? raw[boolName])
      const prio = t[prioName]
      if (typeof prio === 'number' && ((b && prio > 0) || (!b && prio <= 0))) {
        const py = b ? 'True' : 'False'
        c.warn(joinPath(path, prioName), `Conflicting configuration between ${boolName}: ${py} and ${prioName}: ${prio}. Defaulting to ${boolName}: ${py}`)
      }
    }
    for (const key of Object.keys(raw)) {
      if (KNOWN_TAGS.includes(key)) continue
      const near = KNOWN_TAGS.find((k) => squash(k) === squash(key))
      if (near !== undefined) c.warn(joinPath(path, key), `is kept as a custom tag; did you mean ${near}?`)
    }
    void t
  },
})
export type Tags = NonNullable<ReturnType<typeof tags>> & Record<string, unknown>

const OTHER_DCS = ['etcd', 'consul', 'zookeeper', 'exhibitor', 'kubernetes', 'raft'] as const

const localShape = {
  name: required(str({nonEmpty: true})),
  scope: required(str({nonEmpty: true})),
  namespace: withDefault(str({nonEmpty: true}), '/service'),
  log: optional(log),
  restapi: required(restapi),
  ctl: optional(ctl),
  etcd3: optional(etcd3),
  bootstrap: optional(bootstrap),
  citus: optional(obj({group: required(int({min: 0})), database: required(str({nonEmpty: true}))})),
  postgresql: required(postgresql),
  watchdog: optional(watchdog),
  tags: withDefault(tags, {} as NonNullable<ReturnType<typeof tags>>),
  thread_pool_size: optional(anything()),
  thread_stack_size: optional(anything()),
}

function otherDcsMessage(section: string): string {
  if (section === 'etcd') {
    return 'is the etcd v2 API section; hactl speaks etcd v3 only: rename the section to etcd3: (same keys, etcd 3.4+ serves v3 by default)'
  }
  return `is not supported: hactl speaks etcd v3 only; run etcd 3.x and configure an etcd3: section with its hosts instead of ${section}:`
}

const local = obj(localShape, {
  extra: (key, value, _path, c, raw) => {
    if ((OTHER_DCS as readonly string[]).includes(key)) {
      c.error(key, otherDcsMessage(key))
      return true
    }
    if (key === 'ttl' || key === 'loop_wait' || key === 'retry_timeout') {
      c.warn(key, `is ignored at the top level: set it in bootstrap.dcs (new cluster) or with edit-config`)
      return true
    }
    void value
    void raw
    return false
  },
  check: (cfg, path, c, raw) => {
    if (cfg.name === RESERVED_NAME) c.error('name', 'is a reserved name; choose another member name', cfg.name)
    // A slash splits the DCS key: Patroni itself would not see such a member (it reads only
    // members/<name> keys with one slash) or would read another cluster's keys. Spaces are fine.
    if (cfg.name !== undefined && cfg.name.includes('/')) c.error('name', 'must not contain a slash: it is one DCS key (members/<name>), and no member would see this one', cfg.name)
    if (cfg.scope !== undefined && cfg.scope.includes('/')) c.error('scope', 'must not contain a slash: it is one level of the DCS key (<namespace>/<scope>/...)', cfg.scope)
    const dcs = ['etcd3', ...OTHER_DCS].filter((k) => raw[k] !== undefined && raw[k] !== null)
    if (dcs.length === 0 && c.requireKeys) {
      c.error('etcd3', 'is required but missing: add an etcd3: section with hosts: [host:port, ...]')
    } else if (dcs.length > 1) {
      c.error(path, `has ${dcs.length} DCS sections (${dcs.join(', ')}); keep exactly one, etcd3`)
    }
    // `listen` and `connect_address` are checked separately; a connect_address port that differs
    // from the listen port is legal (NAT, proxies), so no cross-check here.
  },
})

export type LocalConfigBase = NonNullable<ReturnType<typeof local>>
/** The validated local configuration with Patroni's defaults applied. */
export type LocalConfig = Omit<LocalConfigBase, 'etcd3' | 'tags'> & {etcd3?: Etcd3Config; tags: Tags}
export type PostgresqlConfig = LocalConfig['postgresql']
export type RestApiConfig = LocalConfig['restapi']
export type {HostPort}

export type DeepPartial<T> = T extends readonly (infer U)[] ? DeepPartial<U>[] : T extends object ? {[K in keyof T]?: DeepPartial<T[K]>} : T

export interface LocalValidation {
  /** Present when there are no errors. */
  config?: LocalConfig
  issues: ConfigIssue[]
}

/**
 * Validates a raw (merged YAML + env) local config. `mode: 'ctl'` is patronictl's reading: no key
 * is required (a file with only `scope` is fine) and the result may be partial.
 */
export function validateLocalConfig(raw: unknown, opts: {mode?: 'agent' | 'ctl'} = {}): LocalValidation {
  const c = new IssueCollector(opts.mode !== 'ctl')
  if (raw === null || raw === undefined) raw = {}
  if (!isPlainObject(raw)) {
    c.error('', `the configuration must be a mapping of settings, not ${typeName(raw)}`, raw)
    return {issues: c.issues}
  }
  const parsed = local(raw, '', c)
  applySupportTable('local', raw, '', c)
  if (parsed === undefined || c.hasErrors()) return {issues: c.issues}
  const config = parsed as unknown as LocalConfig
  if (parsed.etcd3 !== undefined) config.etcd3 = {...parsed.etcd3, ...etcdEndpoints(parsed.etcd3)}
  return {config, issues: c.issues}
}

/** `<ns>/<scope>` base path in the DCS, slashes collapsed as Patroni does (`/service/acme`). */
export function dcsBasePath(cfg: {namespace?: string; scope?: string}): string {
  const ns = (cfg.namespace ?? '/service').replace(/^\/+|\/+$/g, '')
  return ('/' + [ns, cfg.scope ?? ''].filter((s) => s !== '').join('/')).replace(/\/+/g, '/')
}

export {parseHostPort}
