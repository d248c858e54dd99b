/**
 * Interop: hactl's ctl operates a cluster of three Debian 13 Patroni 4.0.x agents (which write
 * `primary` in member keys and on the REST API, and refuse role=master): hactl's DCS layer reads
 * their keys without warnings, `hactl list` prints what patronictl 4 prints, and hactl's
 * switchover and failover are carried out by the Patroni agents.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {createEtcd3Dcs} from '../../../src/adapters/dcs-etcd3'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, patroniBins} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster
const V = patroniBins(4).version

function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((e: Error) => {
    throw new Error(`${e.message}\n${cluster.logTails()}`, {cause: e})
  })
}

function hactl(args: string[]) {
  return runHactl(['-c', cluster.node('p1').configPath, ...args], {bin: process.env.HACTL_TEST_BIN})
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, generation: 4, scope: 'patroni4', nodes: 3, namePrefix: 'p', startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test(`Patroni ${V}'s keys decode in hactl's DCS layer; hactl list prints what patronictl ${V} prints`, () =>
  withLogs(async () => {
    const dcs = createEtcd3Dcs({section: {hosts: etcd.endpoint}, clock: systemClock, name: 'hactl-reader', scope: cluster.scope, watch: false})
    try {
      const view = await dcs.loadCluster({fresh: true})
      assert.deepEqual(view.warnings, [], 'Patroni 4-written values decode without warnings')
      assert.equal(view.members.length, 3)
      for (const m of view.members) {
        assert.deepEqual(m.patroniVersion, V.split('.').map(Number), `${m.name}: version`)
        assert.equal(m.role, m.name === view.leader?.name ? 'primary' : 'replica', `${m.name}: role`)
        if (m.name === view.leader?.name) assert.equal(m.data.role, 'primary', 'Patroni 4 writes primary')
      }
    } finally {
      await dcs.close()
    }
    const {theirs, ours} = await waitFor('both lists to agree on a settled cluster', async () => {
      const t = await cluster.patronictl(['list', '-f', 'json'])
      const o = await hactl(['list', '-f', 'json'])
      if (t.code !== 0 || o.code !== 0) return undefined
      const theirs = JSON.parse(t.stdout) as Array<Record<string, unknown>>
      const ours = JSON.parse(o.stdout) as Array<Record<string, unknown>>
      const settled = theirs.filter((r) => r.State === 'streaming' && r['Lag in MB'] === 0).length === 2
      return settled && JSON.stringify(theirs) === JSON.stringify(ours) ? {theirs, ours} : undefined
    }, {timeoutMs: 60_000, intervalMs: 500}).catch(async (e) => {
      const t = await cluster.patronictl(['list', '-f', 'json'])
      const o = await hactl(['list', '-f', 'json'])
      throw new Error(`${(e as Error).message}\npatronictl: ${t.stdout}${t.stderr}\nhactl: ${o.stdout}${o.stderr}`)
    })
    assert.deepEqual(ours, theirs)
    assert.deepEqual(theirs.map((r) => r.Member), ['p1', 'p2', 'p3'])
  }))

test(`hactl switchover and failover are carried out by Patroni ${V} agents`, {timeout: 180_000}, () =>
  withLogs(async () => {
    const old = await cluster.waitForLeader()
    const candidate = cluster.nodes.find((n) => n.name !== old)!.name
    const r = await hactl(['switchover', '--leader', old, '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, new RegExp(`Successfully switched over to "${candidate}"`))
    assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: old}), candidate)
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
    assert.ok(streaming.includes(old), `${old} streams from ${candidate}: ${streaming}`)
    assert.equal((await cluster.node(candidate).status())?.role, 'primary')

    const target = cluster.nodes.find((n) => n.name !== candidate)!.name
    const f = await hactl(['failover', '--candidate', target, '--force'])
    assert.equal(f.code, 0, `${f.stdout}\n${f.stderr}`)
    assert.match(f.stdout, new RegExp(`Successfully (failed|switched) over to "${target}"`))
    assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: candidate}), target)
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
  }))
