/**
 * Status codes of the health-check endpoints, as Patroni 3.x decides them in patroni/api.py
 * `do_GET`, `do_GET_liveness` and `do_GET_readiness` (docs/ha-rules.md#rest-health-answers).
 * Pure: the caller passes the time.
 */
import type {HealthFilters} from './query'
import {isStandbyClusterConfig, type StatusDocument} from './status'
import type {NodeSnapshot} from './types'

export interface HealthCodes {
  leader: number
  primary: number
  standbyLeader: number
  replica: number
}

function isPrimaryRole(role: string | undefined): boolean {
  return role === 'master' || role === 'primary'
}

/** Patroni's parse_bool on the configured `noloadbalance` tag. */
function noLoadBalance(tags: Record<string, unknown>): boolean {
  const v = tags['noloadbalance']
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v === 1
  if (typeof v === 'string') return ['on', 'true', 'yes', '1'].includes(v.trim().toLowerCase())
  return false
}

export function healthCodes(s: NodeSnapshot, doc: StatusDocument, f: HealthFilters): HealthCodes {
  const leaderOptime = s.cluster?.status.lastLsn ?? 0
  const replayed = doc.xlog && 'replayed_location' in doc.xlog ? doc.xlog.replayed_location : 0
  const lagging = leaderOptime > 0 && f.maxLag !== null && leaderOptime > replayed + f.maxLag
  let replica =
    !noLoadBalance(s.configuredTags) &&
    !lagging &&
    doc.role === 'replica' &&
    doc.state === 'running' &&
    (f.replicationState === null || doc.replication_state === f.replicationState)
      ? 200
      : 503

  let leader = 503
  let primary = 503
  let standbyLeader = 503
  if (!s.cluster && s.paused) {
    // DCS unreachable in maintenance mode: nobody can hold a valid lock, so the role decides.
    leader = isPrimaryRole(doc.role) || doc.role === 'standby_leader' ? 200 : 503
    primary = isPrimaryRole(doc.role) ? 200 : 503
    standbyLeader = doc.role === 'standby_leader' ? 200 : 503
  } else if (s.isLeader) {
    leader = 200
    if (isStandbyClusterConfig(s)) {
      replica = 503
      standbyLeader = doc.role === 'replica' || doc.role === 'standby_leader' ? 200 : 503
    } else {
      primary = 200
    }
  }
  return {leader, primary, standbyLeader, replica}
}

/** Tag filters compare with the configured tags; non-strings as Python's `str(v).lower()`. */
function tagsMatch(tags: Record<string, unknown>, wanted: Array<[string, string]>): boolean {
  for (const [key, want] of wanted) {
    const have = tags[key]
    if (have === undefined || have === null) return false
    const text = typeof have === 'string' ? have : String(have).toLowerCase()
    if (text !== want) return false
  }
  return true
}

/**
 * The code of a generic GET/HEAD/OPTIONS health path. Matching is by substring in Patroni's
 * order (`/foo-replica-bar` counts as `/replica`), and `/` is `/primary`.
 */
export function healthStatus(rawPath: string, s: NodeSnapshot, doc: StatusDocument, f: HealthFilters): number {
  const path = rawPath === '/' ? '/primary' : rawPath
  const c = healthCodes(s, doc, f)
  let status = 503
  let filterTags = true
  if (path.includes('standby_leader') || path.includes('standby-leader')) {
    status = c.standbyLeader
    filterTags = false
  } else if (path.includes('leader')) {
    status = c.leader
    filterTags = false
  } else if (path.includes('master') || path.includes('primary') || path.includes('read-write')) {
    status = c.primary
    filterTags = false
  } else if (path.includes('replica')) {
    status = c.replica
  } else if (path.includes('read-only') && !path.includes('sync') && !path.includes('quorum')) {
    status = c.primary === 200 || c.standbyLeader === 200 ? 200 : c.replica
  } else if (path.includes('health')) {
    status = doc.state === 'running' ? 200 : 503
  } else if (s.cluster) {
    const sync = doc.sync_standby === true
    const quorum = doc.quorum_standby === true
    if ((path === '/sync' || path === '/synchronous') && sync) status = c.replica
    else if (path === '/quorum' && quorum) status = c.replica
    else if ((path === '/async' || path === '/asynchronous') && !sync && !quorum) status = c.replica
    else if (path === '/read-only-quorum') {
      if (c.primary === 200 || c.standbyLeader === 200) status = 200
      else if (quorum) status = c.replica
    } else if (path === '/read-only-sync' || path === '/read-only-synchronous') {
      if (c.primary === 200 || c.standbyLeader === 200) status = 200
      else if (sync) status = c.replica
    }
  }
  if (filterTags && status === 200 && !tagsMatch(s.configuredTags, f.tags)) status = 503
  return status
}

/**
 * GET /liveness: the HA loop is not stuck. A primary gets one ttl of slack (its lock expires then
 * anyway), others two; in pause a stuck loop harms nobody.
 */
export function livenessStatus(s: NodeSnapshot, nowMs: number): number {
  if (s.paused) return 200
  const runningPrimary = s.role === 'primary' && s.state === 'running'
  const thresholdMs = s.globalConfig.ttl * (runningPrimary ? 1 : 2) * 1000
  return s.nextRunMs + thresholdMs > nowMs ? 200 : 503
}

/**
 * Patroni 4.1's `/readiness` parameters: `lag` (bytes or a size with unit; default
 * maximum_lag_on_failover) and `mode` (`write` measures the received WAL, anything else the
 * replayed WAL).
 */
export interface ReadinessCheck {
  maxLag: number | null
  mode: 'write' | 'apply'
}

/**
 * GET /readiness. Without parameters as 3.x answers it (the version hactl reports): the lock
 * holder, or a running PostgreSQL with a usable DCS view. With `lag` or `mode`, parameters only
 * Patroni 4.1 reads, as 4.1 answers (patroni/api.py RestApiHandler._readiness): a replica must also
 * stream, and lag behind the leader's last known position by no more than the limit.
 */
export function readinessStatus(s: NodeSnapshot, check?: ReadinessCheck): number {
  if (s.isLeader) return 200
  if (!check) return s.state === 'running' && s.cluster ? 200 : 503
  if (s.state !== 'running') return 503
  const pg = s.postgres
  if (!pg || pg.replicationState !== 'streaming') return 503
  // 4.1 also takes pg_stat_wal_receiver.latest_end_lsn as the leader's position; hactl has the DCS one.
  if (!s.cluster) return s.failsafeActive ? 200 : 503
  const leaderOptime = s.cluster.status.lastLsn || 0
  const w = pg.wal
  const position = w.kind !== 'replica' ? 0 : check.mode === 'write' ? (w.receivedLocation ?? w.replayedLocation) : w.replayedLocation
  const maxLag = check.maxLag ?? s.globalConfig.maximum_lag_on_failover
  return leaderOptime - position > maxLag ? 503 : 200
}
