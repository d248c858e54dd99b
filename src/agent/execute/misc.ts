/**
 * Handlers of the remaining actions: waiting inside the cycle, the fatal exit, the watchdog
 * (arm, kick, disarm through ../watchdog.ts; docs/ha-rules.md#watchdog) and cancelling the
 * running task (docs/ha-rules.md#long-tasks).
 */
import type {Action} from '../../core/actions'
import {noteWatchdog, type Handler} from './common'

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

/** branching: arm the watchdog; not ok when mode required and no safe watchdog could be set up. */
export const activateWatchdog: Handler<Of<'activate-watchdog'>> = async (_a, _obs, x) => {
  const ok = await x.watchdog.activate()
  noteWatchdog(x)
  return {outcome: {type: 'activate-watchdog', ok}}
}

/** Reset the armed device's timer (settings changed meanwhile are applied here, as Patroni's keepalive does). */
export const kickWatchdog: Handler<Of<'kick-watchdog'>> = async (_a, _obs, x) => {
  await x.watchdog.keepalive()
  noteWatchdog(x)
  return {outcome: {type: 'kick-watchdog'}}
}

/** Disarm the device with the magic close. */
export const disableWatchdog: Handler<Of<'disable-watchdog'>> = async (_a, _obs, x) => {
  x.watchdog.disable()
  noteWatchdog(x)
  return {}
}

/** Cancel the running task and wait until it has ended (task-slot.ts TaskSlot.cancel). */
export const cancelTask: Handler<Of<'cancel-task'>> = async (_a, _obs, x) => {
  await x.slot.cancel()
  return {}
}
