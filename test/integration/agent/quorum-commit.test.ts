/**
 * synchronous_mode: quorum (Patroni 4) with three hactl agents on real etcd and PostgreSQL 15:
 * the leader lists both replicas as `ANY 1 (...)` and `/sync` carries quorum 1 of them, as
 * Patroni writes it; `hactl list` shows them as Quorum Standby and GET /quorum answers 200; when
 * the leader is killed (agent and postmaster, SIGKILL by PID) a replica with every acknowledged
 * commit takes over and moves `/sync` to itself; a switchover to a named candidate works.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import {stringify} from 'yaml'
import {writeOwnedFile} from '../../harness/postgres-bin'

let etcd: EtcdServer
let cluster: PatroniCluster

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

const syncRaw = async () => (await etcd.get(`${cluster.prefix}sync`)) ?? ''

/**
 * The steady state of ANY 1 among the two replicas of `leader`: `/sync` written by hactl exactly
 * as Patroni 4 writes it, synchronous_standby_names on the leader, and both reported as quorum
 * standbys by PostgreSQL.
 */
async function waitQuorumOfTwo(leader: PatroniNode): Promise<string[]> {
  const replicas = cluster.nodes.map((n) => n.name).filter((n) => n !== leader.name).sort()
  const want = JSON.stringify({leader: leader.name, quorum: 1, sync_standby: replicas.join(',')})
  let seen = ''
  await waitFor(
    `/sync = ${want} and synchronous_standby_names ANY 1 (${replicas}) on ${leader.name}`,
    async () => {
      seen = `${await syncRaw()} / ${await sql(leader, 'show synchronous_standby_names').catch((e) => String(e))}`
      if ((await syncRaw()) !== want) return undefined
      if ((await sql(leader, 'show synchronous_standby_names').catch(() => '')) !== `ANY 1 (${replicas.join(',')})`) return undefined
      const states = await sql(leader, "select string_agg(application_name || ':' || sync_state, ',' order by application_name) from pg_stat_replication").catch(() => '')
      return states === replicas.map((r) => `${r}:quorum`).join(',') ? true : undefined
    },
    {timeoutMs: 90_000, intervalMs: 300},
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last seen: ${seen}`, {cause: e})
  })
  return replicas
}

async function writable(name: string): Promise<void> {
  await waitFor(`${name} to be writable`, async () => ((await sql(cluster.node(name), 'select pg_is_in_recovery()').catch(() => '')) === 'f' ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 300,
  })
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-quorum',
    nodes: 3,
    namePrefix: 'q',
    impl: 'hactl',
    dcs: {synchronous_mode: 'quorum', synchronous_node_count: 1},
    startTimeoutMs: 120_000,
  })
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('quorum 1 of both replicas: synchronous_standby_names ANY 1 (...), /sync as Patroni writes it, Quorum Standby in list and /quorum', {timeout: 150_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const replicas = await waitQuorumOfTwo(leader)
    await sql(leader, 'create table quorum_probe (v int)')
    await sql(leader, 'insert into quorum_probe values (0)')
    const list = await runHactl(['-c', leader.configPath, 'list', '-f', 'json'])
    assert.equal(list.code, 0, list.stderr)
    const rows = JSON.parse(list.stdout) as Array<{Member: string; Role: string}>
    for (const r of replicas) assert.equal(rows.find((x) => x.Member === r)?.Role, 'Quorum Standby', list.stdout)
    assert.equal(rows.find((x) => x.Member === leader.name)?.Role, 'Leader')
    for (const r of replicas) {
      // Answered from the cluster view of the member's last HA cycle (as Patroni's API reads
      // dcs.cluster), so the /sync written a moment ago shows within loop_wait.
      let q = await cluster.node(r).api('GET', '/quorum')
      await waitFor(`GET /quorum on ${r} to answer 200`, async () => ((q = await cluster.node(r).api('GET', '/quorum')).status === 200 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
      })
      assert.equal(q.json?.quorum_standby, true)
      assert.equal((await cluster.node(r).api('GET', '/sync')).status, 503, `GET /sync on ${r}`)
    }
    assert.equal((await leader.api('GET', '/quorum')).status, 503)
  }))

/** /sync and synchronous_standby_names on `leader` become exactly these. */
async function waitPair(leader: PatroniNode, sync: {quorum: number; voters: string[]}, ssn: string): Promise<void> {
  const want = JSON.stringify({leader: leader.name, quorum: sync.quorum, sync_standby: sync.voters.join(',')})
  let seen = ''
  await waitFor(
    `/sync = ${want} and synchronous_standby_names ${ssn}`,
    async () => {
      const raw = await syncRaw()
      const live = await sql(leader, 'show synchronous_standby_names').catch((e) => String(e))
      seen = `${raw} / ${live}`
      return raw === want && live === ssn ? true : undefined
    },
    {timeoutMs: 60_000, intervalMs: 300},
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; last seen: ${seen}`, {cause: e})
  })
}

test('synchronous_node_count 2 and back: ANY 2 with quorum 0, then ANY 1 with quorum 1', {timeout: 150_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const replicas = await waitQuorumOfTwo(leader)
    const up = await leader.api('PATCH', '/config', {synchronous_node_count: 2})
    assert.equal(up.status, 200, up.body)
    await waitPair(leader, {quorum: 0, voters: replicas}, `ANY 2 (${replicas.join(',')})`)
    await sql(leader, 'insert into quorum_probe values (100)')
    for (const r of replicas) assert.equal(await sql(cluster.node(r), 'select count(*) from quorum_probe where v = 100'), '1', `${r} has the row (ANY 2)`)
    await sql(leader, 'delete from quorum_probe where v = 100')
    const down = await leader.api('PATCH', '/config', {synchronous_node_count: 1})
    assert.equal(down.status, 200, down.body)
    await waitQuorumOfTwo(leader)
  }))

test('a replica tagged nosync leaves the voters and the list, and comes back without the tag', {timeout: 180_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const replicas = await waitQuorumOfTwo(leader)
    const [stays, tagged] = replicas as [string, string]
    const node = cluster.node(tagged)
    const reload = async (tags: Record<string, unknown> | undefined) => {
      const cfg = cluster.config(node)
      if (tags) cfg.tags = tags
      else delete cfg.tags
      writeOwnedFile(node.configPath, stringify(cfg))
      const r = await node.api('POST', '/reload')
      assert.equal(r.status, 202, r.body)
    }
    await reload({nosync: true})
    await waitPair(leader, {quorum: 0, voters: [stays]}, `ANY 1 (${stays})`)
    await waitFor(`GET /quorum on ${tagged} to answer 503`, async () => ((await node.api('GET', '/quorum')).status === 503 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 300,
    })
    assert.equal((await cluster.node(stays).api('GET', '/quorum')).status, 200)
    await reload(undefined)
    await waitQuorumOfTwo(leader)
  }))

test('synchronous_mode on and back to quorum: the list goes to priority form and back to ANY', {timeout: 150_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const replicas = await waitQuorumOfTwo(leader)
    const on = await leader.api('PATCH', '/config', {synchronous_mode: true})
    assert.equal(on.status, 200, on.body)
    const standby = await waitFor(
      'one synchronous standby in priority form',
      async () => {
        const s = JSON.parse((await syncRaw()) || '{}') as {leader?: string; quorum?: number; sync_standby?: string | null}
        if (s.leader !== leader.name || !s.sync_standby || s.sync_standby.includes(',') || s.quorum) return undefined
        if ((await sql(leader, 'show synchronous_standby_names').catch(() => '')) !== s.sync_standby) return undefined
        const state = await sql(leader, `select sync_state from pg_stat_replication where application_name = '${s.sync_standby}'`).catch(() => '')
        return state === 'sync' ? s.sync_standby : undefined
      },
      {timeoutMs: 60_000, intervalMs: 300},
    )
    assert.ok(replicas.includes(standby))
    const back = await leader.api('PATCH', '/config', {synchronous_mode: 'quorum'})
    assert.equal(back.status, 200, back.body)
    await waitQuorumOfTwo(leader)
  }))

test('GET /patroni reports the WAL position of the moment it is asked (peers decide races on it)', {timeout: 60_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const lsnNum = (t: string) => {
      const [hi, lo] = t.split('/')
      return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16)
    }
    // Five writes, each followed at once by the question: a status from the last cycle (up to
    // loop_wait old) would be behind at least one of them.
    await sql(leader, 'create table lsn_probe (v int)')
    for (let i = 0; i < 5; i++) {
      await sql(leader, `insert into lsn_probe values (${i})`)
      const flushed = lsnNum(await sql(leader, 'select pg_current_wal_flush_lsn()'))
      const r = await leader.api('GET', '/patroni')
      assert.equal(r.status, 200, r.body)
      const location = (JSON.parse(r.body) as {xlog?: {location?: number}}).xlog?.location ?? -1
      assert.ok(location >= flushed, `xlog.location ${location} is behind the flushed ${flushed} (try ${i + 1})`)
    }
  }))

test('the leader is killed: a replica with every acknowledged commit takes over and /sync follows', {timeout: 180_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    await waitQuorumOfTwo(leader)
    // Each insert returns only once one of the two replicas flushed it (ANY 1, synchronous_commit on).
    for (let i = 1; i <= 40; i++) await sql(leader, `set synchronous_commit = on; insert into quorum_probe values (${i})`)
    await cluster.stopNode(leader.name, {signal: 'SIGKILL', killPostmaster: true})
    const next = await cluster.waitForLeader({not: leader.name, timeoutMs: 90_000})
    await writable(next)
    assert.equal(await sql(cluster.node(next), 'select count(*) from quorum_probe where v between 0 and 40'), '41', 'no acknowledged write lost')
    // The new leader moves /sync to itself (the former leader becomes a voter first, then leaves
    // the voters as it is gone) and lists the remaining replica.
    const other = cluster.nodes.map((n) => n.name).find((n) => n !== leader.name && n !== next)!
    const want = JSON.stringify({leader: next, quorum: 0, sync_standby: other})
    await waitFor(`/sync = ${want}`, async () => ((await syncRaw()) === want ? true : undefined), {timeoutMs: 60_000, intervalMs: 300})
    await waitFor(
      `synchronous_standby_names ANY 1 (${other}) on ${next}`,
      async () => ((await sql(cluster.node(next), 'show synchronous_standby_names').catch(() => '')) === `ANY 1 (${other})` ? true : undefined),
      {timeoutMs: 30_000, intervalMs: 300},
    )
    await sql(cluster.node(next), 'insert into quorum_probe values (41)')
  }))

test('a switchover to a named candidate', {timeout: 240_000}, () =>
  withLogs(async () => {
    const down = cluster.nodes.find((n) => !n.running)
    if (down) await cluster.startNode(down.name)
    const leader = cluster.node(await cluster.waitForLeader())
    const replicas = await waitQuorumOfTwo(leader)
    const candidate = replicas[replicas.length - 1]!
    const r = await runHactl(['-c', leader.configPath, 'switchover', '--leader', leader.name, '--candidate', candidate, '--force'], {timeoutMs: 120_000})
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    const next = await cluster.waitForLeader({not: leader.name, timeoutMs: 90_000})
    assert.equal(next, candidate, 'the named candidate leads')
    await writable(next)
    assert.equal(await sql(cluster.node(next), 'select count(*) from quorum_probe'), '42', 'every row is on the new primary')
    await waitQuorumOfTwo(cluster.node(next))
  }))
