/**
 * Maintenance mode is the documented way to restart or upgrade the agent without a failover (three
 * real hactl agents, real etcd, real PostgreSQL): paused, a SIGTERM of the leader's agent leaves
 * its PostgreSQL running as a writable primary and the leader key in place, and no replica
 * promotes; the agent started again picks the running primary up, renews the key under its own
 * lease, and once resumed the cluster carries on with the same leader on the same timeline.
 *
 * Fails on the code before d0a1e05 (b3a3505's src/agent/daemon.ts): it ran a fast `pg_ctl stop`
 * and deleteLeader() on every SIGTERM, paused or not, so right after the agent exited the /leader
 * key is already gone and the INSERT below is refused (PostgreSQL is down).
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {b64, EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {sampleEvery, waitFor, within} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

/** Shared by the ordered tests below. */
const state: {
  leader?: PatroniNode
  replicas: PatroniNode[]
  postmasterPid?: number
  timeline?: string
  history?: string
  lease?: string
  sampler?: {stop: () => Promise<void>}
  holders: Set<string>
  promoted: Set<string>
} = {replicas: [], holders: new Set(), promoted: new Set()}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'pauseshutdown', nodes: 3, namePrefix: 'm', impl: 'hactl', startTimeoutMs: 120_000})
})

after(async () => {
  await state.sampler?.stop()
  await cluster?.destroy()
  await etcd?.destroy()
})

/** One statement as the superuser over TCP; rows as arrays. */
async function sql(n: PatroniNode, text: string, values: unknown[] = []): Promise<unknown[][]> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: n.pgPort,
    user: PATRONI_TEST_AUTH.superuser.username,
    password: PATRONI_TEST_AUTH.superuser.password,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  })
  c.on('error', () => {})
  await c.connect()
  try {
    return (await c.query({text, values, rowMode: 'array'})).rows as unknown[][]
  } finally {
    await c.end().catch(() => {})
  }
}

async function one(n: PatroniNode, text: string, values: unknown[] = []): Promise<unknown> {
  return (await sql(n, text, values))[0]?.[0]
}

async function inRecovery(n: PatroniNode): Promise<boolean> {
  return (await one(n, 'select pg_is_in_recovery()')) as boolean
}

async function probeRows(n: PatroniNode): Promise<string[]> {
  return (await sql(n, 'select v from pause_probe order by v')).map((r) => String(r[0]))
}

/** The raw /leader key: its value and the lease it is attached to (a new agent process = a new lease). */
async function leaderKey(): Promise<{value: string; lease: string} | undefined> {
  const r = await etcd.call('/kv/range', {key: b64(`${cluster.prefix}leader`)})
  const kv = r.kvs?.[0]
  return kv ? {value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'), lease: String(kv.lease ?? '0')} : undefined
}

async function memberKey(name: string): Promise<any> {
  const v = await etcd.get(`${cluster.prefix}members/${name}`)
  return v ? JSON.parse(v) : undefined
}

async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${cluster.logTails(cluster.nodes, 3000)}`, {cause: e})
  }
}

test('paused: SIGTERM of the leader agent leaves PostgreSQL a writable primary and the leader key in place; no replica promotes', {timeout: 180_000}, () =>
  withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const replicas = cluster.nodes.filter((n) => n.name !== name)
    state.leader = leader
    state.replicas = replicas
    await sql(leader, 'create table pause_probe (v text primary key)')
    await sql(leader, "insert into pause_probe values ('1-before-pause')")
    state.timeline = String(await one(leader, 'select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)'))
    state.history = await etcd.get(`${cluster.prefix}history`)

    const patch = await leader.api('PATCH', '/config', {pause: true})
    assert.equal(patch.status, 200, patch.body)
    await waitFor('every member to report paused (GET /patroni and its member key)', async () => {
      for (const n of cluster.nodes) {
        if ((await n.status())?.pause !== true) return undefined
        if ((await memberKey(n.name))?.pause !== true) return undefined
      }
      return true
    }, {timeoutMs: 30_000, intervalMs: 200})
    await sql(leader, "insert into pause_probe values ('2-during-pause')")

    const pid = leader.postmasterPid
    assert.ok(pid, 'the leader has a postmaster')
    state.postmasterPid = pid
    const before = await leaderKey()
    assert.equal(before?.value, name)
    state.lease = before!.lease

    // From the SIGTERM until the end of the file: who holds the lock, and whether a replica ever leaves recovery.
    state.sampler = sampleEvery(250, async () => {
      const k = await leaderKey().catch(() => null)
      if (k !== null) state.holders.add(k?.value ?? '(none)')
      for (const r of replicas) if ((await inRecovery(r).catch(() => true)) === false) state.promoted.add(r.name)
    })

    const logFrom = leader.log.length
    const t0 = Date.now()
    const proc = leader.proc!
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    proc.kill('SIGTERM')
    const code = await within(exited, 30_000)
    assert.equal(code, 0, `the agent process exits 0 within 30 s of the SIGTERM (got ${code})`)
    // Read at once: the key must still be there, and this read is well within its ttl.
    const key = await leaderKey()
    assert.ok(Date.now() - t0 < cluster.ttl * 1000, `read ${Date.now() - t0} ms after the SIGTERM, ttl ${cluster.ttl} s`)
    assert.equal(key?.value, name, 'the /leader key still names the old leader right after its agent exited')
    assert.equal(key?.lease, state.lease, 'nobody re-took the key')
    assert.match(leader.log.slice(logFrom), /Leader key is not deleted and Postgresql is not stopped due paused state/)

    assert.equal(leader.postmasterPid, pid, 'the same postmaster runs after the agent exited')
    assert.equal(await inRecovery(leader), false, 'PostgreSQL on the old leader is still a primary')
    await sql(leader, "insert into pause_probe values ('3-agent-gone')")
    assert.deepEqual(await probeRows(leader), ['1-before-pause', '2-during-pause', '3-agent-gone'])
    assert.notEqual((await memberKey(name))?.state, 'stopped', 'the member key does not claim PostgreSQL stopped')

    for (const r of replicas) assert.equal(await inRecovery(r), true, `${r.name} is still in recovery`)
    assert.equal((await leaderKey())?.value, name, 'still the old leader after the checks')
  }))

test('restarted and resumed: the same leader on the same timeline, every row everywhere, both replicas stream', {timeout: 180_000}, () =>
  withLogs(async () => {
    const leader = state.leader
    assert.ok(leader, 'the first test ran')
    const name = leader.name
    assert.equal(leader.running, false, 'the old agent process is gone')
    await cluster.startNode(name)
    await waitFor(`the restarted agent on ${name} to renew the lock under its own lease, still paused`, async () => {
      const k = await leaderKey()
      if (k?.value !== name || k.lease === state.lease) return undefined
      const s = await leader.status()
      return s?.role === 'primary' && s.state === 'running' && s.pause === true && !s.cluster_unlocked ? true : undefined
    }, {timeoutMs: 60_000, intervalMs: 200})
    assert.equal(leader.postmasterPid, state.postmasterPid, 'the paused agent picked up the running PostgreSQL without restarting it')
    assert.equal((await leader.api('GET', '/primary')).status, 200, 'GET /primary: the restarted agent answers as the leader')

    const patch = await leader.api('PATCH', '/config', {pause: false})
    assert.equal(patch.status, 200, patch.body)
    const logFrom = cluster.nodes.map((n) => n.log.length)
    await waitFor('every member to report resumed', async () => {
      for (const n of cluster.nodes) {
        const s = await n.status()
        if (!s || s.pause === true) return undefined
        if ((await memberKey(n.name))?.pause === true) return undefined
      }
      return true
    }, {timeoutMs: 30_000, intervalMs: 200})
    // Resumed, every agent decides for real again: two unpaused cycles each before judging.
    await waitFor('two unpaused HA cycles of every agent', () => {
      return cluster.nodes.every((n, i) => n.log.slice(logFrom[i]).split('\n').filter((l) => / INFO: no action\. I am /.test(l) && !/PAUSE/.test(l)).length >= 2) || undefined
    }, {timeoutMs: 30_000, intervalMs: 200})
    const streaming = await cluster.waitForReplicasStreaming(2, {timeoutMs: 60_000})
    assert.deepEqual(streaming.sort(), state.replicas.map((r) => r.name).sort(), 'both replicas stream from the old leader')

    assert.equal(await cluster.leaderName(), name, 'the same member is the leader')
    assert.equal(await inRecovery(leader), false)
    assert.equal(String(await one(leader, 'select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)')), state.timeline, 'the timeline did not change')
    assert.equal(await etcd.get(`${cluster.prefix}history`), state.history, '/history did not change')
    await sql(leader, "insert into pause_probe values ('4-after-resume')")
    const want = ['1-before-pause', '2-during-pause', '3-agent-gone', '4-after-resume']
    for (const n of cluster.nodes) {
      await waitFor(`${n.name} to have every row`, async () => JSON.stringify(await probeRows(n)) === JSON.stringify(want) || undefined, {timeoutMs: 15_000, intervalMs: 200})
      assert.equal((await n.status())?.timeline, Number.parseInt(state.timeline!, 16), `${n.name} reports the same timeline`)
    }
    for (const r of state.replicas) assert.equal(await inRecovery(r), true, `${r.name} is a replica`)

    await state.sampler?.stop()
    state.sampler = undefined
    assert.deepEqual([...state.promoted], [], 'no replica left recovery at any time')
    assert.deepEqual([...state.holders].filter((h) => h !== name), [], `only ${name} held the lock (samples: ${[...state.holders].join(', ')})`)
  }))
