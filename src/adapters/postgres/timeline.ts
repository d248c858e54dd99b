/**
 * Timeline history and the "did we diverge from the new primary?" decision
 * (docs/ha-rules.md#rewind-and-reinitialize; patroni/postgresql/rewind.py), pure so that every
 * branch is unit-tested.
 */
import {formatLsn as fmt, parseLsn} from '../../core/lsn'
import type {HistoryEntry} from '../../core/timeline-history'
import type {Controldata, LocalPosition} from '../../ports/postgres'

// Used by the agent too (agent/execute-failover.ts), so defined in src/core/timeline-history.ts.
export {parseTimelineHistory, type HistoryEntry} from '../../core/timeline-history'

/**
 * Where a stopped data dir stands, from pg_control. A cleanly stopped replica reports its
 * minimum recovery point; a primary (or a replica that never set one) its last checkpoint.
 * Undefined for any other state (a crashed primary "in production"): undecidable until crash
 * recovery has run.
 */
export function localPositionFromControldata(cd: Controldata): LocalPosition | undefined {
  let state = cd.clusterState
  if (state === 'shut down in recovery' || state === 'in archive recovery') {
    if (cd.minRecoveryLsn !== 0 && cd.minRecoveryTimeline !== 0) {
      return {inRecovery: true, timeline: cd.minRecoveryTimeline, lsn: cd.minRecoveryLsn}
    }
    state = 'shut down' // it was a primary when it stopped
  }
  if (state === 'shut down') return {inRecovery: false, timeline: cd.timeline, lsn: cd.checkpointLsn}
  return undefined
}

export type RewindDecision =
  | {need: boolean; reason: string}
  /** A former primary stopped before the switchpoint: need the end of its shutdown checkpoint record. */
  | {need: 'checkpoint-end-required'; switchpoint: number}

/**
 * Patroni's _check_timeline_and_lsn. `checkpointEnd` is where the local shutdown checkpoint
 * record ends (pg_waldump); supply it on the second call when the first one asked for it.
 */
export function rewindDecision(
  local: LocalPosition,
  sourceTimeline: number,
  history: HistoryEntry[] | undefined,
  checkpointEnd?: number,
): RewindDecision {
  if (local.timeline > sourceTimeline) {
    return {need: true, reason: `local timeline ${local.timeline} is ahead of the primary's ${sourceTimeline}`}
  }
  if (local.timeline === sourceTimeline) return {need: false, reason: `same timeline ${local.timeline}`}
  if (sourceTimeline <= 1) return {need: false, reason: `primary is on timeline ${sourceTimeline}`}
  for (const e of history ?? []) {
    if (e.parentTimeline === local.timeline) {
      if (local.inRecovery) {
        return local.lsn > e.switchpoint
          ? {need: true, reason: `replayed ${fmt(local.lsn)} past the switchpoint ${fmt(e.switchpoint)} of timeline ${e.parentTimeline}`}
          : {need: false, reason: `replayed ${fmt(local.lsn)} not past the switchpoint ${fmt(e.switchpoint)}`}
      }
      if (local.lsn >= e.switchpoint) {
        return {need: true, reason: `checkpoint ${fmt(local.lsn)} at or past the switchpoint ${fmt(e.switchpoint)} of timeline ${e.parentTimeline}`}
      }
      // A former primary stopped cleanly just before the promotion: its shutdown checkpoint
      // record ends exactly at the switchpoint when the new primary forked right after it.
      if (checkpointEnd === undefined) return {need: 'checkpoint-end-required', switchpoint: e.switchpoint}
      return checkpointEnd === e.switchpoint
        ? {need: false, reason: `shutdown checkpoint ends at the switchpoint ${fmt(e.switchpoint)}`}
        : {need: true, reason: `shutdown checkpoint ends at ${fmt(checkpointEnd)}, the switchpoint is ${fmt(e.switchpoint)}`}
    }
    if (e.parentTimeline > local.timeline) {
      return {need: true, reason: `the primary's history skips local timeline ${local.timeline}`}
    }
  }
  return {need: true, reason: `local timeline ${local.timeline} is not in the primary's history`}
}

/**
 * pg_waldump's complaint when asked for two records and only the checkpoint exists:
 * `... error in WAL record at 0/182E220: invalid record length at 0/182E298: wanted 24, got 0`.
 * The second position is where the checkpoint record ends.
 */
export function checkpointEndFromWaldump(stdout: string, stderr: string, lsn: string): number | undefined {
  const out = stdout.trim().split('\n').filter(Boolean)
  const err = stderr.trim().split('\n').filter(Boolean)
  if (out.length !== 1 || err.length !== 1) return undefined
  const m = new RegExp(`error in WAL record at ${lsn.replace('/', '\\/')}: invalid record length at ([0-9A-F]+/[0-9A-F]+): wanted `).exec(err[0])
  return m ? parseLsn(m[1]) : undefined
}
