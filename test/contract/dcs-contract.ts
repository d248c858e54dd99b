/**
 * The one Dcs contract suite. test/unit/dcs/fake-dcs.test.ts runs it on the in-memory store
 * with a fake clock; test/integration/dcs/etcd3-dcs.test.ts runs it on a real etcd. Every
 * check here must hold for both, which is what keeps the fake honest.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {getMember, hasFailover, isUnlocked, timelineFromHistory} from '../../src/core/cluster'
import type {Dcs} from '../../src/ports/dcs'

export interface DcsContractEnv {
  /** A Dcs for member `name`; all Dcs of one env share one fresh cluster scope. */
  newDcs(name: string, opts?: {watch?: boolean; ttl?: number}): Dcs
  /** The env's cluster prefix, e.g. `/service/c-12/`. */
  prefix: string
  /** Short ttl (seconds) the env's Dcs use. */
  ttl: number
  /** Writes a raw value behind the Dcs's back. */
  rawPut(key: string, value: string): Promise<void>
  /** Lets time pass (fake: advances the clock; real: polls) until `cond` holds or `maxMs` passed. */
  waitUntil(what: string, cond: () => Promise<boolean>, maxMs: number): Promise<void>
  /** Measures how long `p` took, in the env's time. */
  elapsed<T>(p: () => Promise<T>): Promise<{value: T; ms: number}>
  /** Closes every Dcs created. */
  cleanup(): Promise<void>
}

export function dcsContract(label: string, makeEnv: () => Promise<DcsContractEnv>): void {
  const test = (name: string, fn: (env: DcsContractEnv) => Promise<void>) =>
    it(name, async () => {
      const env = await makeEnv()
      try {
        await fn(env)
      } finally {
        await env.cleanup()
      }
    })

  describe(`Dcs contract: ${label}`, () => {
    test('acquires the leader lock create-if-absent; a second node fails while it is held', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal(await b.attemptToAcquireLeader(), false)
      const c = await b.loadCluster({fresh: true})
      assert.equal(c.leader?.name, 'pg-a')
      assert.equal(c.leader?.session, a.lease)
      assert.ok(a.lease && b.lease && a.lease !== b.lease, 'each process has its own lease')
      assert.equal(isUnlocked(c), false)
    })

    test('updateLeader on the same lease only keeps the lease alive (no write)', async (env) => {
      const a = env.newDcs('pg-a')
      assert.equal(await a.attemptToAcquireLeader(), true)
      const before = await a.loadCluster({fresh: true})
      assert.equal(await a.updateLeader(before), true)
      const after = await a.loadCluster({fresh: true})
      assert.equal(after.leader?.version, before.leader?.version)
      assert.equal(after.leader?.session, a.lease)
    })

    test('a re-granted lease (ttl change) moves the leader key through the update txn', async (env) => {
      const a = env.newDcs('pg-a')
      assert.equal(await a.attemptToAcquireLeader(), true)
      const oldLease = a.lease
      a.setTiming({ttl: env.ttl + 1})
      assert.equal(a.lease, undefined, 'a ttl change drops the lease')
      const c = await a.loadCluster({fresh: true})
      assert.equal(c.leader?.session, oldLease)
      assert.equal(await a.updateLeader(c), true)
      const after = await a.loadCluster({fresh: true})
      assert.equal(after.leader?.name, 'pg-a')
      assert.ok(a.lease && a.lease !== oldLease)
      assert.equal(after.leader?.session, a.lease)
      assert.ok(after.leader!.version > c.leader!.version)
    })

    test('updateLeader fails once someone else holds the key, and re-creates an absent key', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal(await a.deleteLeader(), true)
      assert.equal(await b.attemptToAcquireLeader(), true)
      const c = await a.loadCluster({fresh: true})
      assert.equal(c.leader?.name, 'pg-b')
      assert.equal(await a.updateLeader(c), false)
      assert.equal((await a.loadCluster({fresh: true})).leader?.name, 'pg-b')
      // The key is gone (expired, nobody took it): the failure branch creates it again.
      assert.equal(await b.deleteLeader(), true)
      const empty = await a.loadCluster({fresh: true})
      assert.equal(empty.leader, null)
      assert.equal(await a.updateLeader(empty), true)
      assert.equal((await a.loadCluster({fresh: true})).leader?.session, a.lease)
    })

    test('deleteLeader deletes only our own key and writes status first', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      assert.equal(await a.attemptToAcquireLeader(), true)
      // Not ours: the key stays, and the LSN is still written, as Patroni's delete_leader does.
      assert.equal(await b.deleteLeader(654321), false)
      const before = await b.loadCluster({fresh: true})
      assert.equal(before.leader?.name, 'pg-a')
      assert.equal(before.status.lastLsn, 654321)
      assert.equal(await a.deleteLeader(123456), true)
      const c = await b.loadCluster({fresh: true})
      assert.equal(c.leader, null)
      assert.equal(c.status.lastLsn, 123456)
    })

    test('the leader key disappears about ttl seconds after the lease stops being refreshed', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      assert.equal(await a.attemptToAcquireLeader(), true)
      await a.touchMember({conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'master', version: '3.3.1'})
      const {ms} = await env.elapsed(() =>
        env.waitUntil('leader and member keys to expire', async () => {
          const c = await b.loadCluster({fresh: true})
          return c.leader === null && c.members.length === 0
        }, env.ttl * 1000 + 5000),
      )
      assert.ok(ms >= env.ttl * 1000 - 1000, `expired after ${ms} ms, before ttl ${env.ttl}s`)
    })

    test('touchMember publishes on our lease and skips an unchanged value', async (env) => {
      const a = env.newDcs('pg-a')
      const data = {conn_url: 'postgres://10.0.0.2:5432/postgres', api_url: 'http://10.0.0.2:8008/patroni', state: 'running', role: 'master', version: '3.3.1', xlog_location: 67419744, timeline: 5, tags: {clonefrom: true}}
      assert.equal(await a.touchMember(data), true)
      const c1 = await a.loadCluster({fresh: true})
      const m1 = getMember(c1, 'pg-a')!
      assert.equal(m1.session, a.lease)
      assert.deepEqual(m1.data, data)
      assert.equal(m1.role, 'primary')
      assert.equal(m1.lsn, 67419744)
      assert.equal(m1.timeline, 5)
      assert.equal(await a.touchMember({...data}), true)
      const c2 = await a.loadCluster({fresh: true})
      assert.equal(getMember(c2, 'pg-a')!.version, m1.version, 'unchanged value is not rewritten')
      assert.equal(await a.touchMember({...data, xlog_location: 67419800}), true)
      const m3 = getMember(await a.loadCluster({fresh: true}), 'pg-a')!
      assert.ok(m3.version > m1.version)
      assert.equal(m3.lsn, 67419800)
    })

    test('config, failover and sync honour CAS; a stale version fails', async (env) => {
      const a = env.newDcs('pg-a')
      assert.equal(await a.setConfig({ttl: 30, loop_wait: 10}), true)
      const v1 = (await a.loadCluster({fresh: true})).config!
      assert.deepEqual(v1.data, {ttl: 30, loop_wait: 10})
      assert.equal(v1.valid, true)
      assert.equal(await a.setConfig({ttl: 40}, v1.version), true)
      assert.equal(await a.setConfig({ttl: 50}, v1.version), false)
      assert.deepEqual((await a.loadCluster({fresh: true})).config!.data, {ttl: 40})

      assert.equal(await a.setFailover({leader: 'pg-a', member: 'pg-b'}), true)
      const f1 = (await a.loadCluster({fresh: true})).failover!
      assert.equal(f1.leader, 'pg-a')
      assert.equal(f1.candidate, 'pg-b')
      assert.equal(await a.setFailover({}, f1.version), true)
      assert.equal(await a.setFailover({member: 'pg-c'}, f1.version), false)
      assert.equal(hasFailover((await a.loadCluster({fresh: true})).failover), false)

      const s1 = await a.setSync({leader: 'pg-a', sync_standby: null})
      assert.ok(s1 !== false)
      const sync = (await a.loadCluster({fresh: true})).sync
      assert.equal(sync.version, s1, 'setSync returns the version the next CAS needs')
      assert.equal(sync.leader, 'pg-a')
      const s2 = await a.setSync({leader: 'pg-a', sync_standby: 'pg-b'}, s1 as number)
      assert.ok(s2 !== false && s2 > (s1 as number))
      assert.equal(await a.setSync({leader: 'pg-a', sync_standby: 'pg-c'}, s1 as number), false)
      assert.equal(await a.deleteSync(s1 as number), false)
      assert.equal((await a.loadCluster({fresh: true})).sync.syncStandby, 'pg-b')
      assert.equal(await a.deleteSync(s2 as number), true)
      assert.equal((await a.loadCluster({fresh: true})).sync.version, null)
    })

    test('initialize race has exactly one winner; cancelInitialization removes the key', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      const results = await Promise.all([a.initialize(true, ''), b.initialize(true, '')])
      assert.deepEqual(results.filter(Boolean).length, 1)
      assert.equal((await a.loadCluster({fresh: true})).initialize, '')
      const winner = results[0] ? a : b
      assert.equal(await winner.initialize(false, '7277694203142172922'), true)
      assert.equal((await a.loadCluster({fresh: true})).initialize, '7277694203142172922')
      assert.equal(await b.initialize(true, '1'), false, 'create-if-absent never overwrites')
      await winner.cancelInitialization()
      assert.equal((await a.loadCluster({fresh: true})).initialize, null)
    })

    test('loadCluster decodes every key, legacy and malformed values included', async (env) => {
      const a = env.newDcs('pg-a')
      await a.setHistory([[1, 25623960, 'no recovery target specified', '2019-09-23T16:57:57+02:00', 'pg0']])
      assert.equal(await a.setStatus({optime: 67395656, slots: {s1: 100}}), true)
      assert.equal(await a.setStatus({optime: 67395656, slots: {s1: 100}}), false, 'unchanged status is not rewritten')
      assert.equal(await a.setFailsafe({'pg-a': 'http://10.0.0.1:8008/patroni'}), true)
      await env.rawPut(env.prefix + 'members/legacy', 'postgres://u:p@10.0.0.9:5432/postgres?application_name=http://10.0.0.9:8008/patroni')
      await env.rawPut(env.prefix + 'members/broken', '{not json')
      await env.rawPut(env.prefix + 'members/a/b', '{}')
      await env.rawPut(env.prefix + 'failover', 'pg-a:pg-b')
      await env.rawPut(env.prefix + 'leader', 'legacy')
      const c = await a.loadCluster({fresh: true})
      assert.equal(timelineFromHistory(c.history), 2)
      assert.deepEqual(c.status, {lastLsn: 67395656, slots: {s1: 100}, retainSlots: []})
      assert.deepEqual(c.failsafe, {'pg-a': 'http://10.0.0.1:8008/patroni'})
      assert.deepEqual(c.members.map((m) => m.name).sort(), ['broken', 'legacy'])
      assert.equal(getMember(c, 'legacy')!.apiUrl, 'http://10.0.0.9:8008/patroni')
      assert.deepEqual(getMember(c, 'broken')!.data, {})
      assert.ok(c.warnings.some((w) => w.key === 'members/broken'), JSON.stringify(c.warnings))
      assert.equal(c.failover?.leader, 'pg-a')
      assert.equal(c.failover?.candidate, 'pg-b')
      assert.equal(c.leader?.name, 'legacy')
      assert.equal(c.leader?.member.apiUrl, 'http://10.0.0.9:8008/patroni')
      await env.rawPut(env.prefix + 'history', 'garbage')
      await env.rawPut(env.prefix + 'config', '[1,2]')
      const d = await a.loadCluster({fresh: true})
      assert.equal(timelineFromHistory(d.history), 0)
      assert.equal(d.config?.valid, false)
      assert.ok(d.warnings.some((w) => w.key === 'config'))
    })

    test('waitForChange wakes on a leader change and times out when nothing happens', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b', {watch: true})
      await b.loadCluster()
      await b.waitForChange(0)
      const quiet = await env.elapsed(() => b.waitForChange(300))
      assert.equal(quiet.value, false)
      assert.ok(quiet.ms >= 290, `returned after ${quiet.ms} ms`)
      const woke = b.waitForChange(60_000)
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal(await woke, true)
      assert.equal((await b.loadCluster()).leader?.name, 'pg-a', 'the cache saw the change')
      const again = b.waitForChange(60_000)
      assert.equal(await a.deleteLeader(), true)
      assert.equal(await again, true)
      assert.equal((await b.loadCluster()).leader, null)
      a.setTiming({ttl: env.ttl + 1})
      assert.equal(await a.waitForChange(60_000), true, 'a ttl change skips one sleep')
    })

    test('own writes are visible in the cached view at once', async (env) => {
      const a = env.newDcs('pg-a', {watch: true})
      await a.loadCluster()
      assert.equal(await a.attemptToAcquireLeader(), true)
      assert.equal((await a.loadCluster()).leader?.session, a.lease)
      assert.equal(await a.setConfig({loop_wait: 3}), true)
      assert.deepEqual((await a.loadCluster()).config?.data, {loop_wait: 3})
    })

    test('deleteCluster removes every key under the prefix', async (env) => {
      const a = env.newDcs('pg-a')
      assert.equal(await a.attemptToAcquireLeader(), true)
      await a.setConfig({ttl: 30})
      await a.initialize(true, '1')
      await a.deleteCluster()
      const c = await a.loadCluster({fresh: true})
      assert.equal(c.leader, null)
      assert.equal(c.config, null)
      assert.equal(c.initialize, null)
      assert.equal(c.members.length, 0)
    })

    test('a vanished lease is dropped by touchMember and re-granted next time', async (env) => {
      const a = env.newDcs('pg-a')
      const b = env.newDcs('pg-b')
      assert.equal(await a.touchMember({state: 'running', role: 'replica'}), true)
      const first = a.lease
      await env.waitUntil('the unrefreshed member key to expire', async () => (await b.loadCluster({fresh: true})).members.length === 0, env.ttl * 1000 + 5000)
      // loop_wait (10 s) has not passed, so no keepalive: the put hits the dead lease.
      assert.equal(await a.touchMember({state: 'running', role: 'replica', timeline: 2}), false)
      assert.equal(a.lease, undefined)
      assert.equal(await a.touchMember({state: 'running', role: 'replica', timeline: 2}), true)
      assert.ok(a.lease && a.lease !== first, 'a new lease replaced the expired one')
      assert.equal(getMember(await b.loadCluster({fresh: true}), 'pg-a')?.session, a.lease)
    })

    test('a CAS write on an absent key fails instead of creating it', async (env) => {
      const a = env.newDcs('pg-a')
      assert.equal(await a.setConfig({ttl: 30}, 999_999), false)
      assert.equal(await a.setFailover({leader: 'x'}, 999_999), false)
      assert.equal(await a.setSync({leader: 'x', sync_standby: null}, 999_999), false)
      const c = await a.loadCluster({fresh: true})
      assert.equal(c.config, null)
      assert.equal(c.failover, null)
      assert.equal(c.sync.version, null)
    })
  })
}
