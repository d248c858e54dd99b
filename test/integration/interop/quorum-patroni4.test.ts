/**
 * Quorum commit across agents: Debian 13's Patroni 4.0.x (q1) and two hactl members (q2, q3) in
 * one cluster with `synchronous_mode: quorum`. Each side must read the other's `/sync`
 * (`quorum`, voters) and synchronous_standby_names and carry the state machine on from it:
 * - whoever leads, the steady state is the same bytes in `/sync` and `ANY 1 (...)`;
 * - real patronictl 4 lists the hactl replicas as Quorum Standby, and hactl list the Patroni one;
 * - the Patroni leader killed (agent and postmaster, SIGKILL by PID): a hactl member wins the
 *   race with a quorum vote, has every acknowledged row, and moves `/sync` to itself;
 * - hactl hands leadership back to Patroni 4 by switchover, and Patroni continues from hactl's
 *   `/sync`.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, PATRONI_TEST_AUTH} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster

async function sql(name: string, query: string): Promise<pg.QueryResult> {
  const n = cluster.node(name)
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
  c.on('error', () => {})
  await c.connect()
  try {
    return await c.query(query)
  } finally {
    await c.end().catch(() => {})
  }
}
const one = async (name: string, query: string): Promise<string> => String(Object.values((await sql(name, query)).rows[0] ?? {})[0] ?? '')

async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${cluster.logTails()}`, {cause: e})
  }
}

const syncRaw = async () => (await etcd.get(`${cluster.prefix}sync`)) ?? ''

/** `/sync` and synchronous_standby_names of `leader` become exactly these. */
async function waitPair(leader: string, quorum: number, voters: string[]): Promise<void> {
  const want = JSON.stringify({leader, quorum, sync_standby: voters.length ? voters.join(',') : null})
  const ssn = voters.length ? `ANY ${voters.length - quorum} (${voters.join(',')})` : ''
  let seen = ''
  await waitFor(
    `/sync = ${want} and synchronous_standby_names '${ssn}' on ${leader}`,
    async () => {
      const raw = await syncRaw()
      const live = await one(leader, 'show synchronous_standby_names').catch((e) => String(e))
      seen = `${raw} / '${live}'`
      return raw === want && live === ssn ? true : undefined
    },
    {timeoutMs: 90_000, intervalMs: 300},
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last seen: ${seen}`, {cause: e})
  })
}

const others = (leader: string) => ['q1', 'q2', 'q3'].filter((n) => n !== leader)

async function writable(name: string): Promise<void> {
  await waitFor(`${name} to be writable`, async () => ((await one(name, 'select pg_is_in_recovery()').catch(() => '')) === 'false' ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 300,
  })
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'quorum4',
    generation: 4,
    nodes: 3,
    namePrefix: 'q',
    impl: {q1: 'patroni', q2: 'hactl', q3: 'hactl'},
    dcs: {synchronous_mode: 'quorum', synchronous_node_count: 1},
    startTimeoutMs: 120_000,
  })
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('Patroni 4 leads or hactl does: the same /sync and ANY 1 of both replicas; patronictl 4 and hactl list show Quorum Standby', {timeout: 180_000}, () =>
  withLogs(async () => {
    let leader = await cluster.waitForLeader()
    if (leader !== 'q1') {
      // A leader in quorum mode hands over only to a member of /sync (Patroni 4 alike): q1 may
      // have joined after the leader's last /sync update.
      await waitPair(leader, 1, others(leader))
      const r = await runHactl(['-c', cluster.node(leader).configPath, 'switchover', '--leader', leader, '--candidate', 'q1', '--force'], {timeoutMs: 120_000})
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
      leader = await cluster.waitForLeader({not: leader, timeoutMs: 90_000})
    }
    assert.equal(leader, 'q1')
    await waitPair('q1', 1, ['q2', 'q3'])
    const list = await cluster.patronictl(['list', '-f', 'json'])
    assert.equal(list.code, 0, list.stderr)
    const rows = JSON.parse(list.stdout) as Array<{Member: string; Role: string}>
    for (const r of ['q2', 'q3']) assert.equal(rows.find((x) => x.Member === r)?.Role, 'Quorum Standby', `patronictl 4: ${list.stdout}`)
    // A member answers from the cluster view of its last HA cycle, as Patroni's API does
    // (patroni/api.py reads dcs.cluster), so the /sync written a moment ago shows within loop_wait.
    for (const r of ['q2', 'q3']) {
      await waitFor(`GET /quorum on hactl ${r} to answer 200`, async () => ((await cluster.node(r).api('GET', '/quorum')).status === 200 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
      })
    }
    await sql('q1', 'create table quorum4_probe (v int)')
  }))

test('the Patroni 4 leader is killed: a hactl member wins with a quorum vote, has every acknowledged row, and moves /sync to itself', {timeout: 180_000}, () =>
  withLogs(async () => {
    await waitPair('q1', 1, ['q2', 'q3'])
    for (let i = 1; i <= 30; i++) await sql('q1', `insert into quorum4_probe values (${i})`)
    await cluster.stopNode('q1', {signal: 'SIGKILL', killPostmaster: true})
    const next = await cluster.waitForLeader({not: 'q1', timeoutMs: 90_000})
    assert.ok(next === 'q2' || next === 'q3', next)
    await writable(next)
    assert.equal(await one(next, 'select count(*) from quorum4_probe'), '30', 'no acknowledged write lost')
    const other = others(next).find((n) => n !== 'q1')!
    await waitPair(next, 0, [other])
    const list = await runHactl(['-c', cluster.node(next).configPath, 'list', '-f', 'json'])
    assert.equal(list.code, 0, list.stderr)
    assert.equal((JSON.parse(list.stdout) as Array<{Member: string; Role: string}>).find((x) => x.Member === other)?.Role, 'Quorum Standby')
  }))

test('Patroni 4 rejoins, becomes a voter of the hactl leader, and takes over by switchover from hactl', {timeout: 240_000}, () =>
  withLogs(async () => {
    await cluster.startNode('q1')
    const leader = await cluster.waitForLeader()
    assert.notEqual(leader, 'q1')
    await waitPair(leader, 1, others(leader))
    await sql(leader, 'insert into quorum4_probe values (31)')
    const r = await runHactl(['-c', cluster.node(leader).configPath, 'switchover', '--leader', leader, '--candidate', 'q1', '--force'], {timeoutMs: 120_000})
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.equal(await cluster.waitForLeader({not: leader, timeoutMs: 90_000}), 'q1')
    await writable('q1')
    assert.equal(await one('q1', 'select count(*) from quorum4_probe'), '31')
    // Patroni 4 carries the state machine on from the /sync hactl wrote.
    await waitPair('q1', 1, ['q2', 'q3'])
  }))
