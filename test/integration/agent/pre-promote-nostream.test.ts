/**
 * pre_promote and the nostream tag on four hactl agents (real etcd, real PostgreSQL 15), as
 * Patroni does them (patroni/postgresql/__init__.py Postgresql._pre_promote, patroni/ha.py
 * Ha.enforce_primary_role, Ha.is_healthiest_node, Ha._get_node_to_follow;
 * patroni/dcs/__init__.py Cluster._get_members_slots; features/nostream_node.feature):
 * - q4 is tagged nostream (and nofailover): it never streams, gets no slot on the leader, replays
 *   from the WAL archive (archive_command and restore_command in every member's parameters), also across
 *   a failover, and shows its tags in its member key, GET /patroni and `hactl list`;
 * - the leader goes away; the one replica allowed to race runs a pre_promote that fails: it does
 *   not promote, gives the lock back and sits out the race; a replica whose pre_promote
 *   succeeds then takes over, the script's marker on it, its arguments split as shlex.split
 *   splits them and passed without a shell.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {stringify} from 'yaml'
import {runHactl} from '../../harness/hactl-cli'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import {ownedDir, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

let etcd: EtcdServer
let cluster: PatroniCluster
let work: string
let archive: string
const NOSTREAM = 'q4'
/** Starts out nofailover so that the pre_promote failure happens first, on the other replica. */
const LATE = 'q3'

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

const logOf = (n: PatroniNode) => n.fullLog

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

async function member(name: string): Promise<Record<string, any>> {
  return JSON.parse((await etcd.get(`${cluster.prefix}members/${name}`)) ?? '{}')
}

/** Whether the nostream member has replayed the row `v` of archive_probe. */
async function replayed(v: string): Promise<boolean> {
  return (await sql(cluster.node(NOSTREAM), `select count(*) from archive_probe where v = '${v}'`).catch(() => '')) === '1'
}

/** A row on the leader, in a segment that is then completed and archived. */
async function archivedRow(leader: PatroniNode, v: string): Promise<void> {
  await sql(leader, `insert into archive_probe values ('${v}')`)
  await sql(leader, 'select pg_switch_wal()')
}

before(async () => {
  etcd = await EtcdServer.start()
  work = ownedTempDir('hactl-prepromote-')
  archive = ownedDir(join(work, 'archive'))
  writeOwnedFile(join(work, 'archive.sh'), `#!/bin/sh\n[ -f ${archive}/$2 ] || cp "$1" ${archive}/$2\n`, 0o755)
  writeOwnedFile(join(work, 'restore.sh'), `#!/bin/sh\nexec cp ${archive}/$2 "$1"\n`, 0o755)
  // $1 = member name; the rest is written to the marker as the script received it. A member
  // whose mode file says fail records the attempt and exits 1.
  writeOwnedFile(
    join(work, 'pre-promote.sh'),
    `#!/bin/sh\nme=$1\nshift\nif [ "$(cat ${work}/mode-$me 2>/dev/null)" = fail ]; then echo attempt >> ${work}/attempts-$me; echo "fencing $me refused" >&2; exit 1; fi\nprintf '%s|' "$me" "$@" > ${work}/promoted-$me\n`,
    0o755,
  )
  // shlex.split: the double-quoted words stay one argument, $NOT_EXPANDED reaches the script as is.
  const prePromote = (name: string) => `${join(work, 'pre-promote.sh')} ${name} "two words" $NOT_EXPANDED`
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-prepromote',
    nodes: 4,
    namePrefix: 'q',
    impl: 'hactl',
    wait: false,
    // restore_command among the parameters, as in Patroni's own tests: it becomes the recovery_conf.
    parameters: {archive_mode: 'on', archive_command: `${join(work, 'archive.sh')} %p %f`, restore_command: `${join(work, 'restore.sh')} %p %f`},
    tags: {[LATE]: {nofailover: true}, [NOSTREAM]: {nostream: true, nofailover: true}},
    postgresql: {
      q1: {pre_promote: prePromote('q1')},
      q2: {pre_promote: prePromote('q2')},
      q3: {pre_promote: prePromote('q3')},
      q4: {pre_promote: prePromote('q4')},
    },
  })
  await cluster.waitForLeader({timeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
  if (work) rmSync(work, {recursive: true, force: true})
})

test('a nostream member does not stream, has no slot on the leader, replays from the archive and shows its tags', {timeout: 240_000}, () =>
  withLogs(async () => {
    const leader = cluster.node(await cluster.waitForLeader())
    const q4 = cluster.node(NOSTREAM)
    const streamers = cluster.nodes.filter((n) => n.name !== leader.name && n.name !== NOSTREAM).map((n) => n.name)
    await waitFor('the two other replicas to stream', async () => {
      const s = await cluster.streamingReplicas()
      return streamers.every((n) => s.includes(n))
    }, {timeoutMs: 120_000, intervalMs: 300})
    const m = await waitFor(`${NOSTREAM} to run as a replica in archive recovery`, async () => {
      const v = await member(NOSTREAM)
      return v.state === 'running' && v.role === 'replica' && v.replication_state === 'in archive recovery' ? v : undefined
    }, {timeoutMs: 120_000, intervalMs: 300})
    assert.deepEqual(m.tags, {nostream: true, nofailover: true})
    assert.deepEqual((await q4.status())?.tags, {nostream: true, nofailover: true})
    assert.equal((await member(streamers[0]!)).tags, undefined, 'a member without tags publishes none')

    await sql(leader, 'create table archive_probe (v text)')
    await archivedRow(leader, 'first')
    await waitFor(`${NOSTREAM} to replay the archived row`, () => replayed('first'), {timeoutMs: 60_000, intervalMs: 300})

    assert.equal(await sql(q4, 'select count(*) from pg_stat_wal_receiver'), '0', 'no WAL receiver on the nostream member')
    assert.equal(await sql(q4, "select coalesce(current_setting('primary_conninfo'), '')"), '', 'no primary_conninfo')
    const replication = (await sql(leader, 'select application_name from pg_stat_replication')).split('\n').filter(Boolean).sort()
    assert.deepEqual(replication, [...streamers].sort(), 'only the streaming replicas connect to the leader')
    const slots = (await sql(leader, "select slot_name from pg_replication_slots where slot_type = 'physical'")).split('\n').filter(Boolean).sort()
    assert.deepEqual(slots, [...streamers].sort(), 'the leader has slots for the streaming replicas and none for the nostream member')

    const list = await runHactl(['-c', leader.configPath, 'list', '-f', 'json'])
    assert.equal(list.code, 0, list.stderr)
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>
    assert.deepEqual(rows.find((r) => r['Member'] === NOSTREAM)?.['Tags'], {nostream: true, nofailover: true})
    assert.equal(rows.find((r) => r['Member'] === streamers[0])?.['Tags'], undefined)
  }))

test('pre_promote fails on the only candidate: no promotion, the lock given back; a member whose pre_promote succeeds then takes over', {timeout: 300_000}, () =>
  withLogs(async () => {
    const old = cluster.node(await cluster.waitForLeader())
    const refused = cluster.nodes.find((n) => n.name !== old.name && n.name !== LATE && n.name !== NOSTREAM)!
    const late = cluster.node(LATE)
    writeOwnedFile(join(work, `mode-${refused.name}`), 'fail')
    await archivedRow(old, 'before-failover')
    await waitFor('both replicas to have the last row', async () => {
      for (const n of [refused, late]) if ((await sql(n, "select count(*) from archive_probe where v = 'before-failover'").catch(() => '')) !== '1') return false
      return true
    }, {timeoutMs: 30_000, intervalMs: 200})

    // A clean stop releases the key; only `refused` may race (q3 and q4 are nofailover).
    await cluster.stopNode(old.name, {signal: 'SIGTERM'})
    await waitFor(`${refused.name} to run its pre_promote and give the lock back`, () => /Promotion cancelled because the pre-promote script failed/.test(logOf(refused)), {
      timeoutMs: 60_000,
      intervalMs: 200,
    })
    assert.ok(existsSync(join(work, `attempts-${refused.name}`)), 'the script ran')
    assert.match(logOf(refused), /pre_promote script `[^`]+` exited with 1/)
    assert.equal(await sql(refused, 'select pg_is_in_recovery()'), 't', `${refused.name} was not promoted`)
    assert.notEqual(await cluster.leaderName(), refused.name, 'the lock was given back')
    assert.equal(read(join(work, `promoted-${refused.name}`)), undefined)
    // Within the ttl that follows it does not race again, though nobody else may.
    await waitFor(`${refused.name} to sit out the race`, () => /backoff: skip leader race after pre_promote script failure/.test(logOf(refused)), {
      timeoutMs: 30_000,
      intervalMs: 200,
    })
    assert.equal(await cluster.leaderName(), undefined, 'the cluster has no leader meanwhile')
    assert.equal(read(join(work, `attempts-${refused.name}`)), 'attempt\n', 'the command ran once')

    // Let q3 race: it may promote (the tag removed, the configuration reloaded).
    const cfg = cluster.config(late)
    delete cfg.tags
    writeOwnedFile(late.configPath, stringify(cfg))
    const r = await late.api('POST', '/reload')
    assert.equal(r.status, 202, r.body)
    const next = await cluster.waitForLeader({not: old.name, timeoutMs: 90_000})
    assert.equal(next, LATE, `${LATE} took over while ${refused.name} sat out the race`)
    await waitFor(`${LATE} to be writable`, async () => (await sql(late, 'select pg_is_in_recovery()').catch(() => '')) === 'f', {timeoutMs: 30_000, intervalMs: 200})
    assert.equal(read(join(work, `promoted-${LATE}`)), `${LATE}|two words|$NOT_EXPANDED|`, 'the marker, with the arguments as shlex.split splits them')
    assert.equal(await sql(refused, 'select pg_is_in_recovery()'), 't')
    await waitFor(`${refused.name} to stream from ${LATE}`, async () => (await cluster.streamingReplicas()).includes(refused.name), {timeoutMs: 90_000, intervalMs: 300})

    // The nostream member follows the new timeline through the archive alone.
    await archivedRow(late, 'after-failover')
    await waitFor(`${NOSTREAM} to replay the row written on ${LATE}`, () => replayed('after-failover'), {timeoutMs: 90_000, intervalMs: 300})
    const slots = (await sql(late, "select slot_name from pg_replication_slots where slot_type = 'physical'")).split('\n').filter(Boolean)
    assert.ok(!slots.includes(NOSTREAM), `no slot for ${NOSTREAM} on the new leader either: ${slots}`)
    assert.ok(slots.includes(refused.name), `a slot for ${refused.name}: ${slots}`)
  }))
