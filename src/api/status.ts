/**
 * The status document of GET /patroni and of every health GET (patroni/api.py
 * RestApiHandler.get_postgresql_status), built from a NodeSnapshot. Keys appear in Patroni's order;
 * optional keys are omitted, never null, because Patroni's readers test presence (`'xlog' in
 * json`).
 *
 * Compared with the Patroni 3.0.2 capture (test/fixtures/patroni-3.0.2) the document adds what
 * 3.3.1 added: `patroni.name`, `replication_state` on replicas and `pending_restart_reason`.
 * Those are extra keys; 3.0.2 peers ignore them.
 */
import {isStandbyClusterConfig as isStandbyCluster} from '../core/standby'
import {isUnlocked, syncMatches} from '../core/cluster'
import type {NodeRole, NodeSnapshot, ReplicationRow} from './types'

/**
 * How a primary's `role` is spelled. 3.x writes `master`, 4.x `primary`; hactl follows the cluster
 * (core/role-name.ts, through NodeSnapshot.primaryRoleName). Peers of every version decide "is
 * primary" from `xlog.location` or accept both words, and so do the health codes.
 */
export type PrimaryRoleName = 'master' | 'primary'

export interface StatusOptions {
  /** Patroni version reported in `patroni.version` (build-info PATRONI_COMPAT_VERSION). */
  patroniVersion: string
  primaryRoleName: PrimaryRoleName
  /**
   * hactl's own version, reported beside the Patroni version it speaks as a top-level `hactl`
   * object (Patroni peers and patronictl read only the keys they know; `patroni.version` must stay
   * a Patroni version: they compare it, docs/architecture.md#versions).
   */
  hactl?: {version: string; commit: string}
}

export type XlogDocument =
  | {location: number}
  | {received_location: number; replayed_location: number; replayed_timestamp: string | null; paused: boolean}

export interface StatusDocument {
  state: string
  postmaster_start_time?: string
  role: string
  server_version?: number
  xlog?: XlogDocument
  sync_standby?: true
  /** [4.x] a `/sync` member while synchronous_mode is quorum (instead of sync_standby). */
  quorum_standby?: true
  timeline?: number
  replication_state?: string
  replication?: ReplicationRow[]
  cluster_unlocked?: true
  failsafe_mode_is_active?: true
  dcs_last_seen: number
  tags?: Record<string, unknown>
  database_system_identifier?: string
  pending_restart?: true
  pending_restart_reason?: Record<string, {old_value: string; new_value: string}>
  patroni: {version: string; scope: string; name: string}
  hactl?: {version: string; commit: string}
  scheduled_restart?: Record<string, unknown>
  watchdog_failed?: true
  pause?: true
}

export function wireRole(role: NodeRole, primaryRoleName: PrimaryRoleName): string {
  return role === 'primary' ? primaryRoleName : role
}

/** Synchronous mode is on (`true`, or 4.x `quorum`, whose members are listed in `/sync` too). */
export function isSynchronousMode(s: NodeSnapshot): boolean {
  return s.globalConfig.synchronous_mode !== false
}

export function isStandbyClusterConfig(s: NodeSnapshot): boolean {
  return isStandbyCluster(s.globalConfig.standby_cluster)
}

export function buildStatusDocument(s: NodeSnapshot, opts: StatusOptions): StatusDocument {
  const pg = s.postgres
  // Built in Patroni's key order; every optional key is added only when it applies.
  const out: Partial<StatusDocument> = {state: s.state}
  if (pg) {
    out.postmaster_start_time = pythonTimestamp(pg.postmasterStartTime)
    if (pg.wal.kind === 'primary') out.role = opts.primaryRoleName
    // A standby cluster's replicas report the agent's role, so its leader shows `standby_leader`.
    else out.role = isStandbyClusterConfig(s) ? wireRole(s.role, opts.primaryRoleName) : 'replica'
    out.server_version = pg.serverVersion
    out.xlog =
      pg.wal.kind === 'primary'
        ? {location: pg.wal.location}
        : {
            received_location: pg.wal.receivedLocation ?? pg.wal.replayedLocation,
            replayed_location: pg.wal.replayedLocation,
            replayed_timestamp: pg.wal.replayedTimestamp === null ? null : pythonTimestamp(pg.wal.replayedTimestamp),
            paused: pg.wal.paused,
          }
    if (out.role === 'replica' && s.cluster && isSynchronousMode(s) && syncMatches(s.cluster.sync, s.name)) {
      if (s.globalConfig.synchronous_mode === 'quorum') out.quorum_standby = true
      else out.sync_standby = true
    }
    out.timeline = pg.timeline
    if (pg.wal.kind === 'replica' && pg.replicationState) out.replication_state = pg.replicationState
    if (pg.replication.length > 0) out.replication = pg.replication.map((r) => ({...r}))
  } else {
    out.role = wireRole(s.role, opts.primaryRoleName)
  }
  if (!s.cluster || isUnlocked(s.cluster)) out.cluster_unlocked = true
  if (s.failsafeActive) out.failsafe_mode_is_active = true
  out.dcs_last_seen = Math.trunc(s.dcsLastSeen)
  if (Object.keys(s.effectiveTags).length > 0) out.tags = {...s.effectiveTags}
  if (s.sysid) out.database_system_identifier = s.sysid
  const reason = s.pendingRestartReason && Object.keys(s.pendingRestartReason).length > 0 ? s.pendingRestartReason : null
  if (s.pendingRestart || reason) out.pending_restart = true
  if (reason) out.pending_restart_reason = structuredClone(reason)
  out.patroni = {version: opts.patroniVersion, scope: s.scope, name: s.name}
  if (opts.hactl) out.hactl = {...opts.hactl}
  if (s.scheduledRestart) {
    const {postmaster_start_time: _omitted, ...rest} = s.scheduledRestart
    out.scheduled_restart = structuredClone(rest)
  }
  if (s.watchdogFailed) out.watchdog_failed = true
  if (s.paused) out.pause = true
  return out as StatusDocument
}

export interface ParsedTimestamp {
  /** Python's `str(datetime)`: `2026-11-23 00:16:05.560688+00:00`. */
  python: string
  /** Seconds since the epoch with microseconds; null when the text carries no UTC offset. */
  epochSeconds: number | null
}

const TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/

/**
 * Reads a timestamptz as PostgreSQL prints it (`2026-11-23 00:16:05.560688+00`) or as ISO-8601.
 * Undefined when the text is neither.
 */
export function parseTimestamp(text: string): ParsedTimestamp | undefined {
  const m = TS.exec(text.trim())
  if (!m) return undefined
  const [, y, mo, d, h, mi, se, frac, tz] = m
  const micros = frac ? Number(frac.slice(0, 6).padEnd(6, '0')) : 0
  let offset = ''
  let offsetSeconds: number | null = null
  if (tz) {
    if (tz === 'Z') {
      offset = '+00:00'
      offsetSeconds = 0
    } else {
      const sign = tz[0] === '-' ? -1 : 1
      const digits = tz.slice(1).replace(':', '')
      const oh = Number(digits.slice(0, 2))
      const om = Number(digits.slice(2, 4) || '0')
      offset = `${tz[0]}${String(oh).padStart(2, '0')}:${String(om).padStart(2, '0')}`
      offsetSeconds = sign * (oh * 3600 + om * 60)
    }
  }
  // Python leaves the fraction out entirely when it is zero.
  const fraction = micros ? `.${String(micros).padStart(6, '0')}` : ''
  const python = `${y}-${mo}-${d} ${h}:${mi}:${se}${fraction}${offset}`
  const epochSeconds =
    offsetSeconds === null ? null : Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +se!) / 1000 - offsetSeconds + micros / 1e6
  return {python, epochSeconds}
}

/** Python's str() form when the text parses; otherwise the text as given (never dropped). */
export function pythonTimestamp(text: string): string {
  return parseTimestamp(text)?.python ?? text
}
