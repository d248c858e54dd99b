/**
 * synchronous_mode with three hactl agents (real etcd, real PostgreSQL): the leader names one
 * standby in synchronous_standby_names and, once it is synchronous, in `/sync`; when that standby
 * goes away the other takes its place; when the leader dies only the `/sync` standby may promote.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

async function syncKey(): Promise<{leader?: string; sync_standby?: string | null} | undefined> {
  const v = await etcd.get(`${cluster.prefix}sync`)
  return v ? JSON.parse(v) : undefined
}

/** /sync names exactly one standby of `leader`, which the leader runs synchronously. */
async function waitSyncStandby(leader: PatroniNode, not?: string): Promise<string> {
  return waitFor(`a synchronous standby of ${leader.name} in /sync${not ? ` other than ${not}` : ''}`, async () => {
    const s = await syncKey()
    if (s?.leader !== leader.name || !s.sync_standby || s.sync_standby === not) return undefined
    const ssn = await sql(leader, 'show synchronous_standby_names').catch(() => '')
    if (ssn !== s.sync_standby) return undefined
    const state = await sql(leader, `select sync_state from pg_stat_replication where application_name = '${s.sync_standby}'`).catch(() => '')
    return state === 'sync' ? s.sync_standby : undefined
  }, {timeoutMs: 60_000, intervalMs: 300})
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'hactl-sync', nodes: 3, namePrefix: 's', impl: 'hactl', dcs: {synchronous_mode: true}, startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('the leader names a synchronous standby in SSN and /sync, and commits wait for it', {timeout: 120_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const standby = await waitSyncStandby(leader)
    assert.notEqual(standby, leader.name)
    await sql(leader, 'create table sync_probe (v text)')
    await sql(leader, "insert into sync_probe values ('acknowledged')")
    // The commit returned, so the synchronous standby has it (synchronous_commit on = flushed there).
    assert.equal(await sql(cluster.node(standby), "select count(*) from sync_probe where v = 'acknowledged'"), '1')
  }))

test('when the synchronous standby stops, the other replica takes its place', {timeout: 150_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const first = await waitSyncStandby(leader)
    await cluster.stopNode(first, {signal: 'SIGTERM'})
    const second = await waitSyncStandby(leader, first)
    assert.notEqual(second, first)
    await sql(leader, "insert into sync_probe values ('after-swap')")
    await cluster.startNode(first)
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
  }))

test('the leader dies: only the /sync standby is promoted', {timeout: 150_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const standby = await waitSyncStandby(leader)
    await sql(leader, "insert into sync_probe values ('last-acknowledged')")
    await cluster.stopNode(leader.name, {signal: 'SIGKILL', killPostmaster: true})
    const next = await cluster.waitForLeader({not: leader.name, timeoutMs: 60_000})
    assert.equal(next, standby, 'the synchronous standby took over')
    await waitFor(`${next} to be writable`, async () => ((await sql(cluster.node(next), 'select pg_is_in_recovery()').catch(() => '')) === 'f' ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 300,
    })
    assert.equal(await sql(cluster.node(next), "select count(*) from sync_probe where v = 'last-acknowledged'"), '1', 'no acknowledged write lost')
    const s = await syncKey()
    assert.equal(s?.leader, next, '/sync names the new leader')
  }))
