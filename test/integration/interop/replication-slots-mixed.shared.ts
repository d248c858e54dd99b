/**
 * Permanent logical slots and member slots in a cluster mixed with Patroni (issue 13): Debian's
 * Patroni (Mix-1; 3.0.2 from Debian 12 or 4.0.x from Debian 13, one file per generation runs these
 * cases) and hactl (Mix-2) on one etcd scope, wal_level logical, a permanent logical slot `cdc`
 * (test_decoding) in bootstrap.dcs `slots`. The member names are not slot names, so both sides
 * must map them alike (Patroni's slot_name_from_member_name: Mix-1 -> mix_1):
 * - the Patroni leader creates `cdc` and publishes its confirmed_flush_lsn in `/status` `slots`;
 *   the hactl replica copies the slot (its state file, read from the primary) and advances it
 *   there; each leader keeps the other member's slot and the replica streams on it;
 * - a consumer reads changes; after a switchover by patronictl to the hactl member the slot is
 *   there, not behind what the consumer confirmed, and the consumer goes on with nothing missed
 *   or repeated; the Patroni member, now a replica, advances its `cdc` to the position hactl
 *   publishes in `/status` `slots` (its only source for it);
 * - patronictl reads hactl's `/status` `optime`: the lag it shows for a member whose key stopped
 *   moving is what hactl's optime says;
 * - the hactl leader dies (agent and postmaster SIGKILLed): Patroni (which checks its lag against
 *   that optime) takes over with the slot, and the consumer goes on; once the dead member's key
 *   is gone Patroni 4 keeps its slot (from the `retain_slots` hactl published), Patroni 3 drops
 *   it; the hactl member comes back and streams on the slot Patroni keeps (again) for it.
 */
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {CdcConsumer, lsn} from '../../harness/cdc-consumer'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, patroniBins, type PatroniGeneration, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import {asUser, PG_BIN_DIR, runCommand} from '../../harness/postgres-bin'

const P = 'Mix-1'
const H = 'Mix-2'
/** Patroni's slot_name_from_member_name of each. */
const SLOT: Record<string, string> = {[P]: 'mix_1', [H]: 'mix_2'}

export function mixedSlotTests(generation: PatroniGeneration): void {
  const V = `Patroni ${patroniBins(generation).version}`
  let etcd: EtcdServer
  let cluster: PatroniCluster

  async function sql(n: PatroniNode, query: string): Promise<string> {
    const r = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', n.socketDir, '-p', String(n.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', query], {
      ...asUser(cluster.home),
      timeoutMs: 15_000,
    })
    if (r.code !== 0) throw new Error(`psql on ${n.name} failed: ${r.stderr}`)
    return r.stdout.trim()
  }
  const trySql = (n: PatroniNode, q: string) => sql(n, q).catch(() => undefined)
  const cdc = new CdcConsumer<PatroniNode>(sql)
  const cdcPosition = (n: PatroniNode) => cdc.position(n)
  const consume = (n: PatroniNode) => cdc.consume(n)
  const poll = (n: PatroniNode) => cdc.poll(n)

  async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${cluster.logTails()}`, {cause: e})
    }
  }

  const writable = async (n: PatroniNode) => (await trySql(n, 'select pg_is_in_recovery()')) === 'f'

  async function status(): Promise<{optime?: number; slots?: Record<string, number>; retain_slots?: string[]}> {
    return JSON.parse((await etcd.get(`${cluster.prefix}status`)) ?? '{}')
  }

  /** `replica` streams from `primary` on the slot named after it there, which is active. */
  async function streamsOnItsSlot(primary: PatroniNode, replica: PatroniNode): Promise<true | undefined> {
    const slot = SLOT[replica.name]!
    const r = await trySql(primary, `select count(*) from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid where r.application_name = '${replica.name}' and s.slot_name = '${slot}' and s.slot_type = 'physical'`)
    return r === '1' && (await trySql(replica, 'show primary_slot_name')) === slot ? true : undefined
  }

  before(async () => {
    etcd = await EtcdServer.start()
    cluster = await PatroniCluster.start({
      etcd,
      scope: `slots-mixed${generation}`,
      generation,
      nodes: 2,
      namePrefix: 'Mix-',
      impl: {[P]: 'patroni', [H]: 'hactl'},
      // Patroni bootstraps; hactl joins its cluster.
      hold: [H],
      wait: false,
      startTimeoutMs: 120_000,
      dcs: {
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'logical',
            hot_standby: 'on',
            wal_log_hints: 'on',
            max_connections: 40,
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '64MB',
          },
        },
        slots: {cdc: {type: 'logical', database: 'postgres', plugin: 'test_decoding'}},
      },
    })
    assert.equal(await cluster.waitForLeader({timeoutMs: 90_000}), P)
    await cluster.startNode(H)
    await cluster.waitForReplicasStreaming(1, {timeoutMs: 90_000})
  })

  after(async () => {
    await cluster?.destroy()
    await etcd?.destroy()
  })

  test(`${V} leads: the hactl replica copies the permanent logical slot and streams on the slot Patroni keeps for it`, {timeout: 120_000}, () =>
    withLogs(async () => {
      const p = cluster.node(P)
      const h = cluster.node(H)
      await waitFor('cdc on the Patroni leader', () => cdcPosition(p), {timeoutMs: 30_000, intervalMs: 300})
      await sql(p, 'create table slot_probe (v int primary key)')
      await sql(p, 'insert into slot_probe select generate_series(1, 3)')
      assert.deepEqual(await consume(p), [1, 2, 3])
      // What Patroni publishes: the confirmed position of the permanent logical slot.
      const published = await waitFor('Patroni to publish cdc at the consumer position in /status', async () => {
        await poll(p)
        const s = await status()
        return typeof s.slots?.cdc === 'number' && BigInt(s.slots.cdc) >= cdc.confirmed ? s : undefined
      }, {timeoutMs: 30_000, intervalMs: 300})
      assert.equal(typeof published.optime, 'number')
      await waitFor('cdc on the hactl replica, advanced to what the consumer confirmed', async () => {
        await poll(p)
        const at = await cdcPosition(h)
        return at !== undefined && at >= cdc.confirmed ? at : undefined
      }, {timeoutMs: 90_000, intervalMs: 500})
      // The slot is visible as soon as the restarted postmaster answers; the agent logs the copy
      // just after that.
      await waitFor('hactl to log that it copied the slot from the Patroni primary', () => (h.log.includes('copied logical slots cdc from the primary') ? true : undefined), {timeoutMs: 30_000, intervalMs: 200})
      assert.equal(await sql(h, 'show hot_standby_feedback'), 'on', 'hactl forces hot_standby_feedback where logical slots are kept')
      await waitFor(`${H} streaming from ${P} on slot ${SLOT[H]}`, () => streamsOnItsSlot(p, h), {timeoutMs: 30_000, intervalMs: 300})
    }))

  test(`a switchover by patronictl to hactl: cdc is there at what the consumer confirmed, nothing missed or repeated; ${V} streams on hactl's slot for it and advances its cdc from hactl's /status`, {timeout: 150_000}, () =>
    withLogs(async () => {
      const p = cluster.node(P)
      const h = cluster.node(H)
      await waitFor('cdc on the hactl replica at the consumer position', async () => {
        await poll(p)
        return ((await cdcPosition(h)) ?? 0n) >= cdc.confirmed || undefined
      }, {timeoutMs: 30_000, intervalMs: 300})
      const r = await cluster.patronictl(['switchover', '--leader', P, '--candidate', H, '--force'])
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
      await waitFor('hactl a writable leader', async () => ((await cluster.leaderName()) === H && (await writable(h))) || undefined, {timeoutMs: 60_000, intervalMs: 300})
      const at = await cdcPosition(h)
      assert.ok(at !== undefined && at >= cdc.confirmed, `cdc on ${H} at ${at}, the consumer confirmed ${cdc.confirmed}`)
      await sql(h, 'insert into slot_probe values (4), (5)')
      assert.deepEqual(await consume(h), [4, 5])
      await waitFor(`${P} streaming from ${H} on slot ${SLOT[P]}`, () => streamsOnItsSlot(h, p), {timeoutMs: 90_000, intervalMs: 300})
      // Patroni learns where the slot is only from the `slots` of hactl's /status.
      await waitFor(`hactl to publish cdc in /status and ${P} (a replica now) to advance its cdc there`, async () => {
        await poll(h)
        const pub = (await status()).slots?.cdc
        if (typeof pub !== 'number' || BigInt(pub) < cdc.confirmed) return undefined
        if ((await trySql(p, 'select pg_is_in_recovery()')) !== 't') return undefined
        return ((await cdcPosition(p)) ?? 0n) >= cdc.confirmed || undefined
      }, {timeoutMs: 60_000, intervalMs: 500})
      assert.equal(await sql(p, 'show hot_standby_feedback'), 'on')
      // hactl lists the member slots for Patroni 4 (AbstractDCS._build_retain_slots): both members'.
      assert.deepEqual((await status()).retain_slots, [SLOT[P], SLOT[H]])
    }))

  test(`${V}'s patronictl reads hactl's /status optime: the lag of a member whose key stopped moving`, {timeout: 120_000}, () =>
    withLogs(async () => {
      const h = cluster.node(H)
      // Patroni's agent stops (its PostgreSQL keeps streaming); its member key keeps its last
      // xlog_location until the lease runs out, while hactl's optime moves on.
      await cluster.stopNode(P, {signal: 'SIGKILL'})
      const key = JSON.parse((await etcd.get(`${cluster.prefix}members/${P}`)) ?? '{}')
      assert.equal(typeof key.xlog_location, 'number', `${P}'s member key is still there`)
      for (let i = 0; i < 3; i++) await sql(h, `insert into slot_probe values (${100 + i}); select pg_switch_wal()`)
      const end = lsn(await sql(h, 'select pg_current_wal_lsn()'))
      const optime = await waitFor('hactl to publish its optime past the writes', async () => {
        const o = (await status()).optime
        return typeof o === 'number' && BigInt(o) >= end ? o : undefined
      }, {timeoutMs: 20_000, intervalMs: 200})
      const list = await cluster.patronictl(['list', '-f', 'json'])
      assert.equal(list.code, 0, list.stderr)
      const row = (JSON.parse(list.stdout) as Array<Record<string, unknown>>).find((x) => x.Member === P)
      assert.ok(row, list.stdout)
      const expected = Math.round((optime - key.xlog_location) / 1024 / 1024)
      assert.ok(expected >= 32, `the writes moved the optime ${expected} MB past ${P}'s key`)
      // The optime may have moved on a little between the read above and patronictl's.
      assert.ok(typeof row['Lag in MB'] === 'number' && row['Lag in MB'] >= expected && row['Lag in MB'] <= expected + 16, `patronictl shows ${P} ${row['Lag in MB']} MB behind; hactl's optime says ${expected}`)
      await cluster.startNode(P)
      await waitFor(`${P} back as a streaming replica on its slot`, () => streamsOnItsSlot(h, cluster.node(P)), {timeoutMs: 90_000, intervalMs: 300})
      await cluster.waitForReplicasStreaming(1, {timeoutMs: 60_000})
      assert.deepEqual(await consume(h), [100, 101, 102])
    }))

  test(`the hactl leader dies (agent and postmaster SIGKILLed): ${V} takes over with the slot, and the consumer misses nothing`, {timeout: 150_000}, () =>
    withLogs(async () => {
      const p = cluster.node(P)
      const h = cluster.node(H)
      await sql(h, 'insert into slot_probe values (6)')
      assert.deepEqual(await consume(h), [6])
      // 7 is written but not consumed: the consumer must get it from the new primary.
      await sql(h, 'insert into slot_probe values (7)')
      const written = lsn(await sql(h, 'select pg_current_wal_lsn()'))
      await waitFor(`${P} to replay 7 and have cdc at the consumer position`, async () => {
        await trySql(h, 'checkpoint')
        const replay = await trySql(p, 'select pg_last_wal_replay_lsn()')
        return replay && lsn(replay) >= written && ((await cdcPosition(p)) ?? 0n) >= cdc.confirmed ? true : undefined
      }, {timeoutMs: 60_000, intervalMs: 300})
      await cluster.stopNode(H, {signal: 'SIGKILL', killPostmaster: true})
      await waitFor(`${P} a writable leader`, async () => ((await cluster.leaderName()) === P && (await writable(p))) || undefined, {timeoutMs: 90_000, intervalMs: 300})
      const at = await cdcPosition(p)
      assert.ok(at !== undefined && at >= cdc.confirmed, `cdc on ${P} at ${at}, the consumer confirmed ${cdc.confirmed}`)
      await sql(p, 'insert into slot_probe values (8)')
      assert.deepEqual(await consume(p), [7, 8])
      assert.deepEqual(cdc.consumed, [1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8], 'every change once, in order')
      await waitFor(`${P} to publish cdc in /status`, async () => {
        await poll(p)
        const pub = (await status()).slots?.cdc
        return typeof pub === 'number' && BigInt(pub) >= cdc.confirmed ? true : undefined
      }, {timeoutMs: 30_000, intervalMs: 300})
      // The dead hactl member's key runs out. Patroni 4 keeps its slot for member_slots_ttl: it
      // took the names over from the retain_slots of hactl's last /status. Patroni 3 has no
      // member_slots_ttl and drops it at once.
      await waitFor(`${H}'s member key to expire`, async () => ((await etcd.get(`${cluster.prefix}members/${H}`)) === undefined ? true : undefined), {timeoutMs: 40_000, intervalMs: 300})
      const kept = async () => (await sql(p, `select count(*) from pg_replication_slots where slot_name = '${SLOT[H]}' and slot_type = 'physical'`)) === '1'
      if (generation >= 4) {
        await waitFor(`${P} to list ${SLOT[H]} in retain_slots`, async () => ((await status()).retain_slots?.includes(SLOT[H]!) ? true : undefined), {timeoutMs: 20_000, intervalMs: 300})
        assert.ok(await kept(), `${P} keeps ${SLOT[H]} for its absent member`)
      } else {
        await waitFor(`${P} to drop ${SLOT[H]}`, async () => (!(await kept()) ? true : undefined), {timeoutMs: 20_000, intervalMs: 300})
      }
      // The hactl member comes back as a replica and streams on the slot Patroni keeps for it.
      await cluster.startNode(H)
      await waitFor(`${H} streaming from ${P} on slot ${SLOT[H]}`, () => streamsOnItsSlot(p, h), {timeoutMs: 90_000, intervalMs: 300})
    }))
}
