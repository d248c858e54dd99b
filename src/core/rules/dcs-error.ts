/**
 * The DCS could not be read, or a lock renewal hit an unreachable DCS
 * (docs/ha-rules.md#dcs-unreachable; patroni/ha.py Ha._handle_dcs_error). A primary cannot know
 * whether its lock still exists, so it stops accepting writes before the lease can expire
 * (timing.ts) — unless every member of `/failsafe` vouches for it.
 */
import type {Decision} from '../actions'
import {leaseSecondsLeft, secondsBetween} from '../timing'
import {type Ctx, done, step} from './context'

function outage(ctx: Ctx): string {
  const {obs} = ctx
  const cfg = obs.config
  const store = (!obs.dcs.reachable && obs.dcs.store) || 'DCS'
  const since = obs.dcs.reachable ? obs.now : obs.dcs.unreachableSince
  const lastSeen = obs.dcsLastSeen > 0 ? obs.dcsLastSeen : since
  const renewal =
    obs.lastLockRenewal === null
      ? 'no lock renewal known'
      : `lock renewed ${secondsBetween(obs.lastLockRenewal, obs.now)}s ago, ` +
        `lease ${Math.floor(leaseSecondsLeft(obs.lastLockRenewal, obs.now, cfg))}s left`
  return `${store} unreachable for ${secondsBetween(lastSeen, obs.now)}s, ${renewal}, ttl ${cfg.ttl}s`
}

/** PG counts as primary here also when the query failed but we believe we are primary: unknown is not safe. */
function actsAsPrimary(ctx: Ctx): boolean {
  const {pg, memory} = ctx.obs
  if (!ctx.pgRunning) return false
  return pg.inRecovery === false || (pg.inRecovery === null && (memory.role === 'primary' || memory.role === 'promoted'))
}

export function dcsError(ctx: Ctx): Decision {
  const {obs} = ctx
  if (ctx.paused || !ctx.pgRunning) return done('dcs.unreachable', `DCS is not accessible (${outage(ctx)})`)
  if (!actsAsPrimary(ctx)) return done('dcs.unreachable-replica', `DCS is not accessible (${outage(ctx)})`)
  if (obs.task?.kind === 'offline-demote') return done('dcs.demote-in-progress', `${obs.task.name} in progress (${outage(ctx)})`)
  const fs = ctx.cluster.failsafe
  if (obs.config.failsafeMode && fs && Object.hasOwn(fs, ctx.name)) {
    const probe = ctx.outcome('failsafe-probe')
    if (!probe) return step('dcs.failsafe-probe', 'asking the /failsafe members to vouch for me', [{type: 'failsafe-probe'}])
    if (probe.ok) {
      return done('dcs.failsafe', `continue to run as a leader because failsafe mode is enabled and all members are accessible (${outage(ctx)})`)
    }
  }
  const busy = obs.task !== null
  const reason = busy
    ? 'demoted self because DCS is not accessible and I was a leader'
    : 'demoting self because DCS is not accessible and I was a leader'
  return done('dcs.demote', `${reason} (${outage(ctx)})`, [{type: 'demote', mode: 'offline'}], {role: 'demoted'})
}
