/**
 * The REST API server (docs/architecture.md#rest-api) on node:http / node:https, answering like
 * Patroni's RestApiServer (patroni/api.py): one request per connection (`Connection: close`),
 * routing on the first path segment, generic health checks for any other GET/HEAD/OPTIONS path, 501
 * for other methods.
 *
 * Health checks come from load balancers that close the connection the moment they have the
 * status line, often with a reset. Those are normal here: connection errors are logged at DEBUG
 * and never reach the process as unhandled 'error' events.
 *
 * Known differences from Patroni's wire behaviour (all invisible to Patroni, patronictl, HAProxy,
 * kubelet): responses are HTTP/1.1 status lines with `Connection: close` and a Content-Length;
 * status-only answers (HEAD, OPTIONS, /liveness, /readiness) carry those two headers instead of
 * none; an unparsable `?lag=` is 400 instead of "no limit"; request bodies are capped (413).
 */
import {readFileSync} from 'node:fs'
import * as http from 'node:http'
import type * as HttpsModule from 'node:https'
import type {AddressInfo, Socket} from 'node:net'
import type {TLSSocket} from 'node:tls'
import {COMMIT, PATRONI_COMPAT_VERSION, VERSION} from '../build-info'
import {errorMessage, HactlError} from '../errors'
import {AddressSet, basicAuthKey, checkBasicAuth, normalizeAddress, parseAllowlistEntry} from './auth'
import {clusterJson, configJson, historyJson} from './cluster'
import {healthStatus, livenessStatus, readinessStatus, type ReadinessCheck} from './health'
import {renderMetrics} from './metrics'
import {parseHealthFilters, parseTarget, type RequestTarget} from './query'
import {buildStatusDocument, type PrimaryRoleName, type StatusOptions} from './status'
import type {ActionHandlers, ActionResult, AgentStateSource, ApiLog, NodeSnapshot, RequestContext} from './types'

// node:https loads tls and OpenSSL's TLS state, ~2 MB of private memory per agent: only a REST API
// with a certificate needs it (the etcd3 client loads it the same way, for https endpoints only).
let httpsModule: typeof HttpsModule | undefined
const https = (): typeof HttpsModule => (httpsModule ??= require('node:https') as typeof HttpsModule)

/** The `restapi` settings the server uses; src/config's RestApiConfig can be passed as is. */
export interface RestApiSettings {
  /** `''` or `*` listens on every interface (IPv6 and IPv4). Port 0 picks a free port (tests). */
  listen: {host: string; port: number}
  certfile?: string
  keyfile?: string
  keyfile_password?: string
  cafile?: string
  ciphers?: string
  verify_client?: 'none' | 'optional' | 'required'
  authentication?: {username?: string; password?: string}
  allowlist?: string[]
  allowlist_include_members?: boolean
  http_extra_headers?: Record<string, string>
  https_extra_headers?: Record<string, string>
  /** listen(2) backlog; Patroni's default is 5. */
  request_queue_size?: number
  /** Patroni 4.1's `Server` header choice: original (default), ProductOnly, Minimal; any case. */
  server_tokens?: unknown
}

export interface StartRestApiOptions {
  settings: RestApiSettings
  source: AgentStateSource
  handlers?: ActionHandlers
  log: ApiLog
  /** `patroni.version` and `patroni_version`; defaults to build-info PATRONI_COMPAT_VERSION (3.3.1). */
  patroniVersion?: string
  /** Spelling of a primary's `role`; default `master` (what 3.x, the version reported, writes). */
  primaryRoleName?: PrimaryRoleName
  /** Epoch ms; the agent passes its Clock so /liveness agrees with the loop's notion of time. */
  now?: () => number
  /** Largest request body accepted (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number
}

export interface RestApi {
  /** Where the server listens now (the real port when 0 was asked for). */
  readonly address: {host: string; port: number; protocol: 'http' | 'https'}
  /**
   * Applies new settings (SIGHUP, POST /reload): auth, allowlist and headers in place; a new
   * listen address or TLS setting rebinds; changed certificate files are reloaded without a rebind.
   * On a failed rebind the old server is restored when possible and the error is thrown.
   */
  reconfigure(settings: RestApiSettings): Promise<void>
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

interface Derived {
  settings: RestApiSettings
  tls: HttpsModule.ServerOptions | null
  /** Identity of the socket-level settings: a change means a rebind. */
  bindKey: string
  /** Identity of the certificate material: a change means a new secure context. */
  certKey: string
  authKey: string | null
  allow: AddressSet | null
  extraHeaders: Record<string, string>
  /** The `Server` header (restapi.server_tokens). */
  serverHeader: string
}

/**
 * restapi.server_tokens as Patroni 4.1 reads it (patroni/api.py construct_server_tokens):
 * `ProductOnly` names the product without a version, `Minimal` and `original` (the default) add
 * hactl's version; hactl never shows a runtime version, so Minimal equals original. Another
 * value keeps the default and is logged, as Patroni does.
 */
export function serverHeader(tokens: unknown, log?: ApiLog): string {
  const full = `hactl/${VERSION}`
  if (tokens === undefined || tokens === null) return full
  const t = String(tokens).toLowerCase()
  if (t === 'productonly') return 'hactl'
  if (t === 'minimal' || t === 'original') return full
  log?.warning(`restapi.server_tokens is set to "${String(tokens)}". hactl will not modify the Server header. Valid values are: "Minimal", "ProductOnly".`)
  return full
}

const UNSAFE: Record<string, {handler: keyof ActionHandlers | null; body: 'required' | 'optional' | 'none'; auth: boolean}> = {
  'PATCH config': {handler: 'patchConfig', body: 'required', auth: true},
  'PUT config': {handler: 'putConfig', body: 'required', auth: true},
  'POST reload': {handler: 'reload', body: 'none', auth: true},
  'POST failsafe': {handler: 'failsafe', body: 'required', auth: true},
  'POST restart': {handler: 'restart', body: 'optional', auth: true},
  'DELETE restart': {handler: 'cancelRestart', body: 'none', auth: true},
  'DELETE switchover': {handler: 'cancelSwitchover', body: 'none', auth: true},
  'POST reinitialize': {handler: 'reinitialize', body: 'optional', auth: true},
  'POST failover': {handler: 'failover', body: 'required', auth: true},
  'POST switchover': {handler: 'switchover', body: 'required', auth: true},
  // Patroni-only features hactl does not have: answered, never acted on.
  'POST sigterm': {handler: null, body: 'none', auth: true},
  'POST citus': {handler: null, body: 'required', auth: true},
  'POST mpp': {handler: null, body: 'required', auth: false},
}

const GET_ROUTES = new Set(['patroni', 'cluster', 'history', 'config', 'metrics', 'liveness', 'readiness', 'failsafe'])

function configError(message: string, cause?: unknown): HactlError {
  return new HactlError('CONFIG_INVALID', message, {cause, exitCode: 1})
}

function readFileFor(key: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (e) {
    throw configError(`restapi.${key}: cannot read ${path}: ${errorMessage(e)}`, e)
  }
}

function deriveTls(s: RestApiSettings): HttpsModule.ServerOptions | null {
  if (!s.certfile) return null
  const verify = s.verify_client ?? 'none'
  const opts: HttpsModule.ServerOptions = {
    cert: readFileFor('certfile', s.certfile),
    key: readFileFor('keyfile', s.keyfile ?? s.certfile),
    requestCert: verify !== 'none',
    rejectUnauthorized: verify === 'required',
  }
  if (s.keyfile_password !== undefined) opts.passphrase = s.keyfile_password
  if (s.cafile) opts.ca = readFileFor('cafile', s.cafile)
  if (s.ciphers) opts.ciphers = s.ciphers
  return opts
}

function checkHeaders(key: string, headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    try {
      http.validateHeaderName(name)
      http.validateHeaderValue(name, String(value))
    } catch {
      throw configError(`restapi.${key}.${name}: not a valid HTTP header name and value`)
    }
    out[name] = String(value)
  }
  return out
}

async function resolveHost(host: string, log: ApiLog): Promise<string[]> {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  if (normalizeAddress(bare) !== bare || /^[\d.]+$/.test(bare) || bare.includes(':')) return [bare]
  // getaddrinfo can hang on a broken resolver; an unsafe request must not hang with it.
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out after 2 s')), 2000)
    })
    const {lookup} = require('node:dns/promises') as typeof import('node:dns/promises')
    const found = await Promise.race([lookup(bare, {all: true}), timeout])
    return found.map((a) => a.address)
  } catch (e) {
    log.error(`REST API allowlist: failed to resolve ${bare}: ${errorMessage(e)}`)
    return []
  } finally {
    clearTimeout(timer)
  }
}

async function derive(s: RestApiSettings, log: ApiLog): Promise<Derived> {
  const tls = deriveTls(s)
  let allow: AddressSet | null = null
  if ((s.allowlist && s.allowlist.length > 0) || s.allowlist_include_members) {
    allow = new AddressSet()
    for (const raw of s.allowlist ?? []) {
      const e = parseAllowlistEntry(raw)
      if (typeof e === 'string') throw configError(e)
      if (e.kind === 'network') allow.addNetwork(e.address, e.prefix)
      else for (const ip of await resolveHost(e.host, log)) allow.addAddress(ip)
    }
  }
  const extraHeaders = {
    ...checkHeaders('http_extra_headers', s.http_extra_headers),
    ...(tls ? checkHeaders('https_extra_headers', s.https_extra_headers) : {}),
  }
  const bindKey = JSON.stringify([s.listen.host, s.listen.port, s.request_queue_size ?? 5, s.certfile ?? null, s.keyfile ?? null, s.cafile ?? null, s.ciphers ?? null, s.verify_client ?? null, s.keyfile_password ?? null])
  const certKey = tls ? JSON.stringify([String(tls.cert), String(tls.key), String(tls.ca ?? '')]) : ''
  return {settings: s, tls, bindKey, certKey, authKey: basicAuthKey(s.authentication), allow, extraHeaders, serverHeader: serverHeader(s.server_tokens, log)}
}

/** Python's send_error page, in our own words; the body only matters to a human with curl. */
function errorPage(code: number, message?: string): string {
  const reason = http.STATUS_CODES[code] ?? 'Error'
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  return `<!DOCTYPE HTML>\n<html lang="en">\n<head><meta charset="utf-8"><title>Error response</title></head>\n<body>\n<h1>Error response</h1>\n<p>Error code: ${code}</p>\n<p>Message: ${esc(message ?? reason)}.</p>\n</body>\n</html>\n`
}

type BodyResult = {kind: 'ok'; data: Buffer} | {kind: 'too-large'} | {kind: 'aborted'}

function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'] ?? '0')
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({kind: 'too-large'})
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (r: BodyResult) => {
      if (done) return
      done = true
      resolve(r)
    }
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        req.pause()
        finish({kind: 'too-large'})
      } else if (!done) chunks.push(c)
    })
    req.on('end', () => finish({kind: 'ok', data: Buffer.concat(chunks)}))
    req.on('error', () => finish({kind: 'aborted'}))
    req.on('close', () => finish(req.complete ? {kind: 'ok', data: Buffer.concat(chunks)} : {kind: 'aborted'}))
  })
}

class Server implements RestApi {
  private server!: http.Server | HttpsModule.Server
  private cfg!: Derived
  private readonly sockets = new Set<Socket>()
  private readonly statusOpts: StatusOptions
  private scope: string | undefined
  private readonly now: () => number
  private readonly maxBody: number
  private closed = false

  constructor(private readonly o: StartRestApiOptions) {
    this.statusOpts = {patroniVersion: o.patroniVersion ?? PATRONI_COMPAT_VERSION, primaryRoleName: o.primaryRoleName ?? 'master', hactl: {version: VERSION, commit: COMMIT}}
    this.now = o.now ?? Date.now
    this.maxBody = o.maxBodyBytes ?? 1024 * 1024
  }

  /** The status options for one snapshot: the role spelling the cluster reads, unless fixed by the caller. */
  private statusFor(snap: NodeSnapshot): StatusOptions {
    const name = this.o.primaryRoleName ?? snap.primaryRoleName
    return name && name !== this.statusOpts.primaryRoleName ? {...this.statusOpts, primaryRoleName: name} : this.statusOpts
  }

  get address(): RestApi['address'] {
    const a = this.server.address() as AddressInfo | null
    return {host: a?.address ?? this.cfg.settings.listen.host, port: a?.port ?? 0, protocol: this.cfg.tls ? 'https' : 'http'}
  }

  async start(settings: RestApiSettings): Promise<void> {
    this.cfg = await derive(settings, this.o.log)
    this.server = await this.bind(this.cfg)
  }

  private async bind(cfg: Derived): Promise<http.Server | HttpsModule.Server> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res)
    let server: http.Server | HttpsModule.Server
    try {
      server = cfg.tls ? https().createServer(cfg.tls, handler) : http.createServer(handler)
    } catch (e) {
      throw configError(`restapi.certfile/keyfile: cannot load the certificate or key (wrong keyfile_password?): ${errorMessage(e)}`, e)
    }
    server.headersTimeout = 10_000
    server.requestTimeout = 30_000
    server.keepAliveTimeout = 1_000
    server.on('connection', (sock: Socket) => {
      this.sockets.add(sock)
      sock.on('close', () => this.sockets.delete(sock))
      // The http module reports socket errors through 'clientError'; this only guards the gap
      // before it attaches its own listener.
      sock.on('error', () => {})
    })
    server.on('clientError', (err: NodeJS.ErrnoException, sock: Socket) => this.onClientError(err, sock))
    server.on('tlsClientError', (err: Error, sock: TLSSocket) => {
      this.o.log.debug(`REST API: TLS handshake with ${sock.remoteAddress ?? '?'} failed: ${err.message}`)
      sock.destroy()
    })
    const host = cfg.settings.listen.host === '' || cfg.settings.listen.host === '*' ? undefined : cfg.settings.listen.host.replace(/^\[(.*)\]$/, '$1')
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        reject(
          new HactlError('CONFIG_INVALID', `restapi.listen: cannot listen on ${cfg.settings.listen.host}:${cfg.settings.listen.port}: ${e.code ?? e.message}`, {
            cause: e,
            hints: ['check that no other process uses the port and that the address belongs to this host'],
          }),
        )
      }
      server.once('error', onError)
      server.listen({host, port: cfg.settings.listen.port, backlog: cfg.settings.request_queue_size ?? 5}, () => {
        server.off('error', onError)
        resolve()
      })
    })
    server.on('error', (e) => this.o.log.error(`REST API server error: ${errorMessage(e)}`))
    return server
  }

  private onClientError(err: NodeJS.ErrnoException, sock: Socket): void {
    const code = err.code ?? ''
    this.o.log.debug(`REST API: connection from ${sock.remoteAddress ?? '?'}: ${code || err.message}`)
    if (code === 'ECONNRESET' || code === 'EPIPE' || !sock.writable || (sock as Socket & {_httpMessage?: unknown})._httpMessage) {
      sock.destroy()
      return
    }
    const status = code === 'HPE_INVALID_METHOD' ? 501 : code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    sock.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  }

  async reconfigure(settings: RestApiSettings): Promise<void> {
    const next = await derive(settings, this.o.log)
    if (next.bindKey === this.cfg.bindKey) {
      if (next.tls && next.certKey !== this.cfg.certKey) (this.server as HttpsModule.Server).setSecureContext(next.tls)
      this.cfg = next
      return
    }
    const old = this.cfg
    await this.stopServer()
    try {
      this.server = await this.bind(next)
      this.cfg = next
    } catch (e) {
      try {
        this.server = await this.bind(old)
      } catch (e2) {
        this.o.log.error(`REST API: could not restore the previous listener either: ${errorMessage(e2)}`)
      }
      throw e
    }
  }

  private stopServer(): Promise<void> {
    const server = this.server
    return new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
      for (const s of this.sockets) s.destroy()
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.stopServer()
  }

  // ------------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    res.on('error', (e) => this.o.log.debug(`REST API: response to ${req.socket.remoteAddress ?? '?'} failed: ${e.message}`))
    req.on('error', () => {})
    try {
      await this.route(req, res)
    } catch (e) {
      this.o.log.error(`REST API: ${req.method} ${req.url}: ${errorMessage(e)}`)
      if (!res.headersSent) this.sendError(res, 500)
      else res.destroy()
    } finally {
      const ms = (Number(process.hrtime.bigint() - started) / 1e6).toFixed(3)
      this.o.log.debug(`API thread: ${req.socket.remoteAddress ?? '?'} - - "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} - latency: ${ms} ms`)
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? ''
    const target = parseTarget(req.url ?? '')
    if (!target) return this.sendError(res, 400, 'Bad request path')
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') {
      if (method === 'GET' && GET_ROUTES.has(target.segment)) return this.get(target, res)
      return this.health(target, res, method !== 'GET')
    }
    const route = UNSAFE[`${method} ${target.segment}`]
    if (!route) return this.sendError(res, 501, `Unsupported method (${JSON.stringify(method)})`)
    return this.unsafe(req, res, target, route)
  }

  private async snapshot(retry: boolean, live = retry): Promise<NodeSnapshot> {
    const snap = await this.o.source.snapshot({retry, live})
    this.scope = snap.scope
    return snap
  }

  private async health(target: RequestTarget, res: http.ServerResponse, statusOnly: boolean): Promise<void> {
    const filters = parseHealthFilters(target.query)
    if (!filters.ok) return statusOnly ? this.sendStatusOnly(res, 400) : this.sendText(res, 400, filters.error)
    let snap: NodeSnapshot
    try {
      // PostgreSQL asked at the request, as Patroni's health checks do (get_postgresql_status).
      snap = await this.snapshot(false, true)
    } catch (e) {
      return this.unavailable(res, e, statusOnly)
    }
    const doc = buildStatusDocument(snap, this.statusFor(snap))
    const status = healthStatus(target.path, snap, doc, filters.value)
    // HAProxy's OPTIONS/HEAD checks read the status line and nothing more.
    if (statusOnly) return this.sendStatusOnly(res, status)
    this.sendJson(res, status, doc)
  }

  private unavailable(res: http.ServerResponse, e: unknown, statusOnly: boolean): void {
    this.o.log.warning(`REST API: node status unavailable: ${errorMessage(e)}`)
    if (statusOnly) this.sendStatusOnly(res, 503)
    else this.sendText(res, 503, `status unavailable: ${errorMessage(e)}`)
  }

  private async get(target: RequestTarget, res: http.ServerResponse): Promise<void> {
    const seg = target.segment
    if (seg === 'liveness' || seg === 'readiness') {
      // Patroni 4.1's readiness parameters (health.ts readinessStatus); an unreadable lag is a 400 as on the health checks.
      let check: ReadinessCheck | undefined
      if (seg === 'readiness' && (target.query.has('lag') || target.query.has('mode'))) {
        const f = parseHealthFilters(target.query)
        if (!f.ok) return this.sendStatusOnly(res, 400)
        check = {maxLag: f.value.maxLag, mode: target.query.get('mode') === 'write' ? 'write' : 'apply'}
      }
      let snap: NodeSnapshot
      try {
        snap = await this.snapshot(false)
      } catch (e) {
        return this.unavailable(res, e, true)
      }
      return this.sendStatusOnly(res, seg === 'liveness' ? livenessStatus(snap, this.now()) : readinessStatus(snap, check))
    }
    if (seg === 'cluster') {
      let view
      try {
        view = this.o.source.readCluster ? await this.o.source.readCluster() : (await this.snapshot(false)).cluster
      } catch (e) {
        return this.sendText(res, 503, `DCS is not accessible: ${errorMessage(e)}`)
      }
      if (!view) return this.sendText(res, 503, 'DCS is not accessible: no cluster view')
      // The scope never changes while the agent runs; ask for a snapshot only before the first one.
      this.scope ??= (await this.snapshot(false).catch(() => null))?.scope
      return this.sendJson(res, 200, clusterJson(view, this.scope ?? ''))
    }
    let snap: NodeSnapshot
    try {
      snap = await this.snapshot(seg === 'patroni' || seg === 'metrics')
    } catch (e) {
      return this.unavailable(res, e, false)
    }
    switch (seg) {
      case 'patroni':
        return this.sendJson(res, 200, buildStatusDocument(snap, this.statusFor(snap)))
      case 'metrics':
        return this.send(res, 200, renderMetrics(snap, buildStatusDocument(snap, this.statusFor(snap)), this.statusOpts.patroniVersion), 'text/plain')
      case 'failsafe':
        if (snap.globalConfig.failsafe_mode && snap.cluster?.failsafe) return this.sendJson(res, 200, snap.cluster.failsafe)
        return this.sendError(res, 502)
    }
    // history and config: the cached view, else a fresh read, as Patroni does.
    let view = snap.cluster
    if (!view && this.o.source.readCluster) {
      try {
        view = await this.o.source.readCluster()
      } catch (e) {
        return this.sendText(res, 503, `DCS is not accessible: ${errorMessage(e)}`)
      }
    }
    if (!view) return this.sendText(res, 503, 'DCS is not accessible: no cluster view')
    if (seg === 'history') return this.sendJson(res, 200, historyJson(view))
    const cfg = configJson(view)
    return cfg ? this.sendJson(res, 200, cfg) : this.sendError(res, 502)
  }

  private async unsafe(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    target: RequestTarget,
    route: (typeof UNSAFE)[string],
  ): Promise<void> {
    // Read (bounded) before answering anything: replying while the client still sends makes
    // the kernel reset the connection, and the client would lose the answer.
    const raw = await readBody(req, this.maxBody)
    if (raw.kind === 'aborted') return void res.destroy()
    if (raw.kind === 'too-large') {
      this.sendText(res, 413, `request body larger than ${this.maxBody} bytes`)
      return
    }
    if (route.auth && !(await this.checkAccess(req, res))) return

    let body: Record<string, unknown> = {}
    if (route.body !== 'none') {
      const hasLength = req.headers['content-length'] !== undefined
      if (!hasLength && route.body === 'required') return this.sendError(res, 411)
      if (hasLength && !(route.body === 'optional' && raw.data.length === 0)) {
        let parsed: unknown
        try {
          parsed = JSON.parse(raw.data.toString('utf8'))
        } catch {
          return this.sendError(res, 400, 'Bad request: the body is not valid JSON')
        }
        const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
        if (!isObject || (route.body === 'required' && Object.keys(parsed as object).length === 0)) {
          return this.sendError(res, 400, 'Bad request: the body must be a non-empty JSON object')
        }
        body = parsed as Record<string, unknown>
      }
    }

    const name = `${req.method} /${target.segment}`
    const fn = route.handler ? this.o.handlers?.[route.handler] : undefined
    if (!fn) return this.sendText(res, 503, `${name} is not supported by this hactl node yet`)
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    const ctx: RequestContext = {clientAddress: normalizeAddress(req.socket.remoteAddress ?? ''), signal: abort.signal}
    let result: ActionResult
    try {
      result =
        route.body === 'none'
          ? await (fn as (ctx: RequestContext) => Promise<ActionResult>).call(this.o.handlers, ctx)
          : await (fn as (b: Record<string, unknown>, ctx: RequestContext) => Promise<ActionResult>).call(this.o.handlers, body, ctx)
    } catch (e) {
      this.o.log.error(`REST API: ${name} failed: ${errorMessage(e)}`)
      return this.sendText(res, 500, `${name} failed: ${errorMessage(e)}`)
    }
    if (res.destroyed) return
    const status = Number.isInteger(result?.status) && result.status >= 100 && result.status <= 599 ? result.status : 500
    if (typeof result?.body === 'string') this.sendText(res, status, result.body, result.headers)
    else this.sendJson(res, status, result?.body ?? null, result?.headers)
  }

  /** Spec 2.2 in Patroni's order: allowlist (403), client certificate (403), Basic auth (401). */
  private async checkAccess(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const cfg = this.cfg
    const ip = normalizeAddress(req.socket.remoteAddress ?? '')
    if (cfg.allow) {
      let allowed = cfg.allow.has(ip)
      if (!allowed && cfg.settings.allowlist_include_members) allowed = (await this.memberAddresses()).has(ip)
      if (!allowed) {
        this.sendText(res, 403, 'Access is denied')
        return false
      }
    }
    const verify = cfg.settings.verify_client
    if (cfg.tls && (verify === 'required' || verify === 'optional') && !(req.socket as TLSSocket).authorized) {
      this.sendText(res, 403, 'client certificate required')
      return false
    }
    const reason = checkBasicAuth(req.headers.authorization, cfg.authKey)
    if (reason) {
      this.sendText(res, 401, reason, {'WWW-Authenticate': 'Basic realm="Patroni"'})
      return false
    }
    return true
  }

  private async memberAddresses(): Promise<AddressSet> {
    const set = new AddressSet()
    let view
    try {
      view = (await this.snapshot(false)).cluster
    } catch {
      return set
    }
    for (const m of view?.members ?? []) {
      if (!m.apiUrl) continue
      let host: string
      try {
        host = new URL(m.apiUrl).hostname
      } catch {
        continue
      }
      for (const ip of await resolveHost(host, this.o.log)) set.addAddress(ip)
    }
    return set
  }

  // ------------------------------------------------------------------------------------------

  private send(res: http.ServerResponse, status: number, body: string, contentType: string, headers?: Record<string, string>): void {
    if (res.destroyed || res.headersSent) return
    res.statusCode = status
    res.setHeader('Server', this.cfg.serverHeader)
    res.setHeader('Content-Type', contentType)
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v)
    for (const [k, v] of Object.entries(this.cfg.extraHeaders)) res.setHeader(k, v)
    res.setHeader('Connection', 'close')
    res.end(body)
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
    this.send(res, status, JSON.stringify(body), 'application/json', headers)
  }

  private sendText(res: http.ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
    this.send(res, status, text, 'text/html', headers)
  }

  private sendError(res: http.ServerResponse, status: number, message?: string): void {
    this.send(res, status, errorPage(status, message), 'text/html;charset=utf-8')
  }

  private sendStatusOnly(res: http.ServerResponse, status: number): void {
    if (res.destroyed || res.headersSent) return
    res.sendDate = false
    res.writeHead(status, {Connection: 'close', 'Content-Length': '0'})
    res.end()
  }
}

/** Binds the REST API and starts answering. Throws CONFIG_INVALID when it cannot listen or load TLS material. */
export async function startRestApi(options: StartRestApiOptions): Promise<RestApi> {
  const s = new Server(options)
  await s.start(options.settings)
  return s
}
