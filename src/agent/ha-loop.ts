/**
 * One HA cycle (docs/ha-rules.md#cycle-and-timing; Patroni's patroni/ha.py Ha.run_cycle):
 * observe (observe.ts) -> decide() until done, each action carried out by its handler
 * (execute/index.ts HANDLERS) -> maintenance (maintenance.ts, a due scheduled restart, the
 * PostgreSQL configuration) -> publish members/<me> (publish.ts). The agent's state is one record
 * (state.ts); the few methods other modules call (runtime.ts, daemon.ts, rest-actions.ts, the
 * simulator) are kept here and delegate.
 */
import type {DynamicConfig} from '../config/dynamic-schema'
import type {LocalConfig} from '../config/load'
import type {Decision} from '../core/actions'
import {BRANCHING} from '../core/actions'
import type {MemberData} from '../core/cluster'
import {decide} from '../core/decide'
import type {PgObservation, TaskKind} from '../core/observation'
import type {PgStatus} from '../ports/postgres'
import type {CallbackAction} from './callbacks'
import {createAgentContext, fireCallback, type AgentContext, type AgentPorts} from './context'
import {DcsFailed, execute, fallbackOutcome} from './execute'
import {PrePromoteFailed} from './execute-failover'
import type {FailsafeState} from './failsafe'
import {errText} from './helpers'
import {primaryMaintenance} from './maintenance'
import {observe} from './observe'
import {applyPgConfigIfChanged} from './pg-config'
import {memberData, publishedRole, publishMember} from './publish'
import {reinitializeNow, restartMatches, restartNow, runScheduledRestart} from './restart'
import {isLeader, leaseValid, stoppingPostgres, type AgentState, type ScheduledRestart} from './state'
import type {TaskSlot} from './task-slot'
import type {WatchdogControl} from './watchdog'

export {errText} from './helpers'

/** The ports and the configuration the agent is started with (context.ts AgentPorts). */
export type HaLoopDeps = AgentPorts

export class HaLoop {
  /** The agent's state (state.ts): what the handlers read and write, and what the REST API reads. */
  readonly state: AgentState
  readonly slot: TaskSlot
  /** The ports, the slot and the state, as observe, the handlers and publish take them. */
  private readonly x: AgentContext

  constructor(d: HaLoopDeps) {
    this.x = createAgentContext(d)
    this.state = this.x.state
    this.slot = this.x.slot
  }

  /**
   * Runs one cycle; returns the final decision (also logged at INFO). A task that ends during the
   * cycle is seen ended only by the next one, and a task's critical section never overlaps it.
   */
  async runCycle(): Promise<Decision> {
    await this.slot.beginCycle()
    try {
      return await this.cycle()
    } finally {
      this.slot.endCycle()
    }
  }

  private async cycle(): Promise<Decision> {
    const x = this.x
    const {clock, log} = x
    const st = this.state
    const finished = this.slot.takeOutcome()
    if (finished) {
      if (!finished.ok && !finished.cancelled) log.error(`${finished.description} failed: ${errText(finished.error)}`)
      const prePromoteFailed = finished.error instanceof PrePromoteFailed
      st.memory = {
        ...st.memory,
        lastTask: {kind: finished.kind as TaskKind, ok: finished.ok, finishedAt: clock.now(), ...(prePromoteFailed ? {prePromoteFailed} : {})},
      }
    }
    let obs = await observe(x)
    let final: Decision | undefined
    for (let i = 0; i < 16; i++) {
      const dec = decide(obs)
      const outcomes = [...obs.outcomes]
      let peers = obs.peers
      for (const a of dec.actions) {
        try {
          const r = await execute(a, obs, x)
          if (r.peers) peers = {...(peers ?? {}), ...r.peers}
          if (r.outcome) outcomes.push(r.outcome)
          else if (BRANCHING.has(a.type)) outcomes.push(fallbackOutcome(a))
        } catch (e) {
          if (e instanceof DcsFailed) {
            outcomes.push({type: 'dcs-error', during: a.type})
            break
          }
          throw e
        }
      }
      if (dec.remember) st.memory = {...st.memory, ...dec.remember}
      if (dec.then === 'done') {
        final = dec
        break
      }
      log.debug(`${dec.rule}: ${dec.reason}`)
      obs = {...obs, outcomes, peers, memory: st.memory, now: clock.now()}
    }
    if (!final) throw new Error('decide() did not finish the cycle within 16 steps')
    await primaryMaintenance(x)
    await runScheduledRestart(x, obs).catch((e) => log.warning(`scheduled restart: ${errText(e)}`))
    await applyPgConfigIfChanged(x).catch((e) => log.warning(`failed to apply the PostgreSQL configuration: ${errText(e)}`))
    await publishMember(x).catch((e) => log.warning(`failed to update member key: ${errText(e)}`))
    log.info(final.reason)
    return final
  }

  // --- what runtime.ts, daemon.ts, rest-actions.ts and the simulator call ---

  /** The local configuration in force (replaced by reloadLocal). */
  get config(): LocalConfig {
    return this.x.config
  }

  get dynamic(): DynamicConfig {
    return this.state.dynamic
  }

  get lastPg(): PgObservation | null {
    return this.state.lastPg
  }

  get lastStatus(): PgStatus | null {
    return this.state.lastStatus
  }

  /** The watchdog (REST watchdog_failed, the shutdown's disarm). */
  get watchdog(): WatchdogControl {
    return this.x.watchdog
  }

  get failsafe(): FailsafeState {
    return this.state.failsafe
  }

  /** POST /restart with `schedule` sets it, DELETE /restart clears it; the cycle runs it when due. */
  get scheduledRestart(): ScheduledRestart | null {
    return this.state.scheduledRestart
  }

  set scheduledRestart(v: ScheduledRestart | null) {
    this.state.scheduledRestart = v
  }

  get isLeader(): boolean {
    return isLeader(this.state, this.x.config.name)
  }

  /** state.ts leaseValid: what GET /primary answers from. */
  leaseValid(now: number): boolean {
    return leaseValid(this.state, this.x.config.name, this.slot.current, now)
  }

  /** The lock is no longer ours (released or demoted): the REST API stops answering as leader at once. */
  forgetLock(): void {
    this.state.lastLockRenewal = null
  }

  /** state.ts stoppingPostgres: no WAL position, no running primary until the next observation. */
  stoppingPostgres(): void {
    stoppingPostgres(this.state)
  }

  /** Runs a configured callback (never while bootstrapping) and remembers that one ran. */
  fireCallback(action: CallbackAction, role: string): void {
    fireCallback(this.x, action, role)
  }

  /** restart.ts restartMatches: the filters of POST /restart and scheduled restarts. */
  restartMatches(role: string | undefined, postgresVersion: number | undefined, pendingOnly: boolean): string | null {
    return restartMatches(this.x, role, postgresVersion, pendingOnly)
  }

  /** restart.ts restartNow: POST /restart. */
  restartNow(timeoutS: number | null): Promise<{ok: boolean | null; message: string}> {
    return restartNow(this.x, timeoutS)
  }

  /** restart.ts reinitializeNow: POST /reinitialize; null when started, else Patroni's refusal text. */
  reinitializeNow(force: boolean, fromLeader = false): Promise<string | null> {
    return reinitializeNow(this.x, force, fromLeader)
  }

  /**
   * SIGHUP / POST /reload with a freshly loaded local configuration: PostgreSQL files are
   * rewritten and reloaded (even when nothing seems to differ, like Patroni's SIGHUP).
   */
  async reloadLocal(next: LocalConfig): Promise<void> {
    this.x.config = next
    await applyPgConfigIfChanged(this.x, true)
  }

  publishedRole(): string {
    return publishedRole(this.state)
  }

  memberData(): MemberData {
    return memberData(this.x)
  }

  publishMember(): Promise<void> {
    return publishMember(this.x)
  }
}
