/**
 * What every action handler shares: the handler's type, what it reports, and the one way a DCS
 * call fails inside a cycle (docs/architecture.md#one-ha-cycle: a DCS failure becomes a
 * `dcs-error` outcome, never an exception that skips the rules).
 */
import type {Action, ActionType} from '../../core/actions'
import type {Observation, PeerStatus, StepOutcome} from '../../core/observation'
import type {AgentContext} from '../context'
import {errText} from '../helpers'

/** What performing one action reports: a branching action's outcome, the peers asked. */
export interface ActionResult {
  outcome?: StepOutcome
  peers?: Record<string, PeerStatus>
}

/**
 * Carries out one action of `decide()` through the ports in `x`; `obs` is the observation the
 * decision was made on. Throws DcsFailed when a DCS call failed; never decides.
 */
export type Handler<A extends Action> = (a: A, obs: Observation, x: AgentContext) => Promise<ActionResult>

/** A DCS call of an action failed: the cycle reports `{type: 'dcs-error'}` and decides again. */
export class DcsFailed extends Error {}

/** Runs the DCS call `fn` of action `type`; a failure is logged and becomes DcsFailed. */
export async function viaDcs<T>(x: AgentContext, type: ActionType, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    x.log.error(`DCS operation ${type} failed: ${errText(e)}`)
    throw new DcsFailed(errText(e))
  }
}

/**
 * Rewind state INITIAL/CHECK/... -> CHECK when a rewind or reinit on divergence is allowed
 * (docs/ha-rules.md#rewind-and-reinitialize; patroni/postgresql/rewind.py Rewind.trigger_check_diverged_lsn).
 */
export function requestRewindCheck(x: AgentContext, obs: Observation): void {
  const c = obs.config
  const st = x.state
  const allowed = (c.usePgRewind && st.memory.canRewind) || c.removeDataDirectoryOnDivergedTimelines
  if (allowed && st.memory.rewind !== 'need') st.memory = {...st.memory, rewind: 'check'}
}

/** The memory's watchdogRunning follows the device: armed or not (docs/ha-rules.md#watchdog). */
export function noteWatchdog(x: AgentContext): void {
  const running = x.watchdog.isRunning
  if (x.state.memory.watchdogRunning !== running) x.state.memory = {...x.state.memory, watchdogRunning: running}
}
