/**
 * A small etcd v3 client over the gRPC JSON gateway (what Patroni uses), on node:http/https
 * with keep-alive agents. No dependency, nothing heavy at import time.
 *
 * Failure handling, translated to HactlError once, here:
 * - Every call has one deadline (default: now + retry_timeout). Each try gets a share of it
 *   split across endpoints (at least 1 s, like Patroni), and a recoverable failure (refused,
 *   reset, timeout, gRPC Unavailable/DeadlineExceeded/FailedPrecondition, 5xx) moves to the
 *   next endpoint; after a full round it backs off (0.1 s doubling to 1 s). Past the deadline
 *   it throws DCS_UNAVAILABLE naming the endpoints and the last error.
 * - Auth: token from /auth/authenticate in the raw `authorization` header; a stale or missing
 *   token (etcd restarted, auth store changed) re-authenticates once and retries. Refused
 *   credentials are DCS_AUTH at once, never retried until the deadline.
 * - `requested lease not found` is DCS_LEASE_NOT_FOUND; anything else etcd refuses is
 *   DCS_PROTOCOL with etcd's message.
 * - Discovered endpoints (DNS SRV, `discover`): found before the first request, and found again
 *   after a round in which every endpoint failed, as Patroni reloads its machines cache then
 *   (patroni/dcs/etcd.py AbstractEtcdClientWithFailover.api_execute, _load_machines_cache). A
 *   failed discovery keeps the endpoints known before; with none known, the call fails with
 *   discovery's own DCS_UNAVAILABLE error at the deadline.
 * - /watch is a long-lived streaming POST with no read timeout (etcd 3.4 sends nothing on an
 *   idle prefix for minutes; fetch() would kill such a body after 300 s, node:http does not).
 */
import * as http from 'node:http'
import type * as HttpsModule from 'node:https'
import type {LookupFunction} from 'node:net'
import {HactlError, errorMessage, isHactlError} from '../../errors'
import {SETTLED, type Clock} from '../../ports/clock'
import {JsonObjectStream} from './json-stream'
import {prefixRangeEndBytes, type CallOptions, type Compare, type KeyValue, type KvBackend, type TxnOp, type TxnOpResult, type TxnResult, type WatchEvent, type WatchHandle, type WatchHandlers} from './kv'

export interface TlsFiles {
  /** PEM contents (not paths). */
  ca?: string | Buffer
  cert?: string | Buffer
  key?: string | Buffer
}

/** Where the endpoints come from when they are not configured one by one (DNS SRV). */
export interface EndpointDiscovery {
  /** For messages, e.g. `DNS SRV records of example.com`. */
  describe: string
  /** The endpoints' base URLs within `timeoutMs`; throws (DCS_UNAVAILABLE) when it finds none. */
  find(timeoutMs: number): Promise<string[]>
}

export interface Etcd3ClientOptions {
  /** Base URLs, e.g. `http://127.0.0.1:2379`; may be empty with `discover`. */
  endpoints: string[]
  discover?: EndpointDiscovery
  /** Host name resolution for the sockets (default: getaddrinfo). */
  lookup?: LookupFunction
  username?: string
  password?: string
  tls?: TlsFiles
  clock: Clock
  /** Default deadline budget per call, ms (retry_timeout). */
  retryTimeoutMs?: number
  userAgent?: string
  log?: (msg: string) => void
}

interface Endpoint {
  url: URL
  agent: http.Agent
}

/** A discovery round with less time than this, ms, was cut short by its call's deadline. */
const DISCOVERY_FULL_ROUND_MS = 1000

/** gRPC status codes the gateway reports. */
const GRPC = {DeadlineExceeded: 4, NotFound: 5, PermissionDenied: 7, FailedPrecondition: 9, Unavailable: 14, Unauthenticated: 16} as const
const RECOVERABLE_GRPC = new Set<number>([GRPC.DeadlineExceeded, GRPC.Unavailable, GRPC.FailedPrecondition])
const TOKEN_ERRORS = ['etcdserver: user name is empty', 'etcdserver: permission denied', 'etcdserver: invalid auth token', 'etcdserver: revision of auth store is old']
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'])

/** What etcd answered with an error body. */
class EtcdError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number | undefined,
    readonly httpStatus: number,
  ) {
    super(message)
  }
}

class TryTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${Math.round(ms)} ms`)
  }
}

// node:https pulls in tls and crypto (several ms); load it only for https endpoints.
let httpsModule: typeof HttpsModule | undefined
const https = (): typeof HttpsModule => (httpsModule ??= require('node:https') as typeof HttpsModule)

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64')
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '')
const int = (v: unknown) => (v === undefined || v === null || v === '' ? 0 : Number(v))

function decodeKv(kv: any): KeyValue {
  const out: KeyValue = {key: unb64(kv.key), value: unb64(kv.value), createRevision: int(kv.create_revision), modRevision: int(kv.mod_revision)}
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease)
  return out
}

function encodeCompare(c: Compare): Record<string, string> {
  const base = {key: b64(c.key), target: c.target, result: 'EQUAL'}
  switch (c.target) {
    case 'CREATE':
      return {...base, create_revision: String(c.createRevision)}
    case 'MOD':
      return {...base, mod_revision: String(c.modRevision)}
    case 'VALUE':
      return {...base, value: b64(c.value)}
  }
}

function encodeOp(op: TxnOp): Record<string, unknown> {
  if ('put' in op) {
    const p: Record<string, string> = {key: b64(op.put.key), value: b64(op.put.value)}
    if (op.put.lease) p.lease = op.put.lease
    return {request_put: p}
  }
  if ('deleteRange' in op) return {request_delete_range: {key: b64(op.deleteRange.key)}}
  const t: Record<string, unknown> = {compare: op.txn.compare.map(encodeCompare), success: op.txn.success.map(encodeOp)}
  if (op.txn.failure) t.failure = op.txn.failure.map(encodeOp)
  return {request_txn: t}
}

function decodeOpResult(r: any): TxnOpResult {
  if (r?.response_txn) return {txn: {succeeded: r.response_txn.succeeded === true}}
  if (r?.response_delete_range) return {deleteRange: {deleted: int(r.response_delete_range.deleted)}}
  return {put: true}
}

// X.509 verification results of the server's chain against our CA (node:tls error codes).
const UNTRUSTED_CODES = new Set(['UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED', 'INVALID_CA'])

/**
 * A sentence for a failed TLS handshake, or undefined when `e` is no TLS problem. OpenSSL's own
 * text says little to an operator (and node's suggests --use-system-ca), so the cause is named
 * together with the etcd3 key that fixes it.
 */
export function describeTlsError(e: unknown, origin: string): string | undefined {
  const code = String((e as {code?: unknown})?.code ?? '')
  const what = (s: string) => `TLS handshake with ${origin} failed: ${s} (${code})`
  if (UNTRUSTED_CODES.has(code)) return what('the server certificate is not trusted by the CA in etcd3.cacert (or the system CAs when cacert is unset)')
  if (code === 'CERT_HAS_EXPIRED') return what('the server certificate has expired')
  if (code === 'CERT_NOT_YET_VALID') return what('the server certificate is not valid yet')
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return what(`the server certificate is not issued for this host: ${errorMessage(e)}`)
  if (/^ERR_SSL_.*ALERT.*(CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED|HANDSHAKE_FAILURE)/.test(code)) {
    return what('the server rejected the client certificate, or its absence; set etcd3.cert and etcd3.key to a certificate signed by a CA etcd trusts')
  }
  if (/^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|RECORD_LAYER_FAILURE)/.test(code)) return what('the endpoint does not speak TLS; use protocol http for it')
  if (/^ERR_(SSL|TLS)_/.test(code)) return what(errorMessage(e).trim())
  return undefined
}

function isNetworkError(e: unknown): boolean {
  if (e instanceof TryTimeout) return true
  const code = (e as {code?: string})?.code
  if (code && NETWORK_CODES.has(code)) return true
  return /socket hang up|ECONNRESET/.test(errorMessage(e))
}

export class Etcd3Client implements KvBackend {
  private endpoints: Endpoint[] = []
  private current = 0
  /** Set after a round in which every endpoint failed: discover again before the next one. */
  private rediscover = false
  private discovering: Promise<void> | undefined
  private discoveryError: unknown
  private prefix: string | undefined
  private token: string | undefined
  private authChecked = false
  private retryTimeoutMs: number
  private closed = false
  private readonly watches = new Set<http.ClientRequest>()

  constructor(private readonly o: Etcd3ClientOptions) {
    if (!o.endpoints.length && !o.discover) throw new HactlError('CONFIG_INVALID', 'etcd3: no endpoint configured; set etcd3.host, etcd3.hosts, etcd3.url or etcd3.srv')
    this.retryTimeoutMs = o.retryTimeoutMs ?? 10_000
    this.endpoints = o.endpoints.map((u) => this.endpoint(u))
  }

  private endpoint(u: string): Endpoint {
    let url: URL
    try {
      url = new URL(u)
    } catch {
      throw new HactlError('CONFIG_INVALID', `etcd3: endpoint ${JSON.stringify(u)} is not a URL like http://host:2379`)
    }
    const lookup = this.o.lookup ? {lookup: this.o.lookup} : {}
    const agent = url.protocol === 'https:' ? new (https().Agent)({keepAlive: true, ...lookup, ...this.o.tls}) : new http.Agent({keepAlive: true, ...lookup})
    return {url, agent}
  }

  get endpointUrls(): string[] {
    return this.endpoints.map((e) => e.url.origin)
  }

  /** Replaces the endpoint list, keeping the connections (and the current one) of those that stay. */
  private setEndpoints(urls: string[]): void {
    const old = new Map(this.endpoints.map((e) => [e.url.href, e]))
    const next: Endpoint[] = []
    for (const u of urls) {
      let href: string
      try {
        href = new URL(u).href
      } catch {
        this.o.log?.(`etcd: ignoring discovered endpoint ${JSON.stringify(u)}: not a URL`)
        continue
      }
      if (next.some((e) => e.url.href === href)) continue
      next.push(old.get(href) ?? this.endpoint(u))
    }
    if (!next.length) return
    const cur = this.endpoints[this.current]
    for (const e of this.endpoints) if (!next.includes(e)) e.agent.destroy()
    this.endpoints = next
    this.current = Math.max(0, cur ? next.indexOf(cur) : 0)
  }

  /**
   * Runs discovery (one at a time for all callers, each waiting for it until its own deadline);
   * on failure the known endpoints stay.
   */
  private async discoverEndpoints(deadline: number): Promise<void> {
    const d = this.o.discover!
    const {clock} = this.o
    this.discovering ??= (async () => {
      // With endpoints known, a slow DNS must not eat the whole call: try them again soon.
      const left = Math.max(1, deadline - clock.monotonic())
      const budget = this.endpoints.length ? Math.min(left, Math.max(1000, this.retryTimeoutMs / 3)) : left
      const ac = new AbortController()
      // A guard for a find() that overruns its budget; a little later, so find's own error wins.
      const timeUp = clock.sleep(budget + 200, ac.signal).then(
        () => Promise.reject(new HactlError('DCS_UNAVAILABLE', `no endpoint from ${d.describe} within ${Math.round(budget)} ms`, {recoverable: true})),
        () => new Promise<never>(() => {}),
      )
      try {
        const urls = await Promise.race([d.find(budget), timeUp])
        if (this.closed) return
        this.setEndpoints(urls)
        this.rediscover = false
        this.discoveryError = undefined
      } catch (e) {
        // A round the call's deadline cut short (DNS answers not in yet) tells nothing new: the
        // error of a full round before it says more ("no record" rather than "no answer in time").
        if (!(this.discoveryError && budget < DISCOVERY_FULL_ROUND_MS)) this.discoveryError = e
        this.o.log?.(`etcd: endpoint discovery from ${d.describe} failed: ${errorMessage(e)}`)
      } finally {
        ac.abort(SETTLED)
        this.discovering = undefined
      }
    })()
    const ac = new AbortController()
    try {
      await Promise.race([this.discovering, clock.sleep(Math.max(0, deadline - clock.monotonic()), ac.signal)])
    } finally {
      ac.abort(SETTLED)
    }
  }

  setRetryTimeout(ms: number): void {
    this.retryTimeoutMs = ms
  }

  close(): void {
    this.closed = true
    for (const w of this.watches) w.destroy()
    for (const e of this.endpoints) e.agent.destroy()
  }

  // --- transport -----------------------------------------------------------------------------

  private send(ep: Endpoint, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<any> {
    let cancelTimer = (): void => {}
    return new Promise<any>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body)
      const headers: Record<string, string> = {'user-agent': this.o.userAgent ?? 'hactl'}
      if (data !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = String(Buffer.byteLength(data))
      }
      if (this.token) headers.authorization = this.token
      const mod = ep.url.protocol === 'https:' ? https() : http
      const req = mod.request({
        protocol: ep.url.protocol,
        hostname: ep.url.hostname.replace(/^\[|\]$/g, ''),
        port: ep.url.port || 2379,
        path: ep.url.pathname.replace(/\/$/, '') + path,
        method,
        headers,
        agent: ep.agent,
        ...(this.o.lookup ? {lookup: this.o.lookup} : {}),
      })
      cancelTimer = this.o.clock.timer(timeoutMs, () => req.destroy(new TryTimeout(timeoutMs)))
      req.on('error', reject)
      req.on('response', (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('error', reject)
        res.on('end', () => {
          let json: any
          try {
            json = JSON.parse(text)
          } catch {
            const status = res.statusCode ?? 0
            return reject(status >= 500 ? new EtcdError(`HTTP ${status}: ${text.slice(0, 200)}`, GRPC.Unavailable, status) : new EtcdError(`answer is not JSON (HTTP ${status}): ${text.slice(0, 200)}`, undefined, status))
          }
          const status = res.statusCode ?? 0
          if (status >= 400 || (json && typeof json === 'object' && 'error' in json && !('result' in json))) {
            const err = typeof json?.error === 'object' && json.error ? json.error : json
            const message = String(err?.message ?? err?.error ?? text).trim()
            const code = err?.grpc_code ?? err?.code
            return reject(new EtcdError(message, code === undefined ? (status >= 500 ? GRPC.Unavailable : undefined) : Number(code), status))
          }
          resolve(json)
        })
      })
      req.end(data)
    }).finally(() => cancelTimer())
  }

  /** Prefix from GET /version (patroni/dcs/etcd3.py Etcd3Client._ensure_version_prefix), once per client. */
  private async ensurePrefix(ep: Endpoint, timeoutMs: number): Promise<string> {
    if (this.prefix) return this.prefix
    const v = await this.send(ep, 'GET', '/version', undefined, timeoutMs)
    const parse = (s: unknown) => (typeof s === 'string' ? s.split('.').map((x) => parseInt(x, 10)) : [])
    const server = parse(v?.etcdserver)
    const cluster = parse(v?.etcdcluster)
    const lt = (a: number[], b: number[]) => {
      for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) < b[i]
      return false
    }
    if (!server.length || !cluster.length || lt(cluster, [3, 0]) || lt(server, [3, 0, 4])) {
      throw new HactlError('DCS_PROTOCOL', `etcd at ${ep.url.origin} reports version ${JSON.stringify(v)}; etcd 3.0.4 or later with the v3 API is required`)
    }
    this.prefix = lt(cluster, [3, 3]) ? '/v3alpha' : lt(cluster, [3, 4]) ? '/v3beta' : '/v3'
    return this.prefix
  }

  private async authenticate(ep: Endpoint, timeoutMs: number): Promise<void> {
    const {username, password} = this.o
    this.token = undefined
    if (!username || !password) return
    try {
      const r = await this.send(ep, 'POST', this.prefix + '/auth/authenticate', {name: username, password}, timeoutMs)
      this.token = typeof r?.token === 'string' ? r.token : undefined
    } catch (e) {
      if (e instanceof EtcdError && /authentication is not enabled/.test(e.message)) return
      if (e instanceof EtcdError && /authentication failed|invalid user ID or password|user name not found/i.test(e.message)) {
        throw new HactlError('DCS_AUTH', `etcd at ${ep.url.origin} refused the credentials of user ${JSON.stringify(username)}: ${e.message}`, {
          hints: ['check etcd3.username and etcd3.password (or PATRONI_ETCD3_USERNAME / PATRONI_ETCD3_PASSWORD)'],
        })
      }
      throw e
    }
  }

  /** One RPC with endpoint failover, re-auth and backoff, bounded by the deadline. */
  private async rpc(path: string, body: unknown, opts: CallOptions = {}): Promise<any> {
    const {clock} = this.o
    const deadline = opts.deadline ?? clock.monotonic() + this.retryTimeoutMs
    let lastError: unknown
    let reauthed = false
    let delay = 100
    for (;;) {
      if (this.o.discover && (this.endpoints.length === 0 || this.rediscover) && deadline > clock.monotonic()) {
        await this.discoverEndpoints(deadline)
        if (this.closed) throw new HactlError('DCS_UNAVAILABLE', 'the etcd client is closed', {recoverable: true})
      }
      const n = this.endpoints.length
      const share = Math.max(1000, this.retryTimeoutMs / Math.max(n, 3))
      let failed = 0
      for (let i = 0; i < n; i++) {
        if (this.closed) throw new HactlError('DCS_UNAVAILABLE', 'the etcd client is closed', {recoverable: true})
        const left = deadline - clock.monotonic()
        if (left <= 0) break
        const ep = this.endpoints[this.current]
        const timeout = Math.min(left, share)
        try {
          const prefix = await this.ensurePrefix(ep, timeout)
          if (!this.authChecked) {
            await this.authenticate(ep, timeout)
            this.authChecked = true
          }
          return await this.send(ep, 'POST', prefix + path, body, Math.min(timeout, deadline - clock.monotonic()))
        } catch (e) {
          if (isHactlError(e)) throw e
          if (e instanceof EtcdError) {
            if (/requested lease not found/.test(e.message)) {
              throw new HactlError('DCS_LEASE_NOT_FOUND', `etcd: ${e.message}`, {recoverable: true, cause: e})
            }
            if (TOKEN_ERRORS.includes(e.message) || e.grpcCode === GRPC.Unauthenticated) {
              if (!this.o.username || !this.o.password) {
                throw new HactlError('DCS_AUTH', `etcd at ${ep.url.origin} requires authentication (${e.message}) but no etcd3.username/password is configured`)
              }
              if (!reauthed) {
                reauthed = true
                this.authChecked = false
                i--
                continue
              }
              throw new HactlError('DCS_AUTH', `etcd at ${ep.url.origin} refused user ${JSON.stringify(this.o.username)} for ${path}: ${e.message}`, {cause: e})
            }
            if (e.grpcCode === undefined || !RECOVERABLE_GRPC.has(e.grpcCode)) {
              throw new HactlError('DCS_PROTOCOL', `etcd at ${ep.url.origin} rejected ${path}: ${e.message}${e.grpcCode === undefined ? '' : ` (gRPC code ${e.grpcCode})`}`, {cause: e})
            }
          } else if (!isNetworkError(e) && !describeTlsError(e, ep.url.origin)) {
            throw new HactlError('DCS_PROTOCOL', `etcd at ${ep.url.origin}: ${path}: ${errorMessage(e)}`, {cause: e})
          }
          // A handshake failure may be one endpoint's certificate only: fail over like a network error.
          const tls = describeTlsError(e, ep.url.origin)
          // A try cut off by the overall deadline tells nothing new; keep the error before it.
          if (!(e instanceof TryTimeout && lastError && deadline - clock.monotonic() <= 0)) lastError = tls ? new Error(tls, {cause: e}) : e
          this.o.log?.(`etcd ${ep.url.origin}${path} failed: ${errorMessage(e)}`)
          // The list may have been replaced by a discovery meanwhile: stay within it.
          this.current = (this.current + 1) % Math.max(1, this.endpoints.length)
          failed++
        }
      }
      if (this.o.discover && failed >= n) this.rediscover = true
      const left = deadline - clock.monotonic()
      if (left <= 0 || this.closed) break
      await clock.sleep(Math.min(delay, left))
      delay = Math.min(delay * 2, 1000)
    }
    if (!this.endpoints.length && isHactlError(this.discoveryError)) throw this.discoveryError
    const found = this.o.discover ? ` (found through ${this.o.discover.describe})` : ''
    throw new HactlError(
      'DCS_UNAVAILABLE',
      `etcd is not reachable at ${this.endpointUrls.join(', ') || 'no endpoint'}${found} within ${Math.round(this.retryTimeoutMs / 100) / 10}s: ${lastError ? errorMessage(lastError) : 'deadline already passed'}`,
      {recoverable: true, cause: lastError ?? this.discoveryError, hints: [`check that etcd runs and that ${this.o.discover ? 'the SRV records of etcd3.srv' : 'etcd3.hosts, etcd3.protocol'} and etcd3.cacert/cert/key match it`]},
    )
  }

  // --- KvBackend -----------------------------------------------------------------------------

  async range(key: string, opts: CallOptions & {prefix?: boolean; serializable?: boolean} = {}): Promise<{revision: number; kvs: KeyValue[]}> {
    const body: Record<string, unknown> = {key: b64(key), serializable: opts.serializable ?? false}
    if (opts.prefix) body.range_end = b64(prefixRangeEndBytes(key))
    const r = await this.rpc('/kv/range', body, opts)
    return {revision: int(r?.header?.revision), kvs: (r?.kvs ?? []).map(decodeKv)}
  }

  async put(key: string, value: string, opts: CallOptions & {lease?: string} = {}): Promise<{revision: number}> {
    const body: Record<string, string> = {key: b64(key), value: b64(value)}
    if (opts.lease) body.lease = opts.lease
    const r = await this.rpc('/kv/put', body, opts)
    return {revision: int(r?.header?.revision)}
  }

  async deleteRange(key: string, opts: CallOptions & {prefix?: boolean} = {}): Promise<{revision: number; deleted: number}> {
    const body: Record<string, string> = {key: b64(key)}
    if (opts.prefix) body.range_end = b64(prefixRangeEndBytes(key))
    const r = await this.rpc('/kv/deleterange', body, opts)
    return {revision: int(r?.header?.revision), deleted: int(r?.deleted)}
  }

  async txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[], opts: CallOptions = {}): Promise<TxnResult> {
    const body: Record<string, unknown> = {compare: compare.map(encodeCompare), success: success.map(encodeOp)}
    if (failure) body.failure = failure.map(encodeOp)
    const r = await this.rpc('/kv/txn', body, opts)
    return {succeeded: r?.succeeded === true, revision: int(r?.header?.revision), responses: (r?.responses ?? []).map(decodeOpResult)}
  }

  async leaseGrant(ttlSeconds: number, opts: CallOptions = {}): Promise<{id: string; ttl: number}> {
    const r = await this.rpc('/lease/grant', {TTL: ttlSeconds}, opts)
    if (!r?.ID) throw new HactlError('DCS_PROTOCOL', `etcd lease grant answered without an ID: ${r?.error ?? JSON.stringify(r)}`)
    return {id: String(r.ID), ttl: int(r.TTL)}
  }

  async leaseKeepAlive(id: string, opts: CallOptions = {}): Promise<number> {
    const r = await this.rpc('/lease/keepalive', {ID: id}, opts)
    return int(r?.result?.TTL)
  }

  async leaseRevoke(id: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.rpc('/lease/revoke', {ID: id}, opts)
    } catch (e) {
      if (!isHactlError(e, 'DCS_LEASE_NOT_FOUND')) throw e
    }
  }

  watchPrefix(prefix: string, startRevision: number, handlers: WatchHandlers): WatchHandle {
    let done = false
    let req: http.ClientRequest | undefined
    const finish = (err: Error) => {
      if (done) return
      done = true
      if (req) {
        this.watches.delete(req)
        req.destroy()
      }
      handlers.onClosed(err)
    }
    const ep = this.endpoints[this.current]
    const start = async () => {
      if (!ep) throw new Error('no etcd endpoint known yet')
      // The range that precedes a watch has set up prefix and token on this endpoint.
      const apiPrefix = await this.ensurePrefix(ep, Math.max(1000, this.retryTimeoutMs / 3))
      if (done) return
      const data = JSON.stringify({create_request: {key: b64(prefix), range_end: b64(prefixRangeEndBytes(prefix)), start_revision: String(startRevision)}})
      const headers: Record<string, string> = {'content-type': 'application/json', 'content-length': String(Buffer.byteLength(data)), 'user-agent': this.o.userAgent ?? 'hactl'}
      if (this.token) headers.authorization = this.token
      const mod = ep.url.protocol === 'https:' ? https() : http
      // Its own connection (agent: false) so closing the watch never poisons the pooled sockets.
      const r = mod.request({
        protocol: ep.url.protocol,
        hostname: ep.url.hostname.replace(/^\[|\]$/g, ''),
        port: ep.url.port || 2379,
        path: ep.url.pathname.replace(/\/$/, '') + apiPrefix + '/watch',
        method: 'POST',
        headers,
        agent: false,
        ...(this.o.lookup ? {lookup: this.o.lookup} : {}),
        ...(ep.url.protocol === 'https:' ? this.o.tls : {}),
      })
      req = r
      this.watches.add(r)
      r.on('socket', (s) => s.setKeepAlive(true, 5000))
      r.on('error', (e) => finish(e))
      r.on('close', () => finish(new Error('watch connection closed')))
      r.on('response', (res) => {
        const parser = new JsonObjectStream()
        res.setEncoding('utf8')
        if ((res.statusCode ?? 0) >= 400) {
          let text = ''
          res.on('data', (c: string) => (text += c))
          res.on('end', () => finish(new Error(`watch refused: HTTP ${res.statusCode} ${text.slice(0, 200)}`)))
          return
        }
        res.on('data', (chunk: string) => {
          let messages: unknown[]
          try {
            messages = parser.push(chunk)
          } catch (e) {
            return finish(new Error(`watch stream is not JSON: ${errorMessage(e)}`))
          }
          for (const m of messages as any[]) {
            if (done) return
            if (m?.error) return finish(new Error(`watch error: ${m.error.message ?? JSON.stringify(m.error)}`))
            const result = m?.result
            if (!result) continue
            if (result.canceled) {
              return finish(new Error(`watch cancelled by etcd${result.compact_revision ? ` (compacted at revision ${result.compact_revision})` : ''}${result.cancel_reason ? `: ${result.cancel_reason}` : ''}`))
            }
            if (result.created) handlers.onCreated?.()
            const events: WatchEvent[] = (result.events ?? []).map((ev: any) => ({type: ev.type === 'DELETE' ? 'DELETE' : 'PUT', kv: decodeKv(ev.kv ?? {})}))
            if (events.length) handlers.onEvents(events)
          }
        })
        res.on('end', () => finish(new Error('watch stream ended')))
        res.on('error', (e) => finish(e))
      })
      r.end(data)
    }
    start().catch((e) => finish(e instanceof Error ? e : new Error(String(e))))
    return {close: () => finish(new Error('watch closed by client'))}
  }
}
