/**
 * What the agent does with PostgreSQL and the leader key when it stops (SIGTERM, systemctl stop,
 * a fatal exit). Patroni's Ha.shutdown (patroni/ha.py) in two pure steps, so the order is the
 * core's and the daemon only carries it out: first whether and how to stop PostgreSQL, then,
 * knowing whether the stop worked, whether to give the leader key back.
 *
 * - Paused (maintenance mode): PostgreSQL keeps running and the key stays, so the agent can be
 *   stopped or restarted without a failover (besides the hand-over below); the replicas do not
 *   race while paused, so a released key would leave the cluster without a primary.
 * - A fatal exit that is about this node's data, not about PostgreSQL (the join was aborted
 *   because the cluster has no initialize key and PostgreSQL runs as a replica; the data dir
 *   belongs to another cluster): nothing is stopped. Patroni keeps PostgreSQL running after an
 *   aborted join; hactl also leaves it running after a system ID mismatch, because that
 *   PostgreSQL serves some other cluster and an agent pointed at the wrong scope must not stop it.
 * - Otherwise PostgreSQL gets a fast stop, with no escalation to an immediate stop or SIGKILL
 *   unless `primary_stop_timeout` is set in synchronous mode (Patroni applies it only there): a
 *   slow shutdown checkpoint is waited for, so the replicas get all of the WAL.
 * - The key is released only once PostgreSQL is down, with the shutdown checkpoint as the last
 *   known LSN. A stop that failed keeps the key: a replica must not be promoted next to a
 *   primary that still runs.
 * - A hand-over (a package upgrade's restart, docs/ha-rules.md#hand-over): nothing is stopped or
 *   released and an armed watchdog stays armed; the next agent process picks up PostgreSQL, the
 *   leader key and the watchdog within the ttl, as a Patroni restarted after its own process
 *   died does. Paused or not.
 */

export type ShutdownCause =
  /** SIGTERM/SIGINT, or an exit that does not concern the data directory. */
  | 'signal'
  /** No initialize key and PostgreSQL runs as a replica: the agent refused to join. */
  | 'join-aborted'
  /** The data directory belongs to another cluster (system ID mismatch). */
  | 'sysid-mismatch'
  /** A SIGTERM with a hand-over marker: the next agent process takes over what this one holds. */
  | 'handover'

export interface ShutdownFacts {
  cause: ShutdownCause
  paused: boolean
  /** This node's last view named it the leader. */
  holdsLock: boolean
  /** A postmaster runs (or its state is unknown: then a stop is attempted). */
  pgRunning: boolean
  synchronousMode: boolean
  /** Dynamic `primary_stop_timeout` in seconds (0 = none). */
  primaryStopTimeout: number
}

export interface StopStep {
  mode: 'fast'
  /** Escalate after this many ms; null = wait for PostgreSQL however long it takes. */
  timeoutMs: number | null
}

export interface ShutdownPlan {
  /** null: leave PostgreSQL as it is. */
  stop: StopStep | null
  /** Whether to consider releasing the key once the stop is known (see releaseAfterStop). */
  mayRelease: boolean
  /**
   * Hand-over: keep the lease alive for a full ttl and kick an armed watchdog once more, then
   * exit leaving both armed for the next agent process.
   */
  handover?: boolean
  /** One line for the log. */
  reason: string
}

export function shutdownPlan(f: ShutdownFacts): ShutdownPlan {
  if (f.cause === 'handover') {
    return {
      stop: null,
      mayRelease: false,
      handover: true,
      reason: `hand-over: PostgreSQL is left running${f.holdsLock ? ' and the leader key in place' : ''} for the next agent process`,
    }
  }
  if (f.cause === 'join-aborted' || f.cause === 'sysid-mismatch') {
    return {stop: null, mayRelease: false, reason: `PostgreSQL is left running (${f.cause === 'join-aborted' ? 'the join was aborted' : 'system ID mismatch'})`}
  }
  if (f.paused) return {stop: null, mayRelease: false, reason: 'Leader key is not deleted and Postgresql is not stopped due paused state'}
  const timeoutMs = f.synchronousMode && f.primaryStopTimeout > 0 ? f.primaryStopTimeout * 1000 : null
  if (!f.pgRunning) return {stop: null, mayRelease: f.holdsLock, reason: 'PostgreSQL is not running'}
  return {stop: {mode: 'fast', timeoutMs}, mayRelease: f.holdsLock, reason: 'stopping PostgreSQL'}
}

export interface ReleaseVerdict {
  release: boolean
  reason: string
  /**
   * Disarm the watchdog (docs/ha-rules.md#watchdog): once PostgreSQL is down or left running on
   * purpose (paused). A stop that failed leaves it armed, as Patroni's Ha.shutdown does: a primary
   * that still runs with a lock nobody renews is what the watchdog is for.
   */
  disableWatchdog: boolean
}

/** Step two: the key goes only when PostgreSQL is known to be down. */
export function releaseAfterStop(plan: ShutdownPlan, pgStopped: boolean): ReleaseVerdict {
  // A hand-over leaves an armed watchdog to the next agent: should none come, the host is reset
  // before the leader key expires (what the watchdog is for), as after Patroni's own death.
  const disableWatchdog = plan.handover === true ? false : !plan.stop || pgStopped
  if (!plan.mayRelease) return {release: false, reason: plan.stop ? 'not the leader: nothing to release' : plan.reason, disableWatchdog}
  if (!pgStopped) return {release: false, reason: 'PostgreSQL shutdown failed, leader key not removed', disableWatchdog}
  return {release: true, reason: 'PostgreSQL is stopped: releasing the leader key', disableWatchdog}
}
