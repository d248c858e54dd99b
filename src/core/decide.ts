/**
 * The HA decision core: one pure function from what the agent observed to what it should do next
 * (docs/ha-rules.md#cycle-and-timing; patroni/ha.py Ha._run_cycle). No I/O, no clock: `now` is part
 * of the observation, so the same observation always yields the same decision.
 *
 * A cycle may need several calls: when a decision ends with a branching action (acquire the
 * lock, renew it, claim `/sync`, ask peers...), the executor performs it, appends the outcome to
 * `observation.outcomes` and calls decide() again, until `then === 'done'`.
 */
import type {Action, Decision} from './actions'
import {getMember} from './cluster'
import type {Observation} from './observation'
import {type Ctx, NeedPeers, done, makeCtx, peerTargets, step, withFirst} from './rules/context'
import {dcsError} from './rules/dcs-error'
import {healthyCluster} from './rules/leader'
import {dataDirectory, longAction, pgNotRunning, postBootstrap, postRecover, startingInstance, sysidValid} from './rules/lifecycle'
import {unhealthyCluster} from './rules/race'

export type {Action, Decision} from './actions'
export type {Observation} from './observation'

export function decide(obs: Observation): Decision {
  const ctx = makeCtx(obs)
  let d: Decision
  try {
    d = cycle(ctx)
  } catch (e) {
    if (!(e instanceof NeedPeers)) throw e
    const members = peerTargets(ctx)
    d = step('gather.peers', `asking ${members.length} peer(s) for their status`, [{type: 'fetch-peer-status', members}])
  }
  d = watchdogUpkeep(ctx, d)
  return ctx.paused ? {...d, reason: `PAUSE: ${d.reason}`} : d
}

/**
 * The armed watchdog's upkeep (docs/ha-rules.md#watchdog; patroni/ha.py): disarmed while paused
 * (Ha._run_cycle), kicked once per cycle after the leader key was renewed (Ha.update_lock) or
 * when failsafe mode keeps the leader running without the DCS. Arming is the promotion rules'
 * (enforcePrimaryRole, post-bootstrap), disarming on a stop theirs and the demotion's.
 */
function watchdogUpkeep(ctx: Ctx, d: Decision): Decision {
  const {obs} = ctx
  if (!obs.memory.watchdogRunning || d.actions.some((a) => a.type === 'disable-watchdog' || a.type === 'kick-watchdog')) return d
  if (ctx.paused) return withFirst([{type: 'disable-watchdog'}], d)
  // Armed in this very cycle: the fresh timer needs no kick yet.
  if (ctx.outcome('kick-watchdog') || ctx.outcome('activate-watchdog')) return d
  const renewed = ctx.outcome('update-lock')?.ok === true || (d.then === 'done' && d.rule === 'dcs.failsafe')
  return renewed ? withFirst([{type: 'kick-watchdog'}], d) : d
}

function dcsFailed(ctx: Ctx): boolean {
  return !ctx.obs.dcs.reachable || ctx.obs.outcomes.some((o) => o.type === 'dcs-error')
}

/**
 * Repairs the lock holder makes at the top of a cycle
 * (docs/ha-rules.md#repairs-at-the-top-of-a-cycle), once per cycle.
 */
function repairs(ctx: Ctx): Action[] {
  const {obs} = ctx
  if (obs.outcomes.length > 0 || !obs.dcs.reachable) return []
  const pre: Action[] = []
  if (!getMember(ctx.cluster, ctx.name)) pre.push({type: 'touch-member'})
  if (ctx.holdsLock) {
    const sysid = obs.pg.dataDir.kind === 'present' ? obs.pg.dataDir.sysid : null
    if (!sysidValid(ctx.cluster.initialize) && sysidValid(sysid)) {
      pre.push({type: 'initialize', create: ctx.cluster.initialize === null, sysid})
    }
    const cfg = ctx.cluster.config
    if (!cfg || Object.keys(cfg.data).length === 0) pre.push({type: 'restore-config'})
  }
  return pre
}

function cycle(ctx: Ctx): Decision {
  if (dcsFailed(ctx)) return dcsError(ctx)
  return withFirst(repairs(ctx), steady(ctx))
}

function steady(ctx: Ctx): Decision {
  const {obs} = ctx
  const mem = obs.memory
  if (obs.task) return longAction(ctx)
  const starting = startingInstance(ctx)
  if (starting) return starting
  if (mem.bootstrapping) return postBootstrap(ctx)
  let carry: Decision['remember'] = undefined
  if (mem.recovering) {
    if (ctx.rewind !== 'need') {
      const pr = postRecover(ctx)
      if (pr) return pr
    }
    carry = {recovering: false, crashRecoveryStartedAt: null, ...(mem.rewind === 'success' ? {rewind: 'initial' as const} : {})}
  }
  const d = afterRecovering(ctx)
  return carry ? {...d, remember: {...carry, ...d.remember}} : d
}

function afterRecovering(ctx: Ctx): Decision {
  const {obs} = ctx
  const dd = dataDirectory(ctx)
  if (dd && 'rule' in dd) return dd
  const pre = dd?.pre ?? []
  if (obs.pg.process === 'unknown') {
    if (ctx.holdsLock && !ctx.paused) {
      return done('pg.unknown-release', 'released leader key because the PostgreSQL state is unknown', [...pre, {type: 'release-lock'}])
    }
    return done('pg.unknown', 'PostgreSQL state is unknown; not taking part in the leader race', pre)
  }
  if (!ctx.pgRunning) return withFirst(pre, pgNotRunning(ctx))
  // A primary whose query failed goes on as the primary it was (it renews its lock, so a slow
  // or overloaded primary is not failed over for a query timeout); anyone else waits.
  if (obs.pg.process === 'running' && obs.pg.inRecovery === null && !ctx.pgPrimary) {
    return done('pg.query-failed', 'Error communicating with PostgreSQL. Will try again later', pre)
  }
  // After winning the race this cycle the view may or may not show us yet: the race rule finishes it.
  const raced = ctx.outcome('acquire-lock') !== undefined
  return withFirst(pre, ctx.lockOwner && !raced ? healthyCluster(ctx) : unhealthyCluster(ctx))
}
