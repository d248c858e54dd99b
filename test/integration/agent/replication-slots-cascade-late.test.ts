/**
 * A cascading member that appears after its upstream replica copied a permanent logical slot
 * (patroni/postgresql/slots.py SlotsHandler.copy_logical_slots, then sync_replication_slots on the
 * next cycles): the replica must still create the physical slot of the member cascading from it
 * (replicatefrom), and that member streams from it on that slot. Three hactl agents, real etcd and
 * PostgreSQL 15; s3 is started only once s2 has copied the slot `cdc` and restarted PostgreSQL.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)
const trySql = (n: PatroniNode, q: string) => sql(n, q).catch(() => undefined)

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-slots-late',
    nodes: 3,
    namePrefix: 's',
    impl: 'hactl',
    wait: false,
    hold: ['s3'],
    dcs: {
      postgresql: {
        use_pg_rewind: true,
        use_slots: true,
        parameters: {wal_level: 'logical', hot_standby: 'on', wal_log_hints: 'on', max_connections: 40, max_wal_senders: 10, max_replication_slots: 10},
      },
    },
    tags: {s3: {replicatefrom: 's2', nofailover: true}},
  })
  const first = cluster.node(await cluster.waitForLeader({timeoutMs: 60_000}))
  await waitFor('s1 and s2 to run', async () => {
    const states = await Promise.all(['s1', 's2'].map(async (n) => (await cluster.node(n).status())?.state))
    return states.every((x) => x === 'running') ? true : undefined
  }, {timeoutMs: 120_000, intervalMs: 500})
  if (first.name !== 's1') {
    const r = await first.api('POST', '/switchover', {leader: first.name, candidate: 's1'}, {}, 60_000)
    assert.equal(r.status, 200, r.body)
    await waitFor('s1 writable leader', async () => ((await cluster.leaderName()) === 's1' && (await trySql(cluster.node('s1'), 'select pg_is_in_recovery()')) === 'f') || undefined, {
      timeoutMs: 60_000,
      intervalMs: 300,
    })
  }
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('a member that cascades from a replica which copied a logical slot before it appeared gets its slot there', {timeout: 150_000}, () =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const s2 = cluster.node('s2')
    const r = await s1.api('PATCH', '/config', {slots: {cdc: {type: 'logical', database: 'postgres', plugin: 'test_decoding'}}})
    assert.equal(r.status, 200, r.body)
    await waitFor('s2 to copy cdc from the primary', async () => {
      await trySql(s1, 'checkpoint')
      return s2.log.includes('copied logical slots cdc from the primary') || undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    await cluster.startNode('s3')
    const s3 = cluster.node('s3')
    await waitFor('s3 streaming from s2 on slot s3', async () => {
      const n = await trySql(s2, "select count(*) from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid where r.application_name = 's3' and s.slot_name = 's3'")
      return n === '1' ? true : undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    assert.equal(await sql(s3, 'show primary_slot_name'), 's3')
    assert.ok(s2.log.includes('created replication slot s3'), 's2 created the slot of s3')
  }))
