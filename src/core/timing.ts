/**
 * The timing argument behind leader safety (docs/ha-rules.md#timing-rule). A primary renews its
 * lock at T; the key then lives until T + ttl. Its next cycle starts by T + loop_wait; reading the
 * cluster can take up to retry_timeout, renewing another retry_timeout; if either fails it demotes.
 * So the demotion decision is reached by T + loop_wait + 2*retry_timeout, which must not exceed
 * T + ttl: before then no replica can acquire the lock, so two primaries never both hold it.
 */

export interface Timing {
  ttl: number
  loopWait: number
  retryTimeout: number
}

/** Seconds of slack the invariant leaves; negative means the configuration is unsafe. */
export function timingSlack(t: Timing): number {
  return t.ttl - (t.loopWait + 2 * t.retryTimeout)
}

export function timingIsSafe(t: Timing): boolean {
  return timingSlack(t) >= 0
}

/** Latest instant (ms) by which a primary last renewed at `renewedAt` must have decided to demote. */
export function demoteDeadline(renewedAt: number, t: Timing): number {
  return renewedAt + t.ttl * 1000
}

/**
 * Could our lease be gone before the end of the next cycle, had we not renewed it by then?
 * A primary whose renewal is this stale must not wait for another cycle to find out.
 */
export function leaseMayExpireBeforeNextCycle(renewedAt: number | null, now: number, t: Timing): boolean {
  if (renewedAt === null) return true
  return now + (t.loopWait + 2 * t.retryTimeout) * 1000 >= demoteDeadline(renewedAt, t)
}

/** Seconds left on a lease renewed at `renewedAt` (0 when expired or never renewed). */
export function leaseSecondsLeft(renewedAt: number | null, now: number, t: Timing): number {
  if (renewedAt === null) return 0
  return Math.max(0, (demoteDeadline(renewedAt, t) - now) / 1000)
}

/** Whole seconds between two instants, for reasons ("unreachable for 21s"). */
export function secondsBetween(from: number, to: number): number {
  return Math.max(0, Math.round((to - from) / 1000))
}

/**
 * Scheduled switchover/restart window (patroni/ha.py Ha.should_run_scheduled_action): `wait` while
 * more than loop_wait ahead, `stale` when more than floor(1.5*loop_wait) late, else `due` after
 * `sleepMs`.
 */
export type ScheduleVerdict = {kind: 'wait'; inSeconds: number} | {kind: 'stale'; lateSeconds: number} | {kind: 'due'; sleepMs: number}

export function scheduleVerdict(scheduledAt: number, now: number, loopWait: number): ScheduleVerdict {
  const delta = (scheduledAt - now) / 1000
  if (delta > loopWait) return {kind: 'wait', inSeconds: Math.round(delta)}
  if (delta < -Math.floor(loopWait * 1.5)) return {kind: 'stale', lateSeconds: Math.round(-delta)}
  return {kind: 'due', sleepMs: Math.max(0, scheduledAt - now)}
}
