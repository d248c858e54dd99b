/**
 * The dynamic (cluster-wide) configuration: `bootstrap.dcs` in the YAML, the DCS `config` key, and
 * the body of PATCH /config (Patroni: patroni/config.py Config.dynamic_configuration,
 * patroni/global_config.py). Values read from etcd are untrusted: they go through the same schema,
 * bad values are reported and replaced by defaults, nothing throws.
 *
 * Deliberate difference from Patroni: when `loop_wait + 2*retry_timeout > ttl` Patroni quietly
 * shrinks loop_wait/retry_timeout; hactl refuses the config and says how to fix it, because a
 * silently changed timing is how a leader ends up demoting (or not) at a surprising moment.
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
  Parser,
  str,
  typeName,
  withDefault,
} from './kit'
import {applySupportTable} from './support'
import {isStandbyClusterConfig} from '../core/standby'

export const TIMING_MINIMUMS = {ttl: 20, loop_wait: 1, retry_timeout: 3} as const

/**
 * The cross-field timing rule. Returns the refusal message, or undefined when the values are fine.
 * Pure, so the REST PATCH /config handler and edit-config can reuse it.
 */
export function checkTiming(t: {ttl: number; loop_wait: number; retry_timeout: number}): string | undefined {
  const need = t.loop_wait + 2 * t.retry_timeout
  if (need <= t.ttl) return undefined
  return (
    `loop_wait (${t.loop_wait}) + 2*retry_timeout (${t.retry_timeout}) = ${need} must be <= ttl (${t.ttl}): ` +
    `raise ttl to ${need} or lower loop_wait/retry_timeout`
  )
}

const syncMode: Parser<boolean | 'quorum'> = (v, path, c) => {
  if (typeof v === 'string' && v.trim().toLowerCase() === 'quorum') return 'quorum'
  return bool()(v, path, c)
}

const slotType = oneOf(['physical', 'logical'] as const)

const slotSpec = obj(
  {
    type: withDefault(slotType, 'physical' as 'physical' | 'logical'),
    database: optional(str({nonEmpty: true})),
    plugin: optional(str({nonEmpty: true})),
    cluster_type: optional(oneOf(['any', 'primary', 'standby'] as const)),
  },
  {
    check: (s, path, c) => {
      if (s.type === 'logical') {
        if (s.database === undefined) c.error(joinPath(path, 'database'), 'is required for a logical slot')
        if (s.plugin === undefined) c.error(joinPath(path, 'plugin'), 'is required for a logical slot')
      }
    },
  },
)
type SlotOut = NonNullable<ReturnType<typeof slotSpec>>

const SLOT_NAME = /^[a-z0-9_]{1,63}$/

const slots: Parser<Record<string, SlotOut>> = (v, path, c) => {
  if (!isPlainObject(v)) {
    c.error(path, `must be a mapping of slot name to {type, database, plugin}, not ${typeName(v)}`, v)
    return undefined
  }
  const out: Record<string, SlotOut> = {}
  for (const [name, spec] of Object.entries(v)) {
    const p = joinPath(path, name)
    if (!SLOT_NAME.test(name)) {
      c.error(p, 'slot names may only contain lower-case letters, digits and underscores (max 63)')
      continue
    }
    // `name:` with no value is a physical slot, as in Patroni.
    const r = slotSpec(spec === null ? {} : spec, p, c)
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
  ttl: withDefault(duration({min: TIMING_MINIMUMS.ttl}), 30),
  loop_wait: withDefault(duration({min: TIMING_MINIMUMS.loop_wait}), 10),
  retry_timeout: withDefault(duration({min: TIMING_MINIMUMS.retry_timeout}), 10),
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
  slots: optional(slots, {aliases: ['permanent_slots', 'permanent_replication_slots']}),
  ignore_slots: optional(list(ignoreSlot)),
  member_slots_ttl: optional(duration({min: 0})),
  primary_race_backoff: optional(duration({min: 0})),
}

const TIMING_KEYS = ['ttl', 'loop_wait', 'retry_timeout'] as const

const dynamicSpec = obj(dynamicShape, {
  check: (cfg, path, c) => {
    // A timing value already reported as invalid was replaced by its default; checking the
    // default against the others would only add a confusing second error.
    const bad = c.errors.some((i) => TIMING_KEYS.some((k) => i.path === joinPath(path, k)))
    if (bad) return
    const msg = checkTiming(cfg)
    if (msg !== undefined) c.error(joinPath(path, 'ttl'), msg)
  },
})

export type DynamicConfig = NonNullable<ReturnType<typeof dynamicSpec>>
export type DynamicPostgresql = DynamicConfig['postgresql']
export type StandbyClusterConfig = NonNullable<DynamicConfig['standby_cluster']>
export type {SlotOut as PermanentSlotConfig}

/** Patroni's defaults for every dynamic key that has one. */
export function defaultDynamicConfig(): DynamicConfig {
  return dynamicSpec({}, '', new IssueCollector()) as DynamicConfig
}

/** Parser for embedding in the local schema (`bootstrap.dcs`). */
export const dynamicConfigParser: Parser<DynamicConfig> = (v, path, c) => {
  const r = dynamicSpec(v, path, c)
  if (r !== undefined) applySupportTable('dynamic', v, path, c)
  return r
}

export interface DynamicParseResult {
  /** Always present: defaults stand in for missing or invalid values. */
  config: DynamicConfig
  issues: ConfigIssue[]
  /** No errors: the config may be applied as is (the agent keeps its last good config otherwise). */
  valid: boolean
}

/**
 * Typed, defaulted dynamic config from untrusted input (DCS value, PATCH body). A string is taken
 * as the JSON text stored in the DCS. Never throws.
 */
export function parseDynamicConfig(input: unknown, basePath = ''): DynamicParseResult {
  const c = new IssueCollector()
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
    config = dynamicConfigParser(value, basePath, c)
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
  /** Problems of the new document; each names the key that kept its previous value. */
  issues: ConfigIssue[]
}

/**
 * The dynamic configuration to run with after the DCS `config` key changed: the new document,
 * except that a key whose new value is unusable keeps the value in force before (a warning
 * names it), never the whole document ignored and never a default silently put in its place.
 * The timing triple stays consistent: when the merged ttl/loop_wait/retry_timeout break
 * `loop_wait + 2*retry_timeout <= ttl`, the three previous values stay together. Pure.
 */
export function dynamicInForce(previous: DynamicConfig, input: unknown): DynamicInForce {
  const parsed = parseDynamicConfig(input)
  if (parsed.valid) return {config: parsed.config, issues: parsed.issues}
  if (!isPlainObject(typeof input === 'string' ? safeJson(input) : input)) return {config: previous, issues: parsed.issues}
  const bad = new Set(parsed.issues.filter((i) => i.severity === 'error').map((i) => i.path.split('.')[0]))
  const merged = {...parsed.config} as Record<string, unknown>
  for (const k of bad) {
    if (k === '') return {config: previous, issues: parsed.issues}
    merged[k] = (previous as Record<string, unknown>)[k]
  }
  const config = merged as DynamicConfig
  if (checkTiming(config) !== undefined) {
    config.ttl = previous.ttl
    config.loop_wait = previous.loop_wait
    config.retry_timeout = previous.retry_timeout
  }
  return {config, issues: parsed.issues}
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
