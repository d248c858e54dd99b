/**
 * GET /cluster, /history and /config bodies from a ClusterView (Patroni's patroni/utils.py
 * `cluster_as_json`, patroni/api.py do_GET_history and do_GET_config). Pure. Members have the 3.3.1
 * shape, the version hactl reports, plus what Patroni 4.1 adds to every member but the leader:
 * `receive_lsn`/`receive_lag`, `replay_lsn`/`replay_lag` and `lsn` (WAL positions as `X/Y`, lags in
 * bytes behind the leader's last known position, `unknown` when the member did not report one).
 * 3.x readers ignore keys they do not know; `lag` keeps 3.3.1's rule.
 */
import {formatLsn} from '../core/lsn'
import {isStandbyClusterConfig} from '../core/standby'
import {isUnlocked, syncMatches, type ClusterView, type Member} from '../core/cluster'

export interface ClusterMemberJson {
  name: string
  role: 'leader' | 'standby_leader' | 'sync_standby' | 'quorum_standby' | 'replica'
  state: string
  api_url: string | null
  host?: string
  port?: number
  timeline?: unknown
  pending_restart?: unknown
  pending_restart_reason?: unknown
  scheduled_restart?: unknown
  tags?: unknown
  receive_lsn?: string
  receive_lag?: number | 'unknown'
  replay_lsn?: string
  replay_lag?: number | 'unknown'
  lag?: number | 'unknown'
  lsn?: string
}

export interface ClusterJson {
  members: ClusterMemberJson[]
  scope: string
  pause?: true
  scheduled_switchover?: {at: string; from?: string; to?: string}
}

/** Settings read from the `config` key the way Patroni's global config does (invalid counts as empty). */
function dcsConfig(view: ClusterView): Record<string, unknown> {
  return view.config && view.config.valid && view.config.modifyVersion ? view.config.data : {}
}

function truthy(v: unknown): boolean {
  if (typeof v === 'string') return ['on', 'true', 'yes', '1'].includes(v.trim().toLowerCase())
  return v === true || v === 1
}

export function configIsStandby(cfg: Record<string, unknown>): boolean {
  return isStandbyClusterConfig(cfg['standby_cluster'])
}

function connHostPort(connUrl: string | null): {host?: string; port?: number} {
  if (!connUrl) return {}
  try {
    const u = new URL(connUrl)
    const host = decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1')
    if (!host) return {}
    return u.port ? {host, port: Number(u.port)} : {host}
  } catch {
    return {}
  }
}

/** Patroni's parse_int on a member key's WAL position: integers, and digit strings from older writers. */
function wal(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v
  if (typeof v === 'string' && /^\s*\+?\d+\s*$/.test(v)) {
    const n = Number(v)
    return Number.isSafeInteger(n) ? n : null
  }
  return null
}

const OPTIONAL_MEMBER_KEYS = ['timeline', 'pending_restart', 'pending_restart_reason', 'scheduled_restart', 'tags'] as const

export function clusterJson(view: ClusterView, scope: string): ClusterJson {
  const cfg = dcsConfig(view)
  const leader = isUnlocked(view) ? null : view.leader!.name
  const quorumMode = String(cfg['synchronous_mode']).toLowerCase() === 'quorum' // patroni/global_config.py is_quorum_commit_mode
  const syncMode = quorumMode || truthy(cfg['synchronous_mode'])
  const clusterLsn = view.status.lastLsn || 0
  const members = view.members.map((m: Member): ClusterMemberJson => {
    let role: ClusterMemberJson['role'] = 'replica'
    if (m.name === leader) role = configIsStandby(cfg) ? 'standby_leader' : 'leader'
    // patroni/utils.py cluster_as_json: a /sync member is a quorum standby in quorum commit mode.
    else if (syncMode && syncMatches(view.sync, m.name)) role = quorumMode ? 'quorum_standby' : 'sync_standby'
    const replicationState = typeof m.data.replication_state === 'string' ? m.data.replication_state : ''
    const state = (role !== 'leader' ? replicationState : '') || (typeof m.data.state === 'string' ? m.data.state : '')
    const out: ClusterMemberJson = {name: m.name, role, state, api_url: m.apiUrl, ...connHostPort(m.connUrl)}
    for (const k of OPTIONAL_MEMBER_KEYS) if (k in m.data) out[k] = m.data[k]
    if (m.name !== leader) {
      // Patroni 4.1: for receive_, replay_ and the plain position, in this key order; a missing
      // or zero position is `unknown` (`if not lsn`).
      for (const [lsnKey, lagKey, raw] of [
        ['receive_lsn', 'receive_lag', wal(m.data.receive_lsn)],
        ['replay_lsn', 'replay_lag', wal(m.data.replay_lsn)],
      ] as const) {
        if (!raw) {
          out[lsnKey] = 'unknown'
          out[lagKey] = 'unknown'
        } else {
          out[lagKey] = clusterLsn >= raw ? clusterLsn - raw : 0
          out[lsnKey] = formatLsn(raw)
        }
      }
      const lsn = m.lsn
      // `lag` as 3.3.1 computes it (only a missing position is unknown).
      if (lsn === null) out.lsn = 'unknown'
      out.lag = lsn === null ? 'unknown' : clusterLsn >= lsn ? clusterLsn - lsn : 0
      if (lsn !== null) out.lsn = lsn > 0 && Number.isSafeInteger(lsn) ? formatLsn(lsn) : 'unknown'
    }
    return out
  })
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const out: ClusterJson = {members, scope}
  if (truthy(cfg['pause'])) out.pause = true
  const f = view.failover
  if (f && f.scheduledAt) {
    const sw: NonNullable<ClusterJson['scheduled_switchover']> = {at: f.scheduledAt}
    if (f.leader) sw.from = f.leader
    if (f.candidate) sw.to = f.candidate
    out.scheduled_switchover = sw
  }
  return out
}

/** GET /history: the stored lines as they are, `[]` when absent or not a list. */
export function historyJson(view: ClusterView): unknown[] {
  const h = view.history
  if (!h || !h.valid) return []
  try {
    const parsed: unknown = JSON.parse(h.raw)
    return Array.isArray(parsed) ? parsed : h.lines
  } catch {
    return h.lines
  }
}

/** GET /config: the stored object, or undefined (502) when the key is absent or not an object ([4.x]). */
export function configJson(view: ClusterView): Record<string, unknown> | undefined {
  return view.config && view.config.valid && view.config.modifyVersion ? view.config.data : undefined
}
