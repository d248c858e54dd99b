/**
 * Replication slots as Patroni 4 keeps them, on four hactl agents (real etcd, real PostgreSQL 15;
 * patroni/postgresql/slots.py SlotsHandler, patroni/dcs/__init__.py Cluster.get_replication_slots;
 * features/permanent_slots.feature, cascading_replication.feature, nostream_node.feature):
 * - a permanent logical slot `cdc` (test_decoding, wal_level logical from bootstrap.dcs, the slot
 *   added with PATCH /config) is created on the primary, copied to the replica that can take over (state file read from the
 *   primary, PostgreSQL restarted) and advanced there to the position the leader publishes in
 *   `/status`; hot_standby_feedback is forced on there;
 * - a consumer reads changes; after a switchover and after a failover (agent and postmaster of
 *   the leader SIGKILLed) the slot is on the new primary, not behind what the consumer confirmed,
 *   and the consumer goes on without missing a change;
 * - s3 cascades from s2 (replicatefrom): its slot is on s2 and used there; the primary keeps an
 *   inactive slot for it (member_slots_ttl > 0, Patroni 4) that follows s3's position, and drops
 *   it once member_slots_ttl is 0; s4 is nostream and gets no slot anywhere;
 * - with those members present, 20 WAL segments' worth of writes leave the primary's pg_wal
 *   bounded by max_wal_size (32MB) plus wal_keep_size (16MB, the least Patroni accepts) and a
 *   few segments; without the slot following s3 it would hold all 320MB;
 * - member_slots_ttl 0 (PATCH /config): the primary drops its slot for s3, as Patroni 3 does.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {CdcConsumer, lsn} from '../../harness/cdc-consumer'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

/** The smallest wal_keep_size Patroni accepts, and a small max_wal_size: pg_wal is bounded by about their sum. */
const KEEP_MB = 16
const MAX_WAL_MB = 32

let etcd: EtcdServer
let cluster: PatroniCluster

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)
const trySql = (n: PatroniNode, q: string) => sql(n, q).catch(() => undefined)
const cdc = new CdcConsumer<PatroniNode>(sql)
const cdcPosition = (n: PatroniNode) => cdc.position(n)
const consume = (n: PatroniNode) => cdc.consume(n)
const poll = (n: PatroniNode) => cdc.poll(n)

async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${cluster.logTails()}\n${postmasterLogTails()}`, {cause: e})
  }
}

/** The end of each member's postmaster.log: why a replica does not stream is only told there. */
function postmasterLogTails(chars = 2000): string {
  return cluster.nodes
    .map((n) => {
      const file = join(n.dataDir, 'postmaster.log')
      return `----- ${n.name} postmaster.log -----\n${existsSync(file) ? readFileSync(file, 'utf8').slice(-chars) : '(none)'}`
    })
    .join('\n')
}

async function leader(): Promise<PatroniNode> {
  return cluster.node(await cluster.waitForLeader({timeoutMs: 60_000}))
}

async function writable(n: PatroniNode): Promise<boolean> {
  return (await trySql(n, 'select pg_is_in_recovery()')) === 'f'
}

async function statusSlots(): Promise<Record<string, number>> {
  return JSON.parse((await etcd.get(`${cluster.prefix}status`)) ?? '{}').slots ?? {}
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-slots',
    nodes: 4,
    namePrefix: 's',
    impl: 'hactl',
    wait: false,
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
          wal_keep_size: `${KEEP_MB}MB`,
          max_wal_size: `${MAX_WAL_MB}MB`,
          min_wal_size: '32MB',
        },
      },
    },
    tags: {s3: {replicatefrom: 's2', nofailover: true}, s4: {nostream: true, nofailover: true}},
    // s3 clones from the leader, as Patroni's create_replica does, and then streams from s2: its
    // base backup must not be older than s2's, or it asks s2 for WAL that s2 never received
    // (each pg_basebackup ends with a WAL segment switch; with s2 cloned after s3 and s4, s2's WAL
    // can start a segment past where s3 needs to go on) and waits for it for ever, with Patroni too.
    hold: ['s3'],
  })
  const first = await leader()
  const running = (names: string[]) => async () => {
    const states = await Promise.all(names.map(async (n) => (await cluster.node(n).status())?.state))
    return states.every((x) => x === 'running') ? true : undefined
  }
  await waitFor('s1 and s2 to run', running(['s1', 's2']), {timeoutMs: 120_000, intervalMs: 500})
  await cluster.startNode('s3')
  await waitFor('s3 to run', running(['s3']), {timeoutMs: 120_000, intervalMs: 500})
  // s1 or s2 bootstraps (s3 and s4 are nofailover); the tests start with s1 leading and s3 cascading from s2.
  if (first.name !== 's1') {
    const r = await first.api('POST', '/switchover', {leader: first.name, candidate: 's1'}, {}, 60_000)
    assert.equal(r.status, 200, r.body)
    await waitFor('s1 writable leader', async () => ((await cluster.leaderName()) === 's1' && (await writable(cluster.node('s1')))) || undefined, {timeoutMs: 60_000, intervalMs: 300})
  }
  // The permanent slot arrives through the dynamic configuration, as an operator adds it.
  const r = await cluster.node('s1').api('PATCH', '/config', {slots: {cdc: {type: 'logical', database: 'postgres', plugin: 'test_decoding'}}})
  assert.equal(r.status, 200, r.body)
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('the permanent logical slot is on the primary and copied to the replica, which feeds back hot standby', {timeout: 120_000}, () =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const s2 = cluster.node('s2')
    await waitFor('cdc on s1', () => cdcPosition(s1), {timeoutMs: 30_000, intervalMs: 300})
    await sql(s1, 'create table slot_probe (v int primary key)')
    await sql(s1, 'insert into slot_probe select generate_series(1, 3)')
    assert.deepEqual(await consume(s1), [1, 2, 3])
    await waitFor('cdc published in /status', async () => ((await statusSlots()).cdc ? true : undefined), {timeoutMs: 20_000, intervalMs: 300})
    await waitFor('cdc on s2, advanced to what the consumer confirmed', async () => {
      await poll(s1)
      const p = await cdcPosition(s2)
      return p !== undefined && p >= cdc.confirmed ? p : undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    assert.equal(await sql(s2, 'show hot_standby_feedback'), 'on')
    assert.ok(cluster.node('s2').log.includes('copied logical slots cdc from the primary'), 'the slot was copied')
    // s4 is nostream: no logical slot for it to keep, and no slot for it on anyone.
    assert.equal(await cdcPosition(cluster.node('s4')), undefined)
    for (const n of ['s1', 's2', 's3']) assert.equal(await sql(cluster.node(n), "select count(*) from pg_replication_slots where slot_name = 's4'"), '0', `no slot for s4 on ${n}`)
  }))

test('s3 streams from s2 on its slot there; the primary keeps its slot inactive and following s3', {timeout: 90_000}, (t) =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const s2 = cluster.node('s2')
    const s3 = cluster.node('s3')
    await waitFor('s3 streaming from s2 on slot s3', async () => {
      const r = await trySql(s2, "select count(*) from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid where r.application_name = 's3' and s.slot_name = 's3'")
      return r === '1' ? true : undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    assert.equal(await sql(s3, 'show primary_slot_name'), 's3')
    assert.equal(await sql(s1, "select count(*) from pg_stat_replication where application_name = 's3'"), '0', 's3 does not stream from the primary')
    assert.equal(await sql(s1, "select active from pg_replication_slots where slot_name = 's3'"), 'f', 'the primary keeps an inactive slot for s3 (member_slots_ttl > 0)')
    // 20 segments of WAL: the primary's inactive slot for s3 follows s3's position, the nostream
    // s4 has none, so pg_wal stays within max_wal_size plus wal_keep_size and a few segments.
    for (let i = 0; i < 20; i++) {
      await sql(s1, `insert into slot_probe values (${1000 + i}); select pg_switch_wal()`)
    }
    const end = lsn(await sql(s1, 'select pg_current_wal_lsn()'))
    let seen = ''
    await waitFor('s3 slot on the primary to follow s3 past the writes, and pg_wal to shrink', async () => {
      // The consumer keeps reading, as a real one does: its slot's restart_lsn moves only then.
      await consume(s1)
      await sql(s1, 'checkpoint')
      const restart = await trySql(s1, "select restart_lsn from pg_replication_slots where slot_name = 's3'")
      const mb = Number(await sql(s1, 'select sum(size) / 1048576 from pg_ls_waldir()'))
      seen = `s3 restart_lsn ${restart}, end ${end.toString(16)}, pg_wal ${mb}MB, slots ${await sql(s1, 'select slot_name, restart_lsn, active from pg_replication_slots')}`
      return restart && lsn(restart) >= end - 16n * 1024n * 1024n && mb <= MAX_WAL_MB + KEEP_MB + 5 * 16 ? mb : undefined
    }, {timeoutMs: 40_000, intervalMs: 500}).catch((e) => {
      throw new Error(`${(e as Error).message}: ${seen}`)
    })
    t.diagnostic(seen)
  }))

test('member_slots_ttl 0: the primary drops its slot for the cascading s3, and keeps it again with the default', {timeout: 60_000}, () =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const count = () => trySql(s1, "select count(*) from pg_replication_slots where slot_name = 's3'")
    assert.equal(await count(), '1')
    assert.equal((await s1.api('PATCH', '/config', {member_slots_ttl: 0})).status, 200)
    await waitFor('no slot s3 on s1', async () => ((await count()) === '0' ? true : undefined), {timeoutMs: 30_000, intervalMs: 300})
    assert.match(s1.log, /dropped unused replication slot s3 \(unused for member_slots_ttl 0s\)/)
    assert.ok(await cdcPosition(s1), 'the permanent logical slot stays')
    assert.equal((await s1.api('PATCH', '/config', {member_slots_ttl: null})).status, 200)
    await waitFor('slot s3 on s1 again', async () => ((await count()) === '1' ? true : undefined), {timeoutMs: 30_000, intervalMs: 300})
  }))

test('a switchover: the slot is on the new primary at what the consumer confirmed, and the consumer misses nothing', {timeout: 120_000}, () =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const s2 = cluster.node('s2')
    await waitFor('cdc on s2 at the consumer position', async () => {
      await poll(s1)
      return ((await cdcPosition(s2)) ?? 0n) >= cdc.confirmed || undefined
    }, {timeoutMs: 30_000, intervalMs: 300})
    const r = await s1.api('POST', '/switchover', {leader: 's1', candidate: 's2'}, {}, 60_000)
    assert.equal(r.status, 200, r.body)
    await waitFor('s2 writable leader', async () => ((await cluster.leaderName()) === 's2' && (await writable(s2))) || undefined, {timeoutMs: 60_000, intervalMs: 300})
    const at = await cdcPosition(s2)
    assert.ok(at !== undefined && at >= cdc.confirmed, `cdc on s2 at ${at}, the consumer confirmed ${cdc.confirmed}`)
    await sql(s2, 'insert into slot_probe values (4), (5)')
    assert.deepEqual(await consume(s2), [4, 5])
    // The old primary rejoins as a replica and keeps the slot, advanced to the new primary's position.
    await waitFor('cdc on s1 (a replica now) at the consumer position', async () => {
      await poll(s2)
      if ((await trySql(s1, 'select pg_is_in_recovery()')) !== 't') return undefined
      return ((await cdcPosition(s1)) ?? 0n) >= cdc.confirmed || undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
  }))

test('a failover (leader agent and postmaster SIGKILLed): the slot survives and the consumer misses nothing', {timeout: 150_000}, () =>
  withLogs(async () => {
    const s1 = cluster.node('s1')
    const s2 = cluster.node('s2')
    await sql(s2, 'insert into slot_probe values (6)')
    assert.deepEqual(await consume(s2), [6])
    // 7 is written but not consumed yet: the consumer must get it from the new primary.
    await sql(s2, 'insert into slot_probe values (7)')
    const written = lsn(await sql(s2, 'select pg_current_wal_lsn()'))
    await waitFor('s1 to replay 7 and have cdc at the consumer position', async () => {
      const replay = await trySql(s1, 'select pg_last_wal_replay_lsn()')
      return replay && lsn(replay) >= written && ((await cdcPosition(s1)) ?? 0n) >= cdc.confirmed ? true : undefined
    }, {timeoutMs: 40_000, intervalMs: 300})
    const pid = s2.postmasterPid
    assert.ok(pid && pid > 1, `postmaster pid ${pid}`)
    await s2.signal('SIGKILL', 10_000)
    process.kill(pid, 'SIGKILL')
    await waitFor('s1 writable leader', async () => ((await cluster.leaderName()) === 's1' && (await writable(s1))) || undefined, {timeoutMs: 90_000, intervalMs: 300})
    const at = await cdcPosition(s1)
    assert.ok(at !== undefined && at >= cdc.confirmed, `cdc on s1 at ${at}, the consumer confirmed ${cdc.confirmed}`)
    await sql(s1, 'insert into slot_probe values (8)')
    assert.deepEqual(await consume(s1), [7, 8])
    assert.deepEqual(cdc.consumed.filter((v) => v < 1000), [1, 2, 3, 4, 5, 6, 7, 8], 'every change once, in order')
  }))
