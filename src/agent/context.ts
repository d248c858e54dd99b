/**
 * What the executor's parts work with: the ports (Dcs, PostgresControl, Clock, Peers, the log),
 * the task slot, the callbacks, the local configuration in force and the agent's state record
 * (state.ts). HaLoop builds one AgentContext; observe.ts, the action handlers (execute/*),
 * pg-config.ts, maintenance.ts, restart.ts and publish.ts take it as their only dependency, so
 * that the simulator and the unit tests run them on fakes (docs/architecture.md#one-ha-cycle).
 */
import type {LocalConfig} from '../config/load'
import type {TaskKind} from '../core/observation'
import {getMember} from '../core/cluster'
import type {ShutdownCause} from '../core/shutdown'
import type {Logger} from '../log/logger'
import type {Clock} from '../ports/clock'
import type {Dcs} from '../ports/dcs'
import type {Files} from '../ports/files'
import type {Peers} from '../ports/peers'
import type {PostgresControl} from '../ports/postgres'
import type {ProcessRunner} from '../ports/process-runner'
import type {Watchdogs} from '../ports/watchdog'
import {Callbacks, type CallbackAction} from './callbacks'
import {hostPortOf} from './helpers'
import {initialState, type AgentState} from './state'
import {TaskSlot} from './task-slot'
import {WatchdogControl, watchdogSettings} from './watchdog'
import {clusterPrimaryRoleName} from '../core/role-name'

/** The ports and the configuration the agent is started with. */
export interface AgentPorts {
  config: LocalConfig
  dcs: Dcs
  pg: PostgresControl
  clock: Clock
  log: Logger
  /** The other members' REST APIs (leader race, failsafe). */
  peers: Peers
  /** Called by the `exit` action: the daemon shuts down with this code. */
  requestExit: (code: number, cause?: ShutdownCause) => void
  /** External programs: callbacks, post_bootstrap, replica methods, pre_promote. */
  processes: ProcessRunner
  /** The environment those programs get (the agent's own, as Patroni passes it). */
  childEnv: Record<string, string>
  /** Private files handed to those programs (pgpass). */
  files: Files
  /**
   * `hactl agent --strict`: a DCS `config` key whose timing Patroni would adjust keeps the values
   * in force instead (src/config/dynamic-schema.ts dynamicInForce).
   */
  strict?: boolean
  /**
   * The watchdog devices (docs/ha-rules.md#watchdog); absent in setups without one (the
   * simulator, unit tests): then no driver exists, as on a platform without a watchdog.
   */
  watchdogs?: Watchdogs
}

export interface AgentContext extends Readonly<Omit<AgentPorts, 'config'>> {
  /** The local configuration in force (HaLoop.reloadLocal replaces it). */
  config: LocalConfig
  /** The one slot for long actions (task-slot.ts); a task that ends wakes the loop. */
  readonly slot: TaskSlot
  readonly callbacks: Callbacks
  readonly state: AgentState
  /** Arms, kicks and disarms the watchdog device as the core's actions say (watchdog.ts). */
  readonly watchdog: WatchdogControl
}

/** A fresh agent: the initial state, an empty task slot, the callbacks of the configuration in force. */
export function createAgentContext(d: AgentPorts): AgentContext {
  const slot = new TaskSlot(d.clock, () => d.dcs.wakeup())
  const state = initialState(d.config, d.clock)
  const x: AgentContext = {
    config: d.config,
    dcs: d.dcs,
    pg: d.pg,
    clock: d.clock,
    log: d.log,
    peers: d.peers,
    requestExit: d.requestExit,
    slot,
    processes: d.processes,
    childEnv: d.childEnv,
    files: d.files,
    strict: d.strict === true,
    callbacks: new Callbacks({commands: () => x.config.postgresql.callbacks as never, scope: () => x.config.scope, log: d.log, runner: d.processes, env: () => d.childEnv, primaryRoleName: () => clusterPrimaryRoleName(x.state.lastCluster)}),
    state,
    watchdog: new WatchdogControl(d.watchdogs ?? {device: () => null}, d.log, watchdogSettings(d.config, state.dynamic)),
  }
  return x
}

/** Runs a configured callback (never while bootstrapping) and remembers that one ran. */
export function fireCallback(x: AgentContext, action: CallbackAction, role: string): void {
  if (x.state.memory.bootstrapping) return
  if (x.callbacks.fire(action, role)) x.state.memory = {...x.state.memory, callbackFired: true}
}

/** Starts a long task in the slot; a busy slot is logged, never queued (docs/ha-rules.md#long-tasks). */
export function startTask(x: AgentContext, kind: TaskKind, description: string, fn: (signal: AbortSignal) => Promise<unknown>): void {
  if (!x.slot.start(kind, description, fn)) x.log.warning(`cannot start ${description}: ${x.slot.current?.description} is running`)
}

/** host/port of a member's conn_url in the last view; undefined when unknown or unusable. */
export function memberConn(x: AgentContext, name: string): {host: string; port: number} | undefined {
  return hostPortOf(x.state.lastCluster ? getMember(x.state.lastCluster, name)?.connUrl : null)
}
