/**
 * The local PostgreSQL instance as the HA agent drives it: files in the data directory, the
 * postmaster process, the binaries (initdb, pg_basebackup, pg_rewind, pg_controldata, ...) and
 * a superuser SQL connection. Also the few probes the agent makes against a remote primary
 * (rewind checks, a CHECKPOINT after promotion).
 *
 * Contract shared by every method unless its comment says otherwise:
 * - Binaries run as the configured owner account (PostgreSQL refuses root); every file written
 *   into the data or config directory ends up owned by that account.
 * - Failures are HactlErrors: PG_UNAVAILABLE (no SQL connection or the query failed; the state
 *   is unknown, not "stopped"), PG_COMMAND_FAILED (a binary exited non-zero; the message carries
 *   the tail of its stderr, never a password), PG_START_FAILED, PG_STOP_FAILED, PG_PRECONDITION
 *   (e.g. pg_rewind without wal_log_hints or checksums), CONFIG_INVALID (an option the
 *   configuration passed is not acceptable, naming it), PROCESS_SPAWN (a binary is missing).
 * - Passwords never appear on a command line, in the environment of a child or in a message:
 *   they go to pgpass/pwfile files of mode 0600 owned by the owner account.
 * - SQL helpers use one lazily opened local connection (superuser, application_name `hactl`,
 *   connect_timeout 3 s, statement_timeout 2000 ms): each call completes within about 5 s or
 *   throws PG_UNAVAILABLE; after an error the connection is dropped and reopened on next use.
 * - Cancellable long operations (initdb, basebackup, rewind, crash recovery) take an
 *   AbortSignal: abort kills the child process tree and rejects with an AbortError.
 */

export type StopMode = 'smart' | 'fast' | 'immediate'

/** libpq connection parameters (only the keywords the agent uses). */
export interface ConnParams {
  host?: string
  port?: number | string
  user?: string
  password?: string
  dbname?: string
  passfile?: string
  sslmode?: string
  sslcompression?: string
  sslcert?: string
  sslkey?: string
  sslpassword?: string
  sslrootcert?: string
  sslcrl?: string
  sslcrldir?: string
  application_name?: string
  krbsrvname?: string
  gssencmode?: string
  channel_binding?: string
  target_session_attrs?: string
  sslnegotiation?: string
}

/** `postmaster.pid`, validated against the live process (a stale file is "stopped"). */
export type PostmasterState =
  | {kind: 'stopped'}
  | {
      kind: 'running'
      pid: number
      /** Postmaster start, seconds since the epoch (line 3 of postmaster.pid). */
      startTime: number
      port?: number
      socketDir?: string
      /** Line 8 of postmaster.pid: starting, ready, standby, stopping (PG10+). */
      status?: string
    }
  /** The data dir or pid file could not be read: neither running nor stopped is known. */
  | {kind: 'unknown'; reason: string}

/** pg_isready's exit codes: 0 accepting, 1 rejecting (starting/stopping), 2 no response, 3 unknown. */
export type Readiness = 'accepting' | 'rejecting' | 'no-response' | 'unknown'

/** What is in the data directory. */
export type DataDirState = 'missing' | 'empty' | 'initialized' | 'not-empty-no-control'

export interface Controldata {
  /** Every `key: value` line, `Current ` prefixes removed (as Patroni keys them). */
  raw: Record<string, string>
  systemIdentifier: string
  /** `in production`, `shut down`, `shut down in recovery`, `in archive recovery`, `in crash recovery`, ... */
  clusterState: string
  /** `Latest checkpoint's TimeLineID` */
  timeline: number
  /** `Latest checkpoint location`, in bytes */
  checkpointLsn: number
  /** `Latest checkpoint's REDO location` */
  redoLsn: number | undefined
  /** `Minimum recovery ending location` and its timeline (0/0 and 0 on a primary) */
  minRecoveryLsn: number
  minRecoveryTimeline: number
  walLogHints: boolean
  /** `Data page checksum version` != 0 */
  dataChecksums: boolean
  maxConnections?: number
  maxWorkerProcesses?: number
  maxWalSenders?: number
  maxPreparedXacts?: number
  maxLocksPerXact?: number
  walLevel?: string
}

/** `bootstrap.initdb` / `postgresql.basebackup`: list of `flag` or `{key: value}`, or a map. */
export type ToolOptions = Array<string | Record<string, unknown>> | Record<string, unknown>

export interface InitdbOptions {
  options?: ToolOptions
  /** `--username` and, via a temporary pwfile, `--pwfile`. */
  superuser?: {username?: string; password?: string}
  timeoutMs?: number
  signal?: AbortSignal
}

export interface RecoveryConfig {
  /** `standby` writes standby.signal (following someone); `recovery` writes recovery.signal (PITR). */
  signal: 'standby' | 'recovery'
  /**
   * Recovery parameters written into postgresql.conf (PG12+), e.g. recovery_target_timeline,
   * primary_slot_name, restore_command. Build them with recoveryParameters().
   */
  parameters: Record<string, string>
  /** Rendered as a conninfo string; a password goes to the pgpass file referenced by `passfile`. */
  primaryConninfo?: ConnParams
}

export interface ConfigFiles {
  /** server_version_num of the binaries (decides where recovery settings go). */
  serverVersion: number
  /** serverParameters().parameters; recovery parameters in here are ignored. */
  parameters: Record<string, string>
  /** `postgresql.custom_conf`: included instead of postgresql.base.conf (which is then never created). */
  customConf?: string
  /** `postgresql.pg_hba`: when given (and no hba_file parameter), pg_hba.conf is rewritten. */
  pgHba?: string[]
  /** `postgresql.pg_ident`: same for pg_ident.conf. */
  pgIdent?: string[]
  /** null/undefined: no recovery (signal files removed) — the node runs as a primary. */
  recovery?: RecoveryConfig | null
  /**
   * With no `recovery`: leave the recovery settings a restore left behind (signal files,
   * recovery.conf, recovery parameters in postgresql.auto.conf) as they are (a custom bootstrap's
   * keep_existing_recovery_conf).
   */
  keepExistingRecovery?: boolean
}

export interface StartOptions {
  /** serverParameters().cmdline: passed as `--name=value`, beating ALTER SYSTEM. */
  cmdline?: Record<string, string>
  /** pg_ctl_timeout; default 60 s. */
  timeoutMs?: number
  signal?: AbortSignal
}

export type StartResult =
  /** Accepting connections (or, on a standby, at least opened its port and not rejecting). */
  | {outcome: 'started'; pid: number}
  /** A postmaster was already running; nothing was spawned. */
  | {outcome: 'already-running'; pid: number}
  /** Port open but still not accepting connections when the timeout passed (crash recovery, a standby catching up). */
  | {outcome: 'still-starting'; pid: number}

export interface StopOptions {
  mode?: StopMode
  /** Wait this long for exit, then SIGQUIT (smart/fast), wait again, then SIGKILL the tree. Absent: wait forever. */
  timeoutMs?: number
  /** CHECKPOINT before the signal so that shutdown is quick; default: true unless immediate. */
  checkpoint?: boolean
  /** Runs after the checkpoint, just before the signal (Patroni's before_stop hook). */
  beforeSignal?: () => Promise<void> | void
}

export interface StopResult {
  /** False when there was no postmaster to stop. */
  signalled: boolean
  /** Set when the timeout escalated to SIGQUIT and/or SIGKILL. */
  escalated?: 'SIGQUIT' | 'SIGKILL'
  /** pg_controldata's cluster state afterwards (`shut down`, `shut down in recovery`, `in production` after a kill). */
  clusterState?: string
  /** The latest checkpoint's location afterwards (after a clean stop: the shutdown checkpoint), when known. */
  checkpointLsn?: number
}

export interface PgStatus {
  inRecovery: boolean
  serverVersion: number
  /** Primary: the timeline of the current WAL file. Replica: the WAL receiver's timeline, else pg_control's. */
  timeline: number
  /** Primary: pg_current_wal_flush_lsn(). Replica: max(received, replayed). Bytes. */
  walPosition: number
  receivedLsn?: number
  replayedLsn?: number
  replayPaused: boolean
  /** `Latest checkpoint's TimeLineID` as the running server sees it (pg_control_checkpoint()). */
  controlTimeline: number
  /** ISO-8601 with offset. */
  postmasterStartTime: string
  walReceiver: {status: string; slotName: string | null; conninfo: string | null; receivedTimeline: number | null} | null
}

export interface ReplicationRow {
  pid: number
  /** The role the WAL sender logged in as. */
  userName: string | null
  applicationName: string
  clientAddr: string | null
  state: string
  syncState: string
  syncPriority: number
  sentLsn: number | null
  writeLsn: number | null
  flushLsn: number | null
  replayLsn: number | null
}

export interface SettingRow {
  name: string
  setting: string
  unit: string | null
  vartype: string
  context: string
  source: string
  sourcefile: string | null
  pendingRestart: boolean
}

export interface SlotRow {
  slotName: string
  slotType: 'physical' | 'logical'
  plugin: string | null
  database: string | null
  active: boolean
  restartLsn: number | null
  confirmedFlushLsn: number | null
  /** Physical slots: the xmin hot-standby feedback left (null: none). */
  xmin: string | null
}

/** A logical slot on the primary, with its on-disk state file (Patroni's copy_logical_slots). */
export interface RemoteSlotState {
  slotName: string
  slotType: 'physical' | 'logical'
  database: string
  plugin: string | null
  confirmedFlushLsn: number | null
  /** The oldest WAL the slot needs: a replica must still have it for the copy to work. */
  restartLsn: number | null
  /** pg_replslot/<name>/state as the primary has it. */
  state: Buffer
}

export interface Credentials {
  username: string
  password?: string
}

export interface RoleSetup {
  superuser?: Credentials
  replication?: Credentials
  /** Created with execute rights on the pg_rewind functions when it differs from the superuser. */
  rewind?: Credentials
}

export interface BasebackupOptions {
  /** The clone source; password (if any) goes to a temporary pgpass file. */
  source: ConnParams
  options?: ToolOptions
  timeoutMs?: number
  signal?: AbortSignal
}

export interface RewindOptions {
  /** The new primary, with the rewind (or superuser) credentials. */
  source: ConnParams
  /** Verify that the source ran a CHECKPOINT after promotion (default true). */
  checkSourceCheckpoint?: boolean
  /** Pass --restore-target-wal (PG13+; PG15+ with a separate config dir). */
  restoreTargetWal?: boolean
  timeoutMs?: number
  signal?: AbortSignal
}

export interface CommandOutput {
  stdout: string
  stderr: string
}

/** Where the local data stands, for the divergence check (Patroni's _get_local_timeline_lsn). */
export interface LocalPosition {
  inRecovery: boolean
  timeline: number
  lsn: number
}

export type RewindCheck =
  | {result: 'need-rewind'; reason: string; local: LocalPosition; sourceTimeline: number}
  | {result: 'not-needed'; reason: string; local: LocalPosition; sourceTimeline: number}
  /** Cannot tell now (crashed primary, source in recovery, source unreachable): check again later. */
  | {result: 'undecided'; reason: string}

export interface IdentifySystem {
  systemId: string
  timeline: number
  xlogpos: number
}

export interface PostgresControl {
  readonly dataDir: string
  readonly configDir: string

  /** Cheap: a directory listing and a stat of global/pg_control. */
  dataDirState(): Promise<DataDirState>
  /** Major version from PG_VERSION as server_version_num (150000), undefined when absent. */
  dataDirVersion(): Promise<number | undefined>
  /** server_version_num of the binaries (`postgres --version`), cached. */
  binaryVersion(): Promise<number>
  /** postmaster.pid + a live-process check (PID, start time and name must match). No SQL. */
  state(): Promise<PostmasterState>
  /** pg_isready against the local connection address; completes within ~5 s. */
  readiness(): Promise<Readiness>
  /** pg_controldata, parsed. Undefined when the data dir has no pg_control. */
  controldata(): Promise<Controldata | undefined>

  /** Runs initdb into an empty (or missing) data dir. Forbidden options: CONFIG_INVALID. */
  initdb(opts: InitdbOptions): Promise<CommandOutput>
  /**
   * Writes postgresql.conf (renaming the original to postgresql.base.conf on first write),
   * pg_hba.conf/pg_ident.conf when given, the signal files and pgpass for primary_conninfo,
   * and strips recovery parameters from postgresql.auto.conf. Takes effect at the next start
   * or reload().
   */
  writeConfigFiles(files: ConfigFiles): Promise<void>
  /** Copies postgresql.conf, postgresql.base.conf, pg_hba.conf, pg_ident.conf to `<name>.backup`. */
  saveConfigFiles(): Promise<void>
  /** Restores missing config files from their `.backup` copies (after a clone). */
  restoreConfigFiles(): Promise<void>

  /**
   * Spawns `postgres -D <data> --config-file=<conf> --name=value...` detached (own session,
   * survives the agent), waits for the port to open (postmaster death first: PG_START_FAILED
   * carrying the server's own error lines), then for connections to be accepted, all within
   * timeoutMs. Does not write config files: call writeConfigFiles() first.
   */
  start(opts?: StartOptions): Promise<StartResult>
  /** Signal smart=SIGTERM, fast=SIGINT, immediate=SIGQUIT; escalation on timeout as StopOptions says. */
  stop(opts?: StopOptions): Promise<StopResult>
  /** stop() then start(); the start timeout is counted from the start. */
  restart(stop?: StopOptions, start?: StartOptions): Promise<StartResult>
  /** SIGHUP to the validated postmaster. Returns false when none runs. */
  reload(): Promise<boolean>
  /** `pg_ctl promote`, then waits until pg_is_in_recovery() is false (PG_START_FAILED-free: PG_COMMAND_FAILED or a timeout error). */
  promote(opts?: {timeoutMs?: number}): Promise<void>
  /**
   * Replays WAL to a consistent, cleanly shut down state in single-user mode (after an
   * unclean stop, before pg_rewind). Removes the recovery signal files.
   */
  crashRecovery(opts?: {timeoutMs?: number; signal?: AbortSignal}): Promise<CommandOutput>

  /** One query: role, timeline, WAL positions, receiver, start time. */
  status(): Promise<PgStatus>
  replicationStats(): Promise<ReplicationRow[]>
  /** pg_settings rows, all or only `names`. */
  settings(names?: string[]): Promise<SettingRow[]>
  replicationSlots(): Promise<SlotRow[]>
  /** Idempotent: an existing slot of that name is left alone. Returns true when created. */
  createPhysicalSlot(name: string, opts?: {immediatelyReserve?: boolean}): Promise<boolean>
  /** Idempotent. Returns true when dropped; PG_UNAVAILABLE when the slot is active. */
  dropSlot(name: string): Promise<boolean>
  /** Idempotent, on a connection to `database` (primary only). Returns true when created. */
  createLogicalSlot(name: string, plugin: string, database: string): Promise<boolean>
  /**
   * pg_replication_slot_advance(name, lsn) (PostgreSQL 11+), on a connection to `database` for
   * a logical slot, without statement timeout. Returns the slot's position afterwards.
   * PG_PRECONDITION when the WAL the slot needs is gone or the slot was invalidated.
   */
  advanceSlot(name: string, lsn: number, database?: string): Promise<number | null>
  /**
   * On the remote primary (`conn`: a role that may read files of its data directory): the
   * logical slots named, with pg_replslot/<name>/state read by pg_read_binary_file. Empty when
   * the remote is in recovery.
   */
  remoteLogicalSlots(conn: ConnParams, names: string[]): Promise<RemoteSlotState[]>
  /**
   * PostgreSQL must be stopped: writes pg_replslot/<name>/state (a state file from
   * remoteLogicalSlots), replacing any slot of that name, durably (temp dir, fsync, rename).
   */
  installSlotState(name: string, state: Buffer): Promise<void>
  /** Create-or-alter roles with passwords, statement logging suppressed, synchronous_commit=local. */
  createRoles(setup: RoleSetup): Promise<void>
  /** CHECKPOINT (no statement timeout) locally, or on `target` after checking it is not in recovery. */
  checkpoint(target?: ConnParams, timeoutMs?: number): Promise<void>
  /** Escape hatch for the agent's own SQL (sync standby names, etc.). */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>

  /** Empties the data dir, then pg_basebackup -X stream into it. */
  basebackup(opts: BasebackupOptions): Promise<CommandOutput>
  /** PG must be stopped (cleanly). Checks wal_log_hints/checksums and the source's post-promote checkpoint. */
  rewind(opts: RewindOptions): Promise<CommandOutput>
  /** Decides whether the local data diverged from `source` (rewind/reinit needed), Patroni's way. */
  checkRewind(source: ConnParams, replication: ConnParams): Promise<RewindCheck>
  /** IDENTIFY_SYSTEM over a replication connection. */
  identifySystem(conn: ConnParams): Promise<IdentifySystem>
  /** TIMELINE_HISTORY <tli> over a replication connection: the history file's text. */
  timelineHistory(conn: ConnParams, timeline: number): Promise<string>
  /** SELECT pg_is_in_recovery() on a remote server (connect_timeout 3, statement_timeout 2 s). */
  remoteInRecovery(conn: ConnParams): Promise<boolean>
  /** Removes the data dir's contents (keeps the directory itself, owned by the owner, mode 0700). */
  removeDataDir(): Promise<void>

  /** standby.signal, recovery.signal or recovery.conf in the data dir (a node meant to run in recovery). */
  recoverySignalPresent(): Promise<boolean>
  /** pg_wal/<TLI>.history of the local data dir: its text and mtime (ms), undefined when absent. */
  localTimelineHistory(timeline: number): Promise<{text: string; mtimeMs: number} | undefined>
  /**
   * `patroni.dynamic.json` in the data dir: the last dynamic configuration this node applied, so
   * that an agent started while the DCS is down still knows the cluster's settings (pause!).
   * Undefined when absent or unreadable (never throws).
   */
  readDynamicCache(): Promise<unknown>
  /** Replaces `patroni.dynamic.json` atomically (written beside it, then renamed), owner-only. */
  writeDynamicCache(value: Record<string, unknown>): Promise<void>
  /** Renames the data dir to `<data_dir>_<suffix>` (a failed bootstrap's leftovers). Returns the new path. */
  moveDataDirAside(suffix: string): Promise<string>

  /** Closes the SQL connection (before stopping, at agent exit). */
  close(): Promise<void>
}
