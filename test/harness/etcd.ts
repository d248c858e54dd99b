import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {freePort, waitFor} from './ports'

export const ETCD_BIN = process.env.HACTL_TEST_ETCD ?? '/usr/bin/etcd'

const run = promisify(execFile)

/** PEM file paths of a throwaway CA. */
export interface TestCa {
  dir: string
  cert: string
  key: string
}

/** PEM file paths of a certificate signed by a TestCa. */
export interface TestCert {
  cert: string
  key: string
}

/** File paths of the TLS material an EtcdServer started with `tls` serves and accepts. */
export interface EtcdTlsFiles {
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  clientCertAuth: boolean
}

export interface EtcdStartOptions {
  /** Serve clients over https with a fresh CA; clientCertAuth makes etcd demand a client certificate. */
  tls?: {clientCertAuth?: boolean}
}

// EC P-256 keys and a two-day validity keep generation to a few ms and the files useless later.
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A new self-signed CA in `dir` (created when absent) under file names starting with `name`. */
export async function makeTestCa(dir: string = mkdtempSync(join(tmpdir(), 'hactl-ca-')), name = 'ca'): Promise<TestCa> {
  const ca = {dir, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`)}
  await run('openssl', ['req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', `/CN=hactl test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  return ca
}

/**
 * A leaf certificate signed by `ca`, written next to it. `server` adds the 127.0.0.1/localhost
 * names; both kinds carry clientAuth because etcd 3.4's gateway dials its own gRPC port with the
 * server certificate as a client certificate.
 */
export async function makeTestCert(ca: TestCa, name: string, kind: 'server' | 'client'): Promise<TestCert> {
  const out = {cert: join(ca.dir, `${name}.crt`), key: join(ca.dir, `${name}.key`)}
  const csr = join(ca.dir, `${name}.csr`)
  const ext = join(ca.dir, `${name}.ext`)
  writeFileSync(ext, kind === 'server'
    ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n'
    : 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n')
  await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', out.key, '-out', csr, '-subj', `/CN=${kind === 'server' ? '127.0.0.1' : name}`])
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', out.cert, '-days', '2', '-extfile', ext])
  return out
}

/** A real single-node etcd (Debian etcd-server) on 127.0.0.1 with free ports and its own data dir. */
export class EtcdServer {
  proc?: ChildProcess
  clientPort = 0
  peerPort = 0
  readonly dataDir: string
  /** Set when started with `tls`: the CA, server and client PEM files. */
  tls?: EtcdTlsFiles
  private tlsDir?: string
  private output = ''

  constructor(readonly name = 'hactl-test') {
    this.dataDir = mkdtempSync(join(tmpdir(), 'hactl-etcd-'))
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`
  }

  static async start(opts: EtcdStartOptions = {}): Promise<EtcdServer> {
    const s = new EtcdServer()
    s.clientPort = await freePort()
    s.peerPort = await freePort()
    if (opts.tls) {
      // Outside dataDir: etcd wants its data dir to hold nothing but its own files.
      s.tlsDir = mkdtempSync(join(tmpdir(), 'hactl-etcd-tls-'))
      const ca = await makeTestCa(s.tlsDir)
      const server = await makeTestCert(ca, 'server', 'server')
      const client = await makeTestCert(ca, 'client', 'client')
      s.tls = {ca: ca.cert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key, clientCertAuth: opts.tls.clientCertAuth ?? false}
    }
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
        ...(this.tls
          ? [
              '--cert-file', this.tls.serverCert, '--key-file', this.tls.serverKey,
              // etcd demands client certificates whenever it has a trusted CA file, so only then.
              ...(this.tls.clientCertAuth ? ['--trusted-ca-file', this.tls.ca, '--client-cert-auth'] : []),
            ]
          : []),
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

  /** A request to this etcd; over https it trusts the test CA and shows the client certificate. */
  private request(path: string, opts: RequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest {
    if (!this.tls) return httpRequest(`${this.url}${path}`, opts, onResponse)
    const t = this.tls
    return httpsRequest(`${this.url}${path}`, {...opts, ca: readFileSync(t.ca), cert: readFileSync(t.clientCert), key: readFileSync(t.clientKey)}, onResponse)
  }

  private health(): Promise<number> {
    return new Promise((resolve) => {
      const req = this.request('/health', {timeout: 1000}, (res) => {
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
      const req = this.request(`/v3${path}`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}}, (res) => {
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
    if (this.tlsDir) rmSync(this.tlsDir, {recursive: true, force: true})
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
