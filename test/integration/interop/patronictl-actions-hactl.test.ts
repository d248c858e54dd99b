/**
 * Interop: Debian's real patronictl 3.0.2 operates a cluster of three hactl agents through the
 * agents' REST API and etcd — switchover, failover, restart, reload, edit-config, reinit — and
 * the REST API answers bad requests with Patroni's texts and codes. Real etcd, real PostgreSQL.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

async function ctl(args: string[], input?: string): Promise<{code: number | null; out: string}> {
  const r = await cluster.patronictl(args, {input, timeoutMs: 90_000})
  return {code: r.code, out: r.stdout + r.stderr}
}

/** Fails with the agents' logs attached, so a CI failure says what the agents did. */
const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

async function leaderNode(): Promise<PatroniNode> {
  const name = await cluster.waitForLeader()
  return cluster.node(name)
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'hactl-actions', nodes: 3, namePrefix: 'a', impl: 'hactl', startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('patronictl switchover moves the leader to the named candidate; the old leader streams from it', {timeout: 120_000}, () =>
  withLogs(async () => {
    const old = await leaderNode()
    const candidate = cluster.nodes.find((n) => n.name !== old.name)!.name
    const r = await ctl(['switchover', '--leader', old.name, '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`Successfully switched over to "${candidate}"`))
    assert.equal(await cluster.leaderName(), candidate)
    assert.equal(await sql(cluster.node(candidate), 'select pg_is_in_recovery()'), 'f')
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.ok(streaming.includes(old.name), `${old.name} streams from ${candidate}: ${streaming}`)
    assert.equal(await sql(old, 'select pg_is_in_recovery()'), 't')
    const failoverKey = await etcd.get(`${cluster.prefix}failover`)
    assert.ok(failoverKey === undefined || failoverKey === null || failoverKey === '{}', `failover key cleared, got ${failoverKey}`)
  }))

test('patronictl failover to a candidate promotes it; the REST API refuses a failover without one', {timeout: 120_000}, () =>
  withLogs(async () => {
    const old = await leaderNode()
    const bad = await old.api('POST', '/failover', {leader: ''})
    assert.equal(bad.status, 400)
    assert.equal(bad.body, 'Failover could be performed only to a specific candidate')
    const candidate = cluster.nodes.find((n) => n.name !== old.name)!.name
    const r = await ctl(['failover', '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, r.out)
    // patronictl 3.0.2 sends the current leader along with the candidate, and Patroni (hence
    // hactl) then performs a switchover: that is the text real Patroni answers too.
    assert.match(r.out, new RegExp(`Successfully (switched|failed) over to "${candidate}"`))
    assert.equal(await cluster.leaderName(), candidate)
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    const history = JSON.parse((await etcd.get(`${cluster.prefix}history`)) ?? '[]')
    assert.ok(history.length >= 2, `two timeline switches in /history: ${JSON.stringify(history)}`)
  }))

test('switchover requests that cannot work are refused with Patroni texts, before anything is written', () =>
  withLogs(async () => {
    const l = await leaderNode()
    const replica = cluster.nodes.find((n) => n.name !== l.name)!
    const cases: Array<[unknown, number, string | RegExp]> = [
      [{leader: l.name, candidate: l.name}, 400, 'Switchover target and source are the same'],
      [{candidate: replica.name}, 400, 'Switchover could be performed only from a specific leader'],
      [{leader: replica.name, candidate: l.name}, 412, 'leader name does not match'],
      [{leader: l.name, candidate: 'nosuchmember'}, 412, 'candidate does not exists'],
      [{leader: l.name, candidate: replica.name, scheduled_at: '2030-01-01T10:00:00'}, 400, 'Timezone information is mandatory for the scheduled switchover'],
      [{leader: l.name, candidate: replica.name, scheduled_at: '2001-01-01T10:00:00+00:00'}, 422, 'Cannot schedule switchover in the past'],
      [{leader: l.name, candidate: replica.name, scheduled_at: 'next tuesday'}, 422, /Unable to parse scheduled timestamp/],
    ]
    for (const [body, status, text] of cases) {
      const r = await l.api('POST', '/switchover', body)
      assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.status} ${r.body}`)
      if (typeof text === 'string') assert.equal(r.body, text)
      else assert.match(r.body, text)
    }
    assert.equal(await cluster.leaderName(), l.name)
    const f = await etcd.get(`${cluster.prefix}failover`)
    assert.ok(!f || f === '{}', `no failover key written, got ${f}`)
  }))

test('a scheduled switchover is published, can be cancelled, and runs when due', {timeout: 120_000}, () =>
  withLogs(async () => {
    const l = await leaderNode()
    const candidate = cluster.nodes.find((n) => n.name !== l.name)!.name
    const far = new Date(Date.now() + 3600_000).toISOString()
    const s1 = await l.api('POST', '/switchover', {leader: l.name, candidate, scheduled_at: far})
    assert.equal(s1.status, 202, s1.body)
    assert.equal(s1.body, 'Switchover scheduled')
    const shown = await l.api('GET', '/cluster')
    assert.equal(shown.json.scheduled_switchover.to, candidate)
    const del = await l.api('DELETE', '/switchover')
    assert.equal(del.status, 200, del.body)
    assert.equal(del.body, 'scheduled switchover deleted')
    assert.equal((await l.api('DELETE', '/switchover')).status, 404)

    const soon = new Date(Date.now() + 4000).toISOString()
    const s2 = await l.api('POST', '/switchover', {leader: l.name, candidate, scheduled_at: soon})
    assert.equal(s2.status, 202, s2.body)
    assert.equal(await cluster.leaderName(), l.name, 'nothing happens before the scheduled time')
    await waitFor(`${candidate} to lead after the scheduled switchover`, async () => ((await cluster.leaderName()) === candidate ? true : undefined), {
      timeoutMs: 40_000,
      intervalMs: 300,
    })
    await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
  }))

test('patronictl restart of a replica restarts its postmaster; bad restart filters get 400', {timeout: 120_000}, () =>
  withLogs(async () => {
    const l = await leaderNode()
    const replica = cluster.nodes.find((n) => n.name !== l.name)!
    const before = (await replica.status()).postmaster_start_time
    const r = await ctl(['restart', cluster.scope, replica.name, '--force'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`Success: restart on member ${replica.name}`))
    const after = (await replica.status()).postmaster_start_time
    assert.notEqual(after, before, 'the postmaster start time changed')
    assert.equal(await sql(replica, 'select pg_is_in_recovery()'), 't')

    const unknown = await replica.api('POST', '/restart', {colour: 'blue'})
    assert.equal(unknown.status, 400)
    assert.equal(unknown.body, 'Unknown filter for the scheduled restart: colour')
    const role = await replica.api('POST', '/restart', {role: 'boss'})
    assert.equal(role.status, 400)
    assert.equal(role.body, 'PostgreSQL role should be either primary or replica')
    const mismatch = await replica.api('POST', '/restart', {role: 'primary'})
    assert.equal(mismatch.status, 503)
    assert.equal(mismatch.body, 'restart conditions are not satisfied')
    assert.equal((await replica.status()).postmaster_start_time, after, 'a refused restart does not restart')
  }))

test('edit-config --set reaches every member: a reloadable parameter applies, a restart-only one is pending', {timeout: 120_000}, () =>
  withLogs(async () => {
    const r = await ctl(['edit-config', '--set', 'postgresql.parameters.work_mem=7MB', '--set', 'postgresql.parameters.max_connections=45', '--force'])
    assert.equal(r.code, 0, r.out)
    for (const n of cluster.nodes) {
      await waitFor(`${n.name} to run with work_mem 7MB`, async () => ((await sql(n, 'show work_mem')) === '7MB' ? true : undefined), {timeoutMs: 30_000, intervalMs: 300})
      assert.equal(await sql(n, 'show max_connections'), '40', 'max_connections waits for a restart')
      const s = await waitFor(`${n.name} to report pending_restart`, async () => {
        const st = await n.status()
        return st?.pending_restart === true ? st : undefined
      }, {timeoutMs: 30_000, intervalMs: 300})
      assert.equal(s.pending_restart, true)
    }
    const list = await ctl(['list', '-f', 'json'])
    assert.ok(JSON.parse(list.out).every((row: Record<string, unknown>) => row['Pending restart'] === '*'), list.out)

    const leader = await cluster.waitForLeader()
    const replica = cluster.nodes.find((n) => n.name !== leader)!
    const restart = await replica.api('POST', '/restart', {restart_pending: true})
    assert.equal(restart.status, 200, restart.body)
    assert.equal(await sql(replica, 'show max_connections'), '45')
    assert.notEqual((await replica.status()).pending_restart, true, 'the restart cleared pending_restart')
  }))

test('PATCH /config stores what Patroni stores: an unusable value is named by the agents, which keep the value in force; null removes a key', {timeout: 60_000}, () =>
  withLogs(async () => {
    const l = await leaderNode()
    const before = JSON.parse((await etcd.get(`${cluster.prefix}config`)) ?? '{}') as Record<string, unknown>
    const r = await l.api('PATCH', '/config', {loop_wait: 'often'})
    assert.equal(r.status, 200, r.body)
    assert.equal(r.json.loop_wait, 'often')
    assert.equal(JSON.parse((await etcd.get(`${cluster.prefix}config`)) ?? '{}').loop_wait, 'often')
    await waitFor('the agents to name loop_wait and keep the value in force', async () => /loop_wait: .*the value in force before is kept/.test(l.log), {timeoutMs: 30_000})
    const restored = await l.api('PATCH', '/config', {loop_wait: before['loop_wait']})
    assert.equal(restored.status, 200, restored.body)
    const ok = await l.api('PATCH', '/config', {postgresql: {parameters: {work_mem: null}}})
    assert.equal(ok.status, 200, ok.body)
    assert.equal(ok.json.postgresql.parameters.work_mem, undefined)
  }))

test('patronictl reload and reinit work on hactl members', {timeout: 150_000}, () =>
  withLogs(async () => {
    const l = await leaderNode()
    const replica = cluster.nodes.find((n) => n.name !== l.name)!
    const reload = await ctl(['reload', cluster.scope, replica.name, '--force'])
    assert.equal(reload.code, 0, reload.out)
    assert.match(reload.out, new RegExp(`Reload request received for member ${replica.name}`))

    const refused = await l.api('POST', '/reinitialize', {})
    assert.equal(refused.status, 503)
    assert.equal(refused.body, 'I am the leader, can not reinitialize')

    await sql(l, 'create table if not exists reinit_probe (v int)')
    await sql(l, 'insert into reinit_probe values (42)')
    const started = (await replica.status()).postmaster_start_time
    const r = await ctl(['reinit', cluster.scope, replica.name, '--force'])
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, new RegExp(`Success: reinitialize for member ${replica.name}`))
    await waitFor(`${replica.name} to be cloned again and stream`, async () => {
      const st = await replica.status()
      if (!st || st.postmaster_start_time === started) return undefined
      return (await cluster.streamingReplicas()).includes(replica.name) ? true : undefined
    }, {timeoutMs: 90_000, intervalMs: 500})
    assert.equal(await sql(replica, 'select v from reinit_probe'), '42')
  }))
