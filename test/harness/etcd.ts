import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {freePort, waitFor} from './ports'

export const ETCD_BIN = process.env.HACTL_TEST_ETCD ?? '/usr/bin/etcd'

/** A real single-node etcd (Debian etcd-server) on 127.0.0.1 with free ports and its own data dir. */
export class EtcdServer {
  proc?: ChildProcess
  clientPort = 0
  peerPort = 0
  readonly dataDir: string
  private output = ''

  constructor(readonly name = 'hactl-test') {
    this.dataDir = mkdtempSync(join(tmpdir(), 'hactl-etcd-'))
  }

  get url(): string {
    return `http://127.0.0.1:${this.clientPort}`
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`
  }

  static async start(): Promise<EtcdServer> {
    const s = new EtcdServer()
    s.clientPort = await freePort()
    s.peerPort = await freePort()
    await s.launch()
    return s
  }

  /** (Re)starts the process on the same ports and data dir, e.g. after stop() in a restart test. */
  async launch(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`
    this.proc = spawn(
      ETCD_BIN,
      [
        '--name', this.name,
        '--data-dir', this.dataDir,
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `${this.name}=${peer}`,
        '--initial-cluster-state', 'new',
        '--enable-v2=false',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      {stdio: ['ignore', 'pipe', 'pipe']},
    )
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-8192)
    }
    this.proc.stdout?.on('data', keep)
    this.proc.stderr?.on('data', keep)
    const proc = this.proc
    await waitFor(`etcd on ${this.url} to serve (output: ${this.output})`, async () => {
      if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}: ${this.output}`)
      return (await this.health()) === 200
    }, {timeoutMs: 30_000})
  }

  private health(): Promise<number> {
    return new Promise((resolve) => {
      const req = request(`${this.url}/health`, {timeout: 1000}, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', () => resolve(0))
      req.on('timeout', () => req.destroy())
      req.end()
    })
  }

  /** SIGTERM (or the given signal) to the process this harness started, then wait for its exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise<void>((r) => p.once('exit', () => r()))
    p.kill(signal)
    await exited
  }

  /** POSTs to the v3 JSON gateway; for tests that arrange or inspect etcd behind hactl's back. */
  async call(path: string, body: unknown, headers: Record<string, string> = {}): Promise<any> {
    return new Promise((resolve, reject) => {
      const data = JSON.stringify(body)
      const req = request(`${this.url}/v3${path}`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}}, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => {
          try {
            resolve(JSON.parse(text))
          } catch (e) {
            reject(new Error(`etcd ${path}: ${res.statusCode} ${text}`))
          }
        })
      })
      req.on('error', reject)
      req.end(data)
    })
  }

  async put(key: string, value: string): Promise<void> {
    await this.call('/kv/put', {key: b64(key), value: b64(value)})
  }

  async get(key: string): Promise<string | undefined> {
    const r = await this.call('/kv/range', {key: b64(key)})
    const kv = r.kvs?.[0]
    return kv ? Buffer.from(kv.value ?? '', 'base64').toString('utf8') : undefined
  }

  /** All keys under a prefix, decoded. */
  async dump(prefix: string): Promise<Record<string, string>> {
    const r = await this.call('/kv/range', {key: b64(prefix), range_end: b64(prefixEnd(prefix))})
    const out: Record<string, string> = {}
    for (const kv of r.kvs ?? []) out[unb64(kv.key)] = unb64(kv.value ?? '')
    return out
  }

  async destroy(): Promise<void> {
    await this.stop()
    rmSync(this.dataDir, {recursive: true, force: true})
  }
}

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')
export const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8')

function prefixEnd(prefix: string): string {
  const b = Buffer.from(prefix, 'utf8')
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      b[i]++
      return b.subarray(0, i + 1).toString('latin1')
    }
  }
  return '\0'
}

/**
 * Turns on etcd authentication through the gateway: user `root` with `password` holding the
 * root role, then auth enable. Afterwards raw calls need a token (see authToken()).
 */
export async function enableAuth(s: EtcdServer, password: string): Promise<void> {
  await s.call('/auth/role/add', {name: 'root'}) // may already exist; the answer is not checked
  for (const [path, body] of [
    ['/auth/user/add', {name: 'root', password}],
    ['/auth/user/grant', {user: 'root', role: 'root'}],
    ['/auth/enable', {}],
  ] as const) {
    const r = await s.call(path, body)
    if (r?.error) throw new Error(`etcd ${path}: ${r.error}`)
  }
}

/** A token for raw calls on an etcd with auth enabled. */
export async function authToken(s: EtcdServer, user: string, password: string): Promise<string> {
  const r = await s.call('/auth/authenticate', {name: user, password})
  if (!r?.token) throw new Error(`etcd authenticate: ${JSON.stringify(r)}`)
  return r.token
}
