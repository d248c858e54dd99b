/**
 * DCS failsafe mode (`failsafe_mode: true`, docs/ha-rules.md#failsafe-mode) on three hactl agents,
 * each reaching etcd through its own TCP proxy so that one agent's path can be cut:
 *  - the leader alone loses etcd: every replica vouches for it over POST /failsafe, so it stays
 *    a writable primary past the ttl, and the replicas, which see the lock expire, follow it
 *    instead of racing; back on etcd it takes the lock again;
 *  - etcd stops for everyone: the primary keeps running while all members answer; once one
 *    member's agent is gone it demotes, as without failsafe mode.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../../harness/patroni'
import {holdsFor, waitFor} from '../../harness/ports'
import {TcpProxy} from '../../harness/tcp-proxy'

const TTL = 20
let etcd: EtcdServer
let cluster: PatroniCluster
const proxies = new Map<string, TcpProxy>()

before(async () => {
  etcd = await EtcdServer.start()
  for (const name of ['f1', 'f2', 'f3']) proxies.set(name, await TcpProxy.start('127.0.0.1', etcd.clientPort))
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'failsafe',
    nodes: 3,
    namePrefix: 'f',
    impl: 'hactl',
    ttl: TTL,
    dcs: {failsafe_mode: true},
    etcdHosts: Object.fromEntries([...proxies].map(([name, p]) => [name, p.endpoint])),
    startTimeoutMs: 120_000,
  })
})

after(async () => {
  await cluster?.destroy()
  for (const p of proxies.values()) await p.close()
  await etcd?.destroy()
})

async function inRecovery(name: string): Promise<boolean | 'down'> {
  const n = cluster.node(name)
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
  c.on('error', () => {})
  try {
    await c.connect()
    return (await c.query('select pg_is_in_recovery() as r')).rows[0].r as boolean
  } catch {
    return 'down'
  } finally {
    await c.end().catch(() => {})
  }
}

async function write(name: string, v: string): Promise<void> {
  const n = cluster.node(name)
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
  c.on('error', () => {})
  await c.connect()
  try {
    await c.query('create table if not exists failsafe_probe (v text)')
    await c.query('insert into failsafe_probe values ($1)', [v])
  } finally {
    await c.end().catch(() => {})
  }
}

function withLogs<T>(what: () => Promise<T>): Promise<T> {
  return what().catch((e: Error) => {
    throw new Error(`${e.message}\n${cluster.logTails()}`, {cause: e})
  })
}

test('the leader cut off from etcd stays primary on its replicas\' word; they follow it past the ttl; back on etcd it takes the lock again', {timeout: 180_000}, () =>
  withLogs(async () => {
    const leader = await cluster.waitForLeader()
    const replicas = cluster.nodes.map((n) => n.name).filter((n) => n !== leader)
    await waitFor('the leader to publish the /failsafe topology', async () => {
      const v = await etcd.get(`${cluster.prefix}failsafe`)
      const fs = v ? JSON.parse(v) : undefined
      return fs && ['f1', 'f2', 'f3'].every((n) => typeof fs[n] === 'string' && fs[n].endsWith('/patroni')) ? fs : undefined
    }, {timeoutMs: 20_000, intervalMs: 200})

    const cutAt = Date.now()
    proxies.get(leader)!.cut()
    try {
      await waitFor('the leader key to expire', async () => ((await cluster.leaderName()) === undefined ? true : undefined), {timeoutMs: (TTL + 15) * 1000, intervalMs: 200})
      await waitFor(`${leader} to report failsafe mode active`, async () => ((await cluster.node(leader).status())?.failsafe_mode_is_active === true ? true : undefined), {
        timeoutMs: 15_000,
        intervalMs: 200,
      })
      // For another ttl after the lock is gone: the old leader takes writes, nobody else holds the
      // lock or leaves recovery.
      let i = 0
      const samples = await holdsFor(TTL * 1000, async () => {
        assert.equal(await cluster.leaderName(), undefined, 'nobody took the lock')
        for (const r of replicas) assert.equal(await inRecovery(r), true, `${r} stays a replica`)
        await write(leader, `during-cut-${i++}`)
      })
      assert.ok(samples >= 10, `${samples} samples`)
      assert.ok(Date.now() - cutAt > 2 * TTL * 1000 - 5000, 'the check ran well past the ttl')
      assert.equal(await inRecovery(leader), false)
    } finally {
      proxies.get(leader)!.restore()
    }
    assert.equal(await cluster.waitForLeader({timeoutMs: 30_000}), leader, 'the old leader took the lock again')
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    await waitFor(`${leader} to leave failsafe mode`, async () => ((await cluster.node(leader).status())?.failsafe_mode_is_active === undefined ? true : undefined), {
      timeoutMs: (TTL + 10) * 1000,
      intervalMs: 500,
    })
  }))

test('etcd down for everyone: the primary keeps running while every member vouches, and demotes once one cannot', {timeout: 180_000}, () =>
  withLogs(async () => {
    const leader = await cluster.waitForLeader()
    const [gone] = cluster.nodes.map((n) => n.name).filter((n) => n !== leader)
    await etcd.stop()
    try {
      await waitFor(`${leader} to report failsafe mode active`, async () => ((await cluster.node(leader).status())?.failsafe_mode_is_active === true ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 200,
      })
      await holdsFor(TTL * 1000, async () => {
        assert.equal(await inRecovery(leader), false, `${leader} is still the primary`)
        await write(leader, 'etcd-down')
      })
      await cluster.stopNode(gone!, {signal: 'SIGKILL'})
      await waitFor(`${leader} to demote once ${gone} cannot vouch`, async () => ((await inRecovery(leader)) !== false ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
      })
    } finally {
      await etcd.launch()
    }
    await cluster.startNode(gone!)
    await cluster.waitForLeader({timeoutMs: 90_000})
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
  }))
