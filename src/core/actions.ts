/**
 * The closed set of effects the executor performs for decide(). Each action names one intent; the
 * executor maps it onto the ports (Dcs, PostgresControl, task slot, watchdog, peers). Actions
 * marked "async" start a long task in the single task slot (docs/ha-rules.md#long-tasks); the
 * others complete within the cycle. Actions marked "branching" report a StepOutcome, and decide()
 * must be called again with it (Decision.then === 'decide-again').
 */
import type {AgentMemory, TaskKind} from './observation'
import type {ShutdownCause} from './shutdown'

export type DemoteMode =
  /** switchover/manual failover: fast stop with checkpoint, release the lock early, follow. async */
  | 'graceful'
  /** we are unfit (start timeout, crash with primary_start_timeout 0): immediate stop, release. */
  | 'immediate'
  /** we lost or never had the lock: immediate stop, nothing to release. */
  | 'immediate-nolock'
  /** DCS unreachable: fast stop, no release (cannot), restart with no upstream. */
  | 'offline'
  /**
   * standby_cluster was added to a running cluster (Patroni 4.1): fast stop with the shutdown
   * checkpoint, the lock kept; the next cycle starts PG as the standby leader following the remote.
   */
  | 'demote-cluster'

export type Action =
  /** branching: ask peers' REST `GET /patroni` (2 s, parallel) and fill Observation.peers. */
  | {type: 'fetch-peer-status'; members: Array<{name: string; apiUrl: string}>}
  /** branching: create-if-absent `leader` = me on our lease. */
  | {type: 'acquire-lock'}
  /** branching: renew `leader` (CAS on my name); with `status` also publish `/status` optime. */
  | {type: 'update-lock'; status: boolean}
  /** Delete `leader` if it is mine, writing `status.optime` first when lastLsn is given. */
  | {type: 'release-lock'; lastLsn?: number}
  /** Unconditional `leader` write, only right after bootstrap. */
  | {type: 'take-leader'}
  /** `initialize`: create=true is the bootstrap race (branching); false overwrites. */
  | {type: 'initialize'; create: boolean; sysid: string}
  /** Delete `initialize`, stop PG, move the data dir aside (failed bootstrap). */
  | {type: 'cancel-initialization'}
  /** Write this node's dynamic configuration into an empty `/config`. */
  | {type: 'restore-config'}
  /** Write `/failover`; `expectedVersion` makes it a CAS. */
  | {type: 'set-failover'; value: {leader?: string; member?: string; scheduled_at?: string}; expectedVersion?: number}
  /** Clear `/failover` (CAS on expectedVersion when given). */
  | {type: 'clear-failover'; expectedVersion?: number}
  /** branching: write `/sync` = {leader, sync_standby: null} with CAS, then (on success) set SSN for promotion. */
  | {type: 'set-sync'; leader: string; expectedVersion: number | null; strict: boolean}
  /**
   * Run the synchronous-standby maintenance of docs/ha-rules.md#synchronous-mode (lock holder, PG
   * primary).
   */
  | {type: 'manage-sync'}
  /** Update `/history` from the local timeline history file (patroni/ha.py Ha.update_cluster_history). */
  | {type: 'write-history'}
  /** Publish `members/<me>` now (the executor also publishes at the end of every DCS-ok cycle). */
  | {type: 'touch-member'}
  /** async: initdb or the custom bootstrap method, then start PG. */
  | {type: 'bootstrap'}
  /** async: roles, post_bootstrap script. */
  | {type: 'post-bootstrap'}
  /**
   * async: pg_basebackup (or create_replica_methods) from `source`; null = without a leader.
   * `remote`: from the standby_cluster's host/port (bootstrap of a standby leader), source null.
   */
  | {type: 'clone'; source: string | null; sourceRole: 'leader' | 'replica' | null; remote?: true}
  /**
   * async: start PostgreSQL. `primary` is only ever chosen while holding a lock renewed in this
   * cycle (restart of a crashed primary). `upstream` null with replica = read-only, no upstream.
   * `remote`: follow the standby_cluster's remote primary (upstream null).
   */
  | {type: 'start'; as: 'primary' | 'replica'; upstream: string | null; task: TaskKind; timeoutS: number | null; remote?: true}
  /** async: pre_promote, the promotion (pg_promote, else pg_ctl promote), wait for production. */
  | {type: 'promote'}
  | {type: 'demote'; mode: DemoteMode}
  /**
   * Make PG follow `leader` (null: keep running with no upstream); reload or async restart as
   * needed. `remote`: follow the standby_cluster's remote primary (leader null).
   */
  | {type: 'follow'; leader: string | null; remote?: true}
  /** Stop PG now (empty or inaccessible data directory). */
  | {type: 'stop'; mode: 'immediate' | 'fast'}
  /** async: single-user crash recovery so pg_control ends in a clean shutdown. */
  | {type: 'crash-recovery'}
  /** Move the rewind state to CHECK (if rewind or reinit on divergence is allowed). */
  | {type: 'trigger-rewind-check'}
  /** branching: compare our timeline/LSN with `leader`'s, report need / not-need. */
  | {type: 'check-rewind'; leader: string}
  /** async: pg_rewind from `leader`. */
  | {type: 'rewind'; leader: string}
  /** async: stop, wipe and clone again. */
  | {type: 'reinitialize'; source: string}
  /** Cancel the running task (and, for a starting primary, terminate the spawned postmaster). */
  | {type: 'cancel-task'}
  /**
   * branching: arm the watchdog before leading (docs/ha-rules.md#watchdog); not ok when mode
   * required and no safe watchdog could be set up.
   */
  | {type: 'activate-watchdog'}
  /** Reset the armed watchdog's timer: once per cycle, after the leader key was renewed. */
  | {type: 'kick-watchdog'}
  /** Disarm the watchdog (magic close): pause, PostgreSQL stopped, no longer leading. */
  | {type: 'disable-watchdog'}
  /** branching: POST /failsafe to every member in `/failsafe` (docs/ha-rules.md#failsafe-mode). */
  | {type: 'failsafe-probe'}
  /** Wait inside the cycle (let a winner take the lock; reach a scheduled time). */
  | {type: 'sleep'; ms: number}
  /**
   * Fatal: log `message` and exit the agent with `code` (system ID mismatch, failed bootstrap).
   * `cause` tells the shutdown policy (core/shutdown.ts) whether PostgreSQL may be stopped.
   */
  | {type: 'exit'; code: number; message: string; cause?: ShutdownCause}

export type ActionType = Action['type']

/**
 * Actions that report a StepOutcome. The executor appends an outcome for each of them it
 * performs (`initialize` only matters when create=true: the bootstrap race).
 */
export const BRANCHING: ReadonlySet<ActionType> = new Set<ActionType>([
  'fetch-peer-status',
  'acquire-lock',
  'update-lock',
  'initialize',
  'set-sync',
  'activate-watchdog',
  'failsafe-probe',
  'check-rewind',
  'sleep',
])

export interface Decision {
  /** Performed in order; an empty list means "nothing to do". */
  actions: Action[]
  /** Stable id of the rule that decided (for tests, metrics and `hactl list --extended`). */
  rule: string
  /** The cycle's INFO line, Patroni's wording with numbers; prefixed `PAUSE: ` in maintenance. */
  reason: string
  /**
   * `decide-again`: perform the actions, append each branching action's outcome to
   * Observation.outcomes (peers into Observation.peers), and call decide() again in this cycle.
   * Only the reason of the final (`done`) decision is logged at INFO.
   */
  then: 'done' | 'decide-again'
  /** Applied to AgentMemory after the actions were performed. */
  remember?: Partial<AgentMemory>
}
