/**
 * Leadership from the local agent's REST API (vip-manager's `dcs-type: patroni`): GET
 * `<endpoint>/<trigger-key>` every `interval` ms with a 1 s timeout; leader when the status
 * code, as text, equals trigger-value (default `/leader` and `200`). A connection error or
 * timeout is unknown, so the VIP goes (vip-manager 5.0 semantics).
 *
 * Unlike vip-manager the first check runs at once, not after one interval, and the URL is
 * joined with exactly one slash (vip-manager's `http://127.0.0.1:8008/` + `/leader` sent
 * `//leader`, which only Python's http.server forgives).
 */
import * as http from 'node:http'
import type * as HttpsModule from 'node:https'
import {errorMessage} from '../../errors'
import {isAbortError, SETTLED, type Clock} from '../../ports/clock'
import type {Leadership, LeaderSource, VipLogLevel} from '../../ports/vip'

export interface PatroniLeaderOptions {
  endpoint: string
  path: string
  expected: string
  clock: Clock
  intervalMs: number
  /** PEM contents for https endpoints. */
  tls?: {ca?: Buffer; cert?: Buffer; key?: Buffer}
  timeoutMs?: number
  log: (level: VipLogLevel, msg: string) => void
}

export function joinUrl(endpoint: string, path: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`
}

export class PatroniLeaderSource implements LeaderSource {
  private readonly stopper = new AbortController()
  private loop?: Promise<void>
  private readonly url: string
  private lastLog?: string

  constructor(private readonly o: PatroniLeaderOptions) {
    this.url = joinUrl(o.endpoint, o.path)
  }

  start(report: (s: Leadership) => void): void {
    const signal = this.stopper.signal
    this.loop = (async () => {
      while (!signal.aborted) {
        const s = await this.check()
        if (signal.aborted) return
        report(s)
        await this.o.clock.sleep(this.o.intervalMs, signal)
      }
    })().catch((e) => {
      if (!isAbortError(e)) this.o.log('error', `REST leader check stopped on an unexpected error: ${errorMessage(e)}`)
    })
  }

  async stop(): Promise<void> {
    this.stopper.abort()
    await this.loop
  }

  private logOnce(level: VipLogLevel, line: string): void {
    if (line === this.lastLog) return this.o.log('debug', line)
    this.lastLog = line
    this.o.log(level, line)
  }

  private async check(): Promise<Leadership> {
    try {
      const status = await this.get()
      const ok = String(status) === this.o.expected
      if (status < 200 || status > 299) this.logOnce('info', `REST API returned non-success status code ${status} for ${this.url} (expected ${this.o.expected})`)
      else this.logOnce('info', `REST API returned ${status} for ${this.url} (expected ${this.o.expected})`)
      return ok
        ? {kind: 'leader', detail: `GET ${this.url} answered ${status}`}
        : {kind: 'not-leader', detail: `GET ${this.url} answered ${status}, not ${this.o.expected}`}
    } catch (e) {
      this.logOnce('error', `REST API error connecting to ${this.url}: ${errorMessage(e)}`)
      return {kind: 'unknown', detail: `GET ${this.url} failed: ${errorMessage(e)}`}
    }
  }

  private get(): Promise<number> {
    const timeoutMs = this.o.timeoutMs ?? 1000
    return new Promise<number>((resolve, reject) => {
      const url = new URL(this.url)
      const https = url.protocol === 'https:'
      const mod = https ? (require('node:https') as typeof HttpsModule) : http
      const req = mod.request(url, {method: 'GET', agent: false, headers: {connection: 'close', 'user-agent': 'hactl-vip'}, ...(https ? this.o.tls : {})}, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      })
      const ac = new AbortController()
      this.o.clock.sleep(timeoutMs, ac.signal).then(
        () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        () => {},
      )
      const onStop = () => req.destroy(new Error('stopped'))
      this.stopper.signal.addEventListener('abort', onStop, {once: true})
      req.on('error', reject)
      req.on('close', () => {
        ac.abort(SETTLED)
        this.stopper.signal.removeEventListener('abort', onStop)
      })
      req.end()
    })
  }
}
