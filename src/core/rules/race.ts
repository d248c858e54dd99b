/**
 * The cluster has no leader: race for the lock if I am the healthiest node, else follow
 * (docs/ha-rules.md#leader-race; patroni/ha.py Ha.process_unhealthy_cluster).
 */
import type {Action, Decision} from '../actions'
import {isHealthiestNode} from '../candidates'
import {type Ctx, done, step} from './context'
import {enforceFollowRemote, enforcePrimaryRole} from './leader'
import {follow} from './follow'

/**
 * Patroni waits this long before following when someone else should win (patroni/ha.py
 * Ha.process_unhealthy_cluster).
 */
export const LET_WINNER_TAKE_LOCK_MS = 2000

export function unhealthyCluster(ctx: Ctx): Decision {
  const acq = ctx.outcome('acquire-lock')
  if (acq?.ok) {
    const cleanup: Action[] = []
    const f = ctx.failover
    if (f) {
      // In pause the candidate keeps `{member: me}` so "waiting to become primary" survives until PG is primary.
      if (ctx.paused && f.leader && f.candidate) {
        cleanup.push({type: 'set-failover', value: {member: f.candidate, ...(f.scheduledAt ? {scheduled_at: f.scheduledAt} : {})}, expectedVersion: f.version})
      } else {
        cleanup.push({type: 'clear-failover'})
      }
    }
    if (ctx.obs.config.standbyCluster) {
      // The standby leader is gone and I am the healthiest: I follow the remote primary now.
      const pre = ctx.lastOutcome?.type === 'acquire-lock' ? cleanup : []
      return enforceFollowRemote(ctx, 'race.won', 'promoted self to a standby leader by acquiring session lock', pre)
    }
    // The failover key is cleaned up after the promotion is under way, not before as in Patroni
    // (Ha.process_unhealthy_cluster): the etcd write is then off the write gap of a switchover.
    // Only on the final decision, so that the watchdog and /sync steps before it cannot repeat it.
    const d = enforcePrimaryRole(ctx, 'race.won', 'acquired session lock as a leader', 'promoted self to leader by acquiring session lock')
    return d.then === 'done' && cleanup.length ? {...d, actions: [...d.actions, ...cleanup]} : d
  }
  if (acq && !acq.ok) {
    return follow(ctx, 'race.lost', 'demoted self after trying and failing to obtain lock', 'following new leader after trying and failing to obtain lock')
  }
  const h = isHealthiestNode(ctx)
  // After the wait the same cleanup would be computed again; it was already done.
  const pre = ctx.outcome('sleep') ? [] : (h.actions ?? [])
  if (h.answer === 'yes') return step('race.acquire', `trying to acquire the leader lock: ${h.reason}`, [...pre, {type: 'acquire-lock'}])
  const nofailover = ctx.obs.config.tags.nofailover
  if ((ctx.failover || nofailover) && !ctx.outcome('sleep')) {
    return step('race.wait-for-winner', `letting another node take the leader lock: ${h.reason}`, [
      ...pre,
      {type: 'trigger-rewind-check'},
      {type: 'sleep', ms: LET_WINNER_TAKE_LOCK_MS},
    ])
  }
  if (nofailover) {
    return follow(ctx, 'race.nofailover', 'demoting self because I am not allowed to become primary', 'following a different leader because I am not allowed to promote', pre)
  }
  return follow(
    ctx,
    'race.not-healthiest',
    'demoting self because i am not the healthiest node',
    `following a different leader because i am not the healthiest node: ${h.reason}`,
    pre,
  )
}
