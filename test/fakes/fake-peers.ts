/**
 * An in-memory Peers (src/ports/peers.ts) on a Clock, for unit tests: the other members' REST
 * APIs, registered by api_url, each answering with a handler per endpoint, or refusing
 * connections, or silent. Every call is recorded.
 *
 *   const peers = new FakePeers(clock)
 *     .serve('http://10.0.0.2:8008/patroni', {patroni: () => FakePeers.json(200, {state: 'running', role: 'replica', xlog: {...}})})
 *     .setState('http://10.0.0.3:8008/patroni', 'silent')
 *
 * test/contract/peers-contract.ts runs the same checks on this fake
 * (test/unit/agent/fake-peers-contract.test.ts) and on httpPeers against node:http servers
 * (test/integration/api/peers-contract.test.ts).
 *
 * Addressing follows the real adapter (src/adapters/http/patroni-client.ts): status() requests the
 * api_url itself (its path, normally `/patroni`, and query); postFailsafe() and liveness() replace
 * path and query with `/failsafe` and `/liveness`. A target is the api_url's origin (scheme, host,
 * port): one member per address, whatever path it was registered with.
 *
 * States: `up` (the handlers answer; a path without a handler answers 404 with an empty body),
 * `refused` and `down` (nothing listens there: rejects at once with ECONNREFUSED, as an address
 * nobody registered does), `silent` (the connection is accepted and never answered: rejects after
 * timeoutMs on the clock). A handler that takes longer than timeoutMs on the clock counts as
 * silent; a handler that throws hangs up (rejects with "socket hang up").
 */
import type {Clock} from '../../src/ports/clock'
import type {PeerAnswer, Peers} from '../../src/ports/peers'

export type PeerOp = 'status' | 'postFailsafe' | 'liveness'

export interface PeerRequest {
  op: PeerOp
  method: 'GET' | 'POST'
  /** As the caller passed it. */
  apiUrl: string
  /** What the real adapter requests. */
  url: string
  /** Path and query of `url`, as a server sees it: `/patroni`, `/failsafe`, `/liveness`. */
  path: string
  /** The JSON body as the peer parses it (a fresh copy); undefined for GET. */
  body?: unknown
  /** The body on the wire; undefined for GET. */
  bodyText?: string
  timeoutMs: number
  /** clock.now() of the call. */
  atMs: number
}

export type PeerHandler = (req: PeerRequest) => PeerAnswer | Promise<PeerAnswer>
/** Handlers by path without its leading slash: `patroni`, `failsafe`, `liveness`. */
export type PeerHandlers = Partial<Record<string, PeerHandler>>
export type PeerState = 'up' | 'refused' | 'down' | 'silent'

export interface PeerCall extends PeerRequest {
  /** Set when the call settled. */
  outcome?: 'answered' | 'refused' | 'timeout' | 'hang-up' | 'invalid-url'
  answer?: PeerAnswer
  error?: string
  settledAtMs?: number
}

interface Target {
  state: PeerState
  handlers: PeerHandlers | PeerHandler
}

const NOT_FOUND: PeerAnswer = {status: 404, body: ''}

function netError(message: string, code: string): Error {
  return Object.assign(new Error(message), {code})
}

export class FakePeers implements Peers {
  private readonly targets = new Map<string, Target>()
  /** Every call, in call order. */
  readonly calls: PeerCall[] = []

  constructor(readonly clock: Clock) {}

  /** An answer with a JSON body. */
  static json(status: number, value: unknown): PeerAnswer {
    return {status, body: JSON.stringify(value)}
  }

  /**
   * The member at `apiUrl` answers: `handlers` by endpoint, or one handler for every path. Replaces
   * whatever was registered at that address, and sets its state to `up`.
   */
  serve(apiUrl: string, handlers: PeerHandlers | PeerHandler): this {
    this.targets.set(origin(apiUrl), {state: 'up', handlers})
    return this
  }

  /** Changes the state of `apiUrl`'s address (registering it without handlers if needed). */
  setState(apiUrl: string, state: PeerState): this {
    const key = origin(apiUrl)
    const t = this.targets.get(key)
    if (t) t.state = state
    else this.targets.set(key, {state, handlers: {}})
    return this
  }

  state(apiUrl: string): PeerState {
    return this.targets.get(origin(apiUrl))?.state ?? 'refused'
  }

  /** Forgets the address: connections are refused again. */
  remove(apiUrl: string): this {
    this.targets.delete(origin(apiUrl))
    return this
  }

  /** Calls to `apiUrl`'s address (any endpoint). */
  callsTo(apiUrl: string): PeerCall[] {
    const key = origin(apiUrl)
    return this.calls.filter((c) => safeOrigin(c.apiUrl) === key)
  }

  status(apiUrl: string, timeoutMs: number): Promise<PeerAnswer> {
    return this.request('status', apiUrl, timeoutMs)
  }

  postFailsafe(apiUrl: string, body: unknown, timeoutMs: number): Promise<PeerAnswer> {
    return this.request('postFailsafe', apiUrl, timeoutMs, body)
  }

  liveness(apiUrl: string, timeoutMs: number): Promise<PeerAnswer> {
    return this.request('liveness', apiUrl, timeoutMs)
  }

  private async request(op: PeerOp, apiUrl: string, timeoutMs: number, body?: unknown): Promise<PeerAnswer> {
    const method = op === 'postFailsafe' ? 'POST' : 'GET'
    const call: PeerCall = {op, method, apiUrl, url: apiUrl, path: '', timeoutMs, atMs: this.clock.now()}
    this.calls.push(call)
    const fail = (outcome: PeerCall['outcome'], e: Error): never => {
      call.outcome = outcome
      call.error = e.message
      call.settledAtMs = this.clock.now()
      throw e
    }
    let url: URL
    try {
      url = new URL(apiUrl)
    } catch {
      return fail('invalid-url', new Error(`api_url ${JSON.stringify(apiUrl)} is not a URL`))
    }
    const endpoint = op === 'status' ? undefined : op === 'postFailsafe' ? 'failsafe' : 'liveness'
    if (endpoint !== undefined) url = new URL(`${url.protocol}//${url.host}/${endpoint}`)
    call.url = url.href
    call.path = url.pathname + url.search
    if (body !== undefined) {
      call.bodyText = typeof body === 'string' ? body : JSON.stringify(body)
      try {
        call.body = JSON.parse(call.bodyText)
      } catch {
        call.body = undefined
      }
    }
    const target = this.targets.get(url.origin)
    const state = target?.state ?? 'refused'
    if (state === 'refused' || state === 'down') {
      await Promise.resolve() // a refused connect still comes back through the event loop
      return fail('refused', netError(`connect ECONNREFUSED ${url.host}`, 'ECONNREFUSED'))
    }
    const silence = () => netError(`no answer from ${url.host} within ${timeoutMs} ms`, 'ETIMEDOUT')
    if (state === 'silent') {
      await this.clock.sleep(timeoutMs)
      return fail('timeout', silence())
    }
    const h = target!.handlers
    const handler = typeof h === 'function' ? h : h[url.pathname.slice(1)]
    const req: PeerRequest = {op, method, apiUrl, url: call.url, path: call.path, timeoutMs, atMs: call.atMs}
    if (call.bodyText !== undefined) {
      req.bodyText = call.bodyText
      req.body = call.body === undefined ? undefined : structuredClone(call.body)
    }
    const timer = new AbortController()
    type Outcome = {answer: PeerAnswer} | {error: unknown} | 'timeout'
    const answered: Promise<Outcome> = Promise.resolve()
      .then(() => (handler ? handler(req) : NOT_FOUND))
      .then(
        (answer) => ({answer}),
        (error: unknown) => ({error}),
      )
    const timedOut: Promise<Outcome> = this.clock.sleep(timeoutMs, timer.signal).then(
      () => 'timeout' as const,
      () => new Promise<never>(() => {}), // cancelled: the answer won
    )
    const r = await Promise.race([answered, timedOut])
    timer.abort()
    if (r === 'timeout') return fail('timeout', silence())
    if ('error' in r) return fail('hang-up', netError(`socket hang up (${r.error instanceof Error ? r.error.message : String(r.error)})`, 'ECONNRESET'))
    const answer = {status: r.answer.status, body: r.answer.body}
    call.outcome = 'answered'
    call.answer = answer
    call.settledAtMs = this.clock.now()
    return {...answer}
  }
}

function origin(apiUrl: string): string {
  return new URL(apiUrl).origin
}

function safeOrigin(apiUrl: string): string | undefined {
  try {
    return origin(apiUrl)
  } catch {
    return undefined
  }
}
