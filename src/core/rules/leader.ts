/**
 * The lock holder: renewing (docs/ha-rules.md#lock-holder), the leader side of switchover/failover
 * (docs/ha-rules.md#switchover-and-manual-failover) and making PG the primary, including the
 * `/sync` claim before promotion (docs/ha-rules.md#promotion).
 */
import type {Action, Decision} from '../actions'
import {isFailoverPossible} from '../candidates'
import {syncCandidateOk} from '../preconditions'
import type {History} from '../cluster'
import {scheduleVerdict} from '../timing'
import {type Ctx, done, inSync, step, withFirst} from './context'
import {follow} from './follow'

/** What the leader-side failover check asks for: a whole decision, or actions + a note to add. */
type LeaderFailover = {decision: Decision} | {pre: Action[]; note?: string} | null

function kindOf(leader: string | null): string {
  return leader ? 'switchover' : 'manual failover'
}

export function manualFailoverFromLeader(ctx: Ctx, rule: string): LeaderFailover {
  const f = ctx.failover
  if (!f || (ctx.paused && !ctx.pgPrimary)) return null
  const clear: Action[] = [{type: 'clear-failover', expectedVersion: f.version}]
  const kind = kindOf(f.leader)
  if (f.scheduledAt) {
    if (ctx.paused) return null
    if (f.scheduledAtMs === null) return {pre: clear, note: `incorrect value of scheduled_at: ${f.scheduledAt}, cleaning up`}
    const v = scheduleVerdict(f.scheduledAtMs, ctx.now, ctx.obs.config.loopWait)
    if (v.kind === 'wait') return {pre: [], note: `awaiting ${kind} at ${f.scheduledAt} (in ${v.inSeconds} seconds)`}
    if (v.kind === 'stale') return {pre: clear, note: `found a stale ${kind} value (${v.lateSeconds}s late), cleaning up: ${f.scheduledAt}`}
    if (v.sleepMs > 0) {
      return {decision: step(rule, `waiting ${Math.ceil(v.sleepMs / 1000)}s for the ${kind} scheduled at ${f.scheduledAt}`, [{type: 'sleep', ms: v.sleepMs}])}
    }
  }
  if (f.leader && f.leader !== ctx.name) {
    return {pre: clear, note: `${kind}: leader name does not match: ${f.leader} != ${ctx.name}`}
  }
  if (f.candidate === ctx.name) return {pre: clear, note: `${kind}: I am already the leader, no need to ${kind === 'switchover' ? 'switch over' : 'fail over'}`}
  if (!f.candidate && ctx.paused) {
    return {pre: clear, note: `${kind} is possible only to a specific candidate in a paused state`}
  }
  let possible
  if (f.candidate && !syncCandidateOk(ctx.syncConfigured, ctx.cluster.sync, ctx.name, f.candidate)) {
    possible = {ok: false, reason: `candidate ${f.candidate} does not match with sync_standbys ${ctx.cluster.sync.syncStandby ?? 'none'}`}
  } else {
    possible = isFailoverPossible(ctx, {only: f.candidate ? [f.candidate] : undefined, checkSync: ctx.syncConfigured})
  }
  if (!possible.ok) {
    return {pre: clear, note: `${kind}: no healthy members found, ${kind} is not possible (${possible.reason})`}
  }
  // The key stays: the node that takes the lock deletes it (patroni/ha.py Ha.process_unhealthy_cluster).
  return {decision: done(rule, `${kind}: demoting myself`, [{type: 'demote', mode: 'graceful'}])}
}

function withNote(d: Decision, note: string | undefined): Decision {
  return note ? {...d, reason: `${d.reason}; ${note}`} : d
}

/** Does `/history` disagree with our timeline (patroni/ha.py Ha.update_cluster_history)? */
export function historyNeedsUpdate(h: History | null, timeline: number | null): boolean {
  if (timeline === null) return false
  if (timeline === 1) return !!h && h.lines.length > 0
  const last = h?.lines[h.lines.length - 1]
  return !last || last[0] !== timeline - 1 || last.length < 5
}

/** enforce_primary_role: I hold a lock renewed or acquired in this cycle. */
export function enforcePrimaryRole(ctx: Ctx, rule: string, message: string, promoteMessage: string, pre: Action[] = []): Decision {
  const {obs} = ctx
  const mem = obs.memory
  if (!ctx.paused) {
    const wd = ctx.outcome('activate-watchdog')
    if (!mem.watchdogRunning && !wd) return step(rule, 'activating the watchdog', [...pre, {type: 'activate-watchdog'}])
    if (wd && !wd.ok && obs.config.watchdogRequired) {
      return ctx.pgPrimary
        ? done(rule, 'Demoting self because watchdog could not be activated', [{type: 'demote', mode: 'immediate'}], {role: 'demoted'})
        : done(rule, 'Not promoting self because watchdog could not be activated', [{type: 'release-lock'}])
    }
    if (mem.lastTask?.kind === 'promote' && mem.lastTask.prePromoteFailed) {
      return done(rule, 'Promotion cancelled because the pre-promote script failed', [...pre, {type: 'release-lock'}], {
        prePromoteFailedAt: ctx.now,
        lastTask: null,
      })
    }
  }
  const syncActions: Action[] = ctx.syncConfigured || ctx.cluster.sync.leader ? [{type: 'manage-sync'}] : []
  if (ctx.pgPrimary) {
    const hist: Action[] = historyNeedsUpdate(ctx.cluster.history, obs.pg.timeline) ? [{type: 'write-history'}] : []
    return done(rule, message, [...pre, ...syncActions, ...hist], {role: 'primary'})
  }
  // The remembered role is what PostgreSQL is (test/sim/scenarios.test.ts, item 3): a lock holder whose
  // PostgreSQL answers from recovery (restarted read-only after a crash, a promote that failed
  // after the role was set) is not a primary, whatever it believed, and promotes again. Only an
  // unknown answer (query failed) keeps the belief, as Patroni does.
  if ((mem.role === 'primary' || mem.role === 'promoted') && obs.pg.inRecovery !== true) return done(rule, message, [...pre, ...syncActions])
  if (obs.config.tags.nofailover) {
    // The tag may have been set after this node took the lock; it must not become primary now.
    return done(rule, 'not promoting because I am not allowed to become primary; released leader key', [...pre, {type: 'release-lock'}])
  }
  if (ctx.syncActive && !inSync(ctx, ctx.name) && !ctx.outcome('acquire-lock')?.ok) {
    // A lock kept from an earlier cycle is no licence: only /sync members (or the named target
    // of a manual failover) may promote in synchronous mode (docs/ha-rules.md#synchronous-mode).
    const f = ctx.failover
    if (!(f && !f.leader && f.candidate === ctx.name)) {
      return done(rule, `not promoting because I am not in /sync (${ctx.cluster.sync.syncStandby ?? 'none'}); released leader key`, [
        ...pre,
        {type: 'release-lock'},
      ])
    }
  }
  if (ctx.syncConfigured) {
    const s = ctx.outcome('set-sync')
    if (!s) {
      return step(rule, 'claiming /sync before promotion', [
        ...pre,
        {type: 'set-sync', leader: ctx.name, expectedVersion: ctx.cluster.sync.version, strict: obs.config.synchronousModeStrict},
      ])
    }
    if (!s.ok) return done(rule, 'Postponing promotion because synchronous replication state was updated by somebody else', pre)
  }
  return done(rule, promoteMessage, [...pre, {type: 'promote'}], {lastTask: null, role: 'promoted'})
}

/**
 * The lock holder of a standby cluster (patroni/ha.py Ha.enforce_follow_remote_member): never
 * promoted, it follows the remote primary as the standby leader; a primary is demoted into one.
 */
export function enforceFollowRemote(ctx: Ctx, rule: string, message: string, pre: Action[] = []): Decision {
  return follow(ctx, rule, 'cannot be a real primary in standby cluster', message, pre)
}

/** Lock-holder branch of process_healthy_cluster after (or while asking for) the renewal. */
export function healthyCluster(ctx: Ctx): Decision {
  const me = ctx.name
  if (ctx.holdsLock || ctx.outcome('update-lock')) {
    if (ctx.paused && !ctx.pgPrimary && !ctx.outcome('update-lock')) {
      if (ctx.failover?.candidate === me) return done('healthy.paused-waiting-promote', 'waiting to become primary after promote...')
      // A standby leader is never a primary: it keeps its lock in pause.
      if (!ctx.obs.config.standbyCluster) {
        return done('healthy.paused-not-primary', 'removed leader lock because postgres is not running as primary', [{type: 'release-lock'}])
      }
    }
    const upd = ctx.outcome('update-lock')
    if (!upd) return step('healthy.renew', 'renewing the leader lock', [{type: 'update-lock', status: true}])
    if (upd.ok) {
      const mf = manualFailoverFromLeader(ctx, 'healthy.manual-failover')
      if (mf && 'decision' in mf) return mf.decision
      const d = ctx.obs.config.standbyCluster
        ? enforceFollowRemote(
            ctx,
            'healthy.standby-leader',
            ctx.obs.memory.role === 'standby_leader'
              ? `no action. I am (${me}), the standby leader with the lock`
              : 'promoted self to a standby leader because i had the session lock',
          )
        : enforcePrimaryRole(
        ctx,
        'healthy.leader',
        `no action. I am (${me}), the leader with the lock`,
        'promoted self to leader because I had the session lock',
      )
      // Cleanups ride on the final decision only, so a watchdog/sync step cannot repeat them.
      return mf && d.then === 'done' ? withNote(withFirst(mf.pre, d), mf.note) : d
    }
    if (ctx.pgPrimary) {
      if (ctx.paused) return done('healthy.renew-failed', 'continue to run as primary after failing to update leader lock in DCS')
      return done('healthy.renew-failed', 'demoted self because failed to update leader lock in DCS', [{type: 'demote', mode: 'immediate-nolock'}], {
        role: 'demoted',
      })
    }
    return done('healthy.renew-failed', 'not promoting because failed to update leader lock in DCS')
  }
  if (ctx.obs.config.standbyCluster) {
    return follow(
      ctx,
      'healthy.follow',
      'cannot be a real primary in a standby cluster',
      `no action. I am (${me}), a secondary, and following a standby leader (${ctx.lockOwner})`,
    )
  }
  return follow(
    ctx,
    'healthy.follow',
    'demoting self because I do not have the lock and I was a leader',
    `no action. I am (${me}), a secondary, and following a leader (${ctx.lockOwner})`,
  )
}
