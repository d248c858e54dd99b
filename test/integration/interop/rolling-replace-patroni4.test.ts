/**
 * Migration: a running 3-node cluster of Debian 13's Patroni 4.0.x is replaced by hactl one node
 * at a time, under a writer: each replica's Patroni is stopped (SIGTERM) and hactl started on the
 * same configuration file and data directory; then one switchover moves the leader to a hactl
 * member and the last Patroni node is replaced the same way. At most one switchover (one new
 * timeline) and no acknowledged write lost.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, PATRONI_TEST_AUTH, patroniBins} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster
const V = patroniBins(4).version

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, generation: 4, scope: 'rolling4', nodes: 3, namePrefix: 'r', startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

function client(name: string): pg.Client {
  const n = cluster.node(name)
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
  c.on('error', () => {})
  return c
}

async function sql(name: string, query: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = client(name)
  await c.connect()
  try {
    return await c.query(query, params)
  } finally {
    await c.end().catch(() => {})
  }
}

/**
 * Inserts numbered rows into whichever member holds the leader key, reconnecting after an error
 * (a switchover); `acked` holds every number whose COMMIT returned, `failed` the attempts that did not.
 */
function startWriter(): {acked: number[]; failed: () => number; stop: () => Promise<void>} {
  const acked: number[] = []
  let failed = 0
  let running = true
  let next = 1
  /** A connection to the member holding the leader key (waits through a switchover); null once stopped. */
  const connectToLeader = () =>
    waitFor('the leader to accept the writer\'s connection', async () => {
      if (!running) return {c: null}
      const leader = await cluster.leaderName().catch(() => undefined)
      if (!leader) return undefined
      const c = client(leader)
      try {
        await c.connect()
        return {c}
      } catch {
        await c.end().catch(() => {})
        return undefined
      }
    }, {timeoutMs: 180_000, intervalMs: 100})
  const done = (async () => {
    while (running) {
      const {c} = await connectToLeader()
      if (!c) break
      try {
        while (running) {
          const i = next++
          await c.query('insert into rolling_acks values ($1)', [i])
          acked.push(i)
        }
      } catch {
        failed++
      } finally {
        await c.end().catch(() => {})
      }
    }
  })()
  return {acked, failed: () => failed, stop: async () => ((running = false), await done)}
}

function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((e: Error) => {
    throw new Error(`${e.message}\n${cluster.logTails()}`, {cause: e})
  })
}

async function replace(name: string): Promise<void> {
  assert.notEqual(await cluster.leaderName(), name, `${name} is not the leader when replaced`)
  await cluster.stopNode(name, {signal: 'SIGTERM'})
  await cluster.startNodeAs(name, 'hactl')
  await waitFor(`${name}'s member key to be written by hactl`, async () => {
    const key = JSON.parse((await etcd.get(`${cluster.prefix}members/${name}`)) ?? '{}')
    return key.version && key.version !== V ? true : undefined
  }, {timeoutMs: 60_000, intervalMs: 200})
  await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
}

test(`a running Patroni ${V} cluster is replaced by hactl node by node under a writer: one switchover, no acknowledged write lost`, {timeout: 420_000}, () =>
  withLogs(async () => {
    const first = await cluster.waitForLeader()
    await sql(first, 'create table rolling_acks (v int primary key)')
    const timeline0 = (await cluster.node(first).status())?.timeline as number
    const writer = startWriter()
    try {
      await waitFor('the writer to get acknowledgements', async () => (writer.acked.length >= 20 ? true : undefined), {timeoutMs: 10_000, intervalMs: 50})
      const replicas = cluster.nodes.map((n) => n.name).filter((n) => n !== first)
      for (const r of replicas) {
        const before = writer.acked.length
        await replace(r)
        await waitFor(`writes to go on after ${r} was replaced`, async () => (writer.acked.length > before + 10 ? true : undefined), {timeoutMs: 20_000, intervalMs: 100})
      }
      // The one switchover: from the last Patroni node to a hactl member, asked through hactl.
      const target = replicas[0]!
      const sw = await runHactl(['-c', cluster.node(target).configPath, 'switchover', '--leader', first, '--candidate', target, '--force'], {bin: process.env.HACTL_TEST_BIN})
      assert.equal(sw.code, 0, `${sw.stdout}\n${sw.stderr}`)
      assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: first}), target)
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
      const before = writer.acked.length
      await replace(first)
      await waitFor('writes to go on after the last node was replaced', async () => (writer.acked.length > before + 10 ? true : undefined), {timeoutMs: 20_000, intervalMs: 100})
    } finally {
      await writer.stop()
    }
    const leader = await cluster.waitForLeader()
    assert.equal(leader, cluster.nodes.map((n) => n.name).filter((n) => n !== first)[0], 'no leader change besides the switchover')
    const {rows} = await sql(leader, 'select v from rolling_acks')
    const have = new Set(rows.map((r) => Number(r.v)))
    const lost = writer.acked.filter((v) => !have.has(v))
    assert.deepEqual(lost, [], `every acknowledged write (${writer.acked.length}, ${writer.failed()} interrupted) is on ${leader}`)
    const timelines = await Promise.all(cluster.nodes.map(async (n) => (await n.status())?.timeline))
    assert.deepEqual(timelines, [timeline0 + 1, timeline0 + 1, timeline0 + 1], 'exactly one new timeline: one switchover')
    const history = JSON.parse((await etcd.get(`${cluster.prefix}history`)) ?? '[]') as unknown[]
    assert.equal(history.length, timeline0, 'one history line per timeline change')
    // Every member is hactl now: each key spells the leader's role primary, as Patroni 4 did.
    const keys = await etcd.dump(`${cluster.prefix}members/`)
    for (const n of cluster.nodes) {
      assert.equal(n.impl, 'hactl')
      const m = JSON.parse(keys[`${cluster.prefix}members/${n.name}`] ?? '{}')
      assert.equal(m.role, n.name === leader ? 'primary' : 'replica', `${n.name}: role`)
    }
  }))
