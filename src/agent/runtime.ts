/**
 * The agent's life after start-up, free of process concerns (signals, the REST server, config
 * files), so that the daemon and the simulator run the very same code: cycles every loop_wait
 * (earlier when the DCS or a finished task says so) until `stop` aborts, then the shutdown the
 * core plans (core/shutdown.ts).
 */
import {releaseAfterStop, shutdownPlan, type ShutdownCause} from '../core/shutdown'
import {isStandbyClusterConfig} from '../core/standby'
import type {Logger} from '../log/logger'
import {isAbortError, type Clock} from '../ports/clock'
import type {Dcs} from '../ports/dcs'
import type {PostgresControl} from '../ports/postgres'
import {errText, type HaLoop} from './ha-loop'

export interface RuntimeDeps {
  loop: HaLoop
  dcs: Dcs
  pg: PostgresControl
  clock: Clock
  log: Logger
}

/**
 * Runs HA cycles until `stop` aborts. `onNextRun` gets the wall-clock time of the next cycle;
 * `onCycle` is called after every cycle, failed or not, even when `stop` aborted during it.
 */
export async function runCycles(d: RuntimeDeps, stop: AbortSignal, onNextRun: (ms: number) => void = () => {}, onCycle: () => void = () => {}): Promise<void> {
  const {loop, dcs, clock, log} = d
  while (!stop.aborted) {
    const started = clock.monotonic()
    try {
      await loop.runCycle()
    } catch (e) {
      log.error(`HA cycle failed: ${errText(e)}`)
    }
    onCycle()
    if (stop.aborted) break
    const waitMs = Math.max(0, loop.dynamic.loop_wait * 1000 - (clock.monotonic() - started))
    onNextRun(clock.now() + waitMs)
    try {
      await dcs.waitForChange(waitMs, stop)
    } catch (e) {
      if (!isAbortError(e)) throw e
    }
  }
}

/**
 * Patroni's Ha.shutdown: cancel the running task, then stop PostgreSQL and release the key as
 * core/shutdown.ts says. Never throws.
 */
export async function shutdownAgent(d: RuntimeDeps, cause: ShutdownCause): Promise<void> {
  const {loop, dcs, pg, log} = d
  await loop.slot.cancel('agent shutting down')
  const plan = shutdownPlan({
    cause,
    paused: loop.dynamic.pause === true,
    holdsLock: loop.isLeader,
    pgRunning: loop.lastPg?.process !== 'stopped',
    // Patroni's is_synchronous_mode: never in a standby cluster.
    synchronousMode: loop.dynamic.synchronous_mode !== false && !isStandbyClusterConfig(loop.dynamic.standby_cluster),
    primaryStopTimeout: loop.dynamic.primary_stop_timeout,
  })
  log.info(plan.reason)
  if (plan.handover) {
    await handOver(d)
    return
  }
  if (!plan.stop) {
    // PostgreSQL keeps running: the member key keeps saying so until its lease expires. Our own
    // SQL session goes, or it would keep the process alive after everything else closed.
    await pg.close().catch(() => {})
    const v = releaseAfterStop(plan, loop.lastPg?.process === 'stopped')
    if (v.disableWatchdog) loop.watchdog.disable()
    if (v.release) await releaseKey(d, undefined)
    return
  }
  let lsn: number | undefined
  try {
    lsn = loop.lastPg?.inRecovery === false ? (await pg.status()).walPosition : undefined
  } catch {
    lsn = undefined
  }
  await pg.close().catch(() => {})
  const roleAtStop = loop.publishedRole()
  loop.stoppingPostgres()
  let stopped = false
  try {
    const r = await pg.stop({mode: plan.stop.mode, checkpoint: false, ...(plan.stop.timeoutMs !== null ? {timeoutMs: plan.stop.timeoutMs} : {})})
    if (r.signalled) loop.fireCallback('on_stop', roleAtStop)
    stopped = (await pg.state()).kind === 'stopped'
  } catch (e) {
    log.error(`failed to stop PostgreSQL: ${errText(e)}`)
  }
  const v = releaseAfterStop(plan, stopped)
  if (v.disableWatchdog) loop.watchdog.disable()
  if (!stopped) log.error(`${v.reason}${loop.watchdog.isRunning ? '. Leaving watchdog running.' : ''}`)
  if (v.release) {
    // The shutdown checkpoint is the last record a replica must have received to be eligible.
    const cd = await pg.controldata().catch(() => undefined)
    if (cd && cd.clusterState === 'shut down' && (lsn === undefined || cd.checkpointLsn > lsn)) lsn = cd.checkpointLsn
    await releaseKey(d, lsn)
  }
  if (stopped) {
    // Like Patroni: the member key says `stopped` at once instead of the last running state until the ttl.
    loop.state.lastPg = null
    loop.state.lastStatus = null
    await dcs.touchMember(loop.memberData()).catch((e) => log.warning(`failed to update the member key: ${errText(e)}`))
  }
}

/**
 * The hand-over exit (docs/ha-rules.md#hand-over): PostgreSQL, the leader key and an armed
 * watchdog are left to the next agent process. The lease (leader and member keys) is kept alive
 * once more and the watchdog kicked, so the next agent has a full ttl to renew the key under its
 * own lease and re-open the device; nothing is stopped, released or disarmed.
 */
async function handOver(d: RuntimeDeps): Promise<void> {
  const {loop, dcs, pg, log} = d
  await pg.close().catch(() => {})
  if (dcs.lease !== undefined) {
    try {
      await dcs.refreshLease(true)
    } catch (e) {
      log.warning(`hand-over: could not refresh the lease: ${errText(e)}`)
    }
  }
  if (loop.watchdog.isRunning) {
    await loop.watchdog.keepalive()
    log.info('hand-over: the watchdog stays armed for the next agent process')
  }
}

async function releaseKey(d: RuntimeDeps, lsn: number | undefined): Promise<void> {
  try {
    if (await d.dcs.deleteLeader(lsn)) d.log.info('leader key released')
    d.loop.forgetLock()
  } catch (e) {
    d.log.error(`failed to release the leader key: ${errText(e)}`)
  }
}
