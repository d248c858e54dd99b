/**
 * Everything the decision core may look at in one HA cycle (docs/ha-rules.md#cycle-and-timing).
 * Built by the agent's observe step; decide() reads nothing else. All instants are ms on the clock
 * `now` comes from (wall clock: `scheduled_at` in the failover key is wall-clock too), all
 * durations in config are seconds as Patroni configures them, all WAL positions are byte offsets.
 *
 * Absent and unknown stay apart on purpose: an unreachable DCS has no cluster view, a
 * PostgreSQL we could not query has `inRecovery: null`, a peer we could not reach is
 * `reachable: false`. None of them is ever read as "healthy".
 */
import type {ClusterView, Member} from './cluster'
import type {ActionType} from './actions'

/** The DCS as this cycle saw it. */
export type DcsObservation =
  | {
      reachable: true
      cluster: ClusterView
      /**
       * Members of the most recent view that had a leader (Patroni's old_cluster), so an old
       * primary whose member key expired still takes part in the race (docs/ha-rules.md#peer-status).
       */
      lastLockedMembers: Member[]
    }
  | {
      reachable: false
      /** First failed contact of the current outage. */
      unreachableSince: number
      /** The last view read successfully, if any; only for `/failsafe` and for reasons. */
      lastCluster: ClusterView | null
      /** Display name of the store for reasons ("etcd"). */
      store?: string
    }

/** What the data directory holds. */
export type DataDirObservation =
  | {kind: 'empty'}
  | {kind: 'inaccessible'; error: string}
  /** `sysid` from pg_controldata; null when it could not be read. */
  | {kind: 'present'; sysid: string | null}

/**
 * The postmaster: `running` accepts connections, `starting` is alive but still rejecting them,
 * `stopped` has no live postmaster, `unknown` means we could not tell (pid file unreadable).
 */
export type PgProcess = 'running' | 'starting' | 'stopped' | 'unknown'

export interface PgObservation {
  dataDir: DataDirObservation
  process: PgProcess
  /** `pg_is_in_recovery()` this cycle; null when not running or the query failed (unknown). */
  inRecovery: boolean | null
  /** Current timeline (primary) or the one received/replayed (replica); null when unknown. */
  timeline: number | null
  /** Primary: flush LSN; replica: max(received, replayed); null when unknown. */
  walPosition: number | null
  /** pg_controldata `Database cluster state` (`in production`, `shut down`, ...); null if unreadable. */
  controlState: string | null
  /** standby.signal / recovery.signal / recovery.conf present. */
  recoverySignal: boolean
  /** When the postmaster entered `starting` (for the start timeout); null when not starting. */
  startingSince: number | null
  pendingRestart: boolean
}

/** Our role belief, kept across cycles (Patroni's state_handler.role). */
export type LocalRole = 'primary' | 'promoted' | 'demoted' | 'replica' | 'standby_leader' | 'uninitialized'

/** Patroni's bookkeeping state of the local PostgreSQL, as far as the core needs it. */
export type PgState = 'running' | 'starting' | 'stopped' | 'crashed' | 'start failed' | 'unknown'

/**
 * A peer's `GET /patroni`, reduced to what the race needs (patroni/ha.py
 * _MemberStatus.from_api_response).
 */
export interface PeerStatus {
  /** HTTP 200 with parsable JSON that has `xlog`; false covers timeouts and PG not running. */
  reachable: boolean
  /** False iff `xlog.location` is present or the role is master/primary. */
  inRecovery: boolean
  /** Replica: max(received, replayed); primary: 0, as Patroni reports it. null when absent. */
  walPosition: number | null
  timeline: number | null
  nofailover: boolean
  /** Default 1. */
  failoverPriority: number
  watchdogFailed: boolean
}

/** Long-running actions that occupy the agent's single task slot (docs/ha-rules.md#long-tasks). */
export type TaskKind =
  | 'bootstrap'
  | 'post-bootstrap'
  | 'clone'
  | 'promote'
  | 'restart'
  | 'reinitialize'
  | 'start-primary-after-failure'
  | 'restart-after-failure'
  | 'start-after-demotion'
  | 'follow-restart'
  | 'crash-recovery'
  | 'rewind'
  | 'switchover-demote'
  | 'offline-demote'
  | 'demote-cluster'
  | 'copy-logical-slots'

export interface RunningTask {
  kind: TaskKind
  /** Patroni's wording, used in "<name> in progress". */
  name: string
  startedAt: number
}

export interface FinishedTask {
  kind: TaskKind
  ok: boolean
  /** promote only: the pre_promote script failed, nothing was promoted. */
  prePromoteFailed?: boolean
  finishedAt: number
}

/**
 * Rewind state machine (docs/ha-rules.md#rewind-and-reinitialize; patroni/postgresql/rewind.py
 * REWIND_STATUS). The divergence check itself is I/O, done on request.
 */
export type RewindState = 'initial' | 'check' | 'need' | 'not-need' | 'success' | 'failed'

/**
 * State the agent keeps between cycles. The executor owns it: it records finished tasks, and it
 * applies `Decision.remember` after performing a decision's actions.
 */
export interface AgentMemory {
  role: LocalRole
  pgState: PgState
  /** We won the initialize race; bootstrap / post_bootstrap are not finished. */
  bootstrapping: boolean
  /** PG was started by the recover step last cycle; the next cycle checks it came up. */
  recovering: boolean
  crashRecoveryStartedAt: number | null
  /** When we released the lock because pre_promote failed (race backoff of ttl). */
  prePromoteFailedAt: number | null
  /** Last finished async task, until decide() clears it with `remember: {lastTask: null}`. */
  lastTask: FinishedTask | null
  /** Start timeout of a requested restart (s); null means primary_start_timeout. */
  startTimeoutS: number | null
  rewind: RewindState
  /** `use_pg_rewind` set and pg_rewind usable (wal_log_hints or checksums, binary present). */
  canRewind: boolean
  /** The watchdog device is armed (activated and not disabled since). */
  watchdogRunning: boolean
  /**
   * A lifecycle callback has fired since the agent started (Patroni's cb_called). False means we
   * joined a PostgreSQL that was already running and have not started or stopped it ourselves.
   */
  callbackFired: boolean
}

export interface NodeTags {
  /** Effective: nofailover, or failover_priority <= 0 when nofailover is not set. */
  nofailover: boolean
  failoverPriority: number
  clonefrom: boolean
  replicatefrom: string | null
  nostream: boolean
}

/**
 * Effective configuration the core reads (Patroni's patroni/global_config.py, plus the node's
 * tags); seconds and bytes.
 */
export interface DecideConfig {
  ttl: number
  loopWait: number
  retryTimeout: number
  maximumLagOnFailover: number
  primaryStartTimeout: number
  synchronousMode: boolean
  synchronousModeStrict: boolean
  /** synchronous_mode: quorum (Patroni's is_quorum_commit_mode); implies synchronousMode. */
  quorumCommit?: boolean
  checkTimeline: boolean
  /** `pause` from the dynamic config: maintenance mode. */
  paused: boolean
  failsafeMode: boolean
  tags: NodeTags
  usePgRewind: boolean
  removeDataDirectoryOnRewindFailure: boolean
  removeDataDirectoryOnDivergedTimelines: boolean
  /** The local config has a `bootstrap` section (required to win the initialize race). */
  canBootstrap: boolean
  /** A create_replica_method with `no_leader` exists (clone without a running leader). */
  cloneWithoutLeader: boolean
  /** Watchdog mode `required`; activation failure then refuses leadership. */
  watchdogRequired: boolean
  /**
   * Watchdog usable (Patroni's Watchdog.is_healthy: device present and writable, timing slack
   * >= 0, not failed since its settings last changed); always true unless required.
   */
  watchdogHealthy: boolean
  /**
   * The dynamic `standby_cluster` names a remote (core/standby.ts isStandbyClusterConfig): the
   * lock holder is a standby leader following the remote, nobody promotes (docs/ha-rules.md#standby-clusters).
   */
  standbyCluster: boolean
}

/** What an action performed earlier in this cycle returned (the executor appends these). */
export type StepOutcome =
  | {type: 'acquire-lock'; ok: boolean}
  | {type: 'update-lock'; ok: boolean}
  | {type: 'initialize'; ok: boolean}
  | {type: 'set-sync'; ok: boolean}
  | {type: 'activate-watchdog'; ok: boolean}
  /** The watchdog was kicked in this cycle (so the next step does not kick again). */
  | {type: 'kick-watchdog'}
  | {type: 'failsafe-probe'; ok: boolean}
  | {type: 'fetch-peer-status'}
  | {type: 'sleep'}
  | {type: 'check-rewind'; state: RewindState}
  /** A DCS call of the named action failed (DcsUnavailable); the cycle ends in the DCS-error rule. */
  | {type: 'dcs-error'; during: ActionType}

export interface Observation {
  /** This node's member name. */
  name: string
  now: number
  config: DecideConfig
  dcs: DcsObservation
  /** Last successful DCS round trip (for timing reasons); 0 before the first. */
  dcsLastSeen: number
  /** Last successful renewal or acquisition of the leader lock by us; null if never. */
  lastLockRenewal: number | null
  pg: PgObservation
  /**
   * Peer `GET /patroni` results by member name. Undefined until decide() asks for them with a
   * `fetch-peer-status` action; after that every requested name must be present.
   */
  peers?: Readonly<Record<string, PeerStatus>>
  task: RunningTask | null
  memory: AgentMemory
  /** Outcomes of actions performed earlier in this same cycle, oldest first. */
  outcomes: readonly StepOutcome[]
}
