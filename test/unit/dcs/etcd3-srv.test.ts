/**
 * DNS SRV discovery of the etcd endpoints (src/adapters/dcs-etcd3/srv.ts), as Patroni's
 * _get_machines_cache_from_srv (patroni/dcs/etcd.py), with an injected resolver; the peers'
 * `/members` are real HTTP(S) servers on loopback, and the resolver-backed lookup asks the
 * tiny DNS server of test/harness/dns.ts.
 */
import assert from 'node:assert/strict'
import type {SrvRecord} from 'node:dns'
import {readFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {after, before, describe, it} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {discoverBySrv, dnsResolver, peerMembersFetcher, resolverLookup, srvNames, type MembersFetcher, type SrvResolver} from '../../../src/adapters/dcs-etcd3/srv'
import {isHactlError} from '../../../src/errors'
import {TestDns} from '../../harness/dns'
import {makeTestCa, makeTestCert} from '../../harness/etcd'
import {freePort} from '../../harness/ports'

const ALL = ['_etcd-client-ssl', '_etcd-client', '_etcd-ssl', '_etcd', '_etcd-server-ssl', '_etcd-server']

/** A resolver answering from a table; every name asked is recorded. */
function tableResolver(table: Record<string, Array<Partial<SrvRecord> & {name: string; port: number}> | Error>): SrvResolver & {asked: string[]} {
  const asked: string[] = []
  return {
    asked,
    async resolveSrv(name) {
      asked.push(name)
      const v = table[name]
      if (v instanceof Error) throw v
      if (!v) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), {code: 'ENOTFOUND'})
      return v.map((r) => ({priority: 0, weight: 0, ...r}))
    },
  }
}

const noMembers: MembersFetcher = async (url) => {
  throw new Error(`unexpected GET ${url}`)
}

const discover = (resolver: SrvResolver, o: {suffix?: string; fetchMembers?: MembersFetcher; timeoutMs?: number} = {}) =>
  discoverBySrv({domain: 'example.com', suffix: o.suffix, resolver, fetchMembers: o.fetchMembers ?? noMembers, clock: systemClock, timeoutMs: o.timeoutMs ?? 2000})

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as {port: number}).port)))
}

describe('srvNames', () => {
  it("asks Patroni's six names in its order; -ssl is https, -server are peer records", () => {
    const names = srvNames('example.com')
    assert.deepEqual(names.map((n) => n.name), ALL.map((k) => `${k}._tcp.example.com`))
    assert.deepEqual(names.map((n) => n.protocol), ['https', 'http', 'https', 'http', 'https', 'http'])
    assert.deepEqual(names.map((n) => n.server), [false, false, false, false, true, true])
  })

  it('srv_suffix goes after the kind: _etcd-client-ssl-<suffix>._tcp.<domain>', () => {
    assert.deepEqual(srvNames('example.com.', 'prod').map((n) => n.name), [
      '_etcd-client-ssl-prod._tcp.example.com',
      '_etcd-client-prod._tcp.example.com',
      '_etcd-ssl-prod._tcp.example.com',
      '_etcd-prod._tcp.example.com',
      '_etcd-server-ssl-prod._tcp.example.com',
      '_etcd-server-prod._tcp.example.com',
    ])
  })
})

describe('discoverBySrv with an injected resolver', () => {
  const clientKinds = [
    {kind: '_etcd-client-ssl', scheme: 'https'},
    {kind: '_etcd-client', scheme: 'http'},
    {kind: '_etcd-ssl', scheme: 'https'},
    {kind: '_etcd', scheme: 'http'},
  ]
  for (const {kind, scheme} of clientKinds) {
    it(`${kind} records alone are the ${scheme} endpoints`, async () => {
      const r = tableResolver({[`${kind}._tcp.example.com`]: [{name: 'e1.example.com', port: 2379}, {name: 'e2.example.com.', port: 12379}, {name: 'e1.example.com', port: 2379}]})
      const d = await discover(r)
      assert.deepEqual(d, {endpoints: [`${scheme}://e1.example.com:2379`, `${scheme}://e2.example.com:12379`], from: `${kind}._tcp.example.com`})
    })
  }

  it('the first name in the order wins when several have records', async () => {
    const r = tableResolver({
      '_etcd._tcp.example.com': [{name: 'plain.example.com', port: 2379}],
      '_etcd-client._tcp.example.com': [{name: 'client.example.com', port: 2379}],
      '_etcd-server._tcp.example.com': [{name: 'peer.example.com', port: 2380}],
    })
    assert.deepEqual((await discover(r)).endpoints, ['http://client.example.com:2379'])
  })

  it('srv_suffix: only the suffixed names are asked and used', async () => {
    const r = tableResolver({
      '_etcd-client._tcp.example.com': [{name: 'unsuffixed.example.com', port: 2379}],
      '_etcd-client-ssl-blue._tcp.example.com': [{name: 'blue.example.com', port: 2379}],
    })
    const d = await discover(r, {suffix: 'blue'})
    assert.deepEqual(d, {endpoints: ['https://blue.example.com:2379'], from: '_etcd-client-ssl-blue._tcp.example.com'})
    assert.ok(r.asked.every((n) => n.includes('-blue._tcp.')), r.asked.join(', '))
  })

  it('an IPv6 target is bracketed; a "." target (service not offered) is skipped', async () => {
    const r = tableResolver({'_etcd-client._tcp.example.com': [{name: '.', port: 2379}, {name: '::1', port: 2379}]})
    assert.deepEqual((await discover(r)).endpoints, ['http://[::1]:2379'])
  })

  it('-server records: the clientURLs from GET /members of the first peer that answers', async () => {
    const gets: string[] = []
    const fetchMembers: MembersFetcher = async (url) => {
      gets.push(url)
      if (url.includes('dead')) throw new Error('connect ECONNREFUSED')
      return ['http://10.0.0.1:2379', 'http://10.0.0.2:2379', 'http://10.0.0.1:2379']
    }
    const r = tableResolver({'_etcd-server._tcp.example.com': [{name: 'dead.example.com', port: 2380}, {name: 'live.example.com', port: 2380}, {name: 'other.example.com', port: 2380}]})
    const d = await discover(r, {fetchMembers})
    assert.deepEqual(d, {endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], from: '_etcd-server._tcp.example.com'})
    assert.deepEqual(gets, ['http://dead.example.com:2380/members', 'http://live.example.com:2380/members'])
  })

  it('-server-ssl records are asked over https', async () => {
    const gets: string[] = []
    const r = tableResolver({'_etcd-server-ssl._tcp.example.com': [{name: 'peer.example.com', port: 2380}]})
    const d = await discover(r, {fetchMembers: async (url) => (gets.push(url), ['https://peer.example.com:2379'])})
    assert.deepEqual(gets, ['https://peer.example.com:2380/members'])
    assert.deepEqual(d.endpoints, ['https://peer.example.com:2379'])
  })

  it('-server peers that all fail leave the next name to try', async () => {
    const r = tableResolver({
      '_etcd-server-ssl._tcp.example.com': [{name: 'peer.example.com', port: 2380}],
      '_etcd-server._tcp.example.com': [{name: 'peer.example.com', port: 2380}],
    })
    const d = await discover(r, {fetchMembers: async (url) => {
      if (url.startsWith('https:')) throw new Error('HTTP 503')
      return ['http://peer.example.com:2379']
    }})
    assert.deepEqual(d, {endpoints: ['http://peer.example.com:2379'], from: '_etcd-server._tcp.example.com'})
  })

  it('no record anywhere: DCS_UNAVAILABLE naming the domain and every SRV name tried', async () => {
    const r = tableResolver({'_etcd._tcp.example.com': Object.assign(new Error('querySrv ETIMEOUT _etcd._tcp.example.com'), {code: 'ETIMEOUT'})})
    await assert.rejects(discover(r), (e: unknown) => {
      assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
      assert.equal((e as {recoverable: boolean}).recoverable, true)
      const m = (e as Error).message
      assert.match(m, /etcd3\.srv "example\.com" found no etcd endpoint/)
      for (const k of ALL.filter((x) => x !== '_etcd')) assert.ok(m.includes(`${k}._tcp.example.com: no record`), m)
      assert.ok(m.includes('_etcd._tcp.example.com: DNS error querySrv ETIMEOUT'), m)
      return true
    })
  })

  it('a resolver that never answers: the error comes at the timeout and says so', async () => {
    const start = performance.now()
    const silent: SrvResolver = {resolveSrv: () => new Promise<SrvRecord[]>(() => {})}
    await assert.rejects(discover(silent, {timeoutMs: 300}), (e: unknown) => {
      assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
      assert.match((e as Error).message, /_etcd-client-ssl\._tcp\.example\.com: no DNS answer in time/)
      return true
    })
    const ms = performance.now() - start
    assert.ok(ms >= 250 && ms < 2000, `took ${Math.round(ms)} ms for a 300 ms budget`)
  })
})

describe('peerMembersFetcher (GET /members on a peer URL)', () => {
  let plain: Server
  let plainPort = 0
  let secure: Server
  let securePort = 0
  const members = JSON.stringify([
    {id: 1, name: 'a', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379']},
    {id: 2, name: 'b', peerURLs: ['http://127.0.0.2:2380'], clientURLs: ['http://127.0.0.2:2379', 'http://10.1.1.2:2379']},
    {id: 3, name: 'not-started', peerURLs: ['http://127.0.0.3:2380'], clientURLs: []},
  ])
  before(async () => {
    const handler = (req: {url?: string}, res: {writeHead(s: number): void; end(b?: string): void}) => {
      if (req.url === '/members') {
        res.writeHead(200)
        res.end(members)
      } else {
        res.writeHead(404)
        res.end('404 page not found')
      }
    }
    plain = createServer(handler)
    plainPort = await listen(plain)
    // A certificate from a CA the fetcher is never given: Patroni does not verify peers here.
    const ca = await makeTestCa()
    const cert = await makeTestCert(ca, 'peer', 'server')
    secure = createHttpsServer({cert: readFileSync(cert.cert), key: readFileSync(cert.key)}, handler)
    securePort = await listen(secure)
  })
  after(() => {
    plain?.close()
    secure?.close()
  })

  it('returns every member’s clientURLs', async () => {
    const get = peerMembersFetcher({clock: systemClock})
    assert.deepEqual(await get(`http://127.0.0.1:${plainPort}/members`, 2000), ['http://127.0.0.1:2379', 'http://127.0.0.2:2379', 'http://10.1.1.2:2379'])
  })

  it('over https without verifying the peer certificate, as Patroni', async () => {
    const get = peerMembersFetcher({clock: systemClock})
    assert.equal((await get(`https://127.0.0.1:${securePort}/members`, 2000)).length, 3)
  })

  it('an HTTP error or a closed port is an error naming it', async () => {
    const get = peerMembersFetcher({clock: systemClock})
    await assert.rejects(get(`http://127.0.0.1:${plainPort}/nope`, 2000), /HTTP 404/)
    await assert.rejects(get(`http://127.0.0.1:${await freePort()}/members`, 2000), /ECONNREFUSED/)
  })

  it('discovery through a -server record uses it end to end', async () => {
    const r = tableResolver({'_etcd-server._tcp.example.com': [{name: '127.0.0.1', port: plainPort}]})
    const d = await discover(r, {fetchMembers: peerMembersFetcher({clock: systemClock})})
    assert.deepEqual(d.endpoints, ['http://127.0.0.1:2379', 'http://127.0.0.2:2379', 'http://10.1.1.2:2379'])
  })
})

describe('dnsResolver and resolverLookup against a DNS server on loopback', () => {
  let dns: TestDns
  before(async () => {
    dns = await TestDns.start()
    dns.srv('_etcd-client._tcp.hactl.test', [{target: 'etcd1.hactl.test', port: 2379}])
    dns.a('etcd1.hactl.test', ['127.0.0.1'])
  })
  after(() => dns?.close())

  it('finds the SRV records through the given server', async () => {
    const d = await discoverBySrv({domain: 'hactl.test', resolver: dnsResolver([dns.server]), fetchMembers: noMembers, clock: systemClock, timeoutMs: 3000})
    assert.deepEqual(d.endpoints, ['http://etcd1.hactl.test:2379'])
    assert.equal(dns.asked('SRV _etcd-client-ssl._tcp.hactl.test'), 1)
  })

  it('the lookup resolves a target name to its A record, in both callback forms', async () => {
    const lookup = resolverLookup(dnsResolver([dns.server]))
    const one = await new Promise<[string, number | undefined]>((resolve, reject) => lookup('etcd1.hactl.test', {}, (e, a, f) => (e ? reject(e) : resolve([a as string, f]))))
    assert.deepEqual(one, ['127.0.0.1', 4])
    const all = await new Promise<unknown>((resolve, reject) => lookup('etcd1.hactl.test', {all: true}, (e, a) => (e ? reject(e) : resolve(a))))
    assert.deepEqual(all, [{address: '127.0.0.1', family: 4}])
    await assert.rejects(new Promise((resolve, reject) => lookup('nowhere.hactl.test', {}, (e, a) => (e ? reject(e) : resolve(a)))), (e: unknown) => {
      assert.equal((e as {code?: string}).code, 'ENOTFOUND')
      return true
    })
  })
})
