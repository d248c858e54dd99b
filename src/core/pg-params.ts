/**
 * Which server parameters a node starts PostgreSQL with (patroni/postgresql/config.py
 * ConfigHandler.get_server_parameters; docs/ha-rules.md#postgresql-configuration). Pure: the
 * agent's PostgreSQL adapter writes the result into postgresql.conf and onto the postgres command
 * line.
 *
 * The "command-line" parameters come only from the dynamic (DCS) configuration, because every
 * member must agree on them: a standby cannot start with fewer connections, locks or worker
 * processes than its primary. Values that fail their check fall back to the default with a warning,
 * as Patroni does, so one bad edit cannot stop every node from starting.
 */
export interface CmdlineOption {
  default: string | undefined
  valid: (v: string) => boolean
  /** First server_version_num that knows the parameter. */
  since: number
}

const int = (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v) : NaN)
const never = () => false
const boolish = (v: string) => /^(on|off|true|false|yes|no|1|0)$/i.test(v.trim())

/** `128MB`, `1GB`, `16384kB`, bare numbers in MB: the size in MB (PG's units, 1024-based). */
export function sizeInMb(v: string): number {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/.exec(v)
  if (!m) return NaN
  const n = Number(m[1])
  switch (m[2]) {
    case 'kB':
      return n / 1024
    case 'GB':
      return n * 1024
    case 'TB':
      return n * 1024 * 1024
    default:
      return n
  }
}

export const CMDLINE_OPTIONS: Record<string, CmdlineOption> = {
  listen_addresses: {default: undefined, valid: never, since: 90100},
  port: {default: undefined, valid: never, since: 90100},
  cluster_name: {default: undefined, valid: never, since: 90500},
  wal_level: {default: 'hot_standby', valid: (v) => ['hot_standby', 'replica', 'logical'].includes(v.toLowerCase()), since: 90100},
  hot_standby: {default: 'on', valid: never, since: 90100},
  max_connections: {default: '100', valid: (v) => int(v) >= 25, since: 90100},
  max_wal_senders: {default: '10', valid: (v) => int(v) >= 3, since: 90100},
  wal_keep_segments: {default: '8', valid: (v) => int(v) >= 1, since: 90100},
  wal_keep_size: {default: '128MB', valid: (v) => sizeInMb(v) >= 16, since: 130000},
  max_prepared_transactions: {default: '0', valid: (v) => int(v) >= 0, since: 90100},
  max_locks_per_transaction: {default: '64', valid: (v) => int(v) >= 32, since: 90100},
  track_commit_timestamp: {default: 'off', valid: boolish, since: 90500},
  max_replication_slots: {default: '10', valid: (v) => int(v) >= 4, since: 90400},
  max_worker_processes: {default: '8', valid: (v) => int(v) >= 2, since: 90400},
  wal_log_hints: {default: 'on', valid: never, since: 90400},
}

/** Settings a standby must not start below its primary's, read from pg_controldata. */
export const CONTROLDATA_MINIMUMS: Record<string, string> = {
  max_connections: 'max_connections setting',
  max_prepared_transactions: 'max_prepared_xacts setting',
  max_locks_per_transaction: 'max_locks_per_xact setting',
  max_worker_processes: 'max_worker_processes setting',
  max_wal_senders: 'max_wal_senders setting',
}

export interface ServerParamsInput {
  /** server_version_num, e.g. 150004 */
  serverVersion: number
  scope: string
  /** postgresql.listen: `host[,host...]:port` */
  listen: string
  dynamicParameters: Record<string, unknown>
  localParameters: Record<string, unknown>
  synchronousMode?: boolean
  synchronousModeStrict?: boolean
  /** what the sync logic wants in synchronous_standby_names; undefined while unknown */
  synchronousStandbyNames?: string
  /**
   * The member's PostgreSQL role: strict mode's '*' placeholder goes only on a primary (or one
   * being promoted), as Patroni >= 3.1 does, so that a bootstrap's own writes (post_bootstrap's
   * roles and grants) never wait for a standby that cannot exist yet. Undefined: any role.
   */
  role?: string
}

export interface ServerParams {
  /** every parameter, as written to postgresql.conf (sorted by name when written) */
  parameters: Record<string, string>
  /** the subset passed as `--name=value` on the postgres command line */
  cmdline: Record<string, string>
  warnings: string[]
}

const asText = (v: unknown): string => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v))

/**
 * `h1,h2:5432` -> h1,h2 and 5432; `[::1]:5432` -> ::1 and 5432; no port -> 5432.
 * Splits at the last colon and strips brackets, as Patroni's split_host_port does.
 */
export function splitListen(listen: string): {addresses: string; port: string} {
  const s = listen.trim()
  const at = s.lastIndexOf(':')
  let host = at >= 0 ? s.slice(0, at) : s
  const port = at >= 0 && /^\d+$/.test(s.slice(at + 1)) ? s.slice(at + 1) : '5432'
  if (at >= 0 && port === '5432' && !/^\d+$/.test(s.slice(at + 1))) host = s
  if (host.includes(':')) host = host.split(',').map((h) => h.trim().replace(/^\[|\]$/g, '')).join(',')
  return {addresses: host, port}
}

export function serverParameters(input: ServerParamsInput): ServerParams {
  const warnings: string[] = []
  const lower = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]))
  const local = lower(input.localParameters)
  const dynamic = lower(input.dynamicParameters)
  const parameters: Record<string, string> = {}

  for (const [k, v] of Object.entries({...dynamic, ...local})) {
    if (k in CMDLINE_OPTIONS || v === null || v === undefined) continue
    parameters[k] = asText(v)
  }
  for (const k of Object.keys(local)) {
    if (k in CMDLINE_OPTIONS && !['listen_addresses', 'port', 'cluster_name'].includes(k)) {
      warnings.push(`postgresql.parameters.${k} is ignored in the local configuration: set it in the dynamic configuration (edit-config), every member must agree on it`)
    }
  }
  for (const [k, opt] of Object.entries(CMDLINE_OPTIONS)) {
    const given = dynamic[k]
    const isWalKeep = k === 'wal_keep_segments' || k === 'wal_keep_size'
    if (given !== undefined && given !== null && opt.valid(asText(given))) {
      parameters[k] = asText(given)
      continue
    }
    if (given !== undefined && given !== null && opt.default !== undefined && !['hot_standby', 'wal_log_hints'].includes(k)) {
      warnings.push(`postgresql.parameters.${k}=${asText(given)} is not accepted: using ${isWalKeep ? 'the default' : opt.default}`)
    }
    if (opt.default !== undefined && !isWalKeep) parameters[k] = opt.default
  }

  const {addresses, port} = splitListen(input.listen)
  parameters.listen_addresses = addresses
  parameters.port = port
  parameters.cluster_name = input.scope

  if (input.synchronousMode) {
    if (input.synchronousStandbyNames === undefined) {
      // patroni/postgresql/config.py ConfigHandler.get_server_parameters (3.1+): only while primary
      const primary = input.role === undefined || input.role === 'primary' || input.role === 'promoted'
      if (input.synchronousModeStrict && primary) parameters.synchronous_standby_names = '*'
      else delete parameters.synchronous_standby_names
    } else {
      parameters.synchronous_standby_names = input.synchronousStandbyNames
    }
  }

  const v = input.serverVersion
  if (parameters.wal_level === (v >= 90600 ? 'hot_standby' : 'replica')) parameters.wal_level = v >= 90600 ? 'replica' : 'hot_standby'
  // wal_keep_segments became wal_keep_size in PG 13; convert at 16 MB a segment, as Patroni does.
  if (v >= 130000) {
    const segments = parameters.wal_keep_segments ?? CMDLINE_OPTIONS.wal_keep_segments.default!
    delete parameters.wal_keep_segments
    parameters.wal_keep_size ??= `${Number(segments) * 16}MB`
  } else {
    const size = parameters.wal_keep_size ?? CMDLINE_OPTIONS.wal_keep_size.default!
    delete parameters.wal_keep_size
    parameters.wal_keep_segments ??= String(Math.floor((sizeInMb(size) + 8) / 16))
  }

  const cmdline: Record<string, string> = {}
  for (const [k, opt] of Object.entries(CMDLINE_OPTIONS)) {
    if (v < opt.since) {
      delete parameters[k]
      continue
    }
    if (k === 'wal_keep_segments' || k === 'wal_keep_size') continue
    if (parameters[k] !== undefined) cmdline[k] = parameters[k]
  }
  return {parameters, cmdline, warnings}
}

/**
 * A standby cannot start with lower shared-memory settings than its primary had: take the larger
 * value from pg_controldata and report the parameter as needing a restart once lowered.
 */
export function raiseToControldata(
  params: Record<string, string>,
  controldata: Record<string, string>,
  serverVersion: number,
): {parameters: Record<string, string>; raised: string[]} {
  const out = {...params}
  const raised: string[] = []
  for (const [guc, field] of Object.entries(CONTROLDATA_MINIMUMS)) {
    if (guc === 'max_wal_senders' && serverVersion < 120000) continue
    const fromControl = Number(controldata[field])
    const configured = Number(out[guc])
    if (Number.isFinite(fromControl) && Number.isFinite(configured) && fromControl > configured) {
      out[guc] = String(fromControl)
      raised.push(guc)
    }
  }
  return {parameters: out, raised}
}

const MEMORY_UNITS: Array<[string, number]> = [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', 1024 ** 2], ['kB', 1024], ['B', 1]]
const TIME_UNITS: Array<[string, number]> = [['d', 86_400_000_000], ['h', 3_600_000_000], ['min', 60_000_000], ['s', 1_000_000], ['ms', 1000], ['us', 1]]

/**
 * A pg_settings value in its base unit as a person writes it, the way Patroni shows pending
 * restart reasons: `64` with unit `8kB` is `512kB`, `2048` with unit `MB` is `2GB`, `30000` with
 * unit `ms` is `30s`. Anything else (no unit, not an integer, zero, -1) is returned as it is.
 */
export function humanSetting(setting: string, unit: string | null): string {
  const m = unit ? /^(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)$/.exec(unit) : null
  if (!m || !/^\d+$/.test(setting) || Number(setting) === 0) return setting
  const table = MEMORY_UNITS.some(([u]) => u === m[2]) ? MEMORY_UNITS : TIME_UNITS
  const base = table.find(([u]) => u === m[2])![1]
  const total = Number(setting) * Number(m[1] || '1') * base
  if (!Number.isSafeInteger(total)) return setting
  const [name, size] = table.find(([, size]) => total % size === 0)!
  return `${total / size}${name}`
}
