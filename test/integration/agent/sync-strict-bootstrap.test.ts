/**
 * synchronous_mode_strict set from the first bootstrap (bootstrap.dcs): the bootstrapping member
 * must not run with strict mode's synchronous_standby_names = '*' while it has no standby yet, or
 * post_bootstrap's own CREATE ROLE/GRANT wait for ever and the bootstrap fails ("granting rewind
 * rights ... failed: Query read timeout"). Patroni >= 3.1 puts the placeholder only on a primary
 * (patroni/postgresql/config.py ConfigHandler.get_server_parameters). Found by the chaos suite
 * (npm run chaos -- --agent hactl --seed 2 --faults 3 --mode sync).
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd, scope: 'hactl-strict-boot', nodes: 2, namePrefix: 'b', impl: 'hactl',
    dcs: {synchronous_mode: true, synchronous_mode_strict: true}, startTimeoutMs: 120_000,
  })
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('a cluster bootstrapped in strict synchronous mode comes up, and then commits wait for its standby', {timeout: 150_000}, () =>
  cluster.withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    assert.doesNotMatch(leader.fullLog, /post_bootstrap failed/)
    const standby = cluster.nodes.find((n) => n !== leader)!
    // strict mode from then on: the standby named, and a commit is on it when it returns
    await waitFor('the standby to be synchronous', async () =>
      (await cluster.psql(leader, `select sync_state from pg_stat_replication where application_name = '${standby.name}'`).catch(() => '')) === 'sync', {timeoutMs: 60_000, intervalMs: 300})
    await cluster.psql(leader, 'create table strict_probe (v int)')
    await cluster.psql(leader, 'insert into strict_probe values (1)')
    assert.equal(await cluster.psql(standby, 'select count(*) from strict_probe'), '1')
  }))
