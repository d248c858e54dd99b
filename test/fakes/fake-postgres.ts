/**
 * In-memory PostgreSQL for the simulator and unit tests: a data directory (system id, WAL as a
 * lineage of timeline branches, pg_control state, signal files, slots, parameters), a postmaster
 * that starts, stops, crashes and promotes with latencies on a Clock, and streaming replication
 * between the nodes of one PgWorld.
 *
 * WAL is modelled by position only: a lineage is a list of segments (a timeline branch and the
 * LSN it starts at) and an end LSN. Every promotion creates a new branch with a globally unique
 * id, so two servers that both promoted from timeline 2 to 3 are told apart, which is exactly
 * how a split brain and a lost write show up. A replica streams from its upstream when its
 * lineage is a prefix of the upstream's (it then adopts the upstream's later timelines, as
 * recovery_target_timeline=latest does); otherwise it has diverged and needs pg_rewind.
 *
 * test/contract/postgres-contract.ts runs the same checks on this fake and on the real adapter.
 */
import {HactlError} from '../../src/errors'
import {abortError, type Clock} from '../../src/ports/clock'
import type {
  BasebackupOptions,
  CommandOutput,
  ConfigFiles,
  ConnParams,
  Controldata,
  DataDirState,
  IdentifySystem,
  InitdbOptions,
  PgStatus,
  PostgresControl,
  PostmasterState,
  Readiness,
  ReplicationRow,
  RewindCheck,
  RewindOptions,
  RoleSetup,
  SettingRow,
  RemoteSlotState,
  SlotRow,
  StartOptions,
  StartResult,
  StopOptions,
  StopResult,
} from '../../src/ports/postgres'

interface FakeSlot {
  restartLsn: number
  /** Set for a logical slot. */
  logical?: {plugin: string; database: string}
}

export interface Segment {
  branch: number
  timeline: number
  start: number
}

export interface Lineage {
  segments: Segment[]
  end: number
}

export function copyLineage(l: Lineage): Lineage {
  return {segments: l.segments.map((s) => ({...s})), end: l.end}
}

export function timelineOf(l: Lineage): number {
  return l.segments[l.segments.length - 1].timeline
}

/** Where `branch` ends in `l` (the next segment's start, or l.end); undefined when absent. */
function branchEnd(l: Lineage, branch: number): number | undefined {
  const i = l.segments.findIndex((s) => s.branch === branch)
  if (i < 0) return undefined
  return i + 1 < l.segments.length ? l.segments[i + 1].start : l.end
}

/** `a` is a prefix of `b`: a server with `a` can stream from one with `b`. */
export function isPrefix(a: Lineage, b: Lineage): boolean {
  const last = a.segments[a.segments.length - 1]
  const end = branchEnd(b, last.branch)
  return end !== undefined && a.end <= end
}

/** Is (branch, lsn) on lineage `l`? */
export function contains(l: Lineage, branch: number, lsn: number): boolean {
  const i = l.segments.findIndex((s) => s.branch === branch)
  if (i < 0) return false
  const end = i + 1 < l.segments.length ? l.segments[i + 1].start : l.end
  return lsn >= l.segments[i].start && lsn <= end
}

interface DataDir {
  sysid: string
  lineage: Lineage
  control: string
  /** Timeline of the last checkpoint/restartpoint (pg_control_checkpoint() lags a switch). */
  checkpointTimeline: number
  standbySignal: boolean
  /** Parameters and upstream as written by writeConfigFiles (in force after start or reload). */
  params: Record<string, string>
  upstream: string | null
  /** primary_slot_name of the recovery parameters written (null: none). */
  slotName: string | null
  slots: Map<string, FakeSlot>
}

interface Proc {
  pid: number
  startTime: number
  state: 'starting' | 'running'
  inRecovery: boolean
  ssn: string
  upstream: string | null
  /** primary_slot_name in force: the upstream's slot this replica's WAL sender uses. */
  slotName: string | null
  streaming: boolean
  /** The upstream's timeline while streaming. */
  receivedTimeline: number | null
  /** A shutdown is in progress: new connections are refused, sessions were terminated. */
  stopping?: boolean
}

export interface PgFaults {
  /** Status and other SQL queries fail (PostgreSQL refuses the agent's connections). */
  queryFails: boolean
  /** A stop signal is ignored: the postmaster keeps running and stop() throws after its timeout. */
  stopFails: boolean
  /** pg_ctl promote fails: the server stays in recovery. */
  promoteFails: boolean
  /** Extra ms a clean shutdown (checkpoint) takes. */
  slowStopMs: number
  /** The status query hangs while this is set (an overloaded server). */
  slowQueries?: boolean
  /** The WAL receiver gets nothing (network to the upstream cut, replay stuck). */
  noStreaming?: boolean
}

export interface PgEvent {
  at: number
  node: string
  type: 'start' | 'stop' | 'crash' | 'promote' | 'rewind' | 'clone' | 'initdb'
  /** stop: immediate or escalated (not a clean shutdown). */
  unclean?: boolean
  /** start: as a primary. promote/stop: the lineage afterwards / at that moment. */
  primary?: boolean
  /** start of a replica: the address (host:port) it streams from, null when none is set. */
  upstream?: string | null
  lineage?: Lineage
}

export interface PgWorldOptions {
  startMs: number
  stopMs: number
  promoteMs: number
  cloneMs: number
}

export const DEFAULT_PG_TIMINGS: PgWorldOptions = {startMs: 300, stopMs: 200, promoteMs: 200, cloneMs: 1000}

export class PgWorld {
  readonly nodes: FakePostgres[] = []
  private branchSeq = 1
  private pidSeq = 1000
  private sysidSeq = 7_300_000_000_000_000_000n
  readonly events: PgEvent[] = []
  onEvent: (e: PgEvent) => void = () => {}

  constructor(
    readonly clock: Clock,
    readonly timings: PgWorldOptions = DEFAULT_PG_TIMINGS,
  ) {}

  add(name: string, host: string, port: number): FakePostgres {
    const n = new FakePostgres(this, name, host, port)
    this.nodes.push(n)
    return n
  }

  at(host: string | undefined, port: number | string | undefined): FakePostgres | undefined {
    return this.nodes.find((n) => n.host === host && n.port === Number(port))
  }

  newBranch(): number {
    return this.branchSeq++
  }

  newPid(): number {
    return this.pidSeq++
  }

  newSysid(): string {
    return String(this.sysidSeq++)
  }

  emit(e: Omit<PgEvent, 'at'>): void {
    const ev = {...e, at: this.clock.now()}
    this.events.push(ev)
    this.onEvent(ev)
  }

  /** One replication round: every running replica takes what its upstream has, if it can. */
  replicate(): void {
    for (let round = 0; round < 2; round++) for (const n of this.nodes) n.pull()
  }
}

function unavailable(what: string): HactlError {
  return new HactlError('PG_UNAVAILABLE', `${what}: could not connect to the server`, {recoverable: true})
}

export class FakePostgres implements PostgresControl {
  readonly dataDir: string
  readonly configDir: string
  data: DataDir | null = null
  /** The data directory exists (false after moveDataDirAside, until something recreates it). */
  dirPresent = true
  proc: Proc | null = null
  /** What writeConfigFiles wrote last; applied to a running server by reload() or start(). */
  private pending: {params: Record<string, string>; upstream: string | null; slotName: string | null; standby: boolean} | null = null
  faults: PgFaults = {queryFails: false, stopFails: false, promoteFails: false, slowStopMs: 0}

  constructor(
    readonly world: PgWorld,
    readonly name: string,
    readonly host: string,
    readonly port: number,
  ) {
    this.dataDir = `/sim/${name}/data`
    this.configDir = this.dataDir
  }

  get address(): string {
    return `${this.host}:${this.port}`
  }

  /** Accepts writes: running, not in recovery, not shutting down. */
  get writable(): boolean {
    return this.proc?.state === 'running' && !this.proc.inRecovery && !this.proc.stopping
  }

  private get clock(): Clock {
    return this.world.clock
  }

  private async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms > 0) await this.clock.sleep(ms, signal)
    else if (signal?.aborted) throw abortError(signal)
  }

  /** Streaming: take the upstream's WAL when this replica's lineage is a prefix of it. */
  pull(): void {
    const p = this.proc
    if (!p || !this.data || !p.inRecovery) return
    const up = p.upstream ? this.world.nodes.find((n) => n.address === p.upstream) : undefined
    const src = up?.proc?.state === 'running' && up.data && up.data.sysid === this.data.sysid ? up.data.lineage : undefined
    if (!src || this.faults.noStreaming || !isPrefix(this.data.lineage, src)) {
      p.streaming = false
      p.receivedTimeline = null
      return
    }
    this.data.lineage = copyLineage(src)
    p.streaming = true
    p.receivedTimeline = timelineOf(src)
  }

  /** The postmaster dies (kill -9 of postgres): unclean pg_control, nothing flushed after. */
  crash(): void {
    if (!this.proc || !this.data) return
    this.proc = null
    this.data.control = 'in production'
    this.world.emit({node: this.name, type: 'crash'})
  }

  /** A client transaction on a writable server: the WAL grows. Returns the commit's position. */
  commit(bytes = 100): {branch: number; lsn: number} | undefined {
    if (!this.writable || !this.data) return undefined
    this.data.lineage.end += bytes
    const seg = this.data.lineage.segments[this.data.lineage.segments.length - 1]
    return {branch: seg.branch, lsn: this.data.lineage.end}
  }

  /** Names in synchronous_standby_names that stream from this primary and have `lsn` (synchronous_commit on). */
  syncAcks(branch: number, lsn: number): {needed: number; have: number} {
    const ssn = this.proc?.ssn ?? ''
    const parsed = parseSsnText(ssn)
    if (parsed.count === 0) return {needed: 0, have: 0}
    let have = 0
    for (const r of this.world.nodes) {
      const rp = r.proc
      if (!rp || !r.data || !rp.streaming || rp.upstream !== this.address) continue
      if (!parsed.any && !parsed.names.includes(r.name.toLowerCase())) continue
      if (contains(r.data.lineage, branch, lsn)) have++
    }
    return {needed: parsed.count, have}
  }

  // --- PostgresControl ---

  async dataDirState(): Promise<DataDirState> {
    return this.data ? 'initialized' : this.dirPresent ? 'empty' : 'missing'
  }

  /** server_version_num of the "binaries" (tests of version-dependent behaviour change it). */
  version = 150000

  async dataDirVersion(): Promise<number | undefined> {
    return this.data ? Math.floor(this.version / 10000) * 10000 : undefined
  }

  async binaryVersion(): Promise<number> {
    return this.version
  }

  async state(): Promise<PostmasterState> {
    const p = this.proc
    if (!p) return {kind: 'stopped'}
    return {kind: 'running', pid: p.pid, startTime: p.startTime, port: this.port, status: p.state === 'starting' ? 'starting' : 'ready'}
  }

  async readiness(): Promise<Readiness> {
    if (!this.proc) return 'no-response'
    return this.proc.state === 'running' ? 'accepting' : 'rejecting'
  }

  async controldata(): Promise<Controldata | undefined> {
    const d = this.data
    if (!d) return undefined
    return {
      raw: {},
      systemIdentifier: d.sysid,
      clusterState: d.control,
      timeline: d.checkpointTimeline,
      checkpointLsn: d.lineage.end,
      redoLsn: d.lineage.end,
      minRecoveryLsn: 0,
      minRecoveryTimeline: 0,
      walLogHints: true,
      dataChecksums: false,
    }
  }

  async initdb(_o: InitdbOptions): Promise<CommandOutput> {
    if (this.data) throw new HactlError('PG_PRECONDITION', `initdb needs an empty data directory, ${this.dataDir} is not empty`)
    await this.wait(this.world.timings.cloneMs / 2)
    this.dirPresent = true
    this.data = {
      sysid: this.world.newSysid(),
      lineage: {segments: [{branch: this.world.newBranch(), timeline: 1, start: 0}], end: 0x1000000},
      control: 'shut down',
      checkpointTimeline: 1,
      standbySignal: false,
      params: {},
      upstream: null,
      slotName: null,
      slots: new Map(),
    }
    this.world.emit({node: this.name, type: 'initdb'})
    return {stdout: '', stderr: ''}
  }

  async writeConfigFiles(files: ConfigFiles): Promise<void> {
    if (!this.data) throw new HactlError('PG_COMMAND_FAILED', `${this.dataDir} has no data directory`)
    const r = files.recovery
    const ci = r?.primaryConninfo
    this.pending = {
      params: {...files.parameters},
      upstream: ci?.host !== undefined && ci.port !== undefined ? `${ci.host}:${ci.port}` : null,
      slotName: r?.parameters['primary_slot_name'] || null,
      standby: r?.signal === 'standby',
    }
    this.data.params = this.pending.params
    this.data.upstream = this.pending.upstream
    this.data.slotName = this.pending.slotName
    this.data.standbySignal = this.pending.standby
  }

  async saveConfigFiles(): Promise<void> {}
  async restoreConfigFiles(): Promise<void> {}

  async start(o: StartOptions = {}): Promise<StartResult> {
    if (this.proc) return {outcome: 'already-running', pid: this.proc.pid}
    const d = this.data
    if (!d) throw new HactlError('PG_START_FAILED', `${this.dataDir} is not a database cluster directory`)
    const inRecovery = d.standbySignal
    const pid = this.world.newPid()
    this.proc = {
      pid,
      startTime: Math.floor(this.clock.now() / 1000),
      state: 'starting',
      inRecovery,
      ssn: d.params['synchronous_standby_names'] ?? '',
      upstream: inRecovery ? d.upstream : null,
      slotName: inRecovery ? d.slotName : null,
      streaming: false,
      receivedTimeline: null,
    }
    const proc = this.proc
    this.world.emit({node: this.name, type: 'start', primary: !inRecovery, ...(inRecovery ? {upstream: d.upstream} : {}), lineage: copyLineage(d.lineage)})
    d.control = inRecovery ? 'in archive recovery' : 'in production'
    const startMs = this.world.timings.startMs
    const timeoutMs = o.timeoutMs ?? 60_000
    await this.wait(Math.min(startMs, timeoutMs), o.signal)
    if (this.proc !== proc) throw new HactlError('PG_START_FAILED', 'postmaster exited during start')
    if (timeoutMs < startMs) {
      void this.clock.sleep(startMs - timeoutMs).then(() => {
        if (this.proc === proc) proc.state = 'running'
      })
      return {outcome: 'still-starting', pid}
    }
    proc.state = 'running'
    if (!inRecovery) d.checkpointTimeline = timelineOf(d.lineage)
    return {outcome: 'started', pid}
  }

  async stop(o: StopOptions = {}): Promise<StopResult> {
    const p = this.proc
    const d = this.data
    if (!p || !d) return {signalled: false}
    const mode = o.mode ?? 'fast'
    if (this.faults.stopFails) {
      await this.wait(o.timeoutMs ?? this.world.timings.stopMs * 10)
      throw new HactlError('PG_STOP_FAILED', `postmaster ${p.pid} did not stop`)
    }
    let unclean = mode === 'immediate'
    let escalated: StopResult['escalated']
    p.stopping = true
    if (!unclean) {
      // The shutdown checkpoint takes stopMs, or as long as a slowStopMs fault lasts (it ends
      // early when the fault is lifted); a timeout escalates to an immediate stop.
      const started = this.clock.monotonic()
      const limit = o.timeoutMs ?? Infinity
      await this.wait(Math.min(this.world.timings.stopMs, limit))
      while (this.faults.slowStopMs > 0 && this.clock.monotonic() - started < Math.min(this.faults.slowStopMs, limit)) {
        await this.wait(Math.min(250, limit - (this.clock.monotonic() - started)))
      }
      if (this.clock.monotonic() - started >= limit) {
        unclean = true
        escalated = 'SIGQUIT'
      }
    }
    if (this.proc !== p) return {signalled: true, clusterState: d.control}
    if (!unclean) {
      if (!p.inRecovery) {
        // The shutdown checkpoint, sent to the walsenders before the postmaster exits.
        d.lineage.end += 1
        for (const r of this.world.nodes) if (r.proc?.upstream === this.address) r.pull()
      }
      d.checkpointTimeline = timelineOf(d.lineage)
    }
    this.proc = null
    d.control = unclean ? (p.inRecovery ? 'in archive recovery' : 'in production') : p.inRecovery ? 'shut down in recovery' : 'shut down'
    this.world.emit({node: this.name, type: 'stop', unclean, primary: !p.inRecovery, lineage: copyLineage(d.lineage)})
    return {signalled: true, ...(escalated ? {escalated} : {}), clusterState: d.control}
  }

  async restart(stop: StopOptions = {}, start: StartOptions = {}): Promise<StartResult> {
    await this.stop(stop)
    return this.start(start)
  }

  async reload(): Promise<boolean> {
    const p = this.proc
    if (!p || !this.data) return false
    p.ssn = this.data.params['synchronous_standby_names'] ?? ''
    if (p.inRecovery) {
      p.upstream = this.data.upstream
      p.slotName = this.data.slotName
    }
    return true
  }

  async promote(o: {timeoutMs?: number} = {}): Promise<void> {
    const p = this.proc
    const d = this.data
    if (!p || !d || p.state !== 'running') throw new HactlError('PG_COMMAND_FAILED', 'pg_ctl: server is not running')
    if (!p.inRecovery) throw new HactlError('PG_COMMAND_FAILED', 'pg_ctl: cannot promote server; server is not in standby mode')
    await this.wait(Math.min(this.world.timings.promoteMs, o.timeoutMs ?? 60_000))
    if (this.faults.promoteFails) throw new HactlError('PG_COMMAND_FAILED', 'pg_ctl: server did not promote in time')
    if (this.proc !== p || !p.inRecovery) throw new HactlError('PG_COMMAND_FAILED', 'pg_ctl: server is not in standby mode')
    const tl = timelineOf(d.lineage) + 1
    d.lineage.segments.push({branch: this.world.newBranch(), timeline: tl, start: d.lineage.end})
    d.standbySignal = false
    d.control = 'in production'
    p.inRecovery = false
    p.upstream = null
    p.slotName = null
    p.streaming = false
    p.receivedTimeline = null
    this.world.emit({node: this.name, type: 'promote', lineage: copyLineage(d.lineage)})
  }

  async crashRecovery(o: {timeoutMs?: number; signal?: AbortSignal} = {}): Promise<CommandOutput> {
    if (this.proc || !this.data) throw new HactlError('PG_COMMAND_FAILED', 'crash recovery needs a stopped server with data')
    await this.wait(this.world.timings.startMs, o.signal)
    this.data.control = 'shut down'
    this.data.standbySignal = false
    return {stdout: '', stderr: ''}
  }

  private requireSql(what: string): {p: Proc; d: DataDir} {
    const p = this.proc
    if (!p || !this.data || p.state !== 'running' || p.stopping || this.faults.queryFails) throw unavailable(what)
    return {p, d: this.data}
  }

  async query<T extends Record<string, unknown> = Record<string, unknown>>(_sql: string): Promise<T[]> {
    this.requireSql('query')
    throw new HactlError('PG_UNAVAILABLE', 'the fake runs no SQL')
  }

  async status(): Promise<PgStatus> {
    while (this.faults.slowQueries) await this.wait(250)
    const {p, d} = this.requireSql('status query')
    const tl = timelineOf(d.lineage)
    return {
      inRecovery: p.inRecovery,
      serverVersion: 150000,
      // As the real adapter: a replica's timeline from its WAL receiver, else pg_control's (which lags).
      timeline: p.inRecovery ? (p.receivedTimeline ?? d.checkpointTimeline) : tl,
      walPosition: d.lineage.end,
      ...(p.inRecovery ? {receivedLsn: d.lineage.end, replayedLsn: d.lineage.end} : {}),
      replayPaused: false,
      controlTimeline: d.checkpointTimeline,
      postmasterStartTime: new Date(p.startTime * 1000).toISOString(),
      walReceiver: p.inRecovery && p.streaming ? {status: 'streaming', slotName: p.slotName, conninfo: p.upstream, receivedTimeline: p.receivedTimeline} : null,
    }
  }

  async replicationStats(): Promise<ReplicationRow[]> {
    const {p} = this.requireSql('pg_stat_replication')
    const parsed = parseSsnText(p.ssn)
    const rows: ReplicationRow[] = []
    for (const r of this.world.nodes) {
      const rp = r.proc
      if (!rp || !r.data || !rp.streaming || rp.upstream !== this.address) continue
      const named = parsed.count > 0 && (parsed.any || parsed.names.includes(r.name.toLowerCase()))
      const lsn = r.data.lineage.end
      rows.push({
        pid: rp.pid + 100000,
        userName: 'replicator',
        applicationName: r.name,
        clientAddr: r.host,
        state: 'streaming',
        // PostgreSQL reports the standbys of an `ANY n (...)` list as quorum standbys.
        syncState: named ? (parsed.quorum ? 'quorum' : 'sync') : 'async',
        syncPriority: named ? 1 : 0,
        sentLsn: lsn,
        writeLsn: lsn,
        flushLsn: lsn,
        replayLsn: lsn,
      })
    }
    return rows.sort((a, b) => (a.applicationName < b.applicationName ? -1 : 1))
  }

  async settings(names?: string[]): Promise<SettingRow[]> {
    const {p} = this.requireSql('pg_settings')
    const all: SettingRow[] = [
      {name: 'synchronous_standby_names', setting: p.ssn, unit: null, vartype: 'string', context: 'sighup', source: 'configuration file', sourcefile: null, pendingRestart: false},
      {name: 'synchronous_commit', setting: 'on', unit: null, vartype: 'enum', context: 'user', source: 'default', sourcefile: null, pendingRestart: false},
    ]
    return names ? all.filter((r) => names.includes(r.name)) : all
  }

  async replicationSlots(): Promise<SlotRow[]> {
    const {d} = this.requireSql('pg_replication_slots')
    return [...d.slots].map(([slotName, s]) => ({
      slotName,
      slotType: s.logical ? ('logical' as const) : ('physical' as const),
      plugin: s.logical?.plugin ?? null,
      database: s.logical?.database ?? null,
      active: !s.logical && this.world.nodes.some((r) => r.proc?.streaming && r.proc.upstream === this.address && r.proc.slotName === slotName),
      restartLsn: s.restartLsn,
      confirmedFlushLsn: s.logical ? s.restartLsn : null,
      xmin: null,
    }))
  }

  async createLogicalSlot(name: string, plugin: string, database: string): Promise<boolean> {
    const {p, d} = this.requireSql('pg_create_logical_replication_slot')
    if (p.inRecovery) throw new HactlError('PG_UNAVAILABLE', 'logical decoding cannot be used while in recovery')
    if (d.slots.has(name)) return false
    d.slots.set(name, {restartLsn: d.lineage.end, logical: {plugin, database}})
    return true
  }

  async advanceSlot(name: string, lsn: number): Promise<number | null> {
    const {d} = this.requireSql('pg_replication_slot_advance')
    const s = d.slots.get(name)
    if (!s) throw new HactlError('PG_UNAVAILABLE', `replication slot "${name}" does not exist`)
    // Never past what this node has (its WAL end), never backwards.
    s.restartLsn = Math.max(s.restartLsn, Math.min(lsn, d.lineage.end))
    return s.restartLsn
  }

  async remoteLogicalSlots(conn: ConnParams, names: string[]): Promise<RemoteSlotState[]> {
    if (names.length === 0) return []
    const t = this.remote(conn, 'pg_get_replication_slots')
    if (t.proc.inRecovery) return []
    return [...t.data.slots]
      .filter(([n, s]) => names.includes(n) && s.logical)
      .map(([slotName, s]) => ({
        slotName,
        slotType: 'logical' as const,
        database: s.logical!.database,
        plugin: s.logical!.plugin,
        confirmedFlushLsn: s.restartLsn,
        restartLsn: s.restartLsn,
        state: Buffer.from(JSON.stringify({restartLsn: s.restartLsn, ...s.logical})),
      }))
  }

  async installSlotState(name: string, state: Buffer): Promise<void> {
    if (this.proc) throw new HactlError('PG_PRECONDITION', 'PostgreSQL must be stopped to install a slot state file')
    if (!this.data) throw new HactlError('PG_PRECONDITION', 'no data directory')
    const v = JSON.parse(state.toString()) as {restartLsn: number; plugin: string; database: string}
    this.data.slots.set(name, {restartLsn: v.restartLsn, logical: {plugin: v.plugin, database: v.database}})
  }

  async createPhysicalSlot(name: string): Promise<boolean> {
    const {d} = this.requireSql('pg_create_physical_replication_slot')
    if (d.slots.has(name)) return false
    d.slots.set(name, {restartLsn: d.lineage.end})
    return true
  }

  async dropSlot(name: string): Promise<boolean> {
    const {d} = this.requireSql('pg_drop_replication_slot')
    return d.slots.delete(name)
  }

  async createRoles(_setup: RoleSetup): Promise<void> {
    this.requireSql('create roles')
  }

  async checkpoint(target?: ConnParams): Promise<void> {
    if (target) {
      const t = this.world.at(target.host, target.port)
      if (!t?.proc || t.proc.state !== 'running' || !t.data) throw unavailable('CHECKPOINT')
      t.data.checkpointTimeline = timelineOf(t.data.lineage)
      return
    }
    const {d} = this.requireSql('CHECKPOINT')
    d.checkpointTimeline = timelineOf(d.lineage)
  }

  private remote(conn: ConnParams, what: string): FakePostgres & {data: DataDir; proc: Proc} {
    const t = this.world.at(conn.host, conn.port)
    if (!t?.proc || t.proc.state !== 'running' || !t.data || t.faults.queryFails) throw unavailable(what)
    return t as FakePostgres & {data: DataDir; proc: Proc}
  }

  async remoteInRecovery(conn: ConnParams): Promise<boolean> {
    return this.remote(conn, 'pg_is_in_recovery').proc.inRecovery
  }

  async identifySystem(conn: ConnParams): Promise<IdentifySystem> {
    const t = this.remote(conn, 'IDENTIFY_SYSTEM')
    // A standby answers with the timeline it replays, which follows a switch at once.
    return {systemId: t.data.sysid, timeline: timelineOf(t.data.lineage), xlogpos: t.data.lineage.end}
  }

  async timelineHistory(conn: ConnParams, timeline: number): Promise<string> {
    const t = this.remote(conn, 'TIMELINE_HISTORY')
    const text = historyText(t.data.lineage, timeline)
    if (text === undefined) throw new HactlError('PG_COMMAND_FAILED', `could not open file "pg_wal/${timeline}.history"`)
    return text
  }

  async localTimelineHistory(timeline: number): Promise<{text: string; mtimeMs: number} | undefined> {
    const text = this.data ? historyText(this.data.lineage, timeline) : undefined
    return text === undefined ? undefined : {text, mtimeMs: this.clock.now()}
  }

  async recoverySignalPresent(): Promise<boolean> {
    return this.data?.standbySignal === true
  }

  /** patroni.dynamic.json: kept with the data directory (gone with it). */
  dynamicCache: Record<string, unknown> | undefined

  async readDynamicCache(): Promise<unknown> {
    return this.data ? structuredClone(this.dynamicCache) : undefined
  }

  async writeDynamicCache(value: Record<string, unknown>): Promise<void> {
    if (!this.data) throw new HactlError('PG_COMMAND_FAILED', `${this.dataDir} has no data directory`)
    this.dynamicCache = structuredClone(value)
  }

  async moveDataDirAside(suffix: string): Promise<string> {
    if (this.proc) throw new HactlError('PG_COMMAND_FAILED', 'cannot move the data directory of a running server')
    this.data = null
    this.dynamicCache = undefined
    this.dirPresent = false
    return `${this.dataDir}_${suffix}`
  }

  async removeDataDir(): Promise<void> {
    if (this.proc) throw new HactlError('PG_COMMAND_FAILED', 'cannot remove the data directory of a running server')
    this.data = null
    this.dynamicCache = undefined
    this.dirPresent = true
  }

  async basebackup(o: BasebackupOptions): Promise<CommandOutput> {
    if (this.proc) throw new HactlError('PG_PRECONDITION', 'pg_basebackup needs PostgreSQL stopped')
    const src = this.remote(o.source, 'pg_basebackup')
    this.data = null
    this.dynamicCache = undefined
    this.dirPresent = true
    await this.wait(this.world.timings.cloneMs, o.signal)
    if (!src.proc || !src.data) throw unavailable('pg_basebackup (source went away)')
    this.data = {
      sysid: src.data.sysid,
      lineage: copyLineage(src.data.lineage),
      control: src.proc.inRecovery ? 'in archive recovery' : 'in production',
      checkpointTimeline: timelineOf(src.data.lineage),
      standbySignal: false,
      params: {},
      upstream: null,
      slotName: null,
      slots: new Map(),
    }
    this.world.emit({node: this.name, type: 'clone'})
    return {stdout: '', stderr: ''}
  }

  async rewind(o: RewindOptions): Promise<CommandOutput> {
    const d = this.data
    if (this.proc || !d) throw new HactlError('PG_PRECONDITION', 'pg_rewind needs a stopped server')
    if (d.control !== 'shut down' && d.control !== 'shut down in recovery') {
      throw new HactlError('PG_PRECONDITION', `pg_rewind: target server must be shut down cleanly (${d.control})`)
    }
    const src = this.remote(o.source, 'pg_rewind')
    await this.wait(this.world.timings.cloneMs / 2, o.signal)
    if (!src.proc || !src.data || src.data.sysid !== d.sysid) throw unavailable('pg_rewind (source went away)')
    d.lineage = copyLineage(src.data.lineage)
    d.control = 'in archive recovery'
    d.checkpointTimeline = timelineOf(d.lineage)
    this.world.emit({node: this.name, type: 'rewind', lineage: copyLineage(d.lineage)})
    return {stdout: '', stderr: ''}
  }

  async checkRewind(source: ConnParams): Promise<RewindCheck> {
    const d = this.data
    if (!d) return {result: 'undecided', reason: 'no data directory'}
    let src
    try {
      src = this.remote(source, 'check rewind')
    } catch (e) {
      return {result: 'undecided', reason: (e as Error).message}
    }
    if (src.proc.inRecovery) return {result: 'undecided', reason: 'the source is in recovery'}
    const local = {inRecovery: d.standbySignal, timeline: timelineOf(d.lineage), lsn: d.lineage.end}
    const sourceTimeline = timelineOf(src.data.lineage)
    if (isPrefix(d.lineage, src.data.lineage)) return {result: 'not-needed', reason: 'the local WAL is on the source\'s history', local, sourceTimeline}
    return {result: 'need-rewind', reason: 'the local WAL diverged from the source\'s history', local, sourceTimeline}
  }

  async close(): Promise<void> {}
}

/** `<tli>\t<lsn>\t<reason>` lines of the history file for `timeline`, as PostgreSQL writes them. */
function historyText(l: Lineage, timeline: number): string | undefined {
  const i = l.segments.findIndex((s) => s.timeline === timeline)
  if (i <= 0) return undefined
  const hex = (n: number) => `${Math.floor(n / 2 ** 32).toString(16).toUpperCase()}/${(n % 2 ** 32).toString(16).toUpperCase()}`
  return l.segments
    .slice(1, i + 1)
    .map((s, k) => `${l.segments[k].timeline}\t${hex(s.start)}\tno recovery target specified`)
    .join('\n') + '\n'
}

/** synchronous_standby_names as PostgreSQL reads it: `N (a, b)`, `FIRST N (...)`, `ANY N (...)`, `a, b`, `*`. */
export function parseSsnText(ssn: string): {count: number; names: string[]; any: boolean; quorum: boolean} {
  const t = ssn.trim()
  if (!t) return {count: 0, names: [], any: false, quorum: false}
  const m = /^(?:(FIRST|ANY)\s+)?(\d+)\s*\((.*)\)$/i.exec(t)
  const list = (m ? m[3] : t).split(',').map((s) => s.trim().replace(/^"|"$/g, '').toLowerCase()).filter(Boolean)
  const count = m ? Number(m[2]) : 1
  // `any`: a `*` entry; `quorum`: the ANY method (any `count` of the names acknowledge).
  return {count, names: list.filter((n) => n !== '*'), any: list.includes('*'), quorum: m?.[1]?.toUpperCase() === 'ANY'}
}
