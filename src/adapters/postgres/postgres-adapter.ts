/**
 * PostgresControl on a real PostgreSQL: the binaries in `binDir`, run as the owner account,
 * files in the data and config directories, SQL over `pg`. See src/ports/postgres.ts for the
 * contract; Patroni's postgresql/ package is the behavioural reference.
 */
import {
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import {endianness, tmpdir} from 'node:os'
import {join} from 'node:path'
import {formatLsn, parseLsn} from '../../core/lsn'
import {monotonicMs} from '../clock/system-clock'
import {HactlError} from '../../errors'
import type {Logger} from '../../log/logger'
import {abortError} from '../../ports/clock'
import type {
  BasebackupOptions,
  CommandOutput,
  ConfigFiles,
  ConnParams,
  Controldata,
  DataDirState,
  IdentifySystem,
  InitdbOptions,
  LocalPosition,
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
  StopMode,
  StopOptions,
  StopResult,
} from '../../ports/postgres'
import type {DetachedProcess, ProcessRunner, ProcessUser, RunResult} from '../../ports/process-runner'
import {
  BASEBACKUP_FORBIDDEN,
  formatConninfo,
  HEADER,
  INITDB_FORBIDDEN,
  pgpassLines,
  quoteConfValue,
  renderLinesFile,
  renderPostgresqlConf,
  sanitizeAutoConf,
  toolArguments,
} from './conf-files'
import {parseControldata, readControlFileHead} from './controldata'
import {LocalSql, quoteIdent, quoteLiteral, RAW_TYPES, withClient} from './sql'
import {checkpointEndFromWaldump, localPositionFromControldata, parseTimelineHistory, rewindDecision} from './timeline'

export interface PostgresAdapterOptions {
  dataDir: string
  /** `postgresql.config_dir`; default the data dir. */
  configDir?: string
  /** `postgresql.bin_dir` */
  binDir: string
  runner: ProcessRunner
  /** Account that runs the binaries and owns the files; absent = the agent's own. */
  owner?: ProcessUser
  /** Base environment for children (HOME, LANG, TZ, ...). PG* variables are never inherited. */
  env?: Record<string, string>
  /** The local superuser connection (socket dir or address, port, user, password, dbname). */
  local: ConnParams
  /** Local replication connection for IDENTIFY_SYSTEM; default `local` with replication on. */
  localReplication?: ConnParams
  /** `postgresql.pgpass`: the file primary_conninfo's passfile points at. */
  pgpassPath: string
  /** Where the postmaster's stdout/stderr go (until logging_collector takes over). Default `<data>/postmaster.log`. */
  postmasterLog?: string
  logger?: Logger
  /** Poll interval while waiting for start/stop/promote; default 100 ms. */
  pollMs?: number
}

const STOP_SIGNAL: Record<StopMode, NodeJS.Signals> = {smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT'}
const LOG_TAIL_BYTES = 8192
/** How long what the status query read along stays good for the same cycle's maintenance. */
const PIGGYBACK_MS = 1000
const SLOTS_QUERY = `SELECT slot_name::text, slot_type, plugin::text, database::text, active, restart_lsn::text, confirmed_flush_lsn::text, xmin::text
      FROM pg_catalog.pg_replication_slots`
const REPLICATION_QUERY = `SELECT pid::text, usename::text, application_name, host(client_addr) AS client_addr, state, sync_state, sync_priority::text,
        sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text
      FROM pg_catalog.pg_stat_replication`

const lsnOf = (v: unknown) => (typeof v === 'string' ? (parseLsn(v) ?? null) : null)

function slotRow(r: Record<string, unknown>): SlotRow {
  return {
    slotName: String(r.slot_name),
    slotType: r.slot_type === 'logical' ? 'logical' : 'physical',
    plugin: (r.plugin as string | null) ?? null,
    database: (r.database as string | null) ?? null,
    active: r.active === true,
    restartLsn: lsnOf(r.restart_lsn),
    confirmedFlushLsn: lsnOf(r.confirmed_flush_lsn),
    xmin: (r.xmin as string | null) ?? null,
  }
}

function replicationRow(r: Record<string, string | null>): ReplicationRow {
  return {
    pid: Number(r.pid),
    userName: r.usename,
    applicationName: r.application_name ?? '',
    clientAddr: r.client_addr,
    state: r.state ?? '',
    syncState: r.sync_state ?? '',
    syncPriority: Number(r.sync_priority ?? 0),
    sentLsn: lsnOf(r.sent_lsn),
    writeLsn: lsnOf(r.write_lsn),
    flushLsn: lsnOf(r.flush_lsn),
    replayLsn: lsnOf(r.replay_lsn),
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal))
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(abortError(signal))
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })

/**
 * The pause between two polls of something that usually happens within a few tens of ms (the
 * postmaster gone after a stop, the end of recovery after a promote): 10 ms at first, growing to
 * `maxMs` over about two seconds. Both sit in a leader change's write gap, where a fixed 50 or
 * 100 ms poll cost half of that on average.
 */
function backoff(since: number, maxMs: number): number {
  return Math.min(maxMs, 10 + Math.floor((Date.now() - since) / 20))
}

/** Last lines of a tool's stderr for an error message; bounded. */
function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

export function versionNum(text: string): number | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text) ?? /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim())
  if (!m) return undefined
  const major = Number(m[1])
  if (major >= 10) return major * 10000 + Number(m[2] ?? 0)
  return major * 10000 + Number(m[2] ?? 0) * 100 + Number(m[3] ?? 0)
}

/** fsync a directory (its entries), as Patroni's fsync_dir. */
function fsyncDir(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export class PostgresAdapter implements PostgresControl {
  readonly dataDir: string
  readonly configDir: string
  private readonly sql: LocalSql
  private binaryVersionCache: number | undefined
  private readonly pollMs: number
  /** The last postmaster this adapter started (waitGone: its exit is an event while it is our child). */
  private postmaster: DetachedProcess | undefined
  /**
   * The replication slots and walsenders the last status query read along (as Patroni's one
   * cluster-info query per cycle does), for the next replicationSlots() / replicationStats() of the
   * same cycle: each is taken once, and only while nothing else ran on the connection since and
   * no slot changed through this adapter, within PIGGYBACK_MS. An idle cycle then sends one query
   * instead of three.
   */
  private piggyback: {at: number; sent: number; slots?: SlotRow[]; replication?: ReplicationRow[]} | undefined

  constructor(private readonly opts: PostgresAdapterOptions) {
    this.dataDir = opts.dataDir
    this.configDir = opts.configDir ?? opts.dataDir
    this.sql = new LocalSql(opts.local)
    this.pollMs = opts.pollMs ?? 100
  }

  get postgresqlConf(): string {
    return join(this.configDir, 'postgresql.conf')
  }

  get postmasterLog(): string {
    return this.opts.postmasterLog ?? join(this.dataDir, 'postmaster.log')
  }

  /** Changes the local connection (listen/port changed, superuser password changed). */
  setLocalConnection(local: ConnParams): void {
    this.opts.local = local
    this.sql.setConn(local)
  }

  // ---------------------------------------------------------------- processes and files

  private bin(name: string): string {
    return join(this.opts.binDir, name)
  }

  private env(extra: Record<string, string> = {}): Record<string, string> {
    const base: Record<string, string> = {PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8'}
    for (const [k, v] of Object.entries(this.opts.env ?? {})) {
      if (!/^PG/.test(k) && !/^PATRONI_/.test(k)) base[k] = v
    }
    return {...base, ...extra}
  }

  private async runTool(
    name: string,
    args: string[],
    o: {env?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; allowFailure?: boolean; input?: string} = {},
  ): Promise<RunResult> {
    const r = await this.opts.runner.run(this.bin(name), args, {
      env: this.env(o.env),
      user: this.opts.owner,
      cwd: existsSync(this.dataDir) ? undefined : tmpdir(),
      timeoutMs: o.timeoutMs,
      signal: o.signal,
      input: o.input,
    })
    if (!o.allowFailure && (r.code !== 0 || r.timedOut)) {
      const how = r.timedOut ? `did not finish within ${o.timeoutMs} ms` : r.code === null ? `was killed by ${r.signal}` : `exited with code ${r.code}`
      throw new HactlError('PG_COMMAND_FAILED', `${name} ${how}${r.stderr.trim() ? `: ${tail(r.stderr)}` : ''}`)
    }
    return r
  }

  private chown(path: string): void {
    if (this.opts.owner) chownSync(path, this.opts.owner.uid, this.opts.owner.gid)
  }

  /** Atomic write (temp + rename) of a file owned by the owner account. */
  private writeOwned(path: string, content: string, mode = 0o600): void {
    const tmp = `${path}.hactl-tmp`
    writeFileSync(tmp, content, {mode})
    this.chown(tmp)
    renameSync(tmp, path)
  }

  private ensureOwnedDir(path: string): void {
    if (!existsSync(path)) {
      mkdirSync(path, {recursive: true, mode: 0o700})
      this.chown(path)
    }
  }

  /** A private temp dir for secrets handed to a child (pwfile, pgpass). */
  private withSecretDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-secret-'))
    this.chown(dir)
    return fn(dir).finally(() => rmSync(dir, {recursive: true, force: true}))
  }

  // ---------------------------------------------------------------- inspection

  async dataDirState(): Promise<DataDirState> {
    // pg_control first: where it exists the directory is neither missing nor empty, and the
    // listing (an open, two reads and a close) is left for the cycles that need it.
    if (existsSync(join(this.dataDir, 'global', 'pg_control'))) return 'initialized'
    let entries: string[]
    try {
      entries = readdirSync(this.dataDir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      throw new HactlError('PG_PRECONDITION', `cannot read the data directory ${this.dataDir}: ${(e as Error).message}`)
    }
    return entries.length === 0 ? 'empty' : 'not-empty-no-control'
  }

  async dataDirVersion(): Promise<number | undefined> {
    try {
      return versionNum(readFileSync(join(this.dataDir, 'PG_VERSION'), 'utf8'))
    } catch {
      return undefined
    }
  }

  async binaryVersion(): Promise<number> {
    if (this.binaryVersionCache === undefined) {
      const r = await this.runTool('postgres', ['--version'], {timeoutMs: 10_000})
      const v = versionNum(r.stdout)
      if (v === undefined) throw new HactlError('PG_COMMAND_FAILED', `cannot parse "postgres --version" output: ${JSON.stringify(r.stdout.trim())}`)
      this.binaryVersionCache = v
    }
    return this.binaryVersionCache
  }

  private readPidFile(): {lines: string[]} | 'absent' | {error: string} {
    try {
      return {lines: readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')}
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent'
      return {error: `cannot read postmaster.pid: ${(e as Error).message}`}
    }
  }

  /**
   * A PID from postmaster.pid is trusted only when that process is a postgres started within
   * 3 s of the time recorded in the file, and is neither us nor our parent: after a reboot or a
   * kill -9 the PID may belong to anything else, which must never be signalled.
   */
  private isPostmaster(pid: number, startTime: number): boolean {
    if (pid === process.pid || pid === process.ppid) return false
    const info = this.opts.runner.info(pid)
    if (!info) return false
    if (!['postgres', 'postmaster'].includes(info.comm)) return false
    return !startTime || Math.abs(info.startTimeMs / 1000 - startTime) <= 3
  }

  async state(): Promise<PostmasterState> {
    const f = this.readPidFile()
    if (f === 'absent') return {kind: 'stopped'}
    if ('error' in f) return {kind: 'unknown', reason: f.error}
    const pid = Number(f.lines[0])
    const startTime = Number(f.lines[2])
    if (!Number.isInteger(pid) || pid <= 0) {
      // The postmaster writes the file in one go; a partial file is a postmaster starting right now.
      return f.lines.join('').trim() === '' ? {kind: 'unknown', reason: 'postmaster.pid is empty'} : {kind: 'stopped'}
    }
    if (!this.isPostmaster(pid, startTime)) return {kind: 'stopped'}
    const port = Number(f.lines[3])
    return {
      kind: 'running',
      pid,
      startTime,
      port: Number.isInteger(port) && port > 0 ? port : undefined,
      socketDir: f.lines[4]?.trim() || undefined,
      status: f.lines[7]?.trim() || undefined,
    }
  }

  /** postmaster.pid's status line (PostgreSQL 10+) says the postmaster accepts connections. */
  private pidFileSaysReady(): boolean {
    const f = this.readPidFile()
    return typeof f === 'object' && 'lines' in f && /^(ready|standby)\b/.test(f.lines[7]?.trim() ?? '')
  }

  async readiness(): Promise<Readiness> {
    const l = this.opts.local
    const args = ['-t', '3', '-d', l.dbname ?? 'postgres']
    if (l.host) args.push('-h', l.host)
    if (l.port !== undefined) args.push('-p', String(l.port))
    if (l.user) args.push('-U', l.user)
    const r = await this.runTool('pg_isready', args, {allowFailure: true, timeoutMs: 5000})
    return (['accepting', 'rejecting', 'no-response'] as const)[r.code ?? 3] ?? 'unknown'
  }

  /** pg_control's state and checkpoint without pg_controldata (controldata.ts readControlFileHead). */
  private controlFileHead(): {clusterState: string; checkpointLsn: number} | undefined {
    try {
      return readControlFileHead(readFileSync(join(this.dataDir, 'global', 'pg_control')), endianness() === 'LE')
    } catch {
      return undefined
    }
  }

  async controldata(): Promise<Controldata | undefined> {
    if (!existsSync(join(this.dataDir, 'global', 'pg_control'))) return undefined
    const r = await this.runTool('pg_controldata', [this.dataDir], {env: {LANG: 'C', LC_ALL: 'C'}, timeoutMs: 10_000})
    try {
      return parseControldata(r.stdout)
    } catch (e) {
      throw new HactlError('PG_COMMAND_FAILED', `pg_controldata ${this.dataDir}: ${(e as Error).message}`)
    }
  }

  // ---------------------------------------------------------------- bootstrap and files

  async initdb(o: InitdbOptions): Promise<CommandOutput> {
    const args = toolArguments('bootstrap.initdb', o.options, INITDB_FORBIDDEN)
    const st = await this.dataDirState()
    if (st !== 'missing' && st !== 'empty') {
      throw new HactlError('PG_PRECONDITION', `initdb needs an empty data directory, ${this.dataDir} is not empty`)
    }
    this.ensureOwnedDir(this.dataDir)
    return this.withSecretDir(async (dir) => {
      if (o.superuser?.username) args.push(`--username=${o.superuser.username}`)
      if (o.superuser?.password !== undefined) {
        const pwfile = join(dir, 'pwfile')
        this.writeOwned(pwfile, o.superuser.password + '\n')
        args.push(`--pwfile=${pwfile}`)
      }
      const r = await this.runTool('initdb', [...args, '-D', this.dataDir], {timeoutMs: o.timeoutMs, signal: o.signal})
      return {stdout: r.stdout, stderr: r.stderr}
    })
  }

  async writeConfigFiles(files: ConfigFiles): Promise<void> {
    this.ensureOwnedDir(this.configDir)
    const base = join(this.configDir, 'postgresql.base.conf')
    const conf = this.postgresqlConf
    if (!files.customConf && !existsSync(base)) {
      if (existsSync(conf)) {
        renameSync(conf, base)
      } else {
        // After a clone without config files: an empty base keeps the include valid.
        this.writeOwned(base, '')
      }
    }
    const v = files.serverVersion
    const recovery: Record<string, string> = {}
    const rc = files.recovery ?? null
    if (rc) {
      for (const [k, val] of Object.entries(rc.parameters)) {
        if (v >= 120000 && k === 'standby_mode') continue
        recovery[k] = val
      }
      if (rc.primaryConninfo) {
        const ci = {...rc.primaryConninfo}
        if (ci.password !== undefined && v >= 100000) {
          this.writeOwned(this.opts.pgpassPath, pgpassLines(ci))
          ci.passfile = this.opts.pgpassPath
        }
        recovery.primary_conninfo = formatConninfo(ci, {serverVersion: v})
      }
    }
    this.writeOwned(
      conf,
      renderPostgresqlConf({
        include: files.customConf ?? 'postgresql.base.conf',
        parameters: files.parameters,
        hbaFile: join(this.configDir, 'pg_hba.conf'),
        identFile: join(this.configDir, 'pg_ident.conf'),
        recovery: v >= 120000 ? recovery : undefined,
      }),
    )
    const standby = join(this.dataDir, 'standby.signal')
    const recSignal = join(this.dataDir, 'recovery.signal')
    const recConf = join(this.dataDir, 'recovery.conf')
    if (!rc && files.keepExistingRecovery) {
      // keep_existing_recovery_conf: the restore's own recovery settings stay in force
    } else if (v >= 120000) {
      rmSync(recConf, {force: true})
      if (rc) {
        this.writeOwned(rc.signal === 'standby' ? standby : recSignal, '')
        rmSync(rc.signal === 'standby' ? recSignal : standby, {force: true})
      } else {
        rmSync(standby, {force: true})
        rmSync(recSignal, {force: true})
      }
      const auto = join(this.dataDir, 'postgresql.auto.conf')
      if (existsSync(auto)) {
        const s = sanitizeAutoConf(readFileSync(auto, 'utf8'))
        if (s.changed) this.writeOwned(auto, s.text)
      }
    } else if (rc) {
      if (rc.signal === 'standby') recovery.standby_mode = 'on'
      const lines = [HEADER, ...Object.keys(recovery).sort().map((k) => `${k} = ${quoteConfValue(recovery[k])}`)]
      this.writeOwned(recConf, lines.join('\n') + '\n')
    } else {
      rmSync(recConf, {force: true})
    }
    if (files.pgHba && !('hba_file' in files.parameters)) {
      this.writeOwned(join(this.configDir, 'pg_hba.conf'), renderLinesFile('postgresql.pg_hba', files.pgHba))
    }
    if (files.pgIdent && !('ident_file' in files.parameters)) {
      this.writeOwned(join(this.configDir, 'pg_ident.conf'), renderLinesFile('postgresql.pg_ident', files.pgIdent))
    }
  }

  private configFileNames(): string[] {
    return ['postgresql.conf', 'postgresql.base.conf', 'pg_hba.conf', 'pg_ident.conf']
  }

  // The backups live in the data directory, as Patroni keeps them (patroni/postgresql/config.py
  // ConfigHandler.save_configuration_files): with a separate config_dir they travel to the
  // replicas inside the base backup.
  async saveConfigFiles(): Promise<void> {
    for (const f of this.configFileNames()) {
      const p = join(this.configDir, f)
      const backup = join(this.dataDir, `${f}.backup`)
      if (existsSync(p)) {
        copyFileSync(p, backup)
        this.chown(backup)
      }
    }
  }

  async restoreConfigFiles(): Promise<void> {
    this.ensureOwnedDir(this.configDir)
    for (const f of this.configFileNames()) {
      const p = join(this.configDir, f)
      const backup = join(this.dataDir, `${f}.backup`)
      if (existsSync(p)) continue
      if (existsSync(backup)) {
        copyFileSync(backup, p)
        this.chown(p)
      } else if (f === 'pg_ident.conf') {
        this.writeOwned(p, '')
      }
    }
  }

  // ---------------------------------------------------------------- start / stop

  private logOffset(): number {
    try {
      return statSync(this.postmasterLog).size
    } catch {
      return 0
    }
  }

  /** What the postmaster wrote since `offset`, bounded, for a start failure message. */
  private logSince(offset: number): string {
    let fd: number | undefined
    try {
      fd = openSync(this.postmasterLog, 'r')
      const size = fstatSync(fd).size
      const from = Math.max(offset, size - LOG_TAIL_BYTES)
      const buf = Buffer.alloc(Math.max(0, size - from))
      readSync(fd, buf, 0, buf.length, from)
      return buf.toString('utf8').trim()
    } catch {
      return ''
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }

  async start(o: StartOptions = {}): Promise<StartResult> {
    const timeoutMs = o.timeoutMs ?? 60_000
    const deadline = Date.now() + timeoutMs
    await this.sql.close() // a connection to a previous incarnation may be stale after a kill -9
    const st = await this.state()
    if (st.kind === 'running') return {outcome: 'already-running', pid: st.pid}
    if (st.kind === 'unknown') throw new HactlError('PG_START_FAILED', `cannot tell whether PostgreSQL runs: ${st.reason}`)

    const extraEnv: Record<string, string> = {}
    const f = this.readPidFile()
    if (typeof f === 'object' && 'lines' in f) {
      const stalePid = Number(f.lines[0])
      // A stale postmaster.pid naming a live unrelated process would make the postmaster refuse
      // to start; PG_GRANDPARENT_PID tells it to ignore that PID (what pg_ctl does).
      if (Number.isInteger(stalePid) && stalePid > 0 && this.opts.runner.isAlive(stalePid)) extraEnv.PG_GRANDPARENT_PID = String(stalePid)
    }
    const args = ['-D', this.dataDir, `--config-file=${this.postgresqlConf}`]
    for (const [k, v] of Object.entries(o.cmdline ?? {})) args.push(`--${k}=${v}`)
    const offset = this.logOffset()
    const proc = await this.opts.runner.spawnDetached(this.bin('postgres'), args, {
      env: this.env(extraEnv),
      user: this.opts.owner,
      cwd: this.dataDir,
      outputFile: this.postmasterLog,
    })
    this.opts.logger?.info(`postmaster pid=${proc.pid}`)
    this.postmaster = proc

    const failed = async () => {
      await Promise.race([proc.exited, sleep(200)]) // let the last lines reach the file
      const out = this.logSince(offset)
      const lines = out.split('\n').filter((l) => /FATAL|PANIC|ERROR|DETAIL|HINT/.test(l))
      return new HactlError(
        'PG_START_FAILED',
        `postgres exited during startup${lines.length ? `: ${lines.slice(-6).join('\n')}` : out ? `: ${tail(out, 6)}` : ''}`,
        {hints: [`the postmaster's output is in ${this.postmasterLog}`]},
      )
    }
    let portOpen = false
    // pg_isready is asked every pollMs, and at once when postmaster.pid says the postmaster now
    // accepts connections (what pg_ctl -w watches), unless that already did not make it accept.
    let askedWhileReady = false
    for (;;) {
      if (!proc.running() || !this.opts.runner.isAlive(proc.pid)) throw await failed()
      askedWhileReady ||= this.pidFileSaysReady()
      const ready = await this.readiness()
      if (ready === 'accepting') return {outcome: 'started', pid: proc.pid}
      if (ready === 'unknown') {
        this.opts.logger?.warning('pg_isready cannot tell the startup status; assuming PostgreSQL runs')
        return {outcome: 'started', pid: proc.pid}
      }
      if (ready === 'rejecting') portOpen = true
      if (Date.now() > deadline) {
        if (!portOpen && !proc.running()) throw await failed()
        return {outcome: 'still-starting', pid: proc.pid}
      }
      const until = Date.now() + this.pollMs
      do {
        await sleep(Math.min(10, Math.max(0, until - Date.now())), o.signal)
      } while (Date.now() < until && proc.running() && (askedWhileReady || !this.pidFileSaysReady()))
    }
  }

  private async waitGone(pid: number, timeoutMs: number | undefined): Promise<boolean> {
    const began = Date.now()
    const deadline = timeoutMs === undefined ? Infinity : began + timeoutMs
    // A postmaster this process started is its child: the exit wakes the wait at once (a
    // demotion's stop is in a switchover's write gap). One started before is polled.
    const child = this.postmaster?.pid === pid && this.postmaster.running() ? this.postmaster : undefined
    while (this.opts.runner.isAlive(pid)) {
      if (Date.now() > deadline) return false
      const ms = backoff(began, Math.min(this.pollMs, 50))
      await (child ? Promise.race([child.exited, sleep(ms)]) : sleep(ms))
    }
    return true
  }

  async stop(o: StopOptions = {}): Promise<StopResult> {
    const mode = o.mode ?? 'fast'
    const st = await this.state()
    if (st.kind === 'unknown') throw new HactlError('PG_STOP_FAILED', `cannot tell whether PostgreSQL runs: ${st.reason}`)
    if (st.kind === 'stopped') {
      await this.sql.close()
      return {signalled: false}
    }
    if ((o.checkpoint ?? mode !== 'immediate') && st.status !== 'starting') {
      try {
        await this.checkpoint(undefined, o.timeoutMs)
      } catch (e) {
        this.opts.logger?.warning(`CHECKPOINT before stop failed: ${(e as Error).message}`)
      }
    }
    // Our own idle session would hold a smart shutdown forever.
    await this.sql.close()
    await o.beforeSignal?.()
    if (!this.opts.runner.signal(st.pid, STOP_SIGNAL[mode])) {
      return {signalled: false, clusterState: (await this.controldata().catch(() => undefined))?.clusterState}
    }
    let escalated: StopResult['escalated']
    if (!(await this.waitGone(st.pid, o.timeoutMs))) {
      if (mode !== 'immediate') {
        this.opts.logger?.warning(`postmaster ${st.pid} still running after ${o.timeoutMs} ms: sending SIGQUIT`)
        escalated = 'SIGQUIT'
        this.opts.runner.signal(st.pid, 'SIGQUIT')
      }
      if (mode === 'immediate' || !(await this.waitGone(st.pid, o.timeoutMs))) {
        this.opts.logger?.warning(`postmaster ${st.pid} still running: sending SIGKILL to it and its children`)
        escalated = 'SIGKILL'
        this.opts.runner.killTree(st.pid)
        if (!(await this.waitGone(st.pid, 10_000))) {
          throw new HactlError('PG_STOP_FAILED', `postmaster ${st.pid} survived SIGKILL for 10 s`)
        }
      }
    }
    // Read from pg_control itself: a demotion releases the leader key only after this, in the
    // middle of a switchover's write gap, and starting pg_controldata costs ~15-20 ms of it.
    const head = this.controlFileHead() ?? (await this.controldata().catch(() => undefined))
    return {signalled: true, escalated, clusterState: head?.clusterState, ...(head ? {checkpointLsn: head.checkpointLsn} : {})}
  }

  async restart(stop: StopOptions = {}, start: StartOptions = {}): Promise<StartResult> {
    await this.stop(stop)
    return this.start(start)
  }

  async reload(): Promise<boolean> {
    const st = await this.state()
    if (st.kind !== 'running') return false
    return this.opts.runner.signal(st.pid, 'SIGHUP')
  }

  async promote(o: {timeoutMs?: number} = {}): Promise<void> {
    const timeoutMs = o.timeoutMs ?? 60_000
    // pg_promote(wait => false) (PostgreSQL 12+, superuser) does what `pg_ctl promote -W` does,
    // writes the promote signal file and signals the postmaster, on the session we already hold:
    // ~30 ms sooner than starting pg_ctl, in the middle of the write gap. Any error (older server,
    // no privilege, no session) falls back to pg_ctl, as Patroni always runs it.
    const bySql = () =>
      this.sql.query<{p: boolean}>('SELECT pg_catalog.pg_promote(false) AS p', [], 'pg_promote').then(([row]) => row?.p === true, () => false)
    const byPgCtl = () => this.runTool('pg_ctl', ['promote', '-W', '-D', this.dataDir], {timeoutMs: 30_000})
    const signalled = await bySql()
    if (!signalled) await byPgCtl()
    const began = Date.now()
    const deadline = began + timeoutMs
    // The request is sent again while the server stays in recovery, after 250 ms, then twice as
    // long each time up to 2 s. A standby whose stream has just failed can take the request while
    // the walreceiver it asked for has not started yet, and then sleep out the rest of
    // wal_retrieve_retry_interval (5 s) before acting on it: nothing else wakes that sleep
    // (PostgreSQL's WaitForWALToBecomeAvailable; docs/ha-rules.md#promotion). Another request
    // does; one that arrives while the promotion is under way changes nothing.
    let resendAt = began + 250
    let resendGap = 250
    let resent = false
    for (;;) {
      try {
        const [row] = await this.sql.query<{r: boolean}>('SELECT pg_catalog.pg_is_in_recovery() AS r', [], 'pg_is_in_recovery')
        if (row && row.r === false) break
      } catch {
        // promotion restarts no backend, but a busy server may refuse a connection: retry
      }
      if (Date.now() > deadline) {
        throw new HactlError('PG_COMMAND_FAILED', `PostgreSQL still in recovery ${timeoutMs} ms after ${signalled ? 'pg_promote()' : 'pg_ctl promote'}`, {recoverable: true})
      }
      if (Date.now() >= resendAt) {
        // Either refuses a server that has just left recovery: the next poll tells.
        await (signalled ? bySql() : byPgCtl().catch(() => undefined))
        resent = true
        resendGap = Math.min(2000, resendGap * 2)
        resendAt = Date.now() + resendGap
        continue
      }
      await sleep(backoff(began, this.pollMs))
    }
    // A request sent again after the startup process had taken one stays in the data directory
    // (the postmaster removes it at its next start); nothing reads it once recovery has ended.
    if (resent) {
      try {
        rmSync(join(this.dataDir, 'promote'), {force: true})
      } catch {
        // left for the postmaster's next start: the promotion itself has succeeded
      }
    }
  }

  async crashRecovery(o: {timeoutMs?: number; signal?: AbortSignal} = {}): Promise<CommandOutput> {
    const st = await this.state()
    if (st.kind !== 'stopped') throw new HactlError('PG_PRECONDITION', 'crash recovery needs PostgreSQL stopped')
    // A base backup (backup_label present) must finish recovery as a standby: ending it in
    // single-user mode would fork the timeline it shares with the primary.
    if (existsSync(join(this.dataDir, 'backup_label'))) {
      throw new HactlError('PG_PRECONDITION', 'refusing single-user crash recovery: backup_label present (an unfinished base backup must recover as a standby)')
    }
    // The options of the last start, so that shared-memory settings match what the WAL needs.
    const opts: Record<string, string> = {}
    try {
      const text = readFileSync(join(this.dataDir, 'postmaster.opts'), 'utf8')
      for (const m of text.matchAll(/"--([^"=]+)=([^"]*)"/g)) opts[m[1].replace(/-/g, '_')] = m[2]
    } catch {
      // no postmaster.opts: defaults from the config file
    }
    if (!opts.config_file) opts.config_file = this.postgresqlConf
    // Archiving is off during single-user replay: WAL must not be archived twice or lost.
    Object.assign(opts, {archive_mode: 'on', archive_command: 'false'})
    for (const f of ['standby.signal', 'recovery.signal', 'recovery.conf']) rmSync(join(this.dataDir, f), {force: true})
    const args = ['--single', '-D', this.dataDir]
    for (const k of Object.keys(opts).sort()) args.push('-c', `${k}=${opts[k]}`)
    args.push('template1')
    const r = await this.runTool('postgres', args, {timeoutMs: o.timeoutMs, signal: o.signal, input: ''})
    return {stdout: r.stdout, stderr: r.stderr}
  }

  // ---------------------------------------------------------------- SQL

  async query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.sql.query<T>(sql, params)
  }

  async status(): Promise<PgStatus> {
    // Run every HA cycle: a statement prepared once per connection, answering one JSON text
    // column that JSON.parse reads at once, rather than sixteen columns pg's parser goes through
    // one by one (bench/README.md, idle CPU).
    const [row] = await this.sql.query<{status: string}>(
      `SELECT pg_catalog.row_to_json(st)::text AS status FROM (SELECT pg_catalog.pg_is_in_recovery()::text AS in_recovery,
        pg_catalog.current_setting('server_version_num') AS server_version,
        CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
          ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_flush_lsn()), 1, 8))::bit(32)::int::text END AS primary_tli,
        CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_flush_lsn()::text END AS flush_lsn,
        pg_catalog.pg_last_wal_receive_lsn()::text AS receive_lsn,
        pg_catalog.pg_last_wal_replay_lsn()::text AS replay_lsn,
        (pg_catalog.pg_is_in_recovery() AND pg_catalog.pg_is_wal_replay_paused())::text AS replay_paused,
        (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint())::text AS control_tli,
        extract(epoch FROM pg_catalog.pg_postmaster_start_time())::text AS started,
        w.status AS wr_status, w.slot_name AS wr_slot, w.conninfo AS wr_conninfo,
        CASE WHEN w.latest_end_lsn IS NULL THEN NULL ELSE w.received_tli::text END AS wr_tli,
        (SELECT pg_catalog.json_agg(s ORDER BY s.slot_name) FROM (${SLOTS_QUERY}) AS s) AS slots,
        (SELECT pg_catalog.json_agg(s ORDER BY s.application_name, s.pid) FROM (${REPLICATION_QUERY}) AS s) AS replication
      FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_stat_get_wal_receiver() AS w ON true) AS st`,
      [],
      'status query',
      'hactl_status',
    )
    const r = JSON.parse(row.status) as Record<string, string | null>
    const along = r as unknown as {slots: Array<Record<string, unknown>> | null; replication: Array<Record<string, string | null>> | null}
    this.piggyback = {at: monotonicMs(), sent: this.sql.sent, slots: (along.slots ?? []).map(slotRow), replication: (along.replication ?? []).map(replicationRow)}
    const inRecovery = r.in_recovery === 'true'
    const received = r.receive_lsn ? parseLsn(r.receive_lsn) : undefined
    const replayed = r.replay_lsn ? parseLsn(r.replay_lsn) : undefined
    const controlTimeline = Number(r.control_tli)
    const walReceiver = r.wr_status
      ? {status: r.wr_status, slotName: r.wr_slot, conninfo: r.wr_conninfo, receivedTimeline: r.wr_tli ? Number(r.wr_tli) : null}
      : null
    return {
      inRecovery,
      serverVersion: Number(r.server_version),
      timeline: inRecovery ? (walReceiver?.receivedTimeline ?? controlTimeline) : Number(r.primary_tli),
      walPosition: inRecovery ? Math.max(received ?? 0, replayed ?? 0) : (parseLsn(r.flush_lsn ?? '') ?? 0),
      receivedLsn: received,
      replayedLsn: replayed,
      replayPaused: r.replay_paused === 'true',
      controlTimeline,
      postmasterStartTime: new Date(Number(r.started) * 1000).toISOString(),
      walReceiver,
    }
  }

  /** What the last status query read along, once, if still current (see `piggyback`). */
  private takeAlong<K extends 'slots' | 'replication'>(key: K): NonNullable<NonNullable<PostgresAdapter['piggyback']>[K]> | undefined {
    const p = this.piggyback
    if (!p || p[key] === undefined) return undefined
    const rows = p[key]
    p[key] = undefined
    if (p.sent !== this.sql.sent || monotonicMs() - p.at > PIGGYBACK_MS) return undefined
    return rows as NonNullable<NonNullable<PostgresAdapter['piggyback']>[K]>
  }

  async replicationStats(): Promise<ReplicationRow[]> {
    const along = this.takeAlong('replication')
    if (along) return along
    const rows = await this.sql.query<Record<string, string | null>>(`${REPLICATION_QUERY} ORDER BY application_name, pid`, [], 'pg_stat_replication query')
    return rows.map(replicationRow)
  }

  async settings(names?: string[]): Promise<SettingRow[]> {
    const rows = await this.sql.query<Record<string, string | boolean | null>>(
      `SELECT name, setting, unit, vartype, context, source, sourcefile, pending_restart
      FROM pg_catalog.pg_settings ${names ? 'WHERE name = ANY($1::text[])' : ''} ORDER BY name`,
      names ? [names] : [],
      'pg_settings query',
    )
    return rows.map((r) => ({
      name: String(r.name),
      setting: String(r.setting ?? ''),
      unit: (r.unit as string | null) ?? null,
      vartype: String(r.vartype),
      context: String(r.context),
      source: String(r.source),
      sourcefile: (r.sourcefile as string | null) ?? null,
      pendingRestart: r.pending_restart === true,
    }))
  }

  async replicationSlots(): Promise<SlotRow[]> {
    const along = this.takeAlong('slots')
    if (along) return along
    const rows = await this.sql.query<Record<string, unknown>>(`${SLOTS_QUERY} ORDER BY slot_name`, [], 'pg_replication_slots query')
    return rows.map(slotRow)
  }

  async createLogicalSlot(name: string, plugin: string, database: string): Promise<boolean> {
    this.piggyback = undefined
    return withClient({...this.sql.params, dbname: database}, {}, `creating logical replication slot ${name}`, async (c) => {
      const r = await c.query(
        `SELECT pg_catalog.pg_create_logical_replication_slot($1, $2)
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`,
        [name, plugin],
      )
      return r.rows.length > 0
    })
  }

  async advanceSlot(name: string, lsn: number, database?: string): Promise<number | null> {
    this.piggyback = undefined
    const conn = database === undefined ? this.sql.params : {...this.sql.params, dbname: database}
    return withClient(conn, {statementTimeoutMs: 0, queryTimeoutMs: 60_000}, `advancing replication slot ${name}`, async (c) => {
      const r = await c.query({text: 'SELECT end_lsn::text FROM pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)', values: [name, formatLsn(lsn)], types: RAW_TYPES}).catch((e: unknown) => {
        // The WAL the slot needs is gone (58P01) or the slot was invalidated (55000): Patroni copies it again.
        const code = (e as {code?: unknown}).code
        if (code === '58P01' || code === '55000') throw new HactlError('PG_PRECONDITION', `replication slot ${name} cannot be advanced: ${(e as Error).message}`)
        throw e
      })
      const v = (r.rows[0] as Record<string, string | null> | undefined)?.end_lsn
      return typeof v === 'string' ? (parseLsn(v) ?? null) : null
    })
  }

  async remoteLogicalSlots(conn: ConnParams, names: string[]): Promise<RemoteSlotState[]> {
    if (names.length === 0) return []
    return withClient(conn, {}, 'reading logical slots on the primary', async (c) => {
      const r = await c.query(
        `SELECT slot_name::text, slot_type, datname::text AS database, plugin::text, confirmed_flush_lsn::text, restart_lsn::text,
          pg_catalog.pg_read_binary_file('pg_replslot/' || slot_name || '/state') AS state
        FROM pg_catalog.pg_get_replication_slots() JOIN pg_catalog.pg_database ON datoid = oid
        WHERE NOT pg_catalog.pg_is_in_recovery() AND slot_name = ANY($1)`,
        [names],
      )
      return r.rows.map((y: Record<string, unknown>) => ({
        slotName: String(y.slot_name),
        slotType: y.slot_type === 'logical' ? ('logical' as const) : ('physical' as const),
        database: String(y.database),
        plugin: (y.plugin as string | null) ?? null,
        confirmedFlushLsn: typeof y.confirmed_flush_lsn === 'string' ? (parseLsn(y.confirmed_flush_lsn) ?? null) : null,
        restartLsn: typeof y.restart_lsn === 'string' ? (parseLsn(y.restart_lsn) ?? null) : null,
        state: y.state as Buffer,
      }))
    })
  }

  async installSlotState(name: string, state: Buffer): Promise<void> {
    if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new HactlError('CONFIG_INVALID', `not a replication slot name: ${name}`)
    const base = join(this.dataDir, 'pg_replslot')
    const dir = join(base, name)
    const tmp = `${dir}.tmp`
    rmSync(tmp, {recursive: true, force: true})
    mkdirSync(tmp, {mode: 0o700})
    this.chown(tmp)
    const file = join(tmp, 'state')
    const fd = openSync(file, 'w', 0o600)
    try {
      writeSync(fd, state)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    this.chown(file)
    fsyncDir(tmp)
    rmSync(dir, {recursive: true, force: true})
    renameSync(tmp, dir)
    fsyncDir(dir)
    fsyncDir(base)
  }

  async createPhysicalSlot(name: string, o: {immediatelyReserve?: boolean} = {}): Promise<boolean> {
    const rows = await this.sql.query(
      `SELECT pg_catalog.pg_create_physical_replication_slot($1, $2)
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`,
      [name, o.immediatelyReserve ?? true],
      `creating replication slot ${name}`,
    )
    return rows.length > 0
  }

  async dropSlot(name: string): Promise<boolean> {
    const rows = await this.sql.query(
      `SELECT pg_catalog.pg_drop_replication_slot($1)
      WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`,
      [name],
      `dropping replication slot ${name}`,
    )
    return rows.length > 0
  }

  async createRoles(setup: RoleSetup): Promise<void> {
    const secrets = [setup.superuser, setup.replication, setup.rewind].map((c) => c?.password).filter((p): p is string => !!p)
    const redact = (e: unknown) => {
      let msg = e instanceof Error ? e.message : String(e)
      for (const s of secrets) msg = msg.split(s).join('******')
      return new HactlError('PG_UNAVAILABLE', msg)
    }
    const role = async (name: string, password: string | undefined, options: string[]) => {
      const opts = [...options, 'LOGIN']
      if (password !== undefined) opts.push('PASSWORD', quoteLiteral(password))
      const sql = `DO $hactl$
BEGIN
    SET local synchronous_commit = 'local';
    PERFORM * FROM pg_catalog.pg_authid WHERE rolname = ${quoteLiteral(name)};
    IF FOUND THEN
        ALTER ROLE ${quoteIdent(name)} WITH ${opts.join(' ')};
    ELSE
        CREATE ROLE ${quoteIdent(name)} WITH ${opts.join(' ')};
    END IF;
END;$hactl$`
      await this.sql.query(sql, undefined, `creating role ${name}`)
    }
    try {
      // Keep the passwords out of the server log, whatever logging the operator configured.
      for (const s of ['SET log_statement TO none', 'SET log_min_duration_statement TO -1', "SET log_min_error_statement TO 'panic'"]) {
        await this.sql.query(s, undefined, 'preparing role setup')
      }
      const su = setup.superuser
      if (su?.username && su.password !== undefined) await role(su.username, su.password, ['SUPERUSER'])
      if (setup.replication?.username) await role(setup.replication.username, setup.replication.password, ['REPLICATION'])
      const rw = setup.rewind
      if (rw?.username && !(su && rw.username === su.username && rw.password === su.password)) {
        await role(rw.username, rw.password, [])
        for (const fn of [
          'pg_ls_dir(text, boolean, boolean)',
          'pg_stat_file(text, boolean)',
          'pg_read_binary_file(text)',
          'pg_read_binary_file(text, bigint, bigint, boolean)',
        ]) {
          await this.sql.query(`GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO ${quoteIdent(rw.username)}`, undefined, 'granting rewind rights')
        }
      }
    } catch (e) {
      throw redact(e)
    } finally {
      for (const s of ['RESET log_min_error_statement', 'RESET log_min_duration_statement', 'RESET log_statement']) {
        await this.sql.query(s).catch(() => {})
      }
    }
  }

  async checkpoint(target?: ConnParams, timeoutMs?: number): Promise<void> {
    const conn = target ?? this.opts.local
    await withClient(conn, {statementTimeoutMs: 0, queryTimeoutMs: timeoutMs, connectTimeoutMs: 3000}, 'CHECKPOINT', async (c) => {
      if (target) {
        const r = await c.query('SELECT pg_catalog.pg_is_in_recovery() AS r')
        if (r.rows[0]?.r) throw new HactlError('PG_PRECONDITION', `CHECKPOINT on ${conn.host}:${conn.port}: the server is in recovery`)
      }
      await c.query('CHECKPOINT')
    })
  }

  async remoteInRecovery(conn: ConnParams): Promise<boolean> {
    return withClient(conn, {}, 'pg_is_in_recovery()', async (c) => {
      const r = await c.query('SELECT pg_catalog.pg_is_in_recovery() AS r')
      return r.rows[0]?.r === true
    })
  }

  async identifySystem(conn: ConnParams): Promise<IdentifySystem> {
    return withClient(conn, {replication: true}, 'IDENTIFY_SYSTEM', async (c) => {
      const r = await c.query({text: 'IDENTIFY_SYSTEM', types: RAW_TYPES})
      const row = r.rows[0] as Record<string, string>
      return {systemId: row.systemid, timeline: Number(row.timeline), xlogpos: parseLsn(row.xlogpos) ?? 0}
    })
  }

  async timelineHistory(conn: ConnParams, timeline: number): Promise<string> {
    if (!Number.isInteger(timeline) || timeline < 2) throw new HactlError('INTERNAL', `no history file exists for timeline ${timeline}`)
    return withClient(conn, {replication: true}, `TIMELINE_HISTORY ${timeline}`, async (c) => {
      const r = await c.query({text: `TIMELINE_HISTORY ${timeline}`, types: RAW_TYPES})
      return String((r.rows[0] as Record<string, string>).content)
    })
  }

  // ---------------------------------------------------------------- clone and rewind

  async removeDataDir(): Promise<void> {
    await this.sql.close()
    let entries: string[] = []
    try {
      entries = readdirSync(this.dataDir)
    } catch {
      // missing: created below
    }
    for (const e of entries) rmSync(join(this.dataDir, e), {recursive: true, force: true})
    this.ensureOwnedDir(this.dataDir)
  }

  /** Writes the password (if any) to a temporary pgpass and returns the env pointing at it. */
  /**
   * The connection's secrets for a libpq tool, never on its command line: the password in a
   * pgpass file (PGPASSFILE) and sslpassword, which no environment variable carries, in a
   * connection service file (PGSERVICEFILE, PGSERVICE) whose values libpq takes for keywords the
   * conninfo leaves out. Both files are 0600, owned by the owner account, removed afterwards.
   */
  private async withPgpass<T>(conn: ConnParams, fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
    if (conn.password === undefined && conn.sslpassword === undefined) return fn({})
    if (conn.sslpassword !== undefined && /[\r\n]/.test(conn.sslpassword)) {
      throw new HactlError('CONFIG_INVALID', 'sslpassword: a line break cannot be passed to libpq tools')
    }
    return this.withSecretDir(async (dir) => {
      const env: Record<string, string> = {}
      if (conn.password !== undefined) {
        env.PGPASSFILE = join(dir, 'pgpass')
        this.writeOwned(env.PGPASSFILE, pgpassLines(conn))
      }
      if (conn.sslpassword !== undefined) {
        env.PGSERVICEFILE = join(dir, 'pg_service.conf')
        env.PGSERVICE = 'hactl'
        this.writeOwned(env.PGSERVICEFILE, `[hactl]\nsslpassword=${conn.sslpassword}\n`)
      }
      return fn(env)
    })
  }

  async basebackup(o: BasebackupOptions): Promise<CommandOutput> {
    const user = toolArguments('postgresql.basebackup', o.options, BASEBACKUP_FORBIDDEN)
    const st = await this.state()
    if (st.kind !== 'stopped') throw new HactlError('PG_PRECONDITION', 'pg_basebackup needs PostgreSQL stopped')
    await this.removeDataDir()
    const dsn = formatConninfo({dbname: 'postgres', ...o.source}, {omit: ['password', 'passfile', 'sslpassword']})
    return this.withPgpass(o.source, async (env) => {
      const r = await this.runTool('pg_basebackup', [`--pgdata=${this.dataDir}`, '-X', 'stream', `--dbname=${dsn}`, ...user], {
        env,
        timeoutMs: o.timeoutMs,
        signal: o.signal,
      })
      return {stdout: r.stdout, stderr: r.stderr}
    })
  }

  async rewind(o: RewindOptions): Promise<CommandOutput> {
    const st = await this.state()
    if (st.kind !== 'stopped') throw new HactlError('PG_PRECONDITION', 'pg_rewind needs PostgreSQL stopped')
    const cd = await this.controldata()
    if (!cd) throw new HactlError('PG_PRECONDITION', `pg_rewind: ${this.dataDir} has no pg_control`)
    if (!cd.walLogHints && !cd.dataChecksums) {
      throw new HactlError('PG_PRECONDITION', 'pg_rewind needs wal_log_hints=on or data checksums, pg_control shows neither', {
        hints: ['the node has to be reinitialized (hactl reinit)'],
      })
    }
    if (cd.clusterState !== 'shut down' && cd.clusterState !== 'shut down in recovery') {
      throw new HactlError('PG_PRECONDITION', `pg_rewind needs a cleanly stopped target, pg_control says "${cd.clusterState}"`, {
        hints: ['run crash recovery (single-user mode) first'],
      })
    }
    const source: ConnParams = {dbname: 'postgres', target_session_attrs: 'read-write', ...o.source}
    if (o.checkSourceCheckpoint ?? true) {
      const ok = await withClient(source, {}, 'checking the checkpoint after promote', async (c) => {
        const r = await c.query(
          `SELECT NOT pg_catalog.pg_is_in_recovery()
            AND ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int = timeline_id AS ok
          FROM pg_catalog.pg_control_checkpoint()`,
        )
        return r.rows[0]?.ok === true
      })
      if (!ok) {
        throw new HactlError('PG_PRECONDITION', `pg_rewind: the source ${source.host}:${source.port} has not run a checkpoint since its promotion`, {
          recoverable: true,
        })
      }
    }
    const args: string[] = []
    if (o.restoreTargetWal) {
      args.push('--restore-target-wal')
      if (this.configDir !== this.dataDir) args.push(`--config-file=${this.postgresqlConf}`)
    }
    const dsn = formatConninfo(source, {omit: ['password', 'passfile', 'sslpassword']})
    args.push('-D', this.dataDir, '--source-server', dsn)
    this.opts.logger?.info(`running pg_rewind from ${dsn}`)
    return this.withPgpass(source, async (env) => {
      const r = await this.runTool('pg_rewind', args, {
        env: {...env, LANG: 'C', LC_ALL: 'C', PGOPTIONS: '-c statement_timeout=0'},
        timeoutMs: o.timeoutMs,
        signal: o.signal,
      })
      return {stdout: r.stdout, stderr: r.stderr}
    })
  }

  private async localPosition(replication: ConnParams): Promise<LocalPosition | string> {
    const st = await this.state()
    if (st.kind === 'unknown') return st.reason
    if (st.kind === 'running') {
      const s = await this.status()
      if (!s.inRecovery) return 'local PostgreSQL runs as a primary'
      let timeline = s.walReceiver?.receivedTimeline ?? undefined
      if (!timeline) timeline = (await this.identifySystem(this.opts.localReplication ?? replication)).timeline
      return {inRecovery: true, timeline, lsn: s.replayedLsn ?? 0}
    }
    const cd = await this.controldata()
    if (!cd) return 'no pg_control'
    return localPositionFromControldata(cd) ?? `pg_control says "${cd.clusterState}": crash recovery needed first`
  }

  async checkRewind(source: ConnParams, replication: ConnParams): Promise<RewindCheck> {
    let local: LocalPosition | string
    try {
      local = await this.localPosition({...this.opts.local, ...replication, host: this.opts.local.host, port: this.opts.local.port})
    } catch (e) {
      return {result: 'undecided', reason: `local position unknown: ${(e as Error).message}`}
    }
    if (typeof local === 'string') return {result: 'undecided', reason: local}
    try {
      if (await this.remoteInRecovery({dbname: 'postgres', ...source})) return {result: 'undecided', reason: 'the source is in recovery'}
      const repl: ConnParams = {...replication, host: source.host, port: source.port}
      const sourceTimeline = (await this.identifySystem(repl)).timeline
      const history = local.timeline < sourceTimeline && sourceTimeline > 1 ? parseTimelineHistory(await this.timelineHistory(repl, sourceTimeline)) : undefined
      let d = rewindDecision(local, sourceTimeline, history)
      if (d.need === 'checkpoint-end-required') {
        const end = await this.checkpointEnd(local.timeline, local.lsn)
        d = rewindDecision(local, sourceTimeline, history, end ?? -1)
      }
      const need = d.need as boolean
      const reason = 'reason' in d ? d.reason : ''
      return need ? {result: 'need-rewind', reason, local, sourceTimeline} : {result: 'not-needed', reason, local, sourceTimeline}
    } catch (e) {
      return {result: 'undecided', reason: `source not usable: ${(e as Error).message}`}
    }
  }

  /** End of the checkpoint record at `lsn` (pg_waldump reads two records and fails on the second). */
  private async checkpointEnd(timeline: number, lsn: number): Promise<number | undefined> {
    const text = formatLsn(lsn)
    const r = await this.runTool('pg_waldump', ['-p', join(this.dataDir, 'pg_wal'), '-t', String(timeline), '-s', text, '-n', '2'], {
      env: {LANG: 'C', LC_ALL: 'C'},
      allowFailure: true,
      timeoutMs: 10_000,
    })
    return checkpointEndFromWaldump(r.stdout, r.stderr, text)
  }

  async recoverySignalPresent(): Promise<boolean> {
    return ['standby.signal', 'recovery.signal', 'recovery.conf'].some((f) => existsSync(join(this.dataDir, f)))
  }

  async localTimelineHistory(timeline: number): Promise<{text: string; mtimeMs: number} | undefined> {
    const path = join(this.dataDir, 'pg_wal', `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`)
    try {
      return {text: readFileSync(path, 'utf8'), mtimeMs: statSync(path).mtimeMs}
    } catch {
      return undefined
    }
  }

  async readDynamicCache(): Promise<unknown> {
    try {
      return JSON.parse(readFileSync(join(this.dataDir, 'patroni.dynamic.json'), 'utf8'))
    } catch {
      return undefined
    }
  }

  async writeDynamicCache(value: Record<string, unknown>): Promise<void> {
    const path = join(this.dataDir, 'patroni.dynamic.json')
    const tmp = `${path}.tmp`
    this.writeOwned(tmp, JSON.stringify(value, null, 2))
    renameSync(tmp, path)
  }

  async moveDataDirAside(suffix: string): Promise<string> {
    const aside = `${this.dataDir}_${suffix}`
    if (existsSync(this.dataDir)) renameSync(this.dataDir, aside)
    return aside
  }

  async close(): Promise<void> {
    await this.sql.close()
  }
}
