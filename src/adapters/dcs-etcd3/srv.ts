/**
 * etcd endpoints from DNS SRV records (`etcd3.srv`, with `srv_suffix`), found the way
 * patroni/dcs/etcd.py AbstractEtcdClientWithFailover._get_machines_cache_from_srv finds them:
 *
 * - the SRV names of the domain are tried in this order, and the first that yields endpoints
 *   wins: `_etcd-client-ssl`, `_etcd-client`, `_etcd-ssl`, `_etcd`, `_etcd-server-ssl`,
 *   `_etcd-server` (`._tcp.<domain>`; with a suffix, `_etcd-client-<suffix>._tcp.<domain>` and
 *   so on);
 * - the `-ssl` names are https endpoints, the others http;
 * - a client name's records are the endpoints themselves (`<protocol>://<target>:<port>`);
 * - a `-server` name's records are peer URLs: `GET <protocol>://<target>:<port>/members` on
 *   them, one after the other until one answers, gives the members' `clientURLs`. As in
 *   Patroni, that request does not verify the peer's certificate.
 *
 * The six names are asked in parallel (the answer is the same as asking them in turn). Nothing
 * found is a DCS_UNAVAILABLE error naming every SRV name tried and what it answered.
 */
import type {LookupAddress, LookupOptions, SrvRecord} from 'node:dns'
import {promises as dnsPromises} from 'node:dns'
import * as http from 'node:http'
import type * as HttpsModule from 'node:https'
import type {LookupFunction} from 'node:net'
import {HactlError, errorMessage} from '../../errors'
import {SETTLED, type Clock} from '../../ports/clock'

/** What discovery needs of a DNS resolver (dns.promises.Resolver has it). */
export interface SrvResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>
}

/** Asks one peer URL for the members' client URLs (`GET <peer>/members`). */
export type MembersFetcher = (url: string, timeoutMs: number) => Promise<string[]>

export interface SrvName {
  /** e.g. `_etcd-client-ssl._tcp.example.com` */
  name: string
  protocol: 'http' | 'https'
  /** true for `_etcd-server*`: the records are peer URLs to ask for /members. */
  server: boolean
}

const KINDS = ['-client-ssl', '-client', '-ssl', '', '-server-ssl', '-server'] as const

/** The SRV names discovery asks, in Patroni's order of preference. */
export function srvNames(domain: string, suffix?: string): SrvName[] {
  const d = domain.replace(/\.$/, '')
  return KINDS.map((k) => ({
    name: `_etcd${k}${suffix ? `-${suffix}` : ''}._tcp.${d}`,
    protocol: k.includes('-ssl') ? 'https' : 'http',
    server: k.includes('-server'),
  }))
}

export interface SrvDiscoveryOptions {
  domain: string
  suffix?: string
  resolver: SrvResolver
  fetchMembers: MembersFetcher
  clock: Clock
  /** The whole discovery's budget, ms; what is still unanswered then counts as not found. */
  timeoutMs: number
}

export interface SrvDiscovery {
  endpoints: string[]
  /** The SRV name the endpoints came from. */
  from: string
}

const hostOf = (target: string) => {
  const t = target.replace(/\.$/, '')
  return t.includes(':') ? `[${t}]` : t
}

/** Codes of "this name has no such record", which is no failure of the DNS itself. */
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA'])

/** The endpoints the domain's SRV records name; throws DCS_UNAVAILABLE when they name none. */
export async function discoverBySrv(o: SrvDiscoveryOptions): Promise<SrvDiscovery> {
  const names = srvNames(o.domain, o.suffix)
  const deadline = o.clock.monotonic() + Math.max(1, o.timeoutMs)
  const ac = new AbortController()
  const timeUp = o.clock.sleep(Math.max(1, o.timeoutMs), ac.signal).then(
    () => 'timeout' as const,
    () => 'timeout' as const,
  )
  const notes: string[] = []
  try {
    const answers = names.map((n) =>
      Promise.race([
        o.resolver.resolveSrv(n.name).then(
          (records) => ({records}),
          (e: unknown) => ({error: e}),
        ),
        timeUp,
      ]),
    )
    for (const [i, n] of names.entries()) {
      const a = await answers[i]!
      if (a === 'timeout') {
        notes.push(`${n.name}: no DNS answer in time`)
        continue
      }
      if ('error' in a) {
        const code = String((a.error as {code?: unknown})?.code ?? '')
        notes.push(`${n.name}: ${NOT_FOUND.has(code) ? 'no record' : `DNS error ${errorMessage(a.error)}`}`)
        continue
      }
      if (!a.records.length) {
        notes.push(`${n.name}: no record`)
        continue
      }
      const found: string[] = []
      // A target of "." says the service is not offered there (RFC 2782).
      const records = a.records.filter((r) => r.name && r.name !== '.')
      if (!n.server) {
        for (const r of records) found.push(`${n.protocol}://${hostOf(r.name)}:${r.port}`)
      } else {
        for (const r of records) {
          const url = `${n.protocol}://${hostOf(r.name)}:${r.port}/members`
          const left = deadline - o.clock.monotonic()
          if (left <= 0) {
            notes.push(`${n.name}: no time left to ask ${url}`)
            break
          }
          try {
            const urls = await o.fetchMembers(url, left)
            if (urls.length) {
              found.push(...urls)
              break
            }
            notes.push(`${n.name}: ${url} lists no member with client URLs`)
          } catch (e) {
            notes.push(`${n.name}: GET ${url} failed: ${errorMessage(e)}`)
          }
        }
      }
      const endpoints = [...new Set(found.map((u) => u.replace(/\/+$/, '')).filter(isHttpUrl))]
      if (endpoints.length) return {endpoints, from: n.name}
      if (!n.server) notes.push(`${n.name}: no usable record`)
    }
  } finally {
    ac.abort(SETTLED)
  }
  throw new HactlError('DCS_UNAVAILABLE', `DNS SRV discovery for etcd3.srv ${JSON.stringify(o.domain)} found no etcd endpoint: ${notes.join('; ')}`, {
    recoverable: true,
    hints: [
      `publish SRV records for one of ${names.map((n) => n.name).join(', ')}, or list the endpoints in etcd3.hosts`,
    ],
  })
}

function isHttpUrl(u: string): boolean {
  try {
    const p = new URL(u).protocol
    return p === 'http:' || p === 'https:'
  } catch {
    return false
  }
}

// node:https pulls in tls and crypto; load it only for https peers.
let httpsModule: typeof HttpsModule | undefined
const https = (): typeof HttpsModule => (httpsModule ??= require('node:https') as typeof HttpsModule)

/**
 * The real MembersFetcher: `GET <peer>/members` (etcd's peer API), the `clientURLs` of every
 * member. Over https it does not verify the peer certificate (Patroni's requests_get(...,
 * verify=False)); it shows the client certificate when one is configured.
 */
export function peerMembersFetcher(o: {clock: Clock; tls?: {cert?: string | Buffer; key?: string | Buffer}; lookup?: LookupFunction; userAgent?: string}): MembersFetcher {
  return (url, timeoutMs) => {
    const ac = new AbortController()
    return new Promise<string[]>((resolve, reject) => {
      const u = new URL(url)
      const secure = u.protocol === 'https:'
      const opts: http.RequestOptions & HttpsModule.RequestOptions = {
        method: 'GET',
        headers: {'user-agent': o.userAgent ?? 'hactl'},
        agent: false,
        ...(o.lookup ? {lookup: o.lookup} : {}),
        ...(secure ? {rejectUnauthorized: false, cert: o.tls?.cert, key: o.tls?.cert ? o.tls.key : undefined} : {}),
      }
      const req = (secure ? https() : http).request(url, opts, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('error', reject)
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 400) return reject(new Error(`HTTP ${res.statusCode}`))
          let members: unknown
          try {
            members = JSON.parse(text)
          } catch {
            return reject(new Error(`the answer is not JSON: ${text.slice(0, 100)}`))
          }
          if (!Array.isArray(members)) return reject(new Error(`the answer is not a list of members: ${text.slice(0, 100)}`))
          const urls: string[] = []
          for (const m of members) {
            const c = (m as {clientURLs?: unknown})?.clientURLs
            if (Array.isArray(c)) for (const x of c) if (typeof x === 'string') urls.push(x)
          }
          resolve(urls)
        })
      })
      o.clock.sleep(timeoutMs, ac.signal).then(
        () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs)} ms`)),
        () => {},
      )
      req.on('error', reject)
      req.end()
    }).finally(() => ac.abort(SETTLED))
  }
}

/**
 * A DNS resolver for discovery: the system's (/etc/resolv.conf, as Patroni's dnspython) or,
 * with `servers` (`ip` or `ip:port`), those servers only.
 */
export function dnsResolver(servers?: string[]): dnsPromises.Resolver {
  const r = new dnsPromises.Resolver({timeout: 2000, tries: 2})
  if (servers?.length) r.setServers(servers)
  return r
}

/**
 * A `lookup` for sockets that resolves host names through `resolver` (A, then AAAA records)
 * instead of getaddrinfo: for endpoints that only the given DNS servers know.
 */
export function resolverLookup(resolver: {resolve4(h: string): Promise<string[]>; resolve6(h: string): Promise<string[]>}): LookupFunction {
  return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0)
    const ask = (f: 4 | 6) => (family === 0 || family === f ? (f === 4 ? resolver.resolve4(hostname) : resolver.resolve6(hostname)).catch(() => [] as string[]) : Promise.resolve([] as string[]))
    Promise.all([ask(4), ask(6)]).then(([v4, v6]) => {
      const all: LookupAddress[] = [...v4.map((address) => ({address, family: 4})), ...v6.map((address) => ({address, family: 6}))]
      if (!all.length) {
        const e: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
        e.code = 'ENOTFOUND'
        return callback(e, '')
      }
      if (options.all) return callback(null, all)
      callback(null, all[0]!.address, all[0]!.family)
    }, (e: unknown) => callback(e as NodeJS.ErrnoException, ''))
  }
}
