/**
 * Builds the etcd v3 Dcs from Patroni's `etcd3:` section (read the way patroni/dcs/etcd.py
 * AbstractEtcd.get_etcd_client reads it): `host`, `hosts` (list or comma-separated), `url`,
 * `protocol`, `username`, `password`, `cacert`, `cert`, `key`, and where the endpoints come from:
 *
 * - `proxy`: that URL is the only endpoint, used as it is (Patroni sets use_proxies with it);
 * - `srv` (+ `srv_suffix`): DNS SRV discovery (srv.ts), found again whenever every endpoint failed
 *   a round; when it finds nothing, `hosts`, `host` or `url` are used if set, as in Patroni
 *   (_get_machines_cache_from_config), otherwise the DCS is unavailable until it finds some;
 * - otherwise `url`, `hosts` or `host`.
 *
 * `use_proxies` changes nothing here: hactl always dials the endpoints it was given (or
 * discovered) and never swaps them for the member list etcd reports.
 * Only the composition root (src/wiring) calls this.
 */
import {readFileSync} from 'node:fs'
import {HactlError, errorMessage} from '../../errors'
import type {Clock} from '../../ports/clock'
import type {Dcs, DcsTiming} from '../../ports/dcs'
import {Etcd3Client, type EndpointDiscovery, type TlsFiles} from './client'
import {Etcd3Dcs} from './etcd3-dcs'
import {discoverBySrv, dnsResolver, peerMembersFetcher, resolverLookup} from './srv'

export {Etcd3Client} from './client'
export {Etcd3Dcs} from './etcd3-dcs'

export interface Etcd3Section {
  host?: string
  hosts?: string | string[]
  url?: string
  protocol?: string
  username?: string
  password?: string
  cacert?: string
  cert?: string
  key?: string
  /** DNS SRV discovery: the domain whose `_etcd-client._tcp` (...) records name the endpoints. */
  srv?: string
  srv_suffix?: string
  /** An etcd (gRPC) proxy URL: the only endpoint. */
  proxy?: string
  use_proxies?: boolean
}

/**
 * The statically configured endpoint base URLs of the section (empty when only `srv` is set);
 * errors name the key and value.
 */
export function etcd3Endpoints(section: Etcd3Section): string[] {
  const protocol = section.protocol ?? 'http'
  if (protocol !== 'http' && protocol !== 'https') {
    throw new HactlError('CONFIG_INVALID', `etcd3.protocol must be http or https, got ${JSON.stringify(protocol)}`)
  }
  const toUrl = (hostPort: string, key: string): string => {
    const h = hostPort.trim()
    if (!h) throw new HactlError('CONFIG_INVALID', `${key} contains an empty host`)
    if (/^https?:\/\//.test(h)) return h.replace(/\/+$/, '')
    const colons = h.split(':').length - 1
    let hp: string
    if (h.startsWith('[')) hp = /\]:\d+$/.test(h) ? h : `${h}:2379`
    else if (colons === 1) hp = h
    else if (colons > 1) hp = `[${h}]:2379`
    else hp = `${h}:2379`
    if (!/:\d+$/.test(hp)) throw new HactlError('CONFIG_INVALID', `${key}: ${JSON.stringify(h)} is not host[:port]`)
    return `${protocol}://${hp}`
  }
  if (section.proxy) return [toUrl(section.proxy, 'etcd3.proxy')]
  if (section.url) return [toUrl(section.url, 'etcd3.url')]
  if (section.hosts !== undefined) {
    const list = Array.isArray(section.hosts) ? section.hosts : section.hosts.split(',')
    const out = list.map((h) => toUrl(String(h), 'etcd3.hosts'))
    if (!out.length) throw new HactlError('CONFIG_INVALID', 'etcd3.hosts is empty')
    return out
  }
  if (section.host) return [toUrl(section.host, 'etcd3.host')]
  if (section.srv) return []
  throw new HactlError('CONFIG_INVALID', 'etcd3: set host, hosts, url, srv or proxy')
}

export function etcd3Tls(section: Etcd3Section): TlsFiles | undefined {
  const read = (key: 'cacert' | 'cert' | 'key'): Buffer | undefined => {
    const path = section[key]
    if (!path) return undefined
    try {
      return readFileSync(path)
    } catch (e) {
      throw new HactlError('CONFIG_INVALID', `etcd3.${key}: cannot read ${JSON.stringify(path)}: ${errorMessage(e)}`)
    }
  }
  // Patroni uses key only together with cert (patroni/dcs/etcd.py); alone it is ignored
  // (the config layer warns).
  const tls = {ca: read('cacert'), cert: read('cert'), key: section.cert ? read('key') : undefined}
  if (!tls.ca && !tls.cert && !tls.key) return undefined
  checkTls(section, tls)
  return tls
}

/**
 * Catches unusable TLS files at startup with the key at fault named; otherwise node reports
 * them only at the first request, as an OpenSSL error that names no file.
 */
function checkTls(section: Etcd3Section, tls: {ca?: Buffer; cert?: Buffer; key?: Buffer}): void {
  const bad = (key: 'cacert' | 'cert' | 'key', why: string) => new HactlError('CONFIG_INVALID', `etcd3.${key}: ${JSON.stringify(section[key])} ${why}`)
  const nodeTls = require('node:tls') as typeof import('node:tls')
  const nodeCrypto = require('node:crypto') as typeof import('node:crypto')
  if (tls.ca) {
    // node ignores a CA file without certificates, which would surface later as "not trusted".
    if (!/-----BEGIN CERTIFICATE-----/.test(tls.ca.toString('latin1'))) throw bad('cacert', 'holds no PEM certificate')
    try {
      new nodeCrypto.X509Certificate(tls.ca)
    } catch (e) {
      throw bad('cacert', `is not a readable PEM certificate: ${errorMessage(e)}`)
    }
  }
  // Patroni accepts a cert file that also holds the key (python's ssl loads both from it).
  if (tls.cert && !tls.key && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(tls.cert.toString('latin1'))) tls.key = tls.cert
  if (tls.cert && !tls.key) throw new HactlError('CONFIG_INVALID', `etcd3.cert: ${JSON.stringify(section.cert)} holds no private key and etcd3.key is not set`)
  if (!tls.cert || !tls.key) return
  try {
    nodeTls.createSecureContext({cert: tls.cert})
  } catch (e) {
    throw bad('cert', `is not a usable PEM certificate: ${errorMessage(e)}`)
  }
  try {
    nodeTls.createSecureContext({cert: tls.cert, key: tls.key})
  } catch (e) {
    const code = (e as {code?: string}).code
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') throw bad('key', `does not belong to the certificate in etcd3.cert ${JSON.stringify(section.cert)}`)
    throw bad('key', `is not a usable unencrypted PEM private key: ${errorMessage(e)}`)
  }
}

export interface CreateEtcd3DcsOptions {
  section: Etcd3Section
  clock: Clock
  name: string
  scope: string
  namespace?: string
  group?: number
  timing?: Partial<DcsTiming>
  /** true for the agent (watch-backed cache), false for ctl commands. */
  watch: boolean
  /** See Etcd3DcsOptions.wakeOn. */
  wakeOn?: 'ha-loop' | 'membership'
  /** See Etcd3DcsOptions.watchLog. */
  watchLog?: (msg: string) => void
  userAgent?: string
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void
  /**
   * DNS servers (`ip` or `ip:port`) to ask for etcd3.srv and for the addresses of the host names
   * it yields, instead of the system's resolver (/etc/resolv.conf and getaddrinfo). For tests.
   */
  dnsServers?: string[]
}

/** DNS SRV discovery for `etcd3.srv`, falling back to the static endpoints as Patroni does. */
function srvDiscovery(o: CreateEtcd3DcsOptions, srv: string, fallback: string[], tls: TlsFiles | undefined) {
  const resolver = dnsResolver(o.dnsServers)
  const lookup = o.dnsServers?.length ? resolverLookup(resolver) : undefined
  const fetchMembers = peerMembersFetcher({clock: o.clock, tls, lookup, userAgent: o.userAgent})
  let reported = ''
  const report = (level: 'info' | 'warn', msg: string) => {
    // Discovery runs again after every round in which all endpoints failed: say each news once.
    if (msg !== reported) o.log?.(level, msg)
    reported = msg
  }
  const discover: EndpointDiscovery = {
    describe: `the DNS SRV records of ${srv}`,
    async find(timeoutMs) {
      try {
        const r = await discoverBySrv({domain: srv, suffix: o.section.srv_suffix || undefined, resolver, fetchMembers, clock: o.clock, timeoutMs})
        report('info', `etcd3: the etcd endpoints from DNS SRV ${r.from}: ${r.endpoints.join(', ')}`)
        return r.endpoints
      } catch (e) {
        if (!fallback.length) throw e
        report('warn', `etcd3: ${errorMessage(e)}; using ${fallback.join(', ')} from the configuration`)
        return fallback
      }
    },
  }
  return {discover, lookup}
}

export function createEtcd3Dcs(o: CreateEtcd3DcsOptions): Dcs {
  const endpoints = etcd3Endpoints(o.section)
  const tls = etcd3Tls(o.section)
  // Patroni: a proxy is used as it is, before (and instead of) anything else.
  const srv = o.section.proxy ? undefined : o.section.srv || undefined
  if (tls && !srv && endpoints.some((e) => e.startsWith('http://'))) {
    o.log?.('warn', 'etcd3: cacert/cert/key are set but the endpoints use http; set etcd3.protocol: https')
  }
  const found = srv ? srvDiscovery(o, srv, endpoints, tls) : undefined
  const kv = new Etcd3Client({
    endpoints: found ? [] : endpoints,
    discover: found?.discover,
    lookup: found?.lookup,
    // Patroni authenticates only when both are set (patroni/dcs/etcd3.py)
    username: o.section.username && o.section.password ? o.section.username : undefined,
    password: o.section.username && o.section.password ? o.section.password : undefined,
    tls,
    clock: o.clock,
    retryTimeoutMs: (o.timing?.retryTimeout ?? 10) * 1000,
    userAgent: o.userAgent,
    log: (m) => o.log?.('debug', m),
  })
  return new Etcd3Dcs({kv, clock: o.clock, name: o.name, scope: o.scope, namespace: o.namespace, group: o.group, timing: o.timing, watch: o.watch, wakeOn: o.wakeOn, watchLog: o.watchLog, log: o.log})
}
