/**
 * The executor's table: every action type of src/core/actions.ts maps onto exactly one named
 * handler (docs/architecture.md#one-ha-cycle). The table's type makes a missing action type a
 * compile error; an action whose type is not in the table at run time is a loud error, never a
 * silent skip.
 *
 * Files by concern: lock.ts (DCS keys), postgres.ts (start, stop, promote, demote, follow),
 * replica.ts (data directory: bootstrap, clone, rewind, reinitialize), sync.ts (synchronous
 * mode), peers.ts (the other members' REST APIs), misc.ts (sleep, exit, watchdog, cancel);
 * tasks.ts holds the long task bodies they start.
 */
import type {Action, ActionType} from '../../core/actions'
import type {Observation, StepOutcome} from '../../core/observation'
import type {AgentContext} from '../context'
import type {ActionResult, Handler} from './common'
import {acquireLock, cancelInitialization, clearFailover, initialize, releaseLock, restoreConfig, setFailover, takeLeader, touchMember, updateLock, writeHistory} from './lock'
import {activateWatchdog, cancelTask, disableWatchdog, exit, kickWatchdog, sleep} from './misc'
import {failsafeProbe, fetchPeerStatus} from './peers'
import {crashRecovery, demote, follow, promote, start, stop} from './postgres'
import {bootstrap, checkRewind, clone, postBootstrap, reinitialize, rewind, triggerRewindCheck} from './replica'
import {manageSync, setSync} from './sync'

export {DcsFailed, type ActionResult, type Handler} from './common'

export type HandlerTable = {[K in ActionType]: Handler<Extract<Action, {type: K}>>}

export const HANDLERS: HandlerTable = {
  // lock.ts
  'acquire-lock': acquireLock,
  'update-lock': updateLock,
  'release-lock': releaseLock,
  'take-leader': takeLeader,
  initialize: initialize,
  'cancel-initialization': cancelInitialization,
  'restore-config': restoreConfig,
  'touch-member': touchMember,
  'set-failover': setFailover,
  'clear-failover': clearFailover,
  'write-history': writeHistory,
  // postgres.ts
  start: start,
  stop: stop,
  promote: promote,
  demote: demote,
  follow: follow,
  'crash-recovery': crashRecovery,
  // replica.ts
  clone: clone,
  rewind: rewind,
  reinitialize: reinitialize,
  'check-rewind': checkRewind,
  'trigger-rewind-check': triggerRewindCheck,
  bootstrap: bootstrap,
  'post-bootstrap': postBootstrap,
  // sync.ts
  'set-sync': setSync,
  'manage-sync': manageSync,
  // peers.ts
  'fetch-peer-status': fetchPeerStatus,
  'failsafe-probe': failsafeProbe,
  // misc.ts
  sleep: sleep,
  exit: exit,
  'activate-watchdog': activateWatchdog,
  'kick-watchdog': kickWatchdog,
  'disable-watchdog': disableWatchdog,
  'cancel-task': cancelTask,
}

/**
 * Performs one action through its handler. Throws DcsFailed when a DCS call failed, and an Error
 * naming the type when the table has no handler for it.
 */
export function execute(a: Action, obs: Observation, x: AgentContext): Promise<ActionResult> {
  const type: string = a.type
  const handler = Object.hasOwn(HANDLERS, type) ? (HANDLERS[type as ActionType] as Handler<Action>) : undefined
  if (!handler) throw new Error(`no handler for action type ${JSON.stringify(type)} (src/agent/execute/index.ts HANDLERS)`)
  return handler(a, obs, x)
}

/** The outcome of a branching action whose handler reported none: a failure, never a success. */
export function fallbackOutcome(a: Action): StepOutcome {
  switch (a.type) {
    case 'acquire-lock':
    case 'update-lock':
    case 'initialize':
    case 'set-sync':
    case 'activate-watchdog':
    case 'failsafe-probe':
      return {type: a.type, ok: false}
    case 'check-rewind':
      return {type: 'check-rewind', state: 'failed'}
    case 'sleep':
      return {type: 'sleep'}
    default:
      return {type: 'fetch-peer-status'}
  }
}
