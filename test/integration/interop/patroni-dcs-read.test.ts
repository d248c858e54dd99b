/**
 * Interop: a cluster written by Debian's real Patroni 3.0.2 reads back through hactl's DCS
 * layer field for field, compared with what Patroni itself serves on its REST API.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {createEtcd3Dcs} from '../../../src/adapters/dcs-etcd3'
import type {ClusterView} from '../../../src/core/cluster'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'interop', nodes: 3})
  await cluster.waitForReplicasStreaming(2)
  // A switchover gives the cluster a history line and a cleared failover key, as in real life.
  const leader = await cluster.waitForLeader()
  const candidate = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!
  const r = await cluster.patronictl(['switchover', '--leader', leader, '--candidate', candidate, '--force', 'interop'])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  await cluster.waitForLeader({not: leader})
  await cluster.waitForReplicasStreaming(2)
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

function reader() {
  return createEtcd3Dcs({section: {hosts: etcd.endpoint}, clock: systemClock, name: 'hactl-reader', scope: 'interop', watch: false})
}

const hostPort = (connUrl: string | null) => {
  const u = new URL(connUrl!)
  return {host: u.hostname, port: Number(u.port)}
}

test('members, roles, states, timelines and lag match what Patroni serves on /cluster', async () => {
  const dcs = reader()
  try {
    // Both sides are read at slightly different moments: retry until one consistent pair is seen.
    const {view, rest} = await waitFor('a stable cluster view', async () => {
      const view = await dcs.loadCluster({fresh: true})
      const leaderNode = cluster.node(view.leader!.name)
      const rest = (await leaderNode.api('GET', '/cluster')).json as {members: any[]}
      const lagFree = rest.members.every((m: any) => m.role === 'leader' || m.lag === 0)
      return lagFree && view.members.every((m) => m.lsn === null || m.lsn === view.status.lastLsn) ? {view, rest} : undefined
    }, {timeoutMs: 30_000, intervalMs: 250})

    assert.deepEqual(view.warnings, [], 'Patroni-written values decode without warnings')
    assert.deepEqual(view.members.map((m) => m.name).sort(), rest.members.map((m) => m.name).sort())
    for (const r of rest.members) {
      const m = view.members.find((x) => x.name === r.name)!
      const isLeader = r.role === 'leader'
      assert.equal(view.leader?.name === m.name, isLeader, `${m.name}: leader key`)
      assert.equal(m.role, isLeader ? 'primary' : 'replica', `${m.name}: role (Patroni 3 writes master)`)
      assert.equal(m.state, r.state, `${m.name}: state`)
      assert.equal(m.timeline, r.timeline, `${m.name}: timeline`)
      assert.equal(m.apiUrl, r.api_url, `${m.name}: api_url`)
      assert.deepEqual(hostPort(m.connUrl), {host: r.host, port: r.port}, `${m.name}: conn_url`)
      if (!isLeader) assert.equal(Math.max(0, view.status.lastLsn - (m.lsn ?? 0)), r.lag, `${m.name}: lag`)
      assert.deepEqual(m.patroniVersion, [3, 0, 2], `${m.name}: version`)
    }
    // leader and member keys share the owner's lease, as Patroni's lock requires
    assert.ok(view.leader!.session, 'leader key is leased')
    assert.equal(view.leader!.session, view.leader!.member.session)
  } finally {
    await dcs.close()
  }
})

test('config, initialize, history and failover decode as Patroni reads them', async () => {
  const dcs = reader()
  let view: ClusterView
  try {
    view = await dcs.loadCluster({fresh: true})
  } finally {
    await dcs.close()
  }
  const leaderNode = cluster.node(view.leader!.name)
  const restConfig = (await leaderNode.api('GET', '/config')).json
  assert.equal(view.config?.valid, true)
  assert.deepEqual(view.config?.data, restConfig)

  const status = (await leaderNode.api('GET', '/patroni')).json as {database_system_identifier: string; timeline: number}
  assert.equal(view.initialize, status.database_system_identifier)
  assert.match(view.initialize!, /^\d+$/)

  const restHistory = (await leaderNode.api('GET', '/history')).json as unknown[][]
  assert.equal(view.history?.valid, true)
  assert.deepEqual(view.history?.lines, restHistory)
  assert.equal(view.history!.lines.at(-1)![0] + 1, status.timeline, 'cluster timeline = last history line + 1')

  // After the switchover Patroni clears the request by writing {} (not by deleting the key).
  assert.ok(view.failover, 'failover key exists')
  assert.equal(view.failover!.leader, null)
  assert.equal(view.failover!.candidate, null)
})
