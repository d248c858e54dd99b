/**
 * The agent's state as one record: what the executor keeps between cycles (the core's memory,
 * the last observation, the bookkeeping of the PostgreSQL configuration, synchronous standbys and
 * replication slots) and everything the REST API reads (src/agent/snapshot.ts). HaLoop holds one
 * AgentState; observe.ts, the action handlers (execute/*), the maintenance after the decisions
 * and publish.ts read and write it. Nothing here does I/O.
 */
import type {LocalConfig} from '../config/load'
import {parseDynamicConfig, type DynamicConfig} from '../config/dynamic-schema'
import type {ClusterView} from '../core/cluster'
import type {AgentMemory, PgObservation} from '../core/observation'
import type {Clock} from '../ports/clock'
import type {Controldata, PgStatus, RecoveryConfig, ReplicationRow} from '../ports/postgres'
import {FailsafeState} from './failsafe'
import {initialMemory} from './helpers'
import type {TaskInfo} from './task-slot'

/** POST /restart with `schedule`: published in the member key, run by the loop when due. */
export type ScheduledRestart = {
  schedule: string
  postmaster_start_time?: string
  role?: string
  postgres_version?: string
  restart_pending?: boolean
  timeout?: number
}

/** Per parameter waiting for a restart: the value running and the value configured. */
export type PendingRestartReasons = Record<string, {old_value: string; new_value: string}>

export interface AgentState {
  /** What the core remembers between cycles (core/observation.ts AgentMemory). */
  memory: AgentMemory

  // --- the last observation (for the REST API and the member key) ---
  lastPg: PgObservation | null
  /** The last status query's answer; replaced once per observation (docs/ha-rules.md#rest-health-answers). */
  lastStatus: PgStatus | null
  /** pg_controldata's system identifier of the data directory, once read. */
  sysid: string | null
  /** The dynamic configuration in force (docs/ha-rules.md#dynamic-configuration). */
  dynamic: DynamicConfig
  lastCluster: ClusterView | null
  /** pg_stat_replication of the last cycle (primary only). */
  replication: ReplicationRow[]
  /** When PostgreSQL was first seen starting (null while not starting). */
  startingSince: number | null

  // --- the DCS ---
  /** When the lock was last acquired or renewed by us; null once released or demoted (leaseValid). */
  lastLockRenewal: number | null
  /** Since when the DCS could not be read; null while it can. */
  unreachableSince: number | null
  /** The members of the last view that had a leader (docs/ha-rules.md#dcs-unreachable). */
  lastLockedMembers: ClusterView['members']
  /** Version of the DCS config key last applied (its warnings are logged once per version). */
  configSeen: number | null
  /** failsafe_mode: the primary's pings (on a replica) or the last vouched round (on the primary). */
  failsafe: FailsafeState

  // --- PostgreSQL's configuration as written ---
  /** The member PG streams from (null: none or primary), as last written into its recovery settings. */
  upstream: string | null
  /** PG follows the standby cluster's remote primary (`upstream` is then null). */
  upstreamRemote: boolean
  /** The recovery settings last written for following (JSON), to tell a change of upstream. */
  followKey: string | null
  /** Recovery settings PG runs with, so a reload rewrites the same ones. */
  runningRecovery: RecoveryConfig | null
  /** Parameters/hba/ident last written. */
  appliedKey: string | null
  /** The command-line parameters of the last start. */
  startedCmdline: Record<string, string> | null
  /** When to read pg_settings.pending_restart after a reload (the postmaster applies SIGHUP asynchronously). */
  pendingCheckAt: number | null
  pendingRestart: boolean
  pendingRestartReason: PendingRestartReasons | null
  scheduledRestart: ScheduledRestart | null
  /** pg_controldata of the running postmaster (pid:start time), read once per postmaster. */
  controlCache: {postmaster: string; cd: Controldata} | null
  /** IDENTIFY_SYSTEM's timeline of this replica, and the cluster timeline it was asked at. */
  replicaTl: {key: number; timeline: number} | null

  // --- synchronous replication (docs/ha-rules.md#synchronous-mode) ---
  /** synchronous_standby_names as the sync logic manages it; undefined: not managed (user's value). */
  ssn: string | undefined
  /** synchronous_standby_names as last read from the server. */
  ssnSeen: string | null
  /** The primary's WAL position when ssnSeen changed: a standby counts as caught up from there. */
  syncBarrier: number
  syncReady: Set<number>

  // --- replication slots (docs/ha-rules.md#replication-slots) ---
  /** Slots nobody wants, and since when (core/slots.ts); reset when the agent restarts. */
  slotsUnusedSince: Record<string, number>
  /** Slot positions the leader publishes in `/status` with its next renewal (maintenance.ts). */
  slotPositions: Record<string, number> | null
  /** Member slots the leader published, and when last (Patroni 4's `/status` `retain_slots`, core/slots.ts retainSlots). */
  retainSlotsSeen: Record<string, number>
  /** hot_standby_feedback forced on: this node keeps (or feeds) permanent logical slots. */
  enforceHotStandbyFeedback: boolean
  /** The state file last copied for each logical slot (base64), not to copy the same one again. */
  copiedSlotStates: Record<string, string>

  // --- patroni.dynamic.json ---
  /** Read (once, at the first cycle). */
  cacheLoaded: boolean
  /** The JSON last written. */
  cachedJson: string | null
  /** The dynamic configuration object cachedJson was last found equal to (one comparison per change). */
  cachedFor: DynamicConfig | null

  /**
   * The parameters wanted and their key, for the inputs they were computed from (compared by
   * identity: configuration objects are replaced, never changed): an idle cycle computes nothing.
   */
  configMemo: {inputs: readonly unknown[]; key: string} | null

  /** Warnings said once per process, not once per cycle. */
  warnedForever: Set<string>
}

export function initialState(config: LocalConfig, clock: Clock): AgentState {
  return {
    memory: initialMemory(),
    lastPg: null,
    lastStatus: null,
    sysid: null,
    dynamic: config.bootstrap?.dcs ?? parseDynamicConfig({}).config,
    lastCluster: null,
    replication: [],
    startingSince: null,
    lastLockRenewal: null,
    unreachableSince: null,
    lastLockedMembers: [],
    configSeen: null,
    failsafe: new FailsafeState(() => clock.now()),
    upstream: null,
    upstreamRemote: false,
    followKey: null,
    runningRecovery: null,
    appliedKey: null,
    startedCmdline: null,
    pendingCheckAt: null,
    pendingRestart: false,
    pendingRestartReason: null,
    scheduledRestart: null,
    controlCache: null,
    replicaTl: null,
    ssn: undefined,
    ssnSeen: null,
    syncBarrier: 0,
    syncReady: new Set(),
    slotsUnusedSince: {},
    slotPositions: null,
    retainSlotsSeen: {},
    enforceHotStandbyFeedback: false,
    copiedSlotStates: {},
    cacheLoaded: false,
    cachedJson: null,
    cachedFor: null,
    configMemo: null,
    warnedForever: new Set(),
  }
}

/** The last view names `name` as the lock holder. */
export function isLeader(state: AgentState, name: string): boolean {
  return state.lastCluster?.leader?.name === name
}

/**
 * What the REST API answers as "I am the leader" (GET /primary, /leader, /readiness): Patroni's
 * is_leader() (patroni/ha.py Ha.is_leader), from the lease and not from the last view: the lock
 * was acquired or renewed by us less than ttl ago, and no demotion has started since
 * (`task` is the task slot's running task). A leader cut off from etcd or frozen past its ttl
 * stops answering 200 when its lease could have expired, not when it next manages to read the DCS.
 */
export function leaseValid(state: AgentState, name: string, task: TaskInfo | undefined, now: number): boolean {
  if (!isLeader(state, name) || state.lastLockRenewal === null) return false
  const k = task?.kind
  if (k === 'switchover-demote' || k === 'offline-demote') return false
  return now < state.lastLockRenewal + state.dynamic.ttl * 1000
}

/**
 * PostgreSQL is being stopped: until the next observation the REST API reports no WAL position
 * and no running primary (a shutting-down server answers no queries, as Patroni's REST API then
 * shows), so peers do not wait for a "primary still alive" that no longer takes writes.
 */
export function stoppingPostgres(state: AgentState): void {
  state.lastStatus = null
  if (state.lastPg) state.lastPg = {...state.lastPg, inRecovery: null, walPosition: null}
}
