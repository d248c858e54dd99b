/**
 * The chaos lab: real processes on a throwaway L2 network of network namespaces (needs root and
 * CAP_NET_ADMIN), every name prefixed with a per-run id so that runs never meet:
 *
 *   hc<id>-br      bridge br0, the switch every host's veth plugs into
 *   hc<id>-h1..3   a database host: eth0 10.250.0.11..13, the agent (hactl or Patroni, as the
 *                  unprivileged account), its PostgreSQL 15, and a helper (sampler + etcd proxies)
 *   hc<id>-e1..3   an etcd member: eth0 10.250.0.21..23 (a 3-member etcd cluster)
 *   hc<id>-c       the client: eth0 10.250.0.100, HAProxy rendered by `hactl haproxy render`
 *                  and the writer (helper in client mode)
 *
 * Partitions are real: a link set down, or blackhole routes inside the namespaces (the kernel of
 * this container has neither netfilter tools nor tc actions, so routes are the filter: a blackhole
 * route to a peer drops what goes there, in one namespace only = one direction). Nothing outside
 * the namespaces is touched; destroy() (and an exit hook) kills every process we started, by PID,
 * and deletes the namespaces, which deletes their veths.
 */
import {execFile, execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, copyFileSync, createWriteStream, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, type WriteStream} from 'node:fs'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {createInterface} from 'node:readline'
import {promisify} from 'node:util'
import {stringify} from 'yaml'
import {PATRONI_TEST_AUTH, patroniBins, hactlCommand} from '../harness/patroni'
import {PG_BIN_DIR, cleanEnv, ownedDir, pidAlive, postmasterPid, writeOwnedFile} from '../harness/postgres-bin'
import {runAs} from '../harness/unprivileged'
import {waitFor, within} from '../harness/ports'
import {bridgeNetwork, destroyOnExit, forgetOnExit, ip} from '../harness/netns'

const run = promisify(execFile)
export const REPO = resolve(import.meta.dirname, '..', '..')
const NODE = process.execPath
const TSX = pathToFileURL(join(REPO, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href

export type AgentKind = 'hactl' | 'patroni3' | 'patroni4'
export const HOSTS = ['h1', 'h2', 'h3'] as const
export const ETCDS = ['e1', 'e2', 'e3'] as const
export type Host = (typeof HOSTS)[number]
export type Etcd = (typeof ETCDS)[number]

export const ADDR: Record<string, string> = {
  h1: '10.250.0.11', h2: '10.250.0.12', h3: '10.250.0.13',
  e1: '10.250.0.21', e2: '10.250.0.22', e3: '10.250.0.23',
  c: '10.250.0.100',
}
export const PG_PORT = 5432
export const API_PORT = 8008
const ETCD_PROXY_PORT: Record<Etcd, number> = {e1: 23791, e2: 23792, e3: 23793}
export const HAPROXY_PORT = 5000
/** size of each host's own filesystem (its data directory with pg_wal) */
export const HOST_FS_MB = 400

export interface Timing {
  ttl: number
  loopWait: number
  retryTimeout: number
}

export interface LabOptions {
  agent: AgentKind
  sync: boolean
  timing: Timing
  /** maximum_lag_on_failover, bytes */
  maxLag: number
}

/** A process we started (as a child of `ip netns exec`, which execs, so its PID is the process's). */
export class Proc {
  private tail = ''
  readonly exited: Promise<void>
  constructor(readonly name: string, readonly child: ChildProcess, log: WriteStream) {
    const keep = (b: Buffer) => {
      this.tail = (this.tail + b.toString()).slice(-32_768)
      log.write(b)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    this.exited = new Promise((r) => child.once('exit', (code, signal) => {
      keep(Buffer.from(`[chaos] ${name} exited: code=${code} signal=${signal}\n`))
      r()
    }))
  }
  get pid(): number | undefined {
    return this.running ? this.child.pid : undefined
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }
  get log(): string {
    return this.tail
  }
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false
    try {
      return this.child.kill(sig)
    } catch {
      return false
    }
  }
  async kill(sig: NodeJS.Signals = 'SIGKILL', timeoutMs = 30_000): Promise<void> {
    if (!this.running) return
    this.signal('SIGCONT')
    this.signal(sig)
    await within(this.exited, timeoutMs)
    if (this.running) {
      this.signal('SIGKILL')
      await this.exited
    }
  }
}

/** A helper process (test/chaos/helper.ts) inside a namespace, spoken to in JSON lines. */
export class Helper {
  private seq = 0
  private readonly pending = new Map<number, {resolve: (v: any) => void; reject: (e: Error) => void}>()
  readonly ready: Promise<void>
  constructor(readonly proc: Proc, onEvent: (ev: any) => void) {
    let readyResolve!: () => void
    this.ready = new Promise((r) => (readyResolve = r))
    const rl = createInterface({input: proc.child.stdout!})
    rl.on('line', (line) => {
      let m: any
      try {
        m = JSON.parse(line)
      } catch {
        return
      }
      if (m.ev === 'ready') readyResolve()
      else if (m.ev) onEvent(m)
      else if (typeof m.id === 'number') {
        const p = this.pending.get(m.id)
        this.pending.delete(m.id)
        if (m.ok) p?.resolve(m.result)
        else p?.reject(new Error(m.error))
      }
    })
    void proc.exited.then(() => {
      for (const p of this.pending.values()) p.reject(new Error(`${proc.name} exited:\n${proc.log.slice(-2000)}`))
      this.pending.clear()
    })
  }
  async call(cmd: Record<string, unknown>, timeoutMs = 60_000): Promise<any> {
    const id = ++this.seq
    const answer = new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject})
      this.proc.child.stdin!.write(`${JSON.stringify({...cmd, id})}\n`)
    })
    const r = await within(answer, timeoutMs)
    if (r !== 'timeout') return r
    this.pending.delete(id)
    throw new Error(`${this.proc.name}: no answer to ${JSON.stringify(cmd).slice(0, 200)} within ${timeoutMs} ms`)
  }
}

export class Lab {
  readonly id = randomBytes(3).toString('hex')
  readonly root: string
  readonly namespaces: string[] = []
  readonly procs: Proc[] = []
  readonly agents = new Map<Host, Proc>()
  readonly etcds = new Map<Etcd, Proc>()
  readonly hostHelpers = new Map<Host, Helper>()
  client!: Helper
  haproxy!: Proc
  scope: string
  /** blackhole routes in place: "ns>dest" */
  readonly blackholes = new Set<string>()
  readonly linksDown = new Set<string>()
  private readonly logs = new Map<string, WriteStream>()
  private destroyed = false
  /** keep the run's directory (logs, data) after destroy: set on a failed seed */
  keep = false

  constructor(readonly opts: LabOptions, readonly onEvent: (ev: any) => void) {
    this.root = ownedDir(join('/tmp', `hactl-chaos-${this.id}`), 0o755)
    this.scope = `chaos-${this.id}`
    ownedDir(this.home)
  }

  get home(): string {
    return join(this.root, 'home')
  }
  ns(name: string): string {
    return `hc${this.id}-${name}`
  }
  dataDir(h: Host): string {
    return join(this.root, h, 'data')
  }
  logPath(name: string): string {
    return join(this.root, `${name}.log`)
  }

  private logStream(name: string): WriteStream {
    let s = this.logs.get(name)
    if (!s) {
      s = createWriteStream(this.logPath(name), {flags: 'a'})
      this.logs.set(name, s)
    }
    return s
  }

  static async create(opts: LabOptions, onEvent: (ev: any) => void): Promise<Lab> {
    const lab = new Lab(opts, onEvent)
    destroyOnExit(lab)
    try {
      await lab.network()
      await lab.startEtcd()
      for (const h of HOSTS) lab.mountHostFs(h)
      for (const h of HOSTS) await lab.startHostHelper(h)
      for (const h of HOSTS) lab.startAgent(h)
      await lab.startClient()
      return lab
    } catch (e) {
      await lab.destroy()
      throw e
    }
  }

  private async network(): Promise<void> {
    const members = [...HOSTS, ...ETCDS, 'c'].map((name) => ({ns: this.ns(name), port: `p-${name}`, address: ADDR[name]!}))
    await bridgeNetwork(this.ns('br'), members, this.namespaces)
  }

  /** Spawns `cmd` inside namespace `name`, as root or (user) as the unprivileged account. */
  spawnIn(name: string, procName: string, cmd: string, args: string[], {user = false, env}: {user?: boolean; env?: NodeJS.ProcessEnv} = {}): Proc {
    const who = runAs()
    const pre = user && who ? ['setpriv', `--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', '--'] : []
    const child = spawn('ip', ['netns', 'exec', this.ns(name), ...pre, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env ?? cleanEnv(this.home, {PATH: process.env.PATH ?? '/usr/bin:/bin'}),
      cwd: this.root,
    })
    const p = new Proc(procName, child, this.logStream(procName))
    this.procs.push(p)
    return p
  }

  private async startEtcd(): Promise<void> {
    const cluster = ETCDS.map((e) => `${e}=http://${ADDR[e]}:2380`).join(',')
    for (const e of ETCDS) this.launchEtcd(e, cluster, 'new')
    await waitFor('the etcd cluster to be healthy', async () => {
      const r = await this.etcdctl(['endpoint', 'health', '--cluster']).catch(() => undefined)
      return r !== undefined && !/unhealthy/.test(r)
    }, {timeoutMs: 60_000, intervalMs: 500})
  }

  launchEtcd(e: Etcd, cluster = ETCDS.map((x) => `${x}=http://${ADDR[x]}:2380`).join(','), state = 'new'): Proc {
    const dir = join(this.root, e)
    const a = ADDR[e]
    const p = this.spawnIn(e, e, '/usr/bin/etcd', [
      '--name', e, '--data-dir', dir,
      '--listen-client-urls', `http://${a}:2379`, '--advertise-client-urls', `http://${a}:2379`,
      '--listen-peer-urls', `http://${a}:2380`, '--initial-advertise-peer-urls', `http://${a}:2380`,
      '--initial-cluster', cluster, '--initial-cluster-state', state, '--initial-cluster-token', this.scope,
      '--heartbeat-interval', '200', '--election-timeout', '2000',
      '--enable-v2=false', '--logger', 'zap', '--log-level', 'warn',
    ])
    this.etcds.set(e, p)
    return p
  }

  /** etcdctl from the client namespace (it reaches every member unless a fault cuts the client). */
  async etcdctl(args: string[], timeoutMs = 10_000): Promise<string> {
    const endpoints = ETCDS.map((e) => `http://${ADDR[e]}:2379`).join(',')
    const {stdout} = await run('ip', ['netns', 'exec', this.ns('c'), 'etcdctl', `--endpoints=${endpoints}`, '--command-timeout=5s', ...args], {
      env: {...process.env, ETCDCTL_API: '3'},
      timeout: timeoutMs,
    })
    return stdout
  }

  private async startHostHelper(h: Host): Promise<void> {
    const spec = ETCDS.map((e) => `${ETCD_PROXY_PORT[e]}=${ADDR[e]}:2379`).join(',')
    const proc = this.spawnIn(h, `helper-${h}`, NODE, ['--import', TSX, join(REPO, 'test', 'chaos', 'helper.ts'), 'host', h, String(PG_PORT), String(API_PORT), spec, ADDR[h]!], {
      env: {...cleanEnv(this.home), CHAOS_PG_PASSWORD: PATRONI_TEST_AUTH.superuser.password},
    })
    const helper = new Helper(proc, this.onEvent)
    this.hostHelpers.set(h, helper)
    await helper.ready
  }

  private async startClient(): Promise<void> {
    const cfg = join(this.root, 'haproxy.cfg')
    const members = HOSTS.flatMap((h) => ['--member', `${h}=${ADDR[h]}:${PG_PORT},${API_PORT}`])
    const [cmd, args] = hactlCommand('-')
    // hactlCommand ends in ['agent', '-']: swap the subcommand for `haproxy render`
    const base = args.slice(0, -2)
    const {stdout} = await run(cmd, [...base, 'haproxy', 'render', ...members, '--primary-port', String(HAPROXY_PORT), '--replica-port', '5001',
      '--inter', '1s', '--fall', '2', '--rise', '1', '--global-section', 'minimal'], {cwd: REPO, timeout: 60_000})
    writeFileSync(cfg, stdout)
    this.haproxy = this.spawnIn('c', 'haproxy', 'haproxy', ['-db', '-f', cfg])
    const proc = this.spawnIn('c', 'client', NODE, ['--import', TSX, join(REPO, 'test', 'chaos', 'helper.ts'), 'client', String(HAPROXY_PORT)], {
      env: {...cleanEnv(this.home), CHAOS_PG_PASSWORD: PATRONI_TEST_AUTH.superuser.password},
    })
    this.client = new Helper(proc, this.onEvent)
    await this.client.ready
  }

  agentConfig(h: Host): Record<string, unknown> {
    const {timing, sync, maxLag} = this.opts
    const dir = join(this.root, h)
    return {
      scope: this.scope,
      namespace: '/service/',
      name: h,
      log: {level: 'INFO'},
      restapi: {listen: `0.0.0.0:${API_PORT}`, connect_address: `${ADDR[h]}:${API_PORT}`},
      etcd3: {hosts: ETCDS.map((e) => `127.0.0.1:${ETCD_PROXY_PORT[e]}`), use_proxies: true},
      bootstrap: {
        dcs: {
          ttl: timing.ttl,
          loop_wait: timing.loopWait,
          retry_timeout: timing.retryTimeout,
          maximum_lag_on_failover: maxLag,
          ...(sync ? {synchronous_mode: true, synchronous_mode_strict: true} : {}),
          postgresql: {
            use_pg_rewind: true,
            use_slots: true,
            parameters: {
              wal_level: 'replica', hot_standby: 'on', wal_log_hints: 'on', max_connections: 40,
              max_wal_senders: 10, max_replication_slots: 10, wal_keep_size: '64MB',
              // the host's filesystem is small (HOST_FS_MB): keep WAL well inside it
              max_wal_size: '128MB', min_wal_size: '32MB',
            },
          },
        },
        initdb: [{encoding: 'UTF8'}, 'data-checksums'],
      },
      postgresql: {
        listen: `0.0.0.0:${PG_PORT}`,
        connect_address: `${ADDR[h]}:${PG_PORT}`,
        data_dir: join(dir, 'data'),
        bin_dir: PG_BIN_DIR,
        pgpass: join(dir, 'pgpass'),
        authentication: {
          superuser: {...PATRONI_TEST_AUTH.superuser},
          replication: {...PATRONI_TEST_AUTH.replication},
          rewind: {...PATRONI_TEST_AUTH.rewind},
        },
        parameters: {unix_socket_directories: join(dir, 'sock'), shared_buffers: '16MB'},
        pg_hba: ['local all all trust', 'host replication all 0.0.0.0/0 scram-sha-256', 'host all all 0.0.0.0/0 scram-sha-256'],
      },
    }
  }

  /**
   * Each host's directory (data directory, so pg_wal too) is a small tmpfs of its own, so that the
   * wal-full fault can fill it without touching anything else.
   */
  readonly mounts: string[] = []
  mountHostFs(h: Host): void {
    const dir = join(this.root, h)
    ownedDir(dir)
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${HOST_FS_MB}m,mode=0700`, `hactl-chaos-${this.id}-${h}`, dir])
    this.mounts.push(dir)
    ownedDir(dir)
  }

  /** Fills host h's filesystem (data directory and pg_wal) with a ballast file: no space left. */
  fillHostFs(h: Host): void {
    const path = join(this.root, h, 'ballast')
    const fd = openSync(path, 'a')
    const chunk = Buffer.alloc(1024 * 1024)
    try {
      for (;;) writeSync(fd, chunk)
    } catch {
      // ENOSPC: full
    } finally {
      closeSync(fd)
    }
  }
  freeHostFs(h: Host): void {
    rmSync(join(this.root, h, 'ballast'), {force: true})
  }

  startAgent(h: Host): Proc {
    const dir = ownedDir(join(this.root, h))
    ownedDir(join(dir, 'sock'))
    const cfg = join(dir, 'agent.yml')
    if (!existsSync(cfg)) writeOwnedFile(cfg, stringify(this.agentConfig(h)))
    let cmd: string
    let args: string[]
    if (this.opts.agent === 'hactl') [cmd, args] = hactlCommand(cfg)
    else [cmd, args] = [patroniBins(this.opts.agent === 'patroni4' ? 4 : 3).patroni, [cfg]]
    const p = this.spawnIn(h, `agent-${h}`, cmd, args, {
      user: true,
      env: cleanEnv(this.home, {PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH}`}),
    })
    this.agents.set(h, p)
    return p
  }

  postmaster(h: Host): number | undefined {
    const pid = postmasterPid(this.dataDir(h))
    return pid !== undefined && pidAlive(pid) ? pid : undefined
  }

  /** Drops what `from` sends to `to` (one direction). */
  async block(from: string, to: string): Promise<void> {
    const key = `${from}>${to}`
    if (this.blackholes.has(key)) return
    await ip(['-n', this.ns(from), 'route', 'add', 'blackhole', `${ADDR[to]}/32`])
    this.blackholes.add(key)
  }
  async unblock(from: string, to: string): Promise<void> {
    const key = `${from}>${to}`
    if (!this.blackholes.has(key)) return
    await ip(['-n', this.ns(from), 'route', 'del', 'blackhole', `${ADDR[to]}/32`])
    this.blackholes.delete(key)
  }
  async linkDown(name: string): Promise<void> {
    await ip(['-n', this.ns(name), 'link', 'set', 'eth0', 'down'])
    this.linksDown.add(name)
  }
  async linkUp(name: string): Promise<void> {
    await ip(['-n', this.ns(name), 'link', 'set', 'eth0', 'up'])
    this.linksDown.delete(name)
  }
  /** Heals every partition still in place. */
  async healNetwork(): Promise<void> {
    for (const k of [...this.blackholes]) {
      const [a, b] = k.split('>')
      await this.unblock(a!, b!)
    }
    for (const n of [...this.linksDown]) await this.linkUp(n)
  }

  logTail(name: string, chars = 6000): string {
    try {
      const t = readFileSync(this.logPath(name), 'utf8')
      return t.slice(-chars)
    } catch {
      return ''
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    for (const p of this.procs) if (p.running && p.name.startsWith('agent')) await p.kill('SIGKILL', 10_000)
    this.destroySync()
  }

  /** Kills what we started (by PID), each postmaster (from postmaster.pid), deletes the namespaces. */
  destroySync(): void {
    if (this.destroyed) return
    this.destroyed = true
    forgetOnExit(this)
    for (const p of this.procs) {
      if (p.running) {
        p.signal('SIGCONT')
        p.signal('SIGKILL')
      }
    }
    for (const h of HOSTS) {
      const pid = this.postmaster(h)
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGCONT')
          process.kill(pid, 'SIGQUIT')
        } catch {
          // gone
        }
      }
    }
    for (const ns of this.namespaces.reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], {stdio: 'ignore'})
      } catch {
        // already gone
      }
    }
    for (const s of this.logs.values()) s.end()
    // postmasters may take a moment to go after SIGQUIT
    const deadline = Date.now() + 10_000
    while (HOSTS.some((h) => this.postmaster(h) !== undefined) && Date.now() < deadline) execFileSync('sleep', ['0.2'])
    for (const m of this.mounts) {
      if (this.keep || process.env.HACTL_KEEP_TEST_DIRS) {
        // the postmaster logs live on the tmpfs: keep a copy next to the other logs
        for (const f of ['data/postmaster.log', 'agent.yml']) {
          try {
            copyFileSync(join(m, f), `${m}-${f.replace('/', '-')}`)
          } catch {
            // not there
          }
        }
      }
      try {
        execFileSync('umount', ['-l', m], {stdio: 'ignore'})
      } catch {
        // not mounted
      }
    }
    if (!process.env.HACTL_KEEP_TEST_DIRS && !this.keep) rmSync(this.root, {recursive: true, force: true})
  }

  /** Writes a marker into every log so timelines line up. */
  mark(text: string): void {
    const line = `[chaos ${new Date().toISOString()}] ${text}\n`
    for (const s of this.logs.values()) s.write(line)
    writeFileSync(join(this.root, 'timeline.log'), line, {flag: 'a'})
  }
}
