/**
 * A throwaway L2 network of network namespaces for `hactl vip` tests (needs root):
 *
 *   hactl-vip-<id>-br    bridge br0 (the "switch")
 *   hactl-vip-<id>-<n>   one per node: eth0 = veth into br0, 10.0.2.<11..>/24, lo up
 *   hactl-vip-<id>-peer  a client on the same LAN: eth0, 10.0.2.100/24 (TCP checks, tcpdump)
 *
 * `hactl vip` runs inside its node's namespace (`ip netns exec`), as it would on a host: it
 * manages that namespace's eth0. etcd and Patroni stay on 127.0.0.1 in the root namespace,
 * untouched. To reach them, each node namespace gets a relay: a helper started inside the
 * namespace opens a listening socket on ITS 127.0.0.1:<port> and hands it over (SCM_RIGHTS, via
 * node's IPC) to this test process in the root namespace, which accepts there and connects to
 * the root 127.0.0.1:<port>. So `hactl vip` talks to `http://127.0.0.1:<port>` as usual, no
 * address is added to the root namespace, and all traffic stays on loopback and on links the
 * test created. Cutting the relay's connections simulates a broken DCS connection.
 *
 * Every namespace is deleted by destroy() (which deletes the veths in them), also from a
 * process exit hook if a test crashed before its `after`.
 */
import {execFile, execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import * as net from 'node:net'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {promisify} from 'node:util'
import {sampleEvery, waitFor} from '../../harness/ports'
import {bridgeNetwork, destroyOnExit, forgetOnExit, ip} from '../../harness/netns'

const run = promisify(execFile)
export const REPO = resolve(__dirname, '../../..')
const NODE = process.execPath

/** Runs in a namespace: listens and hands the listening socket to the parent, then exits. */
const LISTEN_HELPER = `
const net = require('net')
const [host, port] = [process.argv[1], Number(process.argv[2])]
const s = net.createServer()
s.on('error', (e) => { process.send({error: e.message}); process.exit(1) })
s.listen(port, host, () => process.send('server', s, () => { s.close(); process.disconnect() }))
`

/** Runs in a namespace: one TCP connect; prints what the server sent, or ERR <reason>. */
const CONNECT_HELPER = `
const net = require('net')
const c = net.connect({host: process.argv[1], port: Number(process.argv[2]), timeout: Number(process.argv[3])})
let data = ''
c.on('data', (d) => (data += d))
c.on('end', () => { process.stdout.write('OK ' + data); process.exit(0) })
c.on('timeout', () => { process.stdout.write('ERR timeout'); process.exit(0) })
c.on('error', (e) => { process.stdout.write('ERR ' + e.code); process.exit(0) })
`

export interface Relay {
  port: number
  /** Destroys the connections in flight (a lost watch); new ones are still relayed. */
  drop(): void
  /** Blocks: in-flight connections die and new ones are closed at once, until restore(). */
  cut(): void
  restore(): void
  close(): void
}

export interface VipProcess {
  proc: ChildProcess
  ns: string
  /** stdout and stderr, interleaved as they arrived. */
  output(): string
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  running(): boolean
}

export class VipLab {
  readonly id = randomBytes(3).toString('hex')
  readonly namespaces: string[] = []
  readonly relays: Relay[] = []
  readonly servers: net.Server[] = []
  readonly procs: ChildProcess[] = []
  private readonly tmp = mkdtempSync(join(tmpdir(), 'hactl-vip-lab-'))
  private destroyed = false

  /** Address of node i (1-based) on eth0. */
  static nodeAddress(i: number): string {
    return `10.0.2.${10 + i}`
  }
  static readonly PEER_ADDRESS = '10.0.2.100'

  ns(name: string): string {
    return `hactl-vip-${this.id}-${name}`
  }

  static async create(nodes: string[]): Promise<VipLab> {
    const lab = new VipLab()
    destroyOnExit(lab)
    try {
      const members = [...nodes.map((n, i) => [n, VipLab.nodeAddress(i + 1)] as const), ['peer', VipLab.PEER_ADDRESS] as const]
      await bridgeNetwork(lab.ns('br'), members.map(([name, address]) => ({ns: lab.ns(name), port: `p-${name}`.slice(0, 15), address})), lab.namespaces)
      return lab
    } catch (e) {
      await lab.destroy()
      throw e
    }
  }

  /** A listening socket created inside `ns` (so it serves that namespace), owned by this process. */
  listenIn(ns: string, host: string, port: number): Promise<net.Server> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, NODE, '-e', LISTEN_HELPER, host, String(port)], {stdio: ['ignore', 'ignore', 'pipe', 'ipc']})
      let err = ''
      child.stderr!.on('data', (d) => (err += d))
      child.on('message', (m: unknown, handle: unknown) => {
        if (handle instanceof net.Server) {
          this.servers.push(handle)
          resolvePromise(handle)
        } else reject(new Error(`listen in ${ns} on ${host}:${port}: ${JSON.stringify(m)}`))
      })
      child.on('exit', (code) => {
        if (code) reject(new Error(`listen helper in ${ns} exited with ${code}: ${err}`))
      })
    })
  }

  /** Makes root's 127.0.0.1:<port> reachable as 127.0.0.1:<port> inside `ns`. */
  async relay(ns: string, port: number): Promise<Relay> {
    const server = await this.listenIn(ns, '127.0.0.1', port)
    const pairs = new Set<net.Socket>()
    let blocked = false
    server.on('connection', (down) => {
      if (blocked) return void down.destroy()
      const up = net.connect(port, '127.0.0.1')
      pairs.add(down)
      pairs.add(up)
      const end = () => {
        down.destroy()
        up.destroy()
        pairs.delete(down)
        pairs.delete(up)
      }
      down.on('error', end)
      up.on('error', end)
      down.on('close', end)
      up.on('close', end)
      down.pipe(up)
      up.pipe(down)
    })
    const dropAll = () => {
      for (const s of [...pairs]) s.destroy()
      pairs.clear()
    }
    const relay: Relay = {
      port,
      drop: dropAll,
      cut: () => {
        blocked = true
        dropAll()
      },
      restore: () => {
        blocked = false
      },
      close: () => {
        dropAll()
        server.close()
      },
    }
    this.relays.push(relay)
    return relay
  }

  /** One TCP connection from inside `ns`: `OK <data>` or `ERR <code>`. */
  async connectFrom(ns: string, host: string, port: number, timeoutMs = 1000): Promise<string> {
    const {stdout} = await run('ip', ['netns', 'exec', ns, NODE, '-e', CONNECT_HELPER, host, String(port), String(timeoutMs)])
    return stdout
  }

  /** `ip -n <ns> ...`, e.g. an operator's manual change behind hactl's back. */
  ip(ns: string, args: string[]): Promise<string> {
    return ip(['-n', ns, ...args])
  }

  /** Addresses on eth0 of `ns` as `addr/prefix`, parsed from `ip -j`. */
  async addresses(ns: string, dev = 'eth0'): Promise<string[]> {
    const out = await ip(['-n', ns, '-j', 'addr', 'show', 'dev', dev])
    return (JSON.parse(out) as any[]).flatMap((l) => (l.addr_info ?? []).filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`))
  }

  /**
   * Which of `nss` held `cidr` throughout one sample. One shell reads every namespace twice, in
   * mirrored order (n1 n2 n3 n3 n2 n1), and a namespace counts only when both of its reads show
   * the address. The read windows nest, so two namespaces that count both held the address during
   * the inner window: an overlap reported here happened (unless a node dropped and re-took the
   * address within one sample). A single pass can not tell an overlap from a clean hand-over
   * between two of its reads, which on a loaded machine can be hundreds of milliseconds apart:
   * n1 read while it still holds, n2 read after n1 let go and n2 took over. A namespace whose
   * two reads differ was changing hands during the sample and does not count.
   */
  async holders(nss: string[], cidr: string, dev = 'eth0'): Promise<string[]> {
    const order = [...nss, ...[...nss].reverse()]
    const {stdout} = await run('sh', ['-c', 'for ns in "$@"; do ip -n "$ns" -j addr show dev "$0" || exit 1; echo; done', dev, ...order])
    const docs = stdout.split('\n').filter((l) => l.trim() !== '')
    if (docs.length !== order.length) throw new Error(`expected ${order.length} ip outputs, got ${docs.length}`)
    const has = docs.map((d) => (JSON.parse(d) as any[]).some((l) => (l.addr_info ?? []).some((a: any) => a.family === 'inet' && `${a.local}/${a.prefixlen}` === cidr)))
    return nss.filter((_, i) => has[i] && has[order.length - 1 - i])
  }

  async has(ns: string, cidr: string): Promise<boolean> {
    return (await this.addresses(ns)).includes(cidr)
  }

  async waitVip(ns: string, cidr: string, present: boolean, timeoutMs = 10_000): Promise<number> {
    const t0 = Date.now()
    await waitFor(`${cidr} ${present ? 'on' : 'gone from'} ${ns}`, async () => (await this.has(ns, cidr)) === present, {timeoutMs, intervalMs: 20})
    return Date.now() - t0
  }

  /** `node --import tsx src/cli.ts vip ...` inside `ns` (or as `vip-manager` via argv0 when asked). */
  startVip(ns: string, args: string[], {env = {}, asVipManager = false}: {env?: Record<string, string>; asVipManager?: boolean} = {}): VipProcess {
    let exe = NODE
    if (asVipManager) {
      exe = join(this.tmp, 'bin', 'vip-manager')
      try {
        execFileSync('mkdir', ['-p', join(this.tmp, 'bin')])
        symlinkSync(NODE, exe)
      } catch {
        // already linked by an earlier start
      }
    }
    const proc = spawn('ip', ['netns', 'exec', ns, exe, '--import', 'tsx', join(REPO, 'src/cli.ts'), ...(asVipManager ? [] : ['vip']), ...args], {
      cwd: REPO,
      env: {PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.procs.push(proc)
    let out = ''
    proc.stdout!.on('data', (d) => (out += d))
    proc.stderr!.on('data', (d) => (out += d))
    const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((r) => proc.once('exit', (code, signal) => r({code, signal})))
    const running = () => proc.exitCode === null && proc.signalCode === null
    return {
      proc,
      ns,
      output: () => out,
      exited,
      running,
      waitForOutput: (re, timeoutMs = 15_000) =>
        waitFor(`output ${re} from hactl vip in ${ns}`, () => {
          if (re.test(out)) return true
          if (!running()) throw new Error(`hactl vip exited (${proc.exitCode ?? proc.signalCode}):\n${out}`)
          return false
        }, {timeoutMs, intervalMs: 20}).then(() => undefined),
    }
  }

  /** tcpdump on eth0 in `ns`, resolved once it listens. */
  async tcpdump(ns: string, filter: string[]): Promise<{lines: () => string[]; stop: () => Promise<void>}> {
    const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '-n', '-e', '-l', ...filter], {stdio: ['ignore', 'pipe', 'pipe']})
    this.procs.push(proc)
    let out = ''
    let err = ''
    proc.stdout!.on('data', (d) => (out += d))
    proc.stderr!.on('data', (d) => (err += d))
    await waitFor(`tcpdump in ${ns} to listen (${err})`, () => {
      if (proc.exitCode !== null) throw new Error(`tcpdump exited: ${err}`)
      return /listening on/.test(err)
    }, {timeoutMs: 10_000, intervalMs: 20})
    return {
      lines: () => out.split('\n').filter(Boolean),
      stop: async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return
        const done = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await done
      },
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const done = new Promise((r) => p.once('exit', r))
        p.kill('SIGKILL')
        await done
      }
    }
    this.destroySync()
  }

  destroySync(): void {
    if (this.destroyed) return
    this.destroyed = true
    forgetOnExit(this)
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
    for (const r of this.relays) r.close()
    for (const s of this.servers) s.close()
    for (const ns of [...this.namespaces].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], {stdio: 'ignore'})
      } catch {
        // already gone
      }
    }
    rmSync(this.tmp, {recursive: true, force: true})
  }
}

/** Samples `check` every `everyMs` until stop(); records every sample. */
export function sampler<T>(check: () => Promise<T>, everyMs = 50): {samples: Array<{t: number; v: T}>; errors: string[]; stop: () => Promise<void>} {
  const samples: Array<{t: number; v: T}> = []
  const errors: string[] = []
  const run = sampleEvery(everyMs, async () => {
    const t = Date.now()
    try {
      samples.push({t, v: await check()})
    } catch (e) {
      // The namespace may already be gone when a failed test is torn down.
      errors.push((e as Error).message)
      if (errors.length > 3) return false
    }
  })
  return {samples, errors, stop: run.stop}
}
