/**
 * Derived facts every rule reads, computed once per decide() call from the Observation, plus the
 * small builders rules return decisions with.
 */
import {
  type ClusterView,
  type Failover,
  type Member,
  emptyCluster,
  getMember,
  hasFailover,
  syncMatches,
  timelineFromHistory,
} from '../cluster'
import type {Action, Decision} from '../actions'
import {formatLsn} from '../lsn'
import type {AgentMemory, Observation, PeerStatus, RewindState, StepOutcome} from '../observation'

/** Thrown by rules that need peer statuses before they are in the observation. */
export class NeedPeers {
  readonly needPeers = true
}

export interface Ctx {
  obs: Observation
  name: string
  now: number
  cluster: ClusterView
  paused: boolean
  /** The view names me as leader, updated by lock outcomes earlier in this cycle. */
  holdsLock: boolean
  /** An acquire or renewal succeeded earlier in this cycle (and nothing lost it since). */
  renewedThisCycle: boolean
  lockOwner: string | null
  /** A live postmaster (running or still starting). */
  pgRunning: boolean
  /**
   * Running and `pg_is_in_recovery()` said false; or, for the lock holder whose query failed,
   * running and last known as the primary (Patroni's is_primary() falls back to the cached role
   * the same way). An unknown PostgreSQL never takes part in the race, so only the holder.
   */
  pgPrimary: boolean
  failover: Failover | null
  /** synchronous_mode configured (Patroni's is_synchronous_mode). */
  syncConfigured: boolean
  /** synchronous_mode on and `/sync` names a leader. */
  syncActive: boolean
  /** synchronous_mode: quorum (Patroni's is_quorum_commit_mode). */
  quorumMode: boolean
  /** Quorum commit configured and `/sync` names a leader (Patroni's quorum_commit_mode_is_active). */
  quorumActive: boolean
  clusterTimeline: number
  lastOutcome: StepOutcome | undefined
  outcome<T extends StepOutcome['type']>(type: T): Extract<StepOutcome, {type: T}> | undefined
  /** A peer's status; throws NeedPeers until fetched; absent after a fetch = unreachable. */
  peer(name: string): PeerStatus
  rewind: RewindState
}

export const UNREACHABLE: PeerStatus = Object.freeze({
  reachable: false,
  inRecovery: true,
  walPosition: null,
  timeline: null,
  nofailover: false,
  failoverPriority: 1,
  watchdogFailed: false,
})

export function makeCtx(obs: Observation): Ctx {
  const cluster = obs.dcs.reachable ? obs.dcs.cluster : (obs.dcs.lastCluster ?? emptyCluster())
  const lockOwner = cluster.leader?.name || null
  const viewNamesMe = obs.dcs.reachable && lockOwner === obs.name
  let holdsLock = viewNamesMe
  let renewed = false
  for (const o of obs.outcomes) {
    if (o.type === 'acquire-lock' || o.type === 'update-lock') {
      holdsLock = o.ok
      renewed = o.ok
    } else if (o.type === 'dcs-error' && (o.during === 'update-lock' || o.during === 'acquire-lock')) {
      holdsLock = false
      renewed = false
    }
  }
  const pgRunning = obs.pg.process === 'running' || obs.pg.process === 'starting'
  const find = <T extends StepOutcome['type']>(type: T) =>
    [...obs.outcomes].reverse().find((o) => o.type === type) as Extract<StepOutcome, {type: T}> | undefined
  const fetched = obs.outcomes.some((o) => o.type === 'fetch-peer-status')
  const rewindOutcome = find('check-rewind')
  return {
    obs,
    name: obs.name,
    now: obs.now,
    cluster,
    paused: obs.config.paused,
    holdsLock,
    renewedThisCycle: renewed,
    lockOwner,
    pgRunning,
    pgPrimary: pgRunning && (obs.pg.inRecovery === false || (obs.pg.inRecovery === null && obs.pg.process === 'running' && obs.memory.role === 'primary' && viewNamesMe)),
    failover: hasFailover(cluster.failover) ? cluster.failover : null,
    syncConfigured: obs.config.synchronousMode,
    syncActive: obs.config.synchronousMode && !!cluster.sync.leader,
    quorumMode: obs.config.synchronousMode && obs.config.quorumCommit === true,
    quorumActive: obs.config.synchronousMode && obs.config.quorumCommit === true && !!cluster.sync.leader,
    clusterTimeline: timelineFromHistory(cluster.history),
    lastOutcome: obs.outcomes[obs.outcomes.length - 1],
    outcome: find,
    peer(name) {
      const p = obs.peers?.[name]
      if (p) return p
      if (obs.peers === undefined && !fetched) throw new NeedPeers()
      return UNREACHABLE
    },
    rewind: rewindOutcome ? rewindOutcome.state : obs.memory.rewind,
  }
}

/** Every other node we might ask: current members, the last locked view's, `/failsafe` entries. */
export function peerTargets(ctx: Ctx): Array<{name: string; apiUrl: string}> {
  const byName = new Map<string, string>()
  const add = (name: string, url: string | null) => {
    if (name !== ctx.name && url) byName.set(name, url)
  }
  if (ctx.obs.dcs.reachable) for (const m of ctx.obs.dcs.lastLockedMembers) add(m.name, m.apiUrl)
  for (const [name, url] of Object.entries(ctx.cluster.failsafe ?? {})) add(name, url)
  for (const m of ctx.cluster.members) add(m.name, m.apiUrl)
  return [...byName].map(([name, apiUrl]) => ({name, apiUrl})).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

export function memberNofailover(m: Member): boolean {
  return effectiveNofailover(m.tags)
}

/** nofailover wins; otherwise failover_priority <= 0 means the same (patroni/tags.py Tags.nofailover). */
export function effectiveNofailover(tags: Record<string, unknown>): boolean {
  if (tags['nofailover'] !== undefined && tags['nofailover'] !== null) return tags['nofailover'] === true
  const p = tags['failover_priority']
  return typeof p === 'number' && p <= 0
}

export function inSync(ctx: Ctx, name: string | null | undefined): boolean {
  return syncMatches(ctx.cluster.sync, name, true)
}

export function member(ctx: Ctx, name: string): Member | undefined {
  return getMember(ctx.cluster, name)
}

/** Final decision of the cycle. */
export function done(rule: string, reason: string, actions: Action[] = [], remember?: Partial<AgentMemory>): Decision {
  return remember ? {actions, rule, reason, then: 'done', remember} : {actions, rule, reason, then: 'done'}
}

/** A step whose outcome decides what comes next in this cycle. */
export function step(rule: string, reason: string, actions: Action[], remember?: Partial<AgentMemory>): Decision {
  return remember ? {actions, rule, reason, then: 'decide-again', remember} : {actions, rule, reason, then: 'decide-again'}
}

/** Prepends actions (repairs, cleanups) to a decision. */
export function withFirst(pre: Action[], d: Decision): Decision {
  return pre.length ? {...d, actions: [...pre, ...d.actions]} : d
}

export function fmtLsn(lsn: number | null): string {
  return lsn === null || !Number.isSafeInteger(lsn) || lsn < 0 ? 'unknown' : formatLsn(lsn)
}
