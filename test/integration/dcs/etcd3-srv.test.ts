/**
 * etcd3.srv (DNS SRV discovery) and etcd3.proxy end to end: a real etcd on loopback, found
 * through a real DNS answer from the tiny DNS server of test/harness/dns.ts, which the adapter
 * asks instead of the system resolver (createEtcd3Dcs `dnsServers`) for the SRV records and for
 * the addresses of the host names they name.
 */
import assert from 'node:assert/strict'
import {createSocket} from 'node:dgram'
import {after, before, describe, it} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {createEtcd3Dcs, type Etcd3Section} from '../../../src/adapters/dcs-etcd3'
import {Etcd3Client} from '../../../src/adapters/dcs-etcd3/client'
import {HactlError, isHactlError} from '../../../src/errors'
import {TestDns} from '../../harness/dns'
import {EtcdServer} from '../../harness/etcd'
import {at, freePort, waitFor} from '../../harness/ports'
import {TcpProxy} from '../../harness/tcp-proxy'

describe('etcd3 endpoints from DNS SRV records, against a real etcd', () => {
  let etcd: EtcdServer
  let dns: TestDns
  const logs: string[] = []
  const open = (section: Etcd3Section, scope: string, retryTimeout = 5, dnsServers = [dns.server]) =>
    createEtcd3Dcs({
      section,
      clock: systemClock,
      name: 'pg-a',
      scope,
      watch: true,
      timing: {ttl: 10, loopWait: 2, retryTimeout},
      dnsServers,
      log: (level, msg) => logs.push(`${level} ${msg}`),
    })

  before(async () => {
    ;[etcd, dns] = await Promise.all([EtcdServer.start(), TestDns.start()])
    // Host names only the test DNS server knows: the sockets must resolve them through it too.
    dns.a('etcd1.hactl.test', ['127.0.0.1'])
  })
  after(async () => {
    await dns?.close()
    await etcd?.destroy()
  })

  it('srv alone: _etcd-client records lead to etcd, which the Dcs reads and writes', async () => {
    dns.srv('_etcd-client._tcp.client.hactl.test', [{target: 'etcd1.hactl.test', port: etcd.clientPort}])
    const d = open({srv: 'client.hactl.test'}, 'srv-client')
    try {
      assert.equal(await d.attemptToAcquireLeader(), true)
      assert.equal(await etcd.get('/service/srv-client/leader'), 'pg-a')
      await etcd.put('/service/srv-client/config', '{"ttl":10,"loop_wait":2}')
      const c = await d.loadCluster({fresh: true})
      assert.equal(c.leader?.name, 'pg-a')
      assert.equal(c.config?.data['loop_wait'], 2)
      // Patroni's order: the -ssl name first, then this one; and the target's address from the same server.
      assert.equal(dns.asked('SRV _etcd-client-ssl._tcp.client.hactl.test'), 1)
      assert.equal(dns.asked('SRV _etcd-client._tcp.client.hactl.test'), 1)
      assert.ok(dns.asked('A etcd1.hactl.test') >= 1, dns.queries.join('\n'))
      assert.ok(logs.some((l) => l === `info etcd3: the etcd endpoints from DNS SRV _etcd-client._tcp.client.hactl.test: http://etcd1.hactl.test:${etcd.clientPort}`), logs.join('\n'))
    } finally {
      await d.close()
    }
  })

  it('srv_suffix and an _etcd-server record: GET /members on the peer port gives the client URLs', async () => {
    dns.srv('_etcd-server-blue._tcp.server.hactl.test', [{target: 'etcd1.hactl.test', port: etcd.peerPort}])
    const d = open({srv: 'server.hactl.test', srv_suffix: 'blue'}, 'srv-server')
    try {
      assert.equal(await d.attemptToAcquireLeader(), true)
      assert.equal(await etcd.get('/service/srv-server/leader'), 'pg-a')
      assert.equal((await d.loadCluster({fresh: true})).leader?.name, 'pg-a')
      assert.ok(logs.some((l) => l.includes(`DNS SRV _etcd-server-blue._tcp.server.hactl.test: ${etcd.url}`)), logs.join('\n'))
    } finally {
      await d.close()
    }
  })

  it('asks DNS again when every endpoint failed a round, and follows the record to the live etcd', async () => {
    const name = '_etcd-client._tcp.moving.hactl.test'
    dns.srv(name, [{target: 'etcd1.hactl.test', port: await freePort()}])
    const d = open({srv: 'moving.hactl.test'}, 'srv-moving', 8)
    try {
      const load = d.loadCluster({fresh: true})
      // The record is changed only after a failed round made the client ask again.
      await waitFor('a second SRV query after the dead endpoint failed', () => dns.asked(`SRV ${name}`) >= 2, {timeoutMs: 5000})
      dns.srv(name, [{target: 'etcd1.hactl.test', port: etcd.clientPort}])
      const c = await load
      assert.equal(c.leader, null)
      assert.equal(await d.attemptToAcquireLeader(), true)
      assert.equal(await etcd.get('/service/srv-moving/leader'), 'pg-a')
    } finally {
      await d.close()
    }
  })

  it('no SRV record at all: DCS_UNAVAILABLE at retry_timeout, naming the SRV names tried', async () => {
    const d = open({srv: 'nothing.hactl.test'}, 'srv-nothing', 2)
    const start = performance.now()
    try {
      await assert.rejects(d.loadCluster({fresh: true}), (e: unknown) => {
        assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
        const m = (e as Error).message
        assert.match(m, /etcd3\.srv "nothing\.hactl\.test" found no etcd endpoint/)
        for (const k of ['_etcd-client-ssl', '_etcd-client', '_etcd-ssl', '_etcd', '_etcd-server-ssl', '_etcd-server']) {
          assert.ok(m.includes(`${k}._tcp.nothing.hactl.test: no record`), m)
        }
        return true
      })
      const ms = performance.now() - start
      // at retry_timeout (2 s), not at the default 5 s; a loaded machine may add a little
      assert.ok(ms >= 1500 && ms < 4500, `took ${Math.round(ms)} ms for retry_timeout 2 s`)
      // It kept asking until the deadline, as Patroni keeps waiting on etcd.
      assert.ok(dns.asked('SRV _etcd-client._tcp.nothing.hactl.test') >= 2)
    } finally {
      await d.close()
    }
  })

  it('a DNS server that never answers: DCS_UNAVAILABLE at retry_timeout saying which names got no answer', async () => {
    const silent = createSocket('udp4')
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()))
    const d = open({srv: 'silent.hactl.test'}, 'srv-silent', 2, [`127.0.0.1:${silent.address().port}`])
    const start = performance.now()
    try {
      await assert.rejects(d.loadCluster({fresh: true}), (e: unknown) => {
        assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
        assert.match((e as Error).message, /etcd3\.srv "silent\.hactl\.test" found no etcd endpoint: _etcd-client-ssl\._tcp\.silent\.hactl\.test: no DNS answer in time/)
        return true
      })
      const ms = performance.now() - start
      // at retry_timeout (2 s), not at the default 5 s; a loaded machine may add a little
      assert.ok(ms >= 1500 && ms < 4500, `took ${Math.round(ms)} ms for retry_timeout 2 s`)
    } finally {
      await d.close()
      silent.close()
    }
  })

  it('SRV finds nothing but hosts is set: the hosts are used, with a warning (Patroni falls back the same way)', async () => {
    logs.length = 0
    const d = open({srv: 'fallback.hactl.test', hosts: [etcd.endpoint]}, 'srv-fallback')
    try {
      assert.equal(await d.attemptToAcquireLeader(), true)
      assert.equal(await etcd.get('/service/srv-fallback/leader'), 'pg-a')
      assert.ok(logs.some((l) => l.startsWith('warn etcd3: DNS SRV discovery for etcd3.srv "fallback.hactl.test" found no etcd endpoint') && l.endsWith(`using ${etcd.url} from the configuration`)), logs.join('\n'))
    } finally {
      await d.close()
    }
  })

  it('proxy is the only endpoint: srv and hosts beside it are not used', async () => {
    const before = dns.queries.length
    const d = open({proxy: etcd.url, srv: 'client.hactl.test', hosts: [`127.0.0.1:${await freePort()}`]}, 'srv-proxy', 3)
    try {
      const start = performance.now()
      assert.equal(await d.attemptToAcquireLeader(), true)
      assert.ok(performance.now() - start < 2000)
      assert.equal(await etcd.get('/service/srv-proxy/leader'), 'pg-a')
      assert.equal(dns.queries.length, before, 'no DNS query with a proxy')
    } finally {
      await d.close()
    }
  })

  it('a DNS that stops answering does not eat the call: the known endpoints are tried again', async () => {
    const proxy = await TcpProxy.start('127.0.0.1', etcd.clientPort)
    let finds = 0
    const kv = new Etcd3Client({
      endpoints: [],
      discover: {
        describe: 'a test discovery',
        find: () => (++finds === 1 ? Promise.resolve([`http://${proxy.endpoint}`]) : new Promise<string[]>(() => {})),
      },
      clock: systemClock,
      retryTimeoutMs: 6000,
    })
    try {
      await kv.put('/srv-slow-dns/k', 'v1')
      proxy.cut()
      const start = performance.now()
      const read = kv.range('/srv-slow-dns/k')
      await waitFor('discovery asked again after the cut endpoint failed', () => finds >= 2, {timeoutMs: 3000})
      proxy.restore()
      const r = await read
      assert.equal(r.kvs[0]?.value, 'v1')
      const ms = performance.now() - start
      // The hanging discovery gets a third of retry_timeout (2 s), not the whole call.
      assert.ok(ms >= 1800 && ms < 4500, `took ${Math.round(ms)} ms`)
    } finally {
      kv.close()
      await proxy.close()
    }
  })

  it('the error at the deadline is the last full round\'s, not that of a round the deadline cut short', async () => {
    // Round 1 finds "no record" at once; later rounds hang, the last one with under a second left.
    let finds = 0
    const kv = new Etcd3Client({
      endpoints: [],
      discover: {
        describe: 'a test discovery',
        find: (budget) =>
          ++finds === 1
            ? Promise.reject(new HactlError('DCS_UNAVAILABLE', 'round 1: no record', {recoverable: true}))
            : at(Date.now() + budget).then((): string[] => {
                throw new HactlError('DCS_UNAVAILABLE', `round ${finds}: no answer in time`, {recoverable: true})
              }),
      },
      clock: systemClock,
      retryTimeoutMs: 900,
    })
    try {
      await assert.rejects(kv.range('/srv-cut-short/k'), (e: unknown) => {
        assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
        assert.equal((e as Error).message, 'round 1: no record')
        return true
      })
      assert.ok(finds >= 2, `discovery ran ${finds} time(s)`)
    } finally {
      kv.close()
    }
  })
})
