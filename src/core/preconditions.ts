/**
 * The rules a switchover or manual failover must pass, in one place for the three that check
 * them: the REST API before it writes the `failover` key (Patroni's api.py do_POST_failover and
 * is_failover_possible), the leader when it acts on the key (ha.py manual_failover_process in
 * core/rules/leader.ts) and the others when the leader is gone (core/candidates.ts), and the
 * ctl when it explains a refusal (src/ctl/explain.ts). Pure: the callers fetch what they need
 * (the cluster view, the candidates' REST status) and pass it in.
 */
import {syncMatches, type Member, type SyncState} from './cluster'
import type {PeerStatus} from './observation'

/**
 * In synchronous mode only a synchronous standby of the current leader may be the target of a
 * switchover: any other member may lack acknowledged commits. A `/sync` written by another
 * leader is stale and names nobody.
 */
export function syncCandidateOk(syncMode: boolean, sync: SyncState, leaderName: string | null, candidate: string): boolean {
  if (!syncMode) return true
  if (leaderName !== null && (sync.leader ?? '').toLowerCase() !== leaderName.toLowerCase()) return false
  return syncMatches(sync, candidate)
}

export interface ManualRequest {
  kind: 'switchover' | 'failover'
  leader?: string
  candidate?: string
  /** `scheduled_at` was given (and parsed by the caller). */
  scheduled: boolean
}

export type RequestCheck =
  | {ok: false; status: number; message: string}
  /** A failover naming the leader is carried out as a switchover (Patroni warns and does so). */
  | {ok: true; action: 'switchover' | 'failover'; warning?: string}

/**
 * do_POST_failover's checks that need no answer from anybody, in Patroni's order and words.
 * `scheduleRefusal` is the caller's verdict on the `scheduled_at` text (parsing is its job); it
 * is asked at the point where Patroni parses it.
 */
export function checkManualRequest(req: ManualRequest, paused: boolean, scheduleRefusal: () => {status: number; message: string} | null = () => null): RequestCheck {
  if (req.kind === 'failover' && !req.candidate) return {ok: false, status: 400, message: 'Failover could be performed only to a specific candidate'}
  if (req.kind === 'switchover' && !req.leader) return {ok: false, status: 400, message: 'Switchover could be performed only from a specific leader'}
  if (req.scheduled) {
    if (req.kind === 'failover') return {ok: false, status: 400, message: "Failover can't be scheduled"}
    if (paused) return {ok: false, status: 400, message: "Can't schedule switchover in the paused state"}
    const bad = scheduleRefusal()
    if (bad) return {ok: false, ...bad}
  }
  if (paused && !req.candidate) return {ok: false, status: 400, message: 'Switchover is possible only to a specific candidate in a paused state'}
  let action = req.kind
  let warning: string | undefined
  if (action === 'failover' && req.leader) {
    warning = 'received failover request with leader specified - performing switchover instead'
    action = 'switchover'
  }
  if (req.leader === req.candidate) return {ok: false, status: 400, message: 'Switchover target and source are the same'}
  return warning ? {ok: true, action, warning} : {ok: true, action}
}

export interface ClusterFacts {
  leaderName: string | null
  members: readonly Member[]
  syncMode: boolean
  sync: SyncState
}

/**
 * The first half of the REST API's is_failover_possible: a refusal, or the members whose REST
 * status decides (at least one must be able to take over, see noGoodCandidate).
 */
export function membersToAsk(action: 'switchover' | 'failover', leader: string | undefined, candidate: string | undefined, c: ClusterFacts): {refusal: string} | {members: Member[]} {
  if (leader && (!c.leaderName || c.leaderName !== leader)) return {refusal: 'leader name does not match'}
  if (candidate) {
    if (action === 'switchover' && !syncCandidateOk(c.syncMode, c.sync, c.leaderName, candidate)) return {refusal: 'candidate name does not match with sync_standby'}
    const members = c.members.filter((m) => m.name === candidate)
    return members.length ? {members} : {refusal: 'candidate does not exists'}
  }
  if (c.syncMode) {
    const members = c.members.filter((m) => syncCandidateOk(true, c.sync, c.leaderName, m.name))
    return members.length ? {members} : {refusal: `${action} is not possible: can not find sync_standby`}
  }
  const members = c.members.filter((m) => !c.leaderName || (m.name !== c.leaderName && m.apiUrl))
  return members.length ? {members} : {refusal: `${action} is not possible: cluster does not have members except leader`}
}

/** The second half: null when one of the asked members can take over, else Patroni's refusal. */
export function noGoodCandidate(action: 'switchover' | 'failover', statuses: readonly PeerStatus[]): string | null {
  if (statuses.some((s) => s.reachable && !s.nofailover && !s.watchdogFailed)) return null
  return `${action} is not possible: no good candidates have been found`
}
