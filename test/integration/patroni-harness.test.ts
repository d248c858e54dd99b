import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {EtcdServer} from '../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster, type DcsEntry} from '../harness/patroni'
import {pidAlive} from '../harness/postgres-bin'
import {waitFor} from '../harness/ports'

/**
 * The real Patroni 3.0.2 harness that interop tests build on: a 3-member cluster on loopback must
 * come up with one leader and two streaming replicas, look in etcd the way
 * docs/ha-rules.md#dcs-keys says, be drivable by the real patronictl, survive the loss of its
 * leader, and leave no process behind.
 */
describe('real Patroni 3.0.2 cluster harness', () => {
  let etcd: EtcdServer
  let cluster: PatroniCluster
  const seenPids = new Set<number>()

  const remember = () => {
    for (const n of cluster.nodes) {
      if (n.pid !== undefined) seenPids.add(n.pid)
      if (n.postmasterPid !== undefined) seenPids.add(n.postmasterPid)
    }
  }

  before(async () => {
    etcd = await EtcdServer.start()
    cluster = await PatroniCluster.start({etcd, scope: 'harness', nodes: 3})
    remember()
  })

  after(async () => {
    await cluster?.destroy()
    await etcd?.destroy()
  })

  test('exactly one member is a running primary and the other two stream from it', async () => {
    const statuses = await Promise.all(cluster.nodes.map(async (n) => ({name: n.name, s: await n.status()})))
    const primaries = statuses.filter((x) => x.s?.role === 'master')
    assert.equal(primaries.length, 1, JSON.stringify(statuses))
    const leader = primaries[0]!
    assert.equal(await cluster.leaderName(), leader.name)
    assert.equal(leader.s.state, 'running')
    assert.equal(typeof leader.s.xlog.location, 'number')

    const replicas = statuses.filter((x) => x.name !== leader.name)
    for (const r of replicas) {
      assert.equal(r.s?.role, 'replica', `${r.name}: ${JSON.stringify(r.s)}`)
      assert.equal(r.s.state, 'running')
      assert.ok(r.s.xlog.received_location > 0, `${r.name} has received WAL`)
      assert.equal(r.s.database_system_identifier, leader.s.database_system_identifier)
    }
    const streaming = (leader.s.replication ?? [])
      .filter((x: any) => x.state === 'streaming' && x.usename === PATRONI_TEST_AUTH.replication.username)
      .map((x: any) => x.application_name)
      .sort()
    assert.deepEqual(streaming, replicas.map((r) => r.name).sort())
  })

  test('patronictl list -f json shows the same leader and two running replicas', async () => {
    const r = await cluster.patronictl(['list', '-f', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>
    assert.deepEqual(rows.map((x) => x.Member), ['pg1', 'pg2', 'pg3'])
    const leader = await cluster.leaderName()
    for (const row of rows) {
      assert.equal(row.Cluster, 'harness')
      const node = cluster.node(String(row.Member))
      assert.equal(row.Host, `127.0.0.1:${node.pgPort}`)
      assert.equal(row.TL, 1)
      if (row.Member === leader) {
        assert.equal(row.Role, 'Leader')
        assert.equal(row.State, 'running')
        assert.equal(row['Lag in MB'], undefined, 'a leader has no lag cell')
      } else {
        assert.equal(row.Role, 'Replica')
        // 3.0.2 shows the member state; "streaming" in this column only came with 3.1.
        assert.equal(row.State, 'running')
        assert.equal(typeof row['Lag in MB'], 'number')
      }
    }
  })

  test('etcd holds the keys of the Patroni layout (docs/ha-rules.md#dcs-keys)', async () => {
    const entries = await cluster.dcsEntries()
    const byKey = new Map<string, DcsEntry>(entries.map((e) => [e.key.slice(cluster.prefix.length), e]))
    const leaderName = await cluster.leaderName()
    assert.ok(leaderName)

    const leader = byKey.get('leader')!
    assert.equal(leader.value, leaderName)
    assert.notEqual(leader.lease, '0', 'the leader key is leased')

    const members = [...byKey.keys()].filter((k) => k.startsWith('members/')).sort()
    assert.deepEqual(members, ['members/pg1', 'members/pg2', 'members/pg3'])
    for (const k of members) {
      const e = byKey.get(k)!
      const name = k.slice('members/'.length)
      const node = cluster.node(name)
      const m = JSON.parse(e.value)
      assert.notEqual(e.lease, '0', `${k} is leased`)
      assert.equal(m.conn_url, `postgres://127.0.0.1:${node.pgPort}/postgres`)
      assert.equal(m.api_url, `http://127.0.0.1:${node.apiPort}/patroni`)
      assert.equal(m.state, 'running')
      assert.equal(m.role, name === leaderName ? 'master' : 'replica')
      assert.equal(m.version, '3.0.2')
      assert.equal(typeof m.xlog_location, 'number')
      assert.equal(m.timeline, 1)
    }
    assert.equal(byKey.get(`members/${leaderName}`)!.lease, leader.lease, 'leader and its member key share one lease')

    const config = byKey.get('config')!
    assert.equal(config.lease, '0')
    const cfg = JSON.parse(config.value)
    assert.deepEqual([cfg.ttl, cfg.loop_wait, cfg.retry_timeout], [cluster.ttl, cluster.loopWait, cluster.retryTimeout])
    assert.equal(cfg.postgresql.use_pg_rewind, true)
    assert.equal(cfg.postgresql.use_slots, true)

    const init = byKey.get('initialize')!
    assert.match(init.value, /^\d+$/)
    assert.equal(init.lease, '0')
    const sysid = (await cluster.node(leaderName).status()).database_system_identifier
    assert.equal(init.value, sysid)

    const status = byKey.get('status') ?? byKey.get('optime/leader')
    assert.ok(status, `status or optime/leader exists; keys: ${[...byKey.keys()].join(', ')}`)
    if (status.key.endsWith('/status')) assert.equal(typeof JSON.parse(status.value).optime, 'number')
    else assert.match(status.value, /^\d+$/)

    const known = /^(leader|config|initialize|status|optime\/leader|history|sync|failover|failsafe|members\/[^/]+)$/
    for (const k of byKey.keys()) assert.match(k, known)
  })

  test('a graceful stop of the leader hands leadership to a replica', async () => {
    const old = (await cluster.leaderName())!
    const oldNode = cluster.node(old)
    const started = Date.now()
    await cluster.stopNode(old, {signal: 'SIGTERM'})
    assert.equal(oldNode.running, false)
    assert.equal(oldNode.proc?.exitCode, 0, 'patroni exits cleanly on SIGTERM')
    assert.equal(oldNode.postmasterPid, undefined, 'a graceful stop also stops PostgreSQL')

    const next = await cluster.waitForLeader({not: old, timeoutMs: 30_000})
    assert.notEqual(next, old)
    assert.ok(Date.now() - started < 30_000)
    const s = await cluster.node(next).status()
    assert.equal(s.role, 'master')
    assert.equal(s.timeline, 2, 'promotion starts a new timeline')
    remember()
  })

  test('the stopped member rejoins as a streaming replica of the new leader', async () => {
    const leader = (await cluster.leaderName())!
    const rejoin = cluster.nodes.find((n) => !n.running)!
    await cluster.startNode(rejoin.name)
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.ok(streaming.includes(rejoin.name), `${rejoin.name} streams from ${leader}: ${streaming}`)
    remember()
  })

  test('killing patroni and its postmaster (a crash) is seen, and the member comes back', async () => {
    const leader = (await cluster.leaderName())!
    const victim = cluster.nodes.find((n) => n.name !== leader)!
    const pm = victim.postmasterPid
    assert.ok(pm, 'the replica has a postmaster')
    await cluster.stopNode(victim.name, {signal: 'SIGKILL', killPostmaster: true})
    assert.equal(victim.proc?.signalCode, 'SIGKILL')
    assert.equal(pidAlive(pm), false)
    assert.equal(victim.postmasterPid, undefined)

    await cluster.startNode(victim.name)
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.ok(streaming.includes(victim.name))
    assert.equal(await cluster.leaderName(), leader, 'a replica crash does not move the leader')
    remember()
  })

  test('destroy() stops every process the harness started', async () => {
    remember()
    assert.ok(seenPids.size >= 6, `tracked ${seenPids.size} pids`)
    await cluster.destroy()
    await waitFor('all harness processes to be gone', () => [...seenPids].every((p) => !pidAlive(p)), {timeoutMs: 10_000})
  })
})
