/**
 * Interop: Debian 13's real patronictl 4.0.x operates a cluster of three hactl agents: list,
 * switchover, failover (4.x sends only the candidate), restart, reload, reinit, edit-config, pause
 * and resume. Every member is hactl, so the role words on the wire are Patroni 4's (`primary`).
 * Real etcd, real PostgreSQL; one cluster for every case.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, patroniBins, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster
const V = patroniBins(4).version

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

async function ctl(args: string[], input?: string): Promise<{code: number | null; out: string}> {
  const r = await cluster.patronictl(args, {input, timeoutMs: 90_000})
  return {code: r.code, out: r.stdout + r.stderr}
}

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

async function leaderNode(): Promise<PatroniNode> {
  return cluster.node(await cluster.waitForLeader())
}

type Row = Record<string, unknown> & {Member: string; Role: string; State: string}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, generation: 4, scope: 'hactl-ctl4', nodes: 3, namePrefix: 'q', impl: 'hactl', startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test(`patronictl ${V} list shows the hactl cluster as hactl's own list does`, () =>
  withLogs(async () => {
    const rows = await waitFor('patronictl 4 to show a leader and two streaming replicas without lag', async () => {
      const r = await ctl(['list', '-f', 'json'])
      assert.equal(r.code, 0, r.out)
      const rows = JSON.parse(r.out) as Row[]
      const ok = rows.filter((x) => x.Role === 'Leader' && x.State === 'running').length === 1 &&
        rows.filter((x) => x.Role === 'Replica' && x.State === 'streaming' && x['Lag in MB'] === 0).length === 2
      return ok ? rows : undefined
    }, {timeoutMs: 60_000, intervalMs: 500})
    assert.deepEqual(rows.map((r) => r.Member), ['q1', 'q2', 'q3'])
    const ours = await runHactl(['-c', cluster.node('q1').configPath, 'list', '-f', 'json'], {bin: process.env.HACTL_TEST_BIN})
    assert.equal(ours.code, 0, ours.stderr)
    assert.deepEqual(JSON.parse(ours.stdout), rows)
    // The leader's member key and REST role are spelled as Patroni 4 spells them.
    const leader = rows.find((r) => r.Role === 'Leader')!.Member
    const key = JSON.parse((await etcd.get(`${cluster.prefix}members/${leader}`)) ?? '{}')
    assert.equal(key.role, 'primary')
    assert.equal((await cluster.node(leader).status())?.role, 'primary')
  }))

test(`patronictl ${V} switchover and failover move the leader; the old leader streams from the new one`, {timeout: 180_000}, () =>
  withLogs(async () => {
    const old = await leaderNode()
    const candidate = cluster.nodes.find((n) => n.name !== old.name)!.name
    const r = await ctl(['switchover', '--primary', old.name, '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`Successfully switched over to "${candidate}"`))
    assert.equal(await cluster.leaderName(), candidate)
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.ok(streaming.includes(old.name), `${old.name} streams from ${candidate}: ${streaming}`)

    // 4.x failover sends the candidate alone ({candidate}); hactl performs a failover.
    const target = cluster.nodes.find((n) => n.name !== candidate)!.name
    const f = await ctl(['failover', '--candidate', target, '--force'])
    assert.equal(f.code, 0, f.out)
    assert.match(f.out, new RegExp(`Successfully failed over to "${target}"`))
    assert.equal(await cluster.leaderName(), target)
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.equal(await sql(cluster.node(target), 'select pg_is_in_recovery()'), 'f')
  }))

test(`patronictl ${V} restart (role filter primary), reload and reinit work on hactl members`, {timeout: 180_000}, () =>
  withLogs(async () => {
    const l = await leaderNode()
    const replica = cluster.nodes.find((n) => n.name !== l.name)!
    const before = (await l.status()).postmaster_start_time
    const r = await ctl(['restart', cluster.scope, '--role', 'primary', '--force'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`Success: restart on member ${l.name}`))
    assert.doesNotMatch(r.out, new RegExp(`member ${replica.name}`), 'the role filter left the replicas alone')
    assert.notEqual((await l.status()).postmaster_start_time, before)
    // What patronictl 3.x sends (role=master) is still accepted, unlike Patroni 4's own API.
    const legacy = await l.api('POST', '/restart', {role: 'master', postgres_version: '9.6.0'})
    assert.equal(legacy.status, 503, legacy.body)
    assert.equal(legacy.body, 'restart conditions are not satisfied')

    const reload = await ctl(['reload', cluster.scope, replica.name, '--force'])
    assert.equal(reload.code, 0, reload.out)
    assert.match(reload.out, new RegExp(`Reload request received for member ${replica.name}`))

    await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    await sql(l, 'create table if not exists reinit_probe (v int)')
    await sql(l, 'insert into reinit_probe values (42)')
    const started = (await replica.status()).postmaster_start_time
    const ri = await ctl(['reinit', cluster.scope, replica.name, '--force'])
    assert.equal(ri.code, 0, ri.out)
    assert.match(ri.out, new RegExp(`Success: reinitialize for member ${replica.name}`))
    await waitFor(`${replica.name} to be cloned again and stream`, async () => {
      const st = await replica.status()
      if (!st || st.postmaster_start_time === started) return undefined
      return (await cluster.streamingReplicas()).includes(replica.name) ? true : undefined
    }, {timeoutMs: 90_000, intervalMs: 500})
    assert.equal(await sql(replica, 'select v from reinit_probe'), '42')
  }))

test(`patronictl ${V} edit-config reaches every member; pause and resume are seen by the agents`, {timeout: 120_000}, () =>
  withLogs(async () => {
    const r = await ctl(['edit-config', '--set', 'postgresql.parameters.work_mem=9MB', '--force'])
    assert.equal(r.code, 0, r.out)
    for (const n of cluster.nodes) {
      await waitFor(`${n.name} to run with work_mem 9MB`, async () => ((await sql(n, 'show work_mem')) === '9MB' ? true : undefined), {timeoutMs: 30_000, intervalMs: 300})
    }

    const p = await ctl(['pause', '--wait'])
    assert.equal(p.code, 0, p.out)
    assert.match(p.out, /Success: cluster management is paused/)
    for (const n of cluster.nodes) assert.equal((await n.status())?.pause, true, `${n.name} reports pause`)
    const list = await ctl(['list'])
    assert.match(list.out, /Maintenance mode: on/)

    const u = await ctl(['resume', '--wait'])
    assert.equal(u.code, 0, u.out)
    assert.match(u.out, /Success: cluster management is resumed/)
    for (const n of cluster.nodes) assert.notEqual((await n.status())?.pause, true, `${n.name} no longer paused`)
    assert.equal(JSON.parse((await etcd.get(`${cluster.prefix}config`)) ?? '{}').pause, undefined, 'resume removes the key (pause: null)')
  }))
