import {pathToFileURL} from 'node:url'
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {createWriteStream, existsSync, readdirSync, readFileSync, rmSync, type WriteStream} from 'node:fs'
import {request} from 'node:http'
import {join, resolve} from 'node:path'
import {stringify} from 'yaml'
import {b64, unb64, type EtcdServer} from './etcd'
import {freePort, startTimeOf as startTime, waitFor} from './ports'
import {
  PG_BIN_DIR,
  asUser,
  ownedDir,
  pidAlive,
  postmasterPid,
  runCommand,
  signalPostmaster,
  writeOwnedFile,
  type CommandResult,
} from './postgres-bin'
import {ownedTempDir} from './unprivileged'

/** Debian's Patroni 3.0.2: the real peer that hactl must interoperate with. */
export const PATRONI_BIN = process.env.HACTL_TEST_PATRONI ?? '/usr/bin/patroni'

/** Which agent runs a member: Debian's Python Patroni, or hactl (the same YAML, the same protocols). */
export type AgentImpl = 'patroni' | 'hactl'
const REPO = join(import.meta.dirname, '..', '..')
/**
 * How a hactl member is started: the built executable when HACTL_TEST_BIN names it (CI's e2e runs
 * set it to dist/hactl), otherwise the sources through tsx, so a stale build can't be tested by mistake.
 */
export function hactlCommand(configPath: string, exe?: string): [string, string[]] {
  const bin = exe ?? process.env.HACTL_TEST_BIN
  // Resolved against the runner's directory: members run with their own working directory.
  if (bin) return [resolve(bin), ['agent', configPath]]
  // tsx by path: `--import tsx` would be resolved from the member's own directory.
  const tsx = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
  return [join(REPO, 'node_modules', '.bin', 'node'), ['--import', tsx, join(REPO, 'src', 'cli.ts'), 'agent', configPath]]
}
export const PATRONICTL_BIN = process.env.HACTL_TEST_PATRONICTL ?? '/usr/bin/patronictl'

/**
 * Which Patroni runs the `patroni` members and which patronictl a cluster's patronictl() runs:
 * 3 = Debian 12's 3.0.2 (/usr/bin), 4 = Debian 13's 4.0.x that scripts/patroni4.sh unpacks under
 * /opt/hactl-test/patroni-4 (HACTL_TEST_PATRONI4_DIR).
 */
export type PatroniGeneration = 3 | 4
export const PATRONI4_DIR = process.env.HACTL_TEST_PATRONI4_DIR ?? '/opt/hactl-test/patroni-4'

const versions = new Map<string, string>()
/**
 * The executables of one generation, checked once per process: a missing or wrong Patroni fails
 * the test run with what to do (never a silent skip).
 */
export function patroniBins(gen: PatroniGeneration): {patroni: string; patronictl: string; version: string} {
  const patroni = gen === 4 ? join(PATRONI4_DIR, 'bin', 'patroni') : PATRONI_BIN
  const patronictl = gen === 4 ? join(PATRONI4_DIR, 'bin', 'patronictl') : PATRONICTL_BIN
  let version = versions.get(patroni)
  if (version === undefined) {
    const fix = gen === 4 ? 'run scripts/setup.sh (scripts/patroni4.sh) as root' : 'run scripts/setup.sh (apt-get install patroni)'
    if (!existsSync(patroni) || !existsSync(patronictl)) throw new Error(`Patroni ${gen} is missing (${patroni}, ${patronictl}): ${fix}`)
    let out: string
    try {
      out = execFileSync(patroni, ['--version'], {encoding: 'utf8', timeout: 30_000}).trim()
    } catch (e) {
      throw new Error(`${patroni} --version failed: ${(e as Error).message}; ${fix}`)
    }
    const m = /^patroni (\d+)\.(\d+)\.(\d+)$/.exec(out)
    if (!m || Number(m[1]) !== gen) throw new Error(`${patroni} --version says ${JSON.stringify(out)}, expected Patroni ${gen}.x; ${fix}`)
    version = `${m[1]}.${m[2]}.${m[3]}`
    versions.set(patroni, version)
  }
  return {patroni, patronictl, version}
}

/** A primary's role word on GET /patroni and in member keys: `master` up to 3.x, `primary` from 4. */
export function isPrimaryRole(role: unknown): boolean {
  return role === 'master' || role === 'primary'
}

/**
 * Throwaway credentials of the test clusters. They are not secret, but fixtures and logs are still
 * checked for them so that a leak of real secrets through the same path would be noticed.
 */
export const PATRONI_TEST_AUTH = {
  superuser: {username: 'postgres', password: 'hactl-test-superuser-pw'},
  replication: {username: 'replicator', password: 'hactl-test-replication-pw'},
  rewind: {username: 'rewinder', password: 'hactl-test-rewind-pw'},
} as const

export interface PatroniClusterOptions {
  etcd: EtcdServer
  /** Cluster name; a random one by default so clusters can share one etcd. */
  scope?: string
  /** DCS namespace; Patroni's default is /service/. */
  namespace?: string
  nodes?: number
  /** Patroni generation of the `patroni` members and of patronictl(); default 3 (Debian 12's 3.0.2). */
  generation?: PatroniGeneration
  /**
   * Agent per member: one for all, or by member name (a mixed cluster). Default patroni. hactl
   * raises ttl < 20 to 20 (Patroni >= 3.1 does too), so clusters with a hactl member default to
   * ttl 20: what every member then runs with.
   */
  impl?: AgentImpl | Record<string, AgentImpl>
  /** Member names are <namePrefix><n>, n from 1. */
  namePrefix?: string
  /**
   * Patroni 3.0.2 does not validate or adjust these (that came in 3.1/3.2, which force ttl >= 20,
   * loop_wait >= 1, retry_timeout >= 3); the defaults keep failovers quick yet stable on a busy
   * 2-core machine: loop_wait + 2 * retry_timeout <= ttl, as Patroni's docs advise.
   */
  ttl?: number
  loopWait?: number
  retryTimeout?: number
  /** Extra dynamic (bootstrap.dcs) settings, merged over the defaults. */
  dcs?: Record<string, unknown>
  /** Extra local postgresql.parameters. */
  parameters?: Record<string, string | number | boolean>
  /** Per-member tags, keyed by member name. */
  tags?: Record<string, Record<string, unknown>>
  /** Per-member etcd endpoint (host:port), e.g. a proxy the test can cut; default the etcd itself. */
  etcdHosts?: Record<string, string>
  /** Per-member extra keys of the local `postgresql` section (e.g. create_replica_methods), by member name. */
  postgresql?: Record<string, Record<string, unknown>>
  /** Basic auth for the REST API's unsafe methods; patronictl 3.0.2 reuses it from restapi. */
  restApiAuth?: {username: string; password: string}
  /** Per-member extra top-level keys of the local config (e.g. watchdog), by member name. */
  local?: Record<string, Record<string, unknown>>
  /** Members that are not started with the others (startNode starts them); not waited for. */
  hold?: string[]
  /** Extra environment of every member's agent. */
  agentEnv?: Record<string, string>
  /** The hactl executable of the hactl members (default: hactlCommand's choice); PatroniNode.hactlBin changes it per member. */
  hactlBin?: string
  /** Wait for a leader and nodes-1 streaming replicas before returning (default true). */
  wait?: boolean
  startTimeoutMs?: number
}

export interface HttpResult {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The body parsed as JSON, when it is JSON. */
  json?: any
}

/** The raw etcd v3 view of one key, with int64 fields as the gateway sends them (strings). */
export interface DcsEntry {
  key: string
  value: string
  create_revision: string
  mod_revision: string
  version: string
  lease: string
}

const LOG_TAIL = 256 * 1024

/** One Patroni member: its ports, files and (when running) its patroni process. */
export class PatroniNode {
  proc?: ChildProcess
  /** Children of a patroni we SIGKILLed (pg_basebackup, ...), as pid + start time to spot PID reuse. */
  readonly orphans: Array<{pid: number; start: string}> = []
  private logTail = ''
  private logFile?: WriteStream
  /** Extra environment of the agent, from the next spawn on. */
  env: Record<string, string> = {}
  /** The hactl executable of the next spawn (default: hactlCommand's choice). */
  hactlBin?: string

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly apiPort: number,
    readonly pgPort: number,
    public impl: AgentImpl = 'patroni',
    readonly patroniBin: string = PATRONI_BIN,
  ) {}

  get configPath(): string {
    return join(this.dir, 'patroni.yml')
  }
  get dataDir(): string {
    return join(this.dir, 'data')
  }
  get socketDir(): string {
    return join(this.dir, 'sock')
  }
  get logPath(): string {
    return join(this.dir, 'patroni.log')
  }
  /** Base URL of the REST API, e.g. http://127.0.0.1:40123 */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`
  }
  /** libpq URL as the superuser (test password included: only for test code, never printed). */
  get pgUrl(): string {
    const su = PATRONI_TEST_AUTH.superuser
    return `postgres://${su.username}:${su.password}@127.0.0.1:${this.pgPort}/postgres`
  }
  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined
  }
  get running(): boolean {
    const p = this.proc
    return !!p && p.exitCode === null && p.signalCode === null
  }
  get postmasterPid(): number | undefined {
    const pid = postmasterPid(this.dataDir)
    return pid !== undefined && pidAlive(pid) ? pid : undefined
  }
  /** The last LOG_TAIL characters of patroni's (and its postmaster's) output. */
  get log(): string {
    return this.logTail
  }
  /** The whole log file (the in-memory tail may have been cut); empty before the first start. */
  get fullLog(): string {
    try {
      return readFileSync(this.logPath, 'utf8')
    } catch {
      return ''
    }
  }

  /** @internal */
  spawn(home: string): void {
    if (this.running) throw new Error(`patroni ${this.name} is already running (pid ${this.proc?.pid})`)
    this.logFile ??= createWriteStream(this.logPath, {flags: 'a'})
    const [cmd, args] = this.impl === 'hactl' ? hactlCommand(this.configPath, this.hactlBin) : [this.patroniBin, [this.configPath]]
    const proc = spawn(cmd, args, {
      ...asUser(home, {PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH}`, ...this.env}),
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.proc = proc
    const keep = (b: Buffer) => {
      this.logTail = (this.logTail + b.toString()).slice(-LOG_TAIL)
      this.logFile?.write(b)
    }
    proc.stdout!.on('data', keep)
    proc.stderr!.on('data', keep)
    proc.on('error', (e) => keep(Buffer.from(`[harness] spawn ${this.impl === 'hactl' ? 'hactl' : this.patroniBin} failed: ${e.message}\n`)))
    proc.on('exit', (code, signal) => keep(Buffer.from(`[harness] patroni ${this.name} exited: code=${code} signal=${signal}\n`)))
  }

  /** Signals patroni and waits for it to exit. */
  async signal(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const p = this.proc
    if (!p || !this.running) return
    if (signal === 'SIGKILL') {
      for (const pid of this.descendants()) {
        const start = startTime(pid)
        if (start) this.orphans.push({pid, start})
      }
    }
    const exited = new Promise<void>((r) => p.once('exit', () => r()))
    p.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`patroni ${this.name} (pid ${p.pid}) did not exit within ${timeoutMs} ms after ${signal}`)), timeoutMs)
    })
    try {
      await Promise.race([exited, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * PIDs of the processes patroni forked that are still its descendants (pg_basebackup,
   * pg_rewind, pg_ctl, ...). The postmaster is not among them: Patroni detaches it with setsid and
   * its launcher exits, so it is found through postmaster.pid instead.
   */
  descendants(): number[] {
    const root = this.pid
    if (root === undefined) return []
    const parentOf = new Map<number, number>()
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        parentOf.set(Number(entry), ppid)
      } catch {
        // the process ended while we scanned
      }
    }
    const out: number[] = []
    const mine = new Set([root])
    let grew = true
    while (grew) {
      grew = false
      for (const [pid, ppid] of parentOf) {
        if (!mine.has(pid) && mine.has(ppid)) {
          mine.add(pid)
          out.push(pid)
          grew = true
        }
      }
    }
    return out
  }

  /** @internal */
  closeLog(): void {
    this.proc?.stdout?.destroy()
    this.proc?.stderr?.destroy()
    this.logFile?.end()
    this.logFile = undefined
  }

  /** Any HTTP request to this node's REST API. */
  api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<HttpResult> {
    return httpRequest(method, `${this.apiUrl}${path}`, body, headers, timeoutMs)
  }

  /** GET /patroni parsed, or undefined when the API does not answer with JSON. */
  async status(): Promise<any | undefined> {
    try {
      const r = await this.api('GET', '/patroni', undefined, {}, 2000)
      return r.json
    } catch {
      return undefined
    }
  }
}

const liveClusters = new Set<PatroniCluster>()
let exitHookInstalled = false

/**
 * A real Patroni 3.0.2 cluster on 127.0.0.1 against a real etcd (v3 API), for interop tests and
 * fixture capture. Every process it starts is tracked by PID and stopped by destroy().
 */
export class PatroniCluster {
  /** One psql query over the member's socket as the superuser (peer/trust auth); its trimmed output. */
  async psql(n: PatroniNode, query: string): Promise<string> {
    const r = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', n.socketDir, '-p', String(n.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', query], {
      ...asUser(this.home),
      timeoutMs: 15_000,
    })
    if (r.code !== 0) throw new Error(`psql on ${n.name} failed: ${r.stderr}`)
    return r.stdout.trim()
  }

  /** Runs `fn`; a failure carries every member's log tail. */
  async withLogs<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logTails()}`, {cause: e})
    }
  }

  readonly nodes: PatroniNode[] = []
  readonly ttl: number
  readonly loopWait: number
  readonly retryTimeout: number
  readonly scope: string
  readonly namespace: string
  readonly generation: PatroniGeneration
  private destroyed = false

  private constructor(
    readonly etcd: EtcdServer,
    readonly root: string,
    private readonly opts: PatroniClusterOptions,
  ) {
    this.scope = opts.scope ?? `hactl-${Math.random().toString(36).slice(2, 8)}`
    this.namespace = opts.namespace ?? '/service/'
    this.generation = opts.generation ?? 3
    // Patroni >= 3.1 raises ttl < 20 to 20, and so does hactl.
    this.ttl = opts.ttl ?? (usesHactl(opts) || this.generation >= 4 ? 20 : 10)
    this.loopWait = opts.loopWait ?? 2
    this.retryTimeout = opts.retryTimeout ?? 4
  }

  /** Etcd key prefix of this cluster, e.g. /service/demo/ */
  get prefix(): string {
    const ns = this.namespace.replace(/^\/+|\/+$/g, '')
    return `/${ns}/${this.scope}/`
  }

  /** HOME of every process the harness runs as the unprivileged account. */
  get home(): string {
    return join(this.root, 'home')
  }

  /** patroni and patronictl of this cluster's generation, checked. */
  get bins(): {patroni: string; patronictl: string; version: string} {
    return patroniBins(this.generation)
  }

  static async start(opts: PatroniClusterOptions): Promise<PatroniCluster> {
    const bins = patroniBins(opts.generation ?? 3)
    const c = new PatroniCluster(opts.etcd, ownedTempDir('hactl-patroni-'), opts)
    liveClusters.add(c)
    installExitHook()
    try {
      ownedDir(c.home)
      const count = opts.nodes ?? 3
      const prefix = opts.namePrefix ?? 'pg'
      const taken = new Set<number>()
      const port = async () => {
        // freePort() closes its probe socket, so two calls may hand out the same port.
        for (;;) {
          const p = await freePort()
          if (!taken.has(p) && p !== opts.etcd.clientPort && p !== opts.etcd.peerPort) {
            taken.add(p)
            return p
          }
        }
      }
      for (let i = 1; i <= count; i++) {
        const name = `${prefix}${i}`
        const impl = typeof opts.impl === 'object' ? (opts.impl[name] ?? 'patroni') : (opts.impl ?? 'patroni')
        const node = new PatroniNode(name, ownedDir(join(c.root, name)), await port(), await port(), impl, bins.patroni)
        node.env = {...opts.agentEnv}
        node.hactlBin = opts.hactlBin
        ownedDir(node.socketDir)
        writeOwnedFile(node.configPath, stringify(c.config(node)))
        c.nodes.push(node)
      }
      const held = new Set(opts.hold ?? [])
      for (const n of c.nodes) if (!held.has(n.name)) n.spawn(c.home)
      if (opts.wait ?? true) {
        const timeoutMs = opts.startTimeoutMs ?? 90_000
        await c.waitForLeader({timeoutMs})
        await c.waitForReplicasStreaming(count - 1 - held.size, {timeoutMs})
      }
      return c
    } catch (e) {
      const logs = c.logTails()
      await c.destroy()
      throw appendLogs(e, logs)
    }
  }

  /** The patroni.yml of one member, as an object (what gets written to node.configPath). */
  config(node: PatroniNode): Record<string, unknown> {
    const auth = this.opts.restApiAuth
    const restapi: Record<string, unknown> = {
      listen: `127.0.0.1:${node.apiPort}`,
      connect_address: `127.0.0.1:${node.apiPort}`,
    }
    if (auth) restapi.authentication = {username: auth.username, password: auth.password}
    const cfg: Record<string, unknown> = {
      scope: this.scope,
      namespace: this.namespace,
      name: node.name,
      // HACTL_TEST_LOG_LEVEL=DEBUG for a post-mortem (with HACTL_KEEP_TEST_DIRS=1).
      log: {level: process.env.HACTL_TEST_LOG_LEVEL ?? 'INFO'},
      restapi,
      etcd3: {hosts: [this.opts.etcdHosts?.[node.name] ?? this.etcd.endpoint]},
      bootstrap: {
        dcs: {
          ttl: this.ttl,
          loop_wait: this.loopWait,
          retry_timeout: this.retryTimeout,
          maximum_lag_on_failover: 1048576,
          postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            parameters: {
              wal_level: 'replica',
              hot_standby: 'on',
              wal_log_hints: 'on',
              max_connections: 40,
              max_wal_senders: 10,
              max_replication_slots: 10,
              wal_keep_size: '64MB',
            },
          },
          ...this.opts.dcs,
        },
        initdb: [{encoding: 'UTF8'}, 'data-checksums'],
      },
      postgresql: {
        listen: `127.0.0.1:${node.pgPort}`,
        connect_address: `127.0.0.1:${node.pgPort}`,
        data_dir: node.dataDir,
        bin_dir: PG_BIN_DIR,
        pgpass: join(node.dir, 'pgpass'),
        authentication: {
          superuser: {...PATRONI_TEST_AUTH.superuser},
          replication: {...PATRONI_TEST_AUTH.replication},
          rewind: {...PATRONI_TEST_AUTH.rewind},
        },
        parameters: {
          // /var/run/postgresql may be missing or not ours in CI.
          unix_socket_directories: node.socketDir,
          shared_buffers: '16MB',
          ...this.opts.parameters,
        },
        pg_hba: [
          'local all all trust',
          'host replication all 127.0.0.1/32 scram-sha-256',
          'host all all 127.0.0.1/32 scram-sha-256',
        ],
      },
    }
    const tags = this.opts.tags?.[node.name]
    if (tags) cfg.tags = tags
    const extra = this.opts.postgresql?.[node.name]
    if (extra) Object.assign(cfg.postgresql as Record<string, unknown>, extra)
    const local = this.opts.local?.[node.name]
    if (local) Object.assign(cfg, local)
    // patronictl 3.0.2 takes its REST credentials from restapi.authentication of the same file
    // (ctl.authentication only arrived in 3.1), so nothing more is needed for it.
    return cfg
  }

  node(name: string): PatroniNode {
    const n = this.nodes.find((x) => x.name === name)
    if (!n) throw new Error(`no Patroni member named ${JSON.stringify(name)} (members: ${this.nodes.map((x) => x.name).join(', ')})`)
    return n
  }

  /** The leader key's value in etcd right now (no waiting), or undefined. */
  async leaderName(): Promise<string | undefined> {
    return this.etcd.get(`${this.prefix}leader`)
  }

  /**
   * Waits until the leader key names a member whose own REST API reports a running primary
   * holding the lock. `not` skips a given member, e.g. the one just stopped.
   */
  async waitForLeader({timeoutMs = 60_000, not}: {timeoutMs?: number; not?: string} = {}): Promise<string> {
    return this.waitWithLogs(`a Patroni leader in ${this.scope}${not ? ` other than ${not}` : ''}`, async () => {
      const name = await this.leaderName()
      if (!name || name === not) return undefined
      const node = this.nodes.find((n) => n.name === name)
      const s = await node?.status()
      return s && isPrimaryRole(s.role) && s.state === 'running' && !s.cluster_unlocked ? name : undefined
    }, timeoutMs)
  }

  /**
   * Waits until `n` members are replicas that stream from the leader. Patroni 3.0.2 does not
   * report replication_state, so "streaming" is read from the leader's own `replication` list
   * (pg_stat_replication through GET /patroni), matched by application_name = member name; the
   * replica's REST status and its member key in etcd must both say running replica.
   */
  async waitForReplicasStreaming(n: number, {timeoutMs = 60_000}: {timeoutMs?: number} = {}): Promise<string[]> {
    return this.waitWithLogs(`${n} streaming replica(s) in ${this.scope}`, async () => {
      const names = await this.streamingReplicas()
      return names.length >= n ? names : undefined
    }, timeoutMs)
  }

  /** Names of members that currently stream from the leader and report themselves as running replicas. */
  async streamingReplicas(): Promise<string[]> {
    const leader = await this.leaderName()
    const ls = leader ? await this.nodes.find((x) => x.name === leader)?.status() : undefined
    if (!ls || !isPrimaryRole(ls.role)) return []
    const streaming = new Set<string>(
      (ls.replication ?? []).filter((r: any) => r.state === 'streaming').map((r: any) => r.application_name),
    )
    // patronictl and peers read the member keys, not the REST API: count a replica only once its
    // own key in etcd says so too, or a following `patronictl list` could still show it starting.
    const dcs = await this.etcd.dump(`${this.prefix}members/`)
    const out: string[] = []
    for (const node of this.nodes) {
      if (node.name === leader || !streaming.has(node.name)) continue
      const m = parseJson(dcs[`${this.prefix}members/${node.name}`])
      if (m?.role !== 'replica' || m.state !== 'running' || typeof m.xlog_location !== 'number') continue
      const s = await node.status()
      if (s?.role === 'replica' && s.state === 'running') out.push(node.name)
    }
    return out
  }

  /**
   * Stops one member's patroni: SIGTERM is Patroni's graceful shutdown (stops PostgreSQL and, on
   * the leader, deletes the leader key); SIGKILL leaves PostgreSQL running. `killPostmaster`
   * also kills the postmaster found in postmaster.pid (SIGKILL unless `postmasterSignal`).
   */
  async stopNode(
    name: string,
    {signal = 'SIGTERM', killPostmaster = false, postmasterSignal = 'SIGKILL', timeoutMs = 60_000}: {
      signal?: NodeJS.Signals
      killPostmaster?: boolean
      postmasterSignal?: NodeJS.Signals
      timeoutMs?: number
    } = {},
  ): Promise<void> {
    const node = this.node(name)
    try {
      await node.signal(signal, timeoutMs)
      if (killPostmaster) await this.stopPostmaster(node, postmasterSignal, timeoutMs)
    } catch (e) {
      throw appendLogs(e, this.logTails([node]))
    }
  }

  /** Starts a stopped member's patroni again, with the same config, ports and data dir. */
  async startNode(name: string): Promise<PatroniNode> {
    const node = this.node(name)
    node.spawn(this.home)
    return node
  }

  /**
   * Starts a stopped member again under another agent (same config, ports and data dir), as in a
   * node-by-node migration from Patroni to hactl.
   */
  async startNodeAs(name: string, impl: AgentImpl): Promise<PatroniNode> {
    const node = this.node(name)
    if (node.running) throw new Error(`${name} still runs its ${node.impl} agent: stop it first`)
    node.impl = impl
    node.spawn(this.home)
    return node
  }

  /** Waits until a member's REST API answers GET /patroni with the given PostgreSQL state. */
  async waitForNodeState(name: string, state = 'running', {timeoutMs = 60_000}: {timeoutMs?: number} = {}): Promise<any> {
    const node = this.node(name)
    return this.waitWithLogs(`${name} to report state ${state}`, async () => {
      const s = await node.status()
      return s?.state === state ? s : undefined
    }, timeoutMs)
  }

  /**
   * Runs the real patronictl with `-c <member's patroni.yml>` as the unprivileged account, with no
   * TTY (stdin is a pipe carrying `input`, e.g. answers to prompts). Never throws on a non-zero exit.
   */
  async patronictl(
    args: string[],
    {node, input, timeoutMs = 60_000, env = {}}: {node?: string; input?: string; timeoutMs?: number; env?: Record<string, string>} = {},
  ): Promise<CommandResult> {
    const n = node ? this.node(node) : this.nodes[0]!
    return runCommand(this.bins.patronictl, ['-c', n.configPath, ...args], {
      ...asUser(this.home, {EDITOR: 'false', PAGER: 'cat', ...env}),
      cwd: this.home,
      input,
      timeoutMs,
    })
  }

  /** Every key under the cluster prefix with value, revisions and lease, sorted by key. */
  async dcsEntries(): Promise<DcsEntry[]> {
    const r = await this.etcd.call('/kv/range', {key: b64(this.prefix), range_end: b64(prefixEnd(this.prefix))})
    return (r.kvs ?? [])
      .map((kv: any) => ({
        key: unb64(kv.key),
        value: unb64(kv.value ?? ''),
        create_revision: String(kv.create_revision ?? '0'),
        mod_revision: String(kv.mod_revision ?? '0'),
        version: String(kv.version ?? '0'),
        lease: String(kv.lease ?? '0'),
      }))
      .sort((a: DcsEntry, b: DcsEntry) => a.key.localeCompare(b.key))
  }

  /** Recent output of each member, for failure messages. */
  logTails(nodes: PatroniNode[] = this.nodes, chars = 4000): string {
    return nodes
      .map((n) => `----- ${n.name} (${n.logPath}) -----\n${n.log.slice(-chars)}`)
      .join('\n')
  }

  /**
   * Stops everything this cluster started, by PID: each patroni (SIGKILL, so it cannot restart
   * PostgreSQL behind our back) and its remaining descendants, then each postmaster named in
   * postmaster.pid (SIGQUIT = immediate shutdown, which also ends its backends; SIGKILL if it
   * lingers). Then removes the temp dirs. Safe to call twice.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    const errors: string[] = []
    for (const node of this.nodes) {
      try {
        await node.signal('SIGKILL', 10_000)
        for (const {pid, start} of node.orphans) if (startTime(pid) === start) killQuietly(pid, 'SIGKILL')
        await this.stopPostmaster(node, 'SIGQUIT', 15_000).catch(() => this.stopPostmaster(node, 'SIGKILL', 10_000))
      } catch (e) {
        errors.push(`${node.name}: ${(e as Error).message}`)
      } finally {
        node.closeLog()
      }
    }
    liveClusters.delete(this)
    // HACTL_KEEP_TEST_DIRS=1 keeps data dirs and patroni.log files for a post-mortem.
    if (!process.env.HACTL_KEEP_TEST_DIRS) rmSync(this.root, {recursive: true, force: true})
    if (errors.length) throw new Error(`PatroniCluster.destroy: ${errors.join('; ')}`)
  }

  private async stopPostmaster(node: PatroniNode, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const pid = signalPostmaster(node.dataDir, signal)
    if (pid === undefined) return
    await waitFor(`postmaster ${pid} of ${node.name} to exit after ${signal}`, () => !pidAlive(pid), {timeoutMs})
  }

  private async waitWithLogs<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    try {
      return await waitFor(what, check, {timeoutMs, intervalMs: 200})
    } catch (e) {
      throw appendLogs(e, this.logTails())
    }
  }
}

function parseJson(text: string | undefined): any {
  try {
    return text === undefined ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

function appendLogs(e: unknown, logs: string): Error {
  const err = e instanceof Error ? e : new Error(String(e))
  err.message = `${err.message}\n${logs}`
  return err
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/**
 * If the test process dies without destroy() (a crash, an uncaught error), do not leave Patroni
 * and PostgreSQL running: kill what we started, synchronously, by PID.
 */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const c of liveClusters) {
      for (const n of c.nodes) {
        const pid = n.pid
        if (pid !== undefined) killQuietly(pid, 'SIGKILL')
        signalPostmaster(n.dataDir, 'SIGQUIT')
      }
    }
  })
}

function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8')
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++
      return b.subarray(0, i + 1).toString('latin1')
    }
  }
  return '\0'
}

/** A small HTTP client: no keep-alive, so no sockets outlive a test. */
export function httpRequest(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    const h: Record<string, string> = {connection: 'close', ...headers}
    if (data !== undefined) {
      h['content-type'] ??= 'application/json'
      h['content-length'] = String(Buffer.byteLength(data))
    }
    const req = request(url, {method, headers: h, timeout: timeoutMs}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => {
        let json: any
        try {
          json = text ? JSON.parse(text) : undefined
        } catch {
          json = undefined
        }
        resolve({status: res.statusCode ?? 0, headers: res.headers, body: text, json})
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(data)
  })
}

function usesHactl(opts: PatroniClusterOptions): boolean {
  const impl = opts.impl
  return impl === 'hactl' || (typeof impl === 'object' && Object.values(impl).includes('hactl'))
}
