/**
 * Handlers of the remaining actions: waiting inside the cycle, the fatal exit, the watchdog (not
 * implemented yet: activation reports failure, so the core never promotes on a watchdog it
 * believes active) and cancelling the running task (docs/ha-rules.md#long-tasks).
 */
import type {Action} from '../../core/actions'
import type {Handler} from './common'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/** branching: wait `ms` inside the cycle (let a winner take the lock; reach a scheduled time). */
export const sleep: Handler<Of<'sleep'>> = async (a, _obs, x) => {
  await x.clock.sleep(a.ms)
  return {outcome: {type: 'sleep'}}
}

/** Fatal: log the message and ask the daemon to shut down with `code` (core/shutdown.ts plans the stop). */
export const exit: Handler<Of<'exit'>> = async (a, _obs, x) => {
  x.log.critical(a.message)
  x.requestExit(a.code, a.cause)
  return {}
}

/** branching: no watchdog device support yet; said once per process, reported as not activated. */
export const activateWatchdog: Handler<Of<'activate-watchdog'>> = async (_a, _obs, x) => {
  const warned = x.state.warnedForever
  if (!warned.has('watchdog')) {
    warned.add('watchdog')
    x.log.warning('watchdog support is not implemented yet; continuing without a watchdog')
  }
  return {outcome: {type: 'activate-watchdog', ok: false}}
}

/** Nothing to disable while no watchdog can be activated. */
export const disableWatchdog: Handler<Of<'disable-watchdog'>> = async () => {
  return {}
}

/** Cancel the running task and wait until it has ended (task-slot.ts TaskSlot.cancel). */
export const cancelTask: Handler<Of<'cancel-task'>> = async (_a, _obs, x) => {
  await x.slot.cancel()
  return {}
}
