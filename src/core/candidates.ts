/**
 * Who may become leader (docs/ha-rules.md#leader-race,
 * docs/ha-rules.md#switchover-and-manual-failover): the WAL race, "is there anyone to hand over
 * to", and the non-leader side of a manual failover/switchover. Every answer carries the sentence
 * an operator needs to see why, with the numbers that decided it.
 */
import {syncCandidateOk} from './preconditions'
import type {Action} from './actions'
import {syncLeaderMatches, syncVoters, type Member} from './cluster'
import type {PeerStatus} from './observation'
import {type Ctx, effectiveNofailover, fmtLsn, inSync, member, memberNofailover} from './rules/context'

export interface Verdict {
  ok: boolean
  reason: string
}

/** First match wins, as peers report it (patroni/ha.py _MemberStatus.failover_limitation). */
export function failoverLimitation(p: PeerStatus): string | null {
  if (!p.reachable) return 'not reachable'
  if (p.nofailover) return 'not allowed to promote'
  if (p.watchdogFailed) return 'not watchdog capable'
  return null
}

function lagOf(ctx: Ctx, pos: number): number {
  return ctx.cluster.status.lastLsn - pos
}

/**
 * The WAL race (patroni/ha.py Ha._is_healthiest_node): may I take the lock ahead of `members`?
 * Unknown positions and timelines disqualify me; unreachable peers are ignored (they cannot be
 * promoted either).
 */
export function compareWal(ctx: Ctx, members: Member[], checkLag: boolean): Verdict {
  const cfg = ctx.obs.config
  const mine = ctx.obs.pg.walPosition
  if (mine === null) return {ok: false, reason: 'my wal position is unknown'}
  if (checkLag && lagOf(ctx, mine) > cfg.maximumLagOnFailover) {
    return {
      ok: false,
      reason:
        `My wal position exceeds maximum replication lag: ${lagOf(ctx, mine)} bytes behind the last leader position ` +
        `${fmtLsn(ctx.cluster.status.lastLsn)}, maximum_lag_on_failover ${cfg.maximumLagOnFailover}`,
    }
  }
  if (cfg.checkTimeline) {
    const tl = ctx.obs.pg.timeline
    if (tl === null) return {ok: false, reason: 'my timeline is unknown and check_timeline is on'}
    if (tl < ctx.clusterTimeline) {
      return {ok: false, reason: `My timeline ${tl} is behind last known cluster timeline ${ctx.clusterTimeline}`}
    }
  }
  const myPriority = cfg.tags.failoverPriority
  // Quorum commit (patroni/ha.py _is_healthiest_node): any `quorum` of the `/sync` members (the
  // former leader and the voters) includes one with every acknowledged commit, so a node may lead
  // once that many of them say they are not ahead of it (itself counting when it is a member).
  const quorum = ctx.quorumActive ? ctx.cluster.sync.quorum : 0
  const voting = new Set(ctx.quorumActive ? [ctx.cluster.sync.leader ?? '', ...syncVoters(ctx.cluster.sync)].map((n) => n.toLowerCase()) : [])
  let votes = voting.has(ctx.name.toLowerCase()) ? 0 : -1
  let ahead = 0
  const voters: string[] = []
  const seen = new Set<string>()
  for (const m of members) {
    if (m.name === ctx.name || seen.has(m.name) || !m.apiUrl || (memberNofailover(m) && !voting.has(m.name.toLowerCase()))) continue
    seen.add(m.name)
    const st = ctx.peer(m.name)
    if (failoverLimitation(st) !== null) continue
    if (!st.inRecovery) return {ok: false, reason: `Primary (${m.name}) is still alive`}
    const theirs = st.walPosition ?? 0
    if (theirs > mine) {
      ahead++
      if (ctx.syncActive && m.name === ctx.cluster.sync.leader) continue // a demoted former leader may be ahead
      return {ok: false, reason: `Wal position of ${m.name} (${fmtLsn(theirs)}) is ahead of my wal position (${fmtLsn(mine)})`}
    }
    if (ctx.quorumActive && theirs <= 0) continue // only a running PostgreSQL votes
    const vote = voting.has(m.name.toLowerCase())
    let lowPriority = theirs === mine && st.failoverPriority > myPriority
    // In quorum mode the former leader's priority is ignored, and only voters' priorities count.
    if (ctx.quorumActive && lowPriority && m.name === ctx.cluster.sync.leader) lowPriority = false
    if (lowPriority && (!ctx.quorumActive || vote)) {
      return {
        ok: false,
        reason:
          `${m.name} has equally tolerable WAL position and priority ${st.failoverPriority}, ` +
          `while this node has priority ${myPriority}`,
      }
    }
    if (vote) {
      votes++
      voters.push(m.name)
    }
  }
  if (ctx.quorumActive && votes < quorum && !(ahead === 0 && syncLeaderMatches(ctx.cluster.sync, ctx.name))) {
    return {
      ok: false,
      reason: `quorum commit: ${Math.max(votes, 0)} quorum vote(s) (${voters.join(', ') || 'none'}) of the ${quorum} needed from /sync (${[ctx.cluster.sync.leader, ...syncVoters(ctx.cluster.sync)].join(', ')})`,
    }
  }
  const quorumNote = ctx.quorumActive ? `, with ${Math.max(votes, 0)} quorum vote(s) of ${quorum} needed` : ''
  return {ok: true, reason: `my wal position ${fmtLsn(mine)} is the best among ${seen.size + 1} candidates${quorumNote}`}
}

export interface FailoverPossibleOptions {
  /** Only these names are considered (after the usual filters); undefined = all members. */
  only?: string[]
  /** Names to leave out. */
  exclude?: string[]
  /** Restrict to `/sync` members when sync mode is active (default true). */
  checkSync?: boolean
  /** Qualify by position >= this LSN instead of the lag check (shutdown checkpoint). */
  clusterLsn?: number
}

/**
 * Is there a member that could take over from me (patroni/ha.py Ha.is_failover_possible and
 * Ha.get_failover_candidates)? While a `/failover` key names a candidate that `exclude` does not
 * leave out, only that candidate counts. While synchronous replication is active (`/sync` names a
 * leader) only `/sync` members count, but for a failover request without a leader, which may go
 * to an asynchronous member.
 */
export function isFailoverPossible(ctx: Ctx, opts: FailoverPossibleOptions = {}): Verdict {
  const cfg = ctx.obs.config
  const f = ctx.failover
  let members = ctx.cluster.members.filter((m) => m.name !== ctx.name && !memberNofailover(m) && m.apiUrl)
  const only = opts.only ?? (f?.candidate && !opts.exclude?.includes(f.candidate) ? [f.candidate] : undefined)
  if (only) members = members.filter((m) => only.includes(m.name))
  if (opts.exclude) members = members.filter((m) => !opts.exclude!.includes(m.name))
  if ((opts.checkSync ?? true) && ctx.syncActive && !(f && !f.leader)) members = members.filter((m) => inSync(ctx, m.name))
  if (members.length === 0) return {ok: false, reason: 'no candidate members'}
  // Quorum commit: enough healthy voters must remain to reach `/sync`'s quorum, unless a
  // candidate is named (patroni/ha.py is_failover_possible, the 4.0.6 switchover fix).
  const named = opts.only !== undefined || (!!f?.candidate && !opts.exclude?.includes(f.candidate))
  const checkQuorum = ctx.quorumActive && !named
  const why: string[] = []
  const healthy: string[] = []
  // A running primary hands over only to a member on its own timeline: one still behind it has
  // not followed this primary since its promotion, so it lacks every commit made since, however
  // small its byte lag looks, and promoting it forks a second timeline of the same number (found
  // by the chaos suite: a switchover right after another one). Patroni's check_timeline covers
  // only the leaderless race; this holds whatever it says.
  const ownTimeline = ctx.pgPrimary ? ctx.obs.pg.timeline : null
  for (const m of members) {
    const st = ctx.peer(m.name)
    const lim = failoverLimitation(st)
    if (lim) why.push(`${m.name} is ${lim}`)
    else if (st.walPosition === null) why.push(`${m.name} does not report wal_position`)
    else if (ownTimeline !== null && st.timeline !== null && st.timeline < ownTimeline)
      why.push(`timeline ${st.timeline} of ${m.name} is behind the leader's timeline ${ownTimeline}: it does not follow the leader yet`)
    else if (opts.clusterLsn !== undefined ? st.walPosition < opts.clusterLsn : lagOf(ctx, st.walPosition) > cfg.maximumLagOnFailover)
      why.push(`${m.name} exceeds maximum replication lag`)
    else if (cfg.checkTimeline && (!st.timeline || st.timeline < ctx.clusterTimeline))
      why.push(`timeline ${st.timeline ?? 'unknown'} of ${m.name} is behind the cluster timeline ${ctx.clusterTimeline}`)
    else if (!checkQuorum) return {ok: true, reason: `${m.name} can take over`}
    else healthy.push(m.name)
  }
  if (checkQuorum && healthy.length) {
    // Patroni counts the first healthy member as the candidate and the others as its votes.
    if (healthy.length - 1 >= ctx.cluster.sync.quorum) return {ok: true, reason: `${healthy.join(', ')} can take over (quorum ${ctx.cluster.sync.quorum})`}
    why.push(`Quorum requirement ${ctx.cluster.sync.quorum} can not be reached (healthy: ${healthy.join(', ')})`)
  }
  return {ok: false, reason: why.join('; ')}
}

function syncMembersText(ctx: Ctx): string {
  return [ctx.cluster.sync.leader, ...syncVoters(ctx.cluster.sync)].filter(Boolean).join(', ') || 'none'
}

/**
 * Quorum commit, seen by the others: the switchover candidate (its leader gone) will promote only
 * as a /sync member that nobody is ahead of (see manualFailoverNoLeader); when it is not one, or
 * is behind me, waiting for it could last for ever, so the others race as if none was named.
 */
function quorumCandidateMayPromote(ctx: Ctx, candidate: string): boolean {
  if (!ctx.quorumActive) return true
  if (!inSync(ctx, candidate)) return false
  const theirs = ctx.peer(candidate).walPosition
  const mine = ctx.obs.pg.walPosition
  return theirs !== null && (mine === null || theirs >= mine)
}

export type RaceAnswer = {answer: 'yes' | 'no' | 'undecided'; reason: string; actions?: Action[]}

/**
 * Non-leader side of `/failover` while the cluster is unlocked (patroni/ha.py
 * Ha.manual_failover_process_no_leader).
 */
export function manualFailoverNoLeader(ctx: Ctx): RaceAnswer {
  const f = ctx.failover!
  if (f.candidate) {
    if (f.candidate === ctx.name) {
      // Patroni checks this only in the REST API; a hand-written key must not promote a node
      // that may lack acknowledged commits (also in pause, where this path runs first).
      if (f.leader && !ctx.quorumMode && !syncCandidateOk(ctx.syncActive, ctx.cluster.sync, null, ctx.name)) {
        return {answer: 'no', reason: `switchover candidate ${ctx.name} is not in /sync (${ctx.cluster.sync.syncStandby ?? 'none'})`}
      }
      // Quorum commit: a voter need not have every acknowledged commit, so the candidate of a
      // switchover whose leader is gone proves itself as in the race: a /sync member, nobody
      // ahead, `quorum` votes (Patroni promotes it unchecked; the simulator found the loss).
      if (f.leader && ctx.quorumActive) {
        const v = inSync(ctx, ctx.name) ? compareWal(ctx, ctx.cluster.members.filter((m) => inSync(ctx, m.name)), false) : {ok: false, reason: `not a /sync member (${syncMembersText(ctx)})`}
        if (!v.ok) return {answer: 'no', reason: `switchover candidate ${ctx.name} waits: ${v.reason}`}
      }
      return {answer: 'yes', reason: `manual failover: to ${ctx.name}, i am the candidate`}
    }
    if (ctx.paused) {
      if (!member(ctx, f.candidate) && ctx.pgPrimary) {
        return {
          answer: 'undecided',
          reason: 'manual failover: removing failover key because failover candidate is not running',
          actions: [{type: 'clear-failover', expectedVersion: f.version}],
        }
      }
      return {answer: 'no', reason: `manual failover: waiting for candidate ${f.candidate} in a paused state`}
    }
    // Not in quorum commit mode: a node outside the voters may still gather the votes.
    if (ctx.syncConfigured && !ctx.quorumMode && !inSync(ctx, ctx.name)) {
      return {answer: 'no', reason: `manual failover: I am not in /sync, ${f.candidate} is the candidate`}
    }
    const cand = member(ctx, f.candidate)
    // A switchover candidate outside /sync refuses to promote (above), so waiting for it would
    // leave the cluster without a primary for ever (Patroni waits): it counts as unhealthy.
    const mayPromote = !f.leader || (ctx.quorumMode ? quorumCandidateMayPromote(ctx, f.candidate) : syncCandidateOk(ctx.syncActive, ctx.cluster.sync, null, f.candidate))
    if (cand && mayPromote) {
      const lim = failoverLimitation(ctx.peer(cand.name))
      if (lim === null) return {answer: 'no', reason: `manual failover: to ${cand.name}, i am ${ctx.name}`}
      // The named candidate cannot take over: everybody else may race as if none was named.
    }
  } else if (ctx.paused) {
    return {answer: 'no', reason: 'manual failover is possible only to a specific candidate in a paused state'}
  }
  if (f.leader && f.leader === ctx.name) {
    const other = isFailoverPossible(ctx, {exclude: [f.candidate ?? '', f.leader]})
    return other.ok
      ? {answer: 'no', reason: `manual failover: I was the leader and ${other.reason}`}
      : {answer: 'yes', reason: `manual failover: I was the leader and seem to be the only healthy member (${other.reason})`}
  }
  // Patroni: the former leader and, while synchronous replication is active, non-/sync members are left out.
  const members = ctx.cluster.members.filter((m) => m.name !== f.leader && (!ctx.syncActive || inSync(ctx, m.name)))
  const v = compareWal(ctx, members, false)
  return {answer: v.ok ? 'yes' : 'no', reason: v.reason}
}

/** May I race for the lock (patroni/ha.py Ha.is_healthiest_node; docs/ha-rules.md#leader-race)? */
export function isHealthiestNode(ctx: Ctx): RaceAnswer {
  const {obs} = ctx
  const cfg = obs.config
  const m = obs.memory
  if (m.prePromoteFailedAt !== null && obs.now - m.prePromoteFailedAt < cfg.ttl * 1000) {
    return {answer: 'no', reason: 'backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily'}
  }
  if (ctx.paused && !cfg.tags.nofailover && ctx.failover && !ctx.failover.scheduledAt) {
    const r = manualFailoverNoLeader(ctx)
    if (r.answer !== 'undecided') return r
    if (r.actions) return {...isHealthiestAfterManual(ctx), actions: r.actions}
  }
  return isHealthiestAfterManual(ctx)
}

function isHealthiestAfterManual(ctx: Ctx): RaceAnswer {
  const {obs} = ctx
  const cfg = obs.config
  if (obs.pg.process === 'starting') return {answer: 'no', reason: 'postgres is still starting up'}
  if (ctx.pgPrimary) {
    if (ctx.paused) {
      const init = ctx.cluster.initialize
      const sysid = obs.pg.dataDir.kind === 'present' ? obs.pg.dataDir.sysid : null
      return !init || init === sysid
        ? {answer: 'yes', reason: 'postgres is running as primary'}
        : {answer: 'no', reason: `system ID ${sysid} does not match initialize ${init}`}
    }
    const tl = obs.pg.timeline
    if (ctx.clusterTimeline > 0 && (tl === null || tl < ctx.clusterTimeline)) {
      return {answer: 'no', reason: `my timeline ${tl ?? 'unknown'} is behind the cluster timeline ${ctx.clusterTimeline}`}
    }
    return {answer: 'yes', reason: 'postgres is running as primary'}
  }
  if (ctx.paused) return {answer: 'no', reason: 'replicas are not promoted automatically in a paused state'}
  if (cfg.tags.nofailover) return {answer: 'no', reason: 'I am not allowed to promote'}
  if (ctx.failover) {
    if (ctx.syncConfigured && !ctx.quorumMode && ctx.failover.leader && !inSync(ctx, ctx.name)) {
      return {answer: 'no', reason: `switchover in synchronous mode and I am not in /sync`}
    }
    const r = manualFailoverNoLeader(ctx)
    return r.answer === 'undecided' ? {...r, answer: 'no'} : r
  }
  if (!cfg.watchdogHealthy) return {answer: 'no', reason: 'Watchdog device is not usable'}
  const byName = new Map<string, Member>()
  if (obs.dcs.reachable) for (const m of obs.dcs.lastLockedMembers) byName.set(m.name, m)
  const fs = ctx.cluster.failsafe
  if (cfg.failsafeMode && fs) {
    const names = Object.keys(fs)
    if (names.length && !names.includes(ctx.name)) return {answer: 'no', reason: 'I am not in the /failsafe topology'}
    for (const [name, url] of Object.entries(fs)) {
      if (!byName.has(name)) byName.set(name, stubMember(name, url))
    }
  }
  for (const m of ctx.cluster.members) byName.set(m.name, m)
  let members = [...byName.values()]
  if (ctx.syncActive) {
    // In quorum commit mode a node outside the voters may race: it needs `quorum` votes.
    if (!ctx.quorumMode && !inSync(ctx, ctx.name)) return {answer: 'no', reason: `I am not in /sync (${ctx.cluster.sync.syncStandby ?? 'none'})`}
    members = members.filter((mm) => inSync(ctx, mm.name))
  }
  const v = compareWal(ctx, members, true)
  return {answer: v.ok ? 'yes' : 'no', reason: v.reason}
}

function stubMember(name: string, apiUrl: string): Member {
  return {name, version: -1, session: null, data: {api_url: apiUrl}, role: null, state: 'unknown', apiUrl, connUrl: null, lsn: null, timeline: null, tags: {}, patroniVersion: null}
}

export {effectiveNofailover}
