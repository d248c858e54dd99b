/**
 * One cluster, two kinds of agent: Debian's Patroni (m1, m3; 3.0.2 from Debian 12 or 4.0.x from
 * Debian 13, one file per generation runs these cases) and hactl (m2), on one etcd
 * scope, as during a node-by-node migration. Leadership moves between the kinds in every way it
 * can: a switchover by real patronictl to the hactl member, a switchover by hactl to a Patroni
 * member, the Patroni leader killed (hactl must take over and Patroni follow it), the hactl
 * leader stopped (Patroni must take over and hactl follow it). m3 carries `nofailover`, so each
 * automatic failover has exactly one rightful winner. Writes made before every change are checked
 * on the new leader, and the new timeline on every member.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {PatroniCluster, PATRONI_TEST_AUTH, patroniBins, type PatroniGeneration} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import pg from 'pg'

export function mixedClusterTests(generation: PatroniGeneration): void {
  let etcd: EtcdServer
  let cluster: PatroniCluster
  const P = `Patroni ${patroniBins(generation).version}`

  before(async () => {
    etcd = await EtcdServer.start()
    cluster = await PatroniCluster.start({
      etcd,
      scope: `mixed${generation}`,
      generation,
      nodes: 3,
      namePrefix: 'm',
      impl: {m1: 'patroni', m2: 'hactl', m3: 'patroni'},
      tags: {m3: {nofailover: true}},
      startTimeoutMs: 120_000,
    })
  })

  after(async () => {
    await cluster?.destroy()
    await etcd?.destroy()
  })

  async function sql(name: string, query: string, params: unknown[] = []): Promise<pg.QueryResult> {
    const n = cluster.node(name)
    const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
    c.on('error', () => {})
    await c.connect()
    try {
      return await c.query(query, params)
    } finally {
      await c.end().catch(() => {})
    }
  }

  async function inRecovery(name: string): Promise<boolean | undefined> {
    try {
      return (await sql(name, 'select pg_is_in_recovery() as r')).rows[0].r as boolean
    } catch {
      return undefined
    }
  }

  /** Writes a marker on the current leader and waits until every running member has replayed it. */
  async function markAndReplicate(marker: string, members: string[]): Promise<void> {
    const leader = await cluster.leaderName()
    assert.ok(leader)
    await sql(leader, 'insert into mixed_probe values ($1)', [marker])
    for (const m of members) {
      await waitFor(`${m} to replay '${marker}' written on ${leader}`, async () => {
        try {
          return (await sql(m, 'select count(*)::int as n from mixed_probe where v = $1', [marker])).rows[0].n === 1 || undefined
        } catch {
          return undefined
        }
      }, {timeoutMs: 60_000, intervalMs: 250})
    }
  }

  /**
   * Inserts numbered rows into `name`'s PostgreSQL over TCP as fast as it acknowledges them until
   * stopped or the server goes away; stop() resolves to every number whose COMMIT returned.
   */
  function startWriter(name: string, table: string): {stop: () => Promise<number[]>; count: () => number} {
    const acked: number[] = []
    let running = true
    const n = cluster.node(name)
    const done = (async () => {
      const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres'})
      c.on('error', () => {})
      try {
        await c.connect()
        for (let i = 1; running; i++) {
          await c.query(`insert into ${table} values ($1)`, [i])
          acked.push(i)
        }
      } catch {
        // the primary went away
      } finally {
        await c.end().catch(() => {})
      }
    })()
    return {count: () => acked.length, stop: async () => ((running = false), await done, acked)}
  }

  /** Every acknowledged number is on `name` (the new leader). */
  async function assertNoAckedWriteLost(name: string, table: string, acked: number[]): Promise<void> {
    assert.ok(acked.length > 0, 'the writer got acknowledgements')
    const {rows} = await sql(name, `select v from ${table}`)
    const have = new Set(rows.map((r) => Number(r.v)))
    const lost = acked.filter((v) => !have.has(v))
    assert.deepEqual(lost, [], `every acknowledged write (${acked.length}) is on ${name}`)
  }

  /** The timeline each member reports on GET /patroni (a replica: the one it receives). */
  async function timelines(names: string[]): Promise<Array<number | undefined>> {
    return Promise.all(names.map(async (n) => (await cluster.node(n).status())?.timeline as number | undefined))
  }

  function withLogs<T>(what: () => Promise<T>): Promise<T> {
    return what().catch((e: Error) => {
      throw new Error(`${e.message}\n${cluster.logTails()}`, {cause: e})
    })
  }

  /** hactl as a user runs it (the sources, or the executable when HACTL_TEST_BIN is set). */
  function hactlCtl(args: string[]) {
    return runHactl(['-c', cluster.node('m2').configPath, ...args], {bin: process.env.HACTL_TEST_BIN})
  }

  test(`${P} + hactl: the mixed cluster forms: one leader, both other kinds stream from it`, () =>
    withLogs(async () => {
      const leader = await cluster.leaderName()
      assert.ok(leader)
      await sql(leader, 'create table mixed_probe (v text)')
      await markAndReplicate('formed', ['m1', 'm2', 'm3'])
      const list = await cluster.patronictl(['list', '-f', 'json'])
      assert.equal(list.code, 0, list.stderr)
      const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>
      assert.deepEqual(rows.map((r) => r.Member).sort(), ['m1', 'm2', 'm3'])
      assert.equal(rows.filter((r) => r.Role === 'Leader').length, 1)
    }))

  test(`${P} + hactl: real patronictl switches over to the hactl member; the Patroni members follow it`, {timeout: 120_000}, () =>
    withLogs(async () => {
      if ((await cluster.leaderName()) === 'm2') {
        // hactl won the bootstrap race: patronictl moves the lock from hactl to Patroni first.
        const r = await cluster.patronictl(['switchover', '--leader', 'm2', '--candidate', 'm1', '--force'])
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
        assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: 'm2'}), 'm1')
        await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
      }
      const old = (await cluster.leaderName())!
      const r = await cluster.patronictl(['switchover', '--leader', old, '--candidate', 'm2', '--force'])
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
      assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: old}), 'm2')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
      assert.equal(await inRecovery('m2'), false)
      await markAndReplicate('after-switchover-to-hactl', ['m1', 'm3'])
      // hactl spells the primary's role as every member reads it: `primary` next to Patroni 4,
      // `master` while a 3.0.x member (which predates reading `primary` everywhere) is present.
      const spelling = generation >= 4 ? 'primary' : 'master'
      const key = await waitFor(`m2's member key to say role ${spelling}`, async () => {
        const v = JSON.parse((await etcd.get(`${cluster.prefix}members/m2`)) ?? '{}')
        return v.role === spelling ? v : undefined
      }, {timeoutMs: 20_000, intervalMs: 200})
      assert.equal(key.role, spelling)
      assert.equal((await cluster.node('m2').status())?.role, spelling, 'GET /patroni role')
      const patroniKey = JSON.parse((await etcd.get(`${cluster.prefix}members/m1`)) ?? '{}')
      assert.match(String(patroniKey.version), generation >= 4 ? /^4\./ : /^3\.0\./, 'the Patroni peer reports its own version')
    }))

  test(`${P} + hactl: hactl switches over to a Patroni member; the hactl member follows it`, {timeout: 120_000}, () =>
    withLogs(async () => {
      const r = await hactlCtl(['switchover', '--leader', 'm2', '--candidate', 'm1', '--force'])
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
      assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: 'm2'}), 'm1')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 90_000})
      assert.equal(await inRecovery('m2'), true)
      await markAndReplicate('after-switchover-to-patroni', ['m2', 'm3'])
    }))

  test(`${P} + hactl: the Patroni leader dies (agent and postmaster killed): hactl takes over, Patroni follows, the old leader rejoins`, {timeout: 180_000}, () =>
    withLogs(async () => {
      assert.equal(await cluster.leaderName(), 'm1')
      const before = (await timelines(['m1']))[0]
      assert.equal(typeof before, 'number')
      await cluster.stopNode('m1', {signal: 'SIGKILL', killPostmaster: true})
      assert.equal(await cluster.waitForLeader({timeoutMs: 90_000, not: 'm1'}), 'm2', 'the only member allowed to fail over is the hactl one')
      await waitFor('m2 to accept writes', async () => ((await inRecovery('m2')) === false ? true : undefined), {timeoutMs: 30_000, intervalMs: 200})
      await markAndReplicate('after-patroni-death', ['m3'])
      await cluster.startNode('m1')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
      await markAndReplicate('m1-rejoined', ['m1', 'm3'])
      await waitFor(`every member on one timeline after ${before}`, async () => {
        const tl = await timelines(['m1', 'm2', 'm3'])
        return tl.every((t) => t !== undefined && t === tl[0] && t > before!) ? tl : undefined
      }, {timeoutMs: 30_000, intervalMs: 250})
    }))

  test(`${P} + hactl: the hactl leader stops (SIGTERM): Patroni takes over, hactl rejoins as its replica`, {timeout: 180_000}, () =>
    withLogs(async () => {
      assert.equal(await cluster.leaderName(), 'm2')
      const t0 = Date.now()
      await cluster.stopNode('m2', {signal: 'SIGTERM'})
      assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: 'm2'}), 'm1')
      await waitFor('m1 to accept writes', async () => ((await inRecovery('m1')) === false ? true : undefined), {timeoutMs: 30_000, intervalMs: 200})
      assert.ok(Date.now() - t0 < 30_000, `a graceful hand-over took ${Date.now() - t0} ms`)
      await markAndReplicate('after-hactl-stop', ['m3'])
      await cluster.startNode('m2')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
      await markAndReplicate('m2-rejoined', ['m2', 'm3'])
      const {rows} = await sql('m1', 'select v from mixed_probe order by v')
      assert.deepEqual(
        rows.map((r) => r.v).sort(),
        ['after-hactl-stop', 'after-patroni-death', 'after-switchover-to-hactl', 'after-switchover-to-patroni', 'formed', 'm1-rejoined', 'm2-rejoined'].sort(),
      )
    }))

  test(`${P} + hactl: the Patroni leader stops (SIGTERM) under a writer: hactl takes over with every acknowledged write`, {timeout: 180_000}, () =>
    withLogs(async () => {
      assert.equal(await cluster.leaderName(), 'm1')
      await sql('m1', 'create table mixed_acks_term (v int)')
      const writer = startWriter('m1', 'mixed_acks_term')
      await waitFor('the writer to get acknowledgements', async () => (writer.count() >= 20 ? true : undefined), {timeoutMs: 10_000, intervalMs: 50})
      await cluster.stopNode('m1', {signal: 'SIGTERM'})
      const acked = await writer.stop()
      assert.equal(await cluster.waitForLeader({timeoutMs: 60_000, not: 'm1'}), 'm2')
      await waitFor('m2 to accept writes', async () => ((await inRecovery('m2')) === false ? true : undefined), {timeoutMs: 30_000, intervalMs: 200})
      await assertNoAckedWriteLost('m2', 'mixed_acks_term', acked)
      await cluster.startNode('m1')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
      await markAndReplicate('m1-rejoined-after-stop', ['m1', 'm3'])
    }))

  test(`${P} + hactl: in synchronous mode the hactl leader dies (agent and postmaster killed) under a writer: Patroni takes over with every acknowledged write, hactl rejoins`, {timeout: 180_000}, () =>
    withLogs(async () => {
      assert.equal(await cluster.leaderName(), 'm2')
      // Without a synchronous standby a SIGKILLed primary may take its last commits with it (for
      // Patroni as for hactl): synchronous_mode makes "no acknowledged write lost" a promise. The
      // hactl leader names the Patroni member (m3 carries nofailover) in /sync and the GUC.
      const on = await cluster.patronictl(['edit-config', '--set', 'synchronous_mode=true', '--force'])
      assert.equal(on.code, 0, `${on.stdout}\n${on.stderr}`)
      await waitFor('m2 to name m1 its synchronous standby in /sync and in pg_stat_replication', async () => {
        const sync = JSON.parse((await etcd.get(`${cluster.prefix}sync`)) ?? '{}')
        if (sync.leader !== 'm2' || sync.sync_standby !== 'm1') return undefined
        const {rows} = await sql('m2', "select sync_state from pg_stat_replication where application_name = 'm1'")
        return rows[0]?.sync_state === 'sync' ? true : undefined
      }, {timeoutMs: 60_000, intervalMs: 250})
      await sql('m2', 'create table mixed_acks_kill (v int)')
      await markAndReplicate('acks-kill-table', ['m1', 'm3'])
      const writer = startWriter('m2', 'mixed_acks_kill')
      await waitFor('the writer to get acknowledgements', async () => (writer.count() >= 20 ? true : undefined), {timeoutMs: 10_000, intervalMs: 50})
      await cluster.stopNode('m2', {signal: 'SIGKILL', killPostmaster: true})
      const acked = await writer.stop()
      assert.equal(await cluster.waitForLeader({timeoutMs: 90_000, not: 'm2'}), 'm1', 'the only Patroni member allowed to fail over')
      await waitFor('m1 to accept writes', async () => ((await inRecovery('m1')) === false ? true : undefined), {timeoutMs: 30_000, intervalMs: 200})
      await assertNoAckedWriteLost('m1', 'mixed_acks_kill', acked)
      await cluster.startNode('m2')
      await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
      await markAndReplicate('m2-rejoined-after-kill', ['m2', 'm3'])
    }))
}
