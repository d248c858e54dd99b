/**
 * The dynamic (cluster-wide) configuration: `bootstrap.dcs` in the YAML, the DCS `config` key, and
 * the body of PATCH /config (Patroni: patroni/config.py Config.dynamic_configuration,
 * patroni/global_config.py). Values read from etcd are untrusted: they go through the same schema,
 * bad values are reported and replaced by defaults (or the value in force before), nothing throws,
 * and a document is never ignored whole for one bad value.
 *
 * hactl takes what Patroni takes and does with it what Patroni does:
 * - ttl/loop_wait/retry_timeout below their minimums (20/1/3) are raised, and when
 *   `loop_wait + 2*retry_timeout > ttl` loop_wait (and if need be retry_timeout) is lowered, each
 *   with Patroni's warning (patroni/config.py Config._validate_and_adjust_timeouts,
 *   __get_and_maybe_adjust_int_value);
 * - `slots` (or `permanent_slots`, `permanent_replication_slots`) entries with an empty value are
 *   physical slots, a mapping without `type` is logical when it names database and plugin, and a
 *   slot Patroni cannot use is skipped with a warning (patroni/dcs/__init__.py Cluster
 *   _merge_permanent_slots, is_physical_slot, is_logical_slot);
 * - any other value Patroni could not use either is a warning naming the key, and the default
 *   (for `bootstrap.dcs`) or the value in force before (for the DCS key) is kept.
 * With `--strict` (IssueCollector.strict) those adjustments and unusable values are errors instead:
 * the agent refuses such a `bootstrap.dcs`, and keeps the values in force for such a DCS key.
 */
import {ConfigIssue, IssueCollector} from './issues'
import {
  bool,
  dict,
  duration,
  either,
  int,
  isPlainObject,
  joinPath,
  list,
  obj,
  oneOf,
  optional,
  parseIntLax,
  Parser,
  str,
  typeName,
  withDefault,
} from './kit'
import {applySupportTable} from './support'
import {isStandbyClusterConfig} from '../core/standby'

export const TIMING_MINIMUMS = {ttl: 20, loop_wait: 1, retry_timeout: 3} as const
const TIMING_DEFAULTS = {ttl: 30, loop_wait: 10, retry_timeout: 10} as const
const TIMING_KEYS = ['ttl', 'loop_wait', 'retry_timeout'] as const
type TimingKey = (typeof TIMING_KEYS)[number]
export type Timing = Record<TimingKey, number>

/**
 * The cross-field timing rule as `--strict` enforces it. Returns the refusal message, or undefined
 * when the values are fine. Pure.
 */
export function checkTiming(t: Timing): string | undefined {
  const need = t.loop_wait + 2 * t.retry_timeout
  if (need <= t.ttl) return undefined
  return (
    `loop_wait (${t.loop_wait}) + 2*retry_timeout (${t.retry_timeout}) = ${need} must be <= ttl (${t.ttl}): ` +
    `raise ttl to ${need} or lower loop_wait/retry_timeout`
  )
}

export interface TimingAdjustment {
  /** The values to run with. */
  timing: Timing
  /** Patroni's warnings, in its order, each under the key it changed. */
  notes: {key: TimingKey; message: string}[]
}

/**
 * Patroni's patroni/config.py Config._validate_and_adjust_timeouts: values under the minimums are
 * raised to them (loop_wait, retry_timeout, ttl in that order); then, when even loop_wait 1 breaks
 * `loop_wait + 2*retry_timeout <= ttl`, loop_wait becomes 1 and retry_timeout (ttl-1)//2, else when
 * loop_wait breaks it, loop_wait becomes ttl - 2*retry_timeout. The warnings are Patroni's. Pure.
 */
export function adjustTiming(t: Timing): TimingAdjustment {
  const out: Timing = {...t}
  const notes: TimingAdjustment['notes'] = []
  for (const key of ['loop_wait', 'retry_timeout', 'ttl'] as const) {
    const min = TIMING_MINIMUMS[key]
    if (out[key] < min) {
      notes.push({key, message: `${key}=${out[key]} can't be smaller than ${min}, adjusting...`})
      out[key] = min
    }
  }
  const {ttl, loop_wait: loopWait, retry_timeout: retryTimeout} = out
  const minLoopWait = TIMING_MINIMUMS.loop_wait
  if (minLoopWait + 2 * retryTimeout > ttl) {
    out.loop_wait = minLoopWait
    out.retry_timeout = Math.floor((ttl - minLoopWait) / 2)
    notes.push({
      key: 'retry_timeout',
      message:
        `Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=${ttl}. ` +
        `Adjusting loop_wait from ${loopWait} to ${minLoopWait} and retry_timeout from ${retryTimeout} to ${out.retry_timeout}`,
    })
  } else if (loopWait + 2 * retryTimeout > ttl) {
    out.loop_wait = ttl - 2 * retryTimeout
    notes.push({
      key: 'loop_wait',
      message:
        `Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=${ttl} and retry_timeout=${retryTimeout}. ` +
        `Adjusting loop_wait from ${loopWait} to ${out.loop_wait}`,
    })
  }
  return {timing: out, notes}
}

/**
 * ttl/loop_wait/retry_timeout as Patroni reads them (Python's int(): a fraction is cut off, "30"
 * is 30); a unit (`30s`, `1min`) is accepted as elsewhere in hactl.
 */
function timingValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined
  if (typeof v === 'string') return parseIntLax(v, 's')
  return undefined
}

const seconds: Parser<number> = (v, path, c) => {
  const n = timingValue(v)
  if (n === undefined) {
    const not = typeof v === 'string' ? '' : `, not ${typeName(v)}`
    c.error(path, `must be an integer number of seconds (units allowed: 30s, 5min)${not}`, v)
  }
  return n
}

/** Python's truthiness of a JSON value: null, false, 0, "", [] and {} are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false
  if (Array.isArray(v)) return v.length > 0
  if (isPlainObject(v)) return Object.keys(v).length > 0
  return true
}

/** Reports what Patroni would skip or adjust with a warning: an error under --strict. */
function soft(c: IssueCollector, path: string, message: string, ...value: [unknown?]): void {
  if (c.strict) c.error(path, message, ...value)
  else c.warn(path, message, ...value)
}

const syncMode: Parser<boolean | 'quorum'> = (v, path, c) => {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'quorum') return 'quorum'
  return bool()(v, path, c)
}

const slotType = oneOf(['physical', 'logical'] as const)

export interface PermanentSlotConfig {
  type: 'physical' | 'logical'
  database?: string
  plugin?: string
  /** `primary` or `standby`: kept only in that kind of cluster; absent: in both. */
  cluster_type?: 'primary' | 'standby'
}
type SlotOut = PermanentSlotConfig

const SLOT_NAME = /^[a-z0-9_]{1,63}$/
/** Patroni's global_config.permanent_slots: the first of these that is not empty. */
const SLOT_KEYS = ['permanent_replication_slots', 'permanent_slots', 'slots'] as const

function slotText(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() !== '') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return undefined
}

/** One permanent slot as Patroni's Cluster._merge_permanent_slots reads it; undefined when it skips it. */
function permanentSlot(spec: unknown, path: string, c: IssueCollector): SlotOut | undefined {
  const bad = (why: string) => {
    soft(c, path, `bad value for a permanent slot (${why}); the slot is skipped, as Patroni skips it`, spec)
    return undefined
  }
  // `name:` with no value (or 0, '', {}) is a physical slot.
  if (!truthy(spec)) return {type: 'physical'}
  if (!isPlainObject(spec)) return bad('give nothing for a physical slot, or a mapping such as {type: logical, database: db, plugin: pgoutput}')
  const database = slotText(spec['database'])
  const plugin = slotText(spec['plugin'])
  let type: SlotOut['type']
  if (spec['type'] === undefined || spec['type'] === null) {
    type = truthy(spec['database']) && truthy(spec['plugin']) ? 'logical' : 'physical'
  } else {
    const t = slotType(spec['type'], joinPath(path, 'type'), new IssueCollector())
    if (t === undefined) return bad('type must be physical or logical')
    type = t
  }
  const out: SlotOut = {type}
  if (type === 'logical') {
    if (database === undefined || plugin === undefined) return bad('a logical slot needs database and plugin')
    out.database = database
    out.plugin = plugin
  }
  const ct = spec['cluster_type']
  if (ct === 'primary' || ct === 'standby') out.cluster_type = ct
  else if (ct !== undefined && ct !== null && ct !== 'any') {
    c.warn(joinPath(path, 'cluster_type'), 'is neither primary nor standby: the slot is kept in primary and standby clusters alike, as Patroni does', ct)
  }
  return out
}

/**
 * The permanent slots: `permanent_replication_slots`, else `permanent_slots`, else `slots`, the
 * first that is not empty (patroni/global_config.py permanent_slots). A bad name or value skips
 * that slot only (patroni/dcs/__init__.py Cluster._merge_permanent_slots).
 */
function permanentSlots(raw: Record<string, unknown>, path: string, c: IssueCollector): Record<string, SlotOut> | undefined {
  const key = SLOT_KEYS.find((k) => truthy(raw[k]))
  if (key === undefined) return undefined
  const v = raw[key]
  const p = joinPath(path, key)
  if (!isPlainObject(v)) {
    c.error(p, `must be a mapping of slot name to {type, database, plugin}, not ${typeName(v)}`, v)
    return undefined
  }
  const out: Record<string, SlotOut> = {}
  for (const [name, spec] of Object.entries(v)) {
    const sp = joinPath(p, name)
    if (name === '__proto__' || !SLOT_NAME.test(name)) {
      soft(c, sp, 'is not a valid replication slot name: slot names may only contain lower case letters, digits and the underscore (max 63); the slot is skipped, as Patroni skips it')
      continue
    }
    const r = permanentSlot(spec, sp, c)
    if (r !== undefined) out[name] = r
  }
  return out
}

const ignoreSlot = obj({
  name: optional(str({nonEmpty: true})),
  type: optional(slotType),
  database: optional(str()),
  plugin: optional(str()),
})

const standbyCluster = obj({
  host: optional(str()),
  port: optional(int({min: 1, max: 65535})),
  primary_slot_name: optional(str()),
  create_replica_methods: optional(list(str({nonEmpty: true}))),
  restore_command: optional(str()),
  archive_cleanup_command: optional(str()),
  recovery_min_apply_delay: optional(either<number | string, number | string>(int({min: 0, unit: 'ms'}), str(), 'must be a delay such as 5min or 300000')),
  leader_tags: optional(dict()),
})

/** Keys that make sense only per node; Patroni drops them from dynamic `postgresql`. */
export const LOCAL_ONLY_POSTGRESQL_KEYS = ['connect_address', 'proxy_address', 'listen', 'config_dir', 'data_dir', 'pgpass', 'authentication'] as const

/**
 * Other `postgresql` keys that Patroni copies from the dynamic config into the effective one;
 * they are validated in full by the local schema, here only passed through.
 */
const PASS_THROUGH_POSTGRESQL_KEYS = new Set([
  'bin_dir', 'bin_name', 'database', 'callbacks', 'create_replica_methods', 'basebackup', 'pg_ctl_timeout',
  'use_unix_socket', 'use_unix_socket_repl', 'remove_data_directory_on_rewind_failure',
  'remove_data_directory_on_diverged_timelines', 'pre_promote', 'before_stop', 'custom_conf',
])
const ROLE_SPECIFIC = /^(parameters|pg_hba|pg_ident)_(primary|replica|standby_leader)$/

const dynamicPostgresql = obj(
  {
    use_pg_rewind: optional(bool()),
    use_slots: withDefault(bool(), true),
    parameters: withDefault(dict(), {} as Record<string, unknown>),
    pg_hba: optional(list(str())),
    pg_ident: optional(list(str())),
    recovery_conf: optional(dict()),
  },
  {
    extra: (key, value, path, c, raw) => {
      const p = joinPath(path, key)
      if ((LOCAL_ONLY_POSTGRESQL_KEYS as readonly string[]).includes(key)) {
        c.warn(p, 'is a per-node setting and is ignored in the dynamic configuration; set it in the local YAML')
        return true
      }
      if (PASS_THROUGH_POSTGRESQL_KEYS.has(key) || ROLE_SPECIFIC.test(key)) return true
      const methods = raw['create_replica_methods']
      if (Array.isArray(methods) && methods.includes(key) && (isPlainObject(value) || value === null)) return true
      return false
    },
  },
)

const dynamicShape = {
  ttl: withDefault(seconds, TIMING_DEFAULTS.ttl),
  loop_wait: withDefault(seconds, TIMING_DEFAULTS.loop_wait),
  retry_timeout: withDefault(seconds, TIMING_DEFAULTS.retry_timeout),
  maximum_lag_on_failover: withDefault(int({unit: 'B', min: 0}), 1048576),
  maximum_lag_on_syncnode: withDefault(int({unit: 'B', min: -1}), -1),
  max_timelines_history: withDefault(int({min: 0}), 0),
  primary_start_timeout: withDefault(duration({min: 0}), 300, {aliases: ['master_start_timeout']}),
  primary_stop_timeout: withDefault(duration({min: 0}), 0, {aliases: ['master_stop_timeout']}),
  synchronous_mode: withDefault(syncMode, false as boolean | 'quorum'),
  synchronous_mode_strict: withDefault(bool(), false),
  synchronous_node_count: withDefault(int({min: 1}), 1),
  failsafe_mode: withDefault(bool(), false),
  check_timeline: withDefault(bool(), false),
  pause: optional(bool()),
  postgresql: withDefault(dynamicPostgresql, () => ({use_slots: true, parameters: {}})),
  standby_cluster: optional(standbyCluster),
  ignore_slots: optional(list(ignoreSlot)),
  member_slots_ttl: optional(duration({min: 0})),
  primary_race_backoff: optional(duration({min: 0})),
}

/**
 * The timing keys after parsing: adjusted as Patroni adjusts them, with its warnings; under
 * --strict the values are refused as before (an out-of-minimum value falls back to its default,
 * and a rule violation is an error on ttl).
 */
function checkTimingKeys(cfg: Timing, path: string, c: IssueCollector): void {
  // A timing value already reported as invalid was replaced by its default; checking the
  // default against the others would only add a confusing second error.
  const bad = c.errors.some((i) => TIMING_KEYS.some((k) => i.path === joinPath(path, k)))
  if (!c.strict) {
    const r = adjustTiming(cfg)
    for (const n of r.notes) c.warn(joinPath(path, n.key), n.message)
    Object.assign(cfg, r.timing)
    return
  }
  let below = false
  for (const k of TIMING_KEYS) {
    if (cfg[k] >= TIMING_MINIMUMS[k]) continue
    c.error(joinPath(path, k), `must be at least ${TIMING_MINIMUMS[k]} seconds (--strict)`, cfg[k])
    cfg[k] = TIMING_DEFAULTS[k]
    below = true
  }
  if (bad || below) return
  const msg = checkTiming(cfg)
  if (msg !== undefined) c.error(joinPath(path, 'ttl'), `${msg} (--strict)`)
}

const dynamicObj = obj(dynamicShape, {
  // The permanent slots under any of their names are read by permanentSlots below.
  extra: (key) => (SLOT_KEYS as readonly string[]).includes(key),
  check: (cfg, path, c) => checkTimingKeys(cfg, path, c),
})

export type DynamicConfig = NonNullable<ReturnType<typeof dynamicObj>> & {slots?: Record<string, SlotOut>}
export type DynamicPostgresql = DynamicConfig['postgresql']
export type StandbyClusterConfig = NonNullable<DynamicConfig['standby_cluster']>

const dynamicSpec: Parser<DynamicConfig> = (v, path, c) => {
  const out: DynamicConfig | undefined = dynamicObj(v, path, c)
  if (out === undefined || !isPlainObject(v)) return out
  const slots = permanentSlots(v, path, c)
  if (slots !== undefined) {
    out.slots = slots
    logicalNeedsWalLevel(slots, String(out.postgresql.parameters?.['wal_level'] ?? 'replica'), joinPath(path, SLOT_KEYS.find((k) => truthy(v[k]))!), c)
  }
  return out
}

/**
 * A permanent logical slot needs wal_level logical: PostgreSQL refuses to create it otherwise and
 * Patroni logs that error every cycle; hactl names the slot once, at load.
 */
function logicalNeedsWalLevel(slots: Record<string, SlotOut>, walLevel: string, path: string, c: IssueCollector): void {
  if (walLevel.trim().toLowerCase() === 'logical') return
  for (const [name, s] of Object.entries(slots)) {
    if (s.type !== 'logical') continue
    c.warn(joinPath(path, name), `permanent logical slot ${name} needs wal_level logical (postgresql.parameters.wal_level is ${walLevel}): PostgreSQL refuses to create it until wal_level is logical and PostgreSQL restarted`)
  }
}

/** Patroni's defaults for every dynamic key that has one. */
export function defaultDynamicConfig(): DynamicConfig {
  return dynamicSpec({}, '', new IssueCollector()) as DynamicConfig
}

/**
 * The document behind a parsed configuration, as Patroni keeps it (Config.dynamic_configuration):
 * the mapping as given, except that the timing keys Patroni adjusts are written with their
 * adjusted values. This is what the first leader writes into `/config`, what an empty `/config`
 * is restored from and what patroni.dynamic.json holds.
 */
const DOCUMENTS = new WeakMap<DynamicConfig, Record<string, unknown>>()

/** The document `config` was read from (see DOCUMENTS); undefined for a config built otherwise. */
export function dynamicDocument(config: DynamicConfig): Record<string, unknown> | undefined {
  return DOCUMENTS.get(config)
}

function remember(config: DynamicConfig, raw: Record<string, unknown>): void {
  let doc: Record<string, unknown>
  try {
    doc = structuredClone(raw)
  } catch {
    doc = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>
  }
  // Patroni writes a timing key back only when it changed it (or it was missing and changed).
  for (const k of TIMING_KEYS) {
    const given = raw[k] === undefined || raw[k] === null ? TIMING_DEFAULTS[k] : timingValue(raw[k])
    if (given !== config[k]) doc[k] = config[k]
  }
  DOCUMENTS.set(config, doc)
}

/** The typed configuration with the unsupported-settings table applied; errors stay errors. */
const parseDynamic: Parser<DynamicConfig> = (v, path, c) => {
  const r = dynamicSpec(v, path, c)
  if (r !== undefined && isPlainObject(v)) {
    applySupportTable('dynamic', v, path, c)
    remember(r, v)
  }
  return r
}

/**
 * Parser for embedding in the local schema (`bootstrap.dcs`). Without --strict a value Patroni
 * cannot use is a warning and its default applies, as Patroni starts with such a `bootstrap.dcs`;
 * only what hactl itself cannot do (the unsupported-settings table) stays an error.
 */
export const dynamicConfigParser: Parser<DynamicConfig> = (v, path, c) => {
  if (c.strict) return parseDynamic(v, path, c)
  const own = new IssueCollector(c.requireKeys)
  const r = dynamicSpec(v, path, own)
  for (const i of own.issues) {
    c.issues.push(i.severity === 'error' ? {...i, severity: 'warning', message: `${i.message}; the default is used instead`} : i)
  }
  if (r !== undefined && isPlainObject(v)) {
    applySupportTable('dynamic', v, path, c)
    remember(r, v)
  }
  return r
}

export interface DynamicParseResult {
  /** Always present: defaults stand in for missing or invalid values. */
  config: DynamicConfig
  /** Errors name values Patroni could not use either (or, with strict, values it would adjust). */
  issues: ConfigIssue[]
  /** No errors: the config may be applied as is (the agent keeps its last good config otherwise). */
  valid: boolean
}

/**
 * Typed, defaulted dynamic config from untrusted input (DCS value, PATCH body). A string is taken
 * as the JSON text stored in the DCS. Never throws.
 */
export function parseDynamicConfig(input: unknown, basePath = '', opts: {strict?: boolean} = {}): DynamicParseResult {
  const c = new IssueCollector(true, opts.strict === true)
  let value = input
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input)
    } catch {
      c.error(basePath, 'is not valid JSON', input)
      return {config: defaultDynamicConfig(), issues: c.issues, valid: false}
    }
  }
  if (!isPlainObject(value)) {
    c.error(basePath, `must be a mapping of settings, not ${typeName(value)}`, value)
    return {config: defaultDynamicConfig(), issues: c.issues, valid: false}
  }
  let config: DynamicConfig | undefined
  try {
    config = parseDynamic(value, basePath, c)
  } catch (e) {
    // The parsers are written not to throw; this guards the promise made to callers reading etcd.
    c.error(basePath, `could not be read: ${e instanceof Error ? e.message : String(e)}`)
  }
  return {config: config ?? defaultDynamicConfig(), issues: c.issues, valid: !c.hasErrors() && config !== undefined}
}

/**
 * The cluster counts as a standby cluster when host, port or restore_command is set
 * (patroni/global_config.py GlobalConfig.is_standby_cluster).
 */
export function isStandbyCluster(cfg: Pick<DynamicConfig, 'standby_cluster'>): boolean {
  return isStandbyClusterConfig(cfg.standby_cluster)
}

export interface DynamicInForce {
  config: DynamicConfig
  /** Problems of the new document; an error names a key that kept its previous value. */
  issues: ConfigIssue[]
  /** The document as Patroni keeps it (dynamicDocument); null when the input is not a mapping. */
  document: Record<string, unknown> | null
}

/** Issue paths under an older name of a key, mapped to the key of the typed config. */
const KEY_OF: Record<string, string> = {
  permanent_slots: 'slots',
  permanent_replication_slots: 'slots',
  master_start_timeout: 'primary_start_timeout',
  master_stop_timeout: 'primary_stop_timeout',
}

/**
 * The dynamic configuration to run with after the DCS `config` key (or patroni.dynamic.json)
 * changed: the new document, except that a key whose new value is unusable keeps the value in
 * force before (a warning names it), never the whole document ignored. ttl/loop_wait/retry_timeout
 * are then adjusted as Patroni adjusts them (adjustTiming), with its warnings; with `strict` a
 * merged triple that breaks `loop_wait + 2*retry_timeout <= ttl` keeps the three previous values
 * together instead. Pure.
 */
export function dynamicInForce(previous: DynamicConfig, input: unknown, opts: {strict?: boolean} = {}): DynamicInForce {
  const parsed = parseDynamicConfig(input, '', opts)
  const raw = typeof input === 'string' ? safeJson(input) : input
  if (!isPlainObject(raw)) return {config: previous, issues: parsed.issues, document: null}
  if (parsed.valid) return {config: parsed.config, issues: parsed.issues, document: dynamicDocument(parsed.config) ?? null}
  const bad = new Set(parsed.issues.filter((i) => i.severity === 'error').map((i) => i.path.split('.')[0]!.replace(/\[.*$/, '')))
  const merged = {...parsed.config} as Record<string, unknown>
  for (const b of bad) {
    if (b === '') return {config: previous, issues: parsed.issues, document: null}
    const k = KEY_OF[b] ?? b
    const before = (previous as Record<string, unknown>)[k]
    if (before === undefined) delete merged[k]
    else merged[k] = before
  }
  const config = merged as DynamicConfig
  const issues = [...parsed.issues]
  if (opts.strict) {
    if (checkTiming(config) !== undefined) {
      config.ttl = previous.ttl
      config.loop_wait = previous.loop_wait
      config.retry_timeout = previous.retry_timeout
    }
  } else {
    const a = adjustTiming(config)
    for (const n of a.notes) issues.push({severity: 'warning', path: n.key, message: n.message})
    Object.assign(config, a.timing)
  }
  remember(config, raw)
  return {config, issues, document: dynamicDocument(config) ?? null}
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
