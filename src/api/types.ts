/**
 * The contract between the REST API and the agent. The API never reaches into the agent: it asks
 * an AgentStateSource for a NodeSnapshot (plain data) on every request and turns it into
 * Patroni's documents and status codes, and it hands the unsafe operations to ActionHandlers.
 * A handler that is not provided answers 503 with a sentence saying so; nothing pretends success.
 */
import type {ClusterView} from '../core/cluster'
import type {DynamicConfig} from '../config/dynamic-schema'

/**
 * This node's role as the agent tracks it (Patroni's PostgresqlRole, patroni/postgresql/misc.py);
 * `primary` is `master` on the wire.
 */
export type NodeRole = 'primary' | 'replica' | 'standby_leader' | 'demoted' | 'promoted' | 'uninitialized'

/** One row of pg_stat_replication as Patroni publishes it (all values as PostgreSQL gives them). */
export interface ReplicationRow {
  usename: string | null
  application_name: string
  client_addr: string | null
  state: string
  sync_state: string
  sync_priority: number
}

export type WalPosition =
  | {kind: 'primary'; /** pg_current_wal_flush_lsn() in bytes */ location: number}
  | {
      kind: 'replica'
      /** pg_last_wal_receive_lsn() in bytes; null when no WAL receiver (the replayed position stands in). */
      receivedLocation: number | null
      /** pg_last_wal_replay_lsn() in bytes. */
      replayedLocation: number
      /** pg_last_xact_replay_timestamp() as PostgreSQL prints it, or null. */
      replayedTimestamp: string | null
      paused: boolean
    }

/** What one monitoring query on PostgreSQL returned. Absent when PG is not running or the query failed. */
export interface PostgresStatus {
  /** pg_postmaster_start_time() as PostgreSQL prints timestamptz (`2026-11-23 00:16:05.560688+00`) or ISO-8601. */
  postmasterStartTime: string
  /** server_version_num, e.g. 150020. */
  serverVersion: number
  wal: WalPosition
  /**
   * Current timeline on a primary; on a replica the cached timeline (patroni/postgresql/__init__.py
   * Postgresql.replica_cached_timeline).
   */
  timeline: number
  /** Replicas only (PG >= 9.6): `streaming` or `in archive recovery`; null when unknown. */
  replicationState: 'streaming' | 'in archive recovery' | null
  /** pg_stat_replication rows (primary); empty list when none. */
  replication: ReplicationRow[]
}

export interface PendingRestartReason {
  old_value: string
  new_value: string
}

/**
 * Everything the status document, the health checks, /cluster, /history, /config and /metrics need,
 * as of the moment of the request. Pure data: the API reads it and never mutates it.
 */
export interface NodeSnapshot {
  /** Member name (`name`) and cluster name (`scope`). */
  name: string
  scope: string
  /**
   * PostgreSQL state string (Patroni's PostgresqlState, patroni/postgresql/misc.py); the agent
   * reports `unknown` when PG runs but the query failed.
   */
  state: string
  /** Cached internal role; published as is when `postgres` is null (query failed / not running). */
  role: NodeRole
  /**
   * How this node spells a primary's role on the wire right now (core/role-name.ts: `primary` once
   * every member reads it); absent = the server's default (`master`).
   */
  primaryRoleName?: 'master' | 'primary'
  /** Result of the monitoring query; null when PostgreSQL is not running or could not be queried. */
  postgres: PostgresStatus | null
  /** pg_control system identifier (digits), or null when not known yet. */
  sysid: string | null

  /**
   * The last cluster view this node considers valid (Patroni's `dcs.cluster`): null when the DCS
   * could not be read recently. Leader, members, sync state, status.lastLsn, config, history, failover.
   */
  cluster: ClusterView | null
  /** The dynamic configuration in force (from the DCS or the last valid copy), with defaults applied. */
  globalConfig: DynamicConfig
  /** This node holds the leader lock in its view and the lease has not expired by its clock. */
  isLeader: boolean
  /** Global pause (maintenance mode). */
  paused: boolean
  /** DCS failsafe mode is active right now (the leader is running on peer confirmations). */
  failsafeActive: boolean
  /** Epoch seconds of the last successful DCS round trip; 0 before the first. */
  dcsLastSeen: number

  /** Tags from the local configuration: used by the `tag_<k>=<v>` filters and `noloadbalance`. */
  configuredTags: Record<string, unknown>
  /** Tags as published (configured plus dynamic ones such as `nosync`); omitted from JSON when empty. */
  effectiveTags: Record<string, unknown>

  /** Parameters changed that need a restart; null or empty when none. */
  pendingRestartReason: Record<string, PendingRestartReason> | null
  pendingRestart: boolean
  /** The scheduled restart as the agent stores it: `schedule` ISO-8601 plus its filters; null when none. */
  scheduledRestart: ({schedule: string} & Record<string, unknown>) | null
  /** Watchdog required by config but not usable. */
  watchdogFailed: boolean

  /** Epoch ms at which the HA loop is next due (Patroni's `next_run`), for /liveness. */
  nextRunMs: number
}

/** Options for one snapshot: `/patroni` and `/metrics` let the agent retry the PG query; health checks don't. */
export interface SnapshotRequest {
  retry: boolean
  /**
   * Ask PostgreSQL now (GET /patroni, /metrics and the health checks, as Patroni's
   * get_postgresql_status does) rather than answer from the last HA cycle (liveness, readiness,
   * the rest). Defaults to `retry`.
   */
  live?: boolean
}

export interface AgentStateSource {
  /**
   * The node's state now. May query PostgreSQL (bounded: a health check must answer within ~1 s;
   * HAProxy's default check timeout is 2 s). Throwing is answered with 503 `status unavailable`.
   */
  snapshot(req: SnapshotRequest): NodeSnapshot | Promise<NodeSnapshot>
  /**
   * A fresh cluster read (linearizable, no cache), for GET /cluster as Patroni does. When absent
   * /cluster uses the snapshot's view. Throws when the DCS is unreachable (answered with 503).
   */
  readCluster?(): Promise<ClusterView>
}

/** A finished action: the status code and the body (text is sent as text/html, anything else as JSON). */
export interface ActionResult {
  status: number
  body: string | Record<string, unknown> | unknown[]
  headers?: Record<string, string>
}

/** Facts about the request, for handlers that log or need the caller's address. */
export interface RequestContext {
  clientAddress: string
  /** Aborted when the client goes away (long operations such as a switchover poll may stop early). */
  signal: AbortSignal
}

/**
 * Unsafe operations (all behind the access checks of auth.ts, Patroni's patroni/api.py
 * check_access). Bodies are already read and parsed: required bodies are non-empty JSON objects
 * (411/400 otherwise); optional ones default to `{}`. The handler owns every rule of Patroni's
 * handlers (patroni/api.py do_POST_*, do_PATCH_config, do_PUT_config) beyond that (texts and
 * codes), including `scheduled_at` parsing and the restart filters.
 */
export interface ActionHandlers {
  /**
   * POST /switchover: body `{leader, candidate|member, scheduled_at}` (patroni/api.py
   * do_POST_switchover).
   */
  switchover?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /** POST /failover (patroni/api.py do_POST_failover). */
  failover?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /** DELETE /switchover: 200 `scheduled switchover deleted`, 404 `no switchover is scheduled`, 409 on CAS failure. */
  cancelSwitchover?(ctx: RequestContext): Promise<ActionResult>
  /**
   * POST /restart: body optional (`schedule`, `role`, `postgres_version`, `timeout`,
   * `restart_pending`) (patroni/api.py do_POST_restart).
   */
  restart?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /** DELETE /restart: 200 `scheduled restart deleted` or 404 `no restarts are scheduled`. */
  cancelRestart?(ctx: RequestContext): Promise<ActionResult>
  /** POST /reload: Patroni answers 202 `reload scheduled`. */
  reload?(ctx: RequestContext): Promise<ActionResult>
  /** POST /reinitialize: body optional `{force, from_leader}` (patroni/api.py do_POST_reinitialize; from_leader 4.1). */
  reinitialize?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /** PATCH /config: merge patch on the DCS config with CAS (patroni/api.py do_PATCH_config). */
  patchConfig?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /** PUT /config: replace the DCS config (patroni/api.py do_PUT_config). */
  putConfig?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
  /**
   * POST /failsafe: `{name, conn_url, api_url, slots}` from the leader (patroni/api.py
   * do_POST_failsafe; docs/ha-rules.md#failsafe-mode).
   */
  failsafe?(body: Record<string, unknown>, ctx: RequestContext): Promise<ActionResult>
}

/** The logger subset the API uses; src/log/logger.ts's Logger fits. */
export interface ApiLog {
  debug(message: string): void
  info(message: string): void
  warning(message: string): void
  error(message: string): void
}
