/** Real-etcd-only behaviour of the gateway client and the watch-backed cache. */
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {Etcd3Client} from '../../../src/adapters/dcs-etcd3/client'
import {Etcd3Dcs} from '../../../src/adapters/dcs-etcd3/etcd3-dcs'
import {createEtcd3Dcs} from '../../../src/adapters/dcs-etcd3'
import {isHactlError} from '../../../src/errors'
import {EtcdServer, authToken, b64, enableAuth} from '../../harness/etcd'
import {freePort} from '../../harness/ports'

const dcsOn = (endpoints: string[], name: string, scope: string, extra: {watch?: boolean; retryTimeout?: number; username?: string; password?: string} = {}) =>
  new Etcd3Dcs({
    kv: new Etcd3Client({endpoints, clock: systemClock, username: extra.username, password: extra.password}),
    clock: systemClock,
    name,
    scope,
    watch: extra.watch ?? false,
    timing: {ttl: 5, loopWait: 10, retryTimeout: extra.retryTimeout ?? 3},
  })

describe('etcd3 client against a real etcd', () => {
  let etcd: EtcdServer
  before(async () => {
    etcd = await EtcdServer.start()
  })
  after(async () => {
    await etcd?.destroy()
  })

  it('an unreachable endpoint fails within retry_timeout with DCS_UNAVAILABLE', async () => {
    const port = await freePort()
    const d = dcsOn([`http://127.0.0.1:${port}`], 'pg-a', 'unreach', {retryTimeout: 3})
    const start = performance.now()
    await assert.rejects(d.loadCluster({fresh: true}), (e: unknown) => {
      assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
      assert.match((e as Error).message, new RegExp(`127\\.0\\.0\\.1:${port}`))
      return true
    })
    const ms = performance.now() - start
    assert.ok(ms >= 2500 && ms < 3000 + 1500, `took ${Math.round(ms)} ms for retry_timeout 3 s`)
    await d.close()
  })

  it('fails over to the second endpoint when the first is a closed port', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const d = dcsOn([dead, etcd.url], 'pg-a', 'failover-ep', {retryTimeout: 3})
    const start = performance.now()
    assert.equal(await d.attemptToAcquireLeader(), true)
    assert.ok(performance.now() - start < 2000, 'a refused connection moves on at once')
    assert.equal((await d.loadCluster({fresh: true})).leader?.name, 'pg-a')
    await d.close()
  })

  it('reports malformed values as warnings and skips them', async () => {
    await etcd.put('/service/bad/members/x', '[1,2')
    await etcd.put('/service/bad/members/y', '{"role":"replica","xlog_location":"abc","state":"running"}')
    await etcd.put('/service/bad/sync', 'nope')
    await etcd.put('/service/bad/status', '{"optime":"12","slots":"{\\"s\\":\\"z\\"}"}')
    const d = dcsOn([etcd.url], 'pg-a', 'bad')
    const c = await d.loadCluster({fresh: true})
    assert.deepEqual(c.members.map((m) => m.name).sort(), ['x', 'y'])
    assert.equal(c.members.find((m) => m.name === 'y')?.lsn, null)
    assert.equal(c.sync.leader, null)
    assert.deepEqual(c.status, {lastLsn: 12, slots: {s: 0}, retainSlots: []})
    const keys = c.warnings.map((w) => w.key).sort()
    assert.deepEqual(keys, ['members/x', 'members/y', 'sync'])
    await d.close()
  })

  it('the watch survives an etcd restart and still wakes on a later leader change', async () => {
    const own = await EtcdServer.start()
    try {
      const a = dcsOn([own.url], 'pg-a', 'restart', {retryTimeout: 5})
      const b = dcsOn([own.url], 'pg-b', 'restart', {retryTimeout: 5, watch: true})
      await b.loadCluster()
      await b.waitForChange(0)
      await own.stop()
      await own.launch()
      // The cache is rebuilt in the background; loadCluster waits for it.
      assert.equal((await b.loadCluster()).leader, null)
      const woke = b.waitForChange(20_000)
      const start = performance.now()
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal(await woke, true)
      assert.ok(performance.now() - start < 5000)
      assert.equal((await b.loadCluster()).leader?.name, 'pg-a')
      await a.close()
      await b.close()
    } finally {
      await own.destroy()
    }
  })

  it('taking the leader key wakes the taker at once; a new member key wakes the leader, not a replica', async () => {
    const a = dcsOn([etcd.url], 'pg-a', 'wake-own', {watch: true})
    const b = dcsOn([etcd.url], 'pg-b', 'wake-own', {watch: true})
    try {
      await a.loadCluster()
      await b.loadCluster()
      await a.waitForChange(0)
      await b.waitForChange(0)
      // Our own write is applied to the cache (its watch event then changes nothing), yet the
      // next cycle must see the new leader without waiting out loop_wait.
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal(await a.waitForChange(20_000), true)
      assert.equal(await b.waitForChange(20_000), true)
      assert.equal((await a.loadCluster()).leader?.name, 'pg-a')
      // A member that appears (e.g. one that starts to clone): the leader creates its slot now.
      const woke = a.waitForChange(20_000)
      const rest = b.waitForChange(1000)
      await etcd.put('/service/wake-own/members/pg-c', '{"state":"creating replica","role":"replica"}')
      assert.equal(await woke, true)
      assert.equal(await rest, false, 'a replica is not woken by a new member')
      // A member key that only changes wakes nobody.
      const quiet = a.waitForChange(1000)
      await etcd.put('/service/wake-own/members/pg-c', '{"state":"running","role":"replica"}')
      assert.equal(await quiet, false)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('authenticates with username/password and fails fast with DCS_AUTH on a wrong password', async () => {
    const own = await EtcdServer.start()
    try {
      await enableAuth(own, 'sekret')
      const good = createEtcd3Dcs({section: {hosts: own.endpoint, username: 'root', password: 'sekret'}, clock: systemClock, name: 'pg-a', scope: 'auth', watch: true, timing: {ttl: 5, loopWait: 10, retryTimeout: 5}})
      assert.equal(await good.attemptToAcquireLeader(), true)
      assert.equal((await good.loadCluster({fresh: true})).leader?.name, 'pg-a')
      const token = await authToken(own, 'root', 'sekret')
      const raw = await own.call('/kv/range', {key: b64('/service/auth/leader')}, {authorization: token})
      assert.equal(raw.kvs?.length, 1)

      const bad = createEtcd3Dcs({section: {hosts: [own.endpoint], username: 'root', password: 'wrong'}, clock: systemClock, name: 'pg-b', scope: 'auth', watch: true, timing: {ttl: 5, loopWait: 10, retryTimeout: 10}})
      const start = performance.now()
      await assert.rejects(bad.loadCluster(), (e: unknown) => {
        assert.ok(isHactlError(e, 'DCS_AUTH'), String(e))
        assert.match((e as Error).message, /"root"/)
        assert.doesNotMatch((e as Error).message, /wrong/)
        return true
      })
      await assert.rejects(bad.attemptToAcquireLeader(), (e: unknown) => isHactlError(e, 'DCS_AUTH'))
      assert.ok(performance.now() - start < 3000, 'refused credentials do not wait for retry_timeout')

      const anonymous = createEtcd3Dcs({section: {host: own.endpoint}, clock: systemClock, name: 'pg-c', scope: 'auth', watch: false, timing: {retryTimeout: 5}})
      await assert.rejects(anonymous.loadCluster(), (e: unknown) => isHactlError(e, 'DCS_AUTH') && /no etcd3.username/.test((e as Error).message))
      await good.close()
      await bad.close()
      await anonymous.close()
    } finally {
      await own.destroy()
    }
  })
})
