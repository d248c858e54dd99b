/**
 * primary_start_timeout and primary_stop_timeout on two hactl agents (real etcd, real PostgreSQL
 * 15), as Patroni applies them (patroni/ha.py Ha.recover, Ha.primary_stop_timeout;
 * patroni/postgresql/__init__.py Postgresql.stop; features/recovery.feature):
 * - the leader's postmaster SIGKILLed under the default 300 s: the same node starts it again and
 *   keeps the lock, no new timeline;
 * - with master_start_timeout (the old name) 0: the crashed leader gives the lock to the healthy
 *   replica at once, which is promoted; the old leader comes back as its replica;
 * - a shutdown that hangs (the archiver stuck in archive_command keeps the postmaster up after the
 *   shutdown checkpoint): with synchronous_mode and primary_stop_timeout 5 the agent escalates
 *   after 5 s; without synchronous mode the same timeout does not apply and the agent waits.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {holdsFor, waitFor, within} from '../../harness/ports'
import {ownedDir, pidAlive, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

let etcd: EtcdServer
let cluster: PatroniCluster
let work: string
let archive: string
let block: string

const sql = (n: PatroniNode, query: string) => cluster.psql(n, query)

const withLogs = <T>(fn: () => Promise<T>) => cluster.withLogs(fn)

const logOf = (n: PatroniNode) => n.fullLog

/** The dynamic configuration the member's agent has in force (it writes patroni.dynamic.json when it changes). */
function inForce(n: PatroniNode): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(join(n.dataDir, 'patroni.dynamic.json'), 'utf8'))
  } catch {
    return {}
  }
}

async function patchConfig(n: PatroniNode, body: Record<string, unknown>, applied: (c: Record<string, unknown>) => boolean): Promise<void> {
  const r = await n.api('PATCH', '/config', body)
  assert.equal(r.status, 200, `PATCH /config ${JSON.stringify(body)}: ${r.body}`)
  for (const m of cluster.nodes.filter((x) => x.running)) {
    await waitFor(`${m.name} to have ${JSON.stringify(body)} in force`, () => applied(inForce(m)), {timeoutMs: 30_000, intervalMs: 200})
  }
}

async function writable(n: PatroniNode): Promise<boolean> {
  return (await sql(n, 'select pg_is_in_recovery()').catch(() => '')) === 'f'
}

/**
 * The server's timeline now. On a primary it is read from the WAL segment name it writes to: a
 * promotion's end-of-recovery checkpoint runs in the background, so pg_control_checkpoint()
 * still shows the old timeline for a moment after the server is writable.
 */
async function timeline(n: PatroniNode): Promise<number> {
  return Number(
    await sql(
      n,
      "select case when pg_is_in_recovery() then (select timeline_id from pg_control_checkpoint()) else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end",
    ),
  )
}

/**
 * Makes the leader's archiver hang in archive_command (until `block` goes away): a completed
 * segment waits to be archived, and the script has started on it.
 */
async function hangArchiver(leader: PatroniNode): Promise<string> {
  writeOwnedFile(block, '')
  await sql(leader, 'create table if not exists hang_probe (v int); insert into hang_probe values (1)')
  const seg = await sql(leader, 'select pg_walfile_name(pg_switch_wal())')
  await waitFor(`the archiver to hang on ${seg}`, () => existsSync(join(work, `started-${seg}`)), {timeoutMs: 30_000, intervalMs: 100})
  return seg
}

before(async () => {
  etcd = await EtcdServer.start()
  work = ownedTempDir('hactl-timeouts-')
  archive = ownedDir(join(work, 'archive'))
  block = join(work, 'block')
  // Waits (at most 2 minutes) while the block file exists, so a test can hold a shutdown open.
  writeOwnedFile(
    join(work, 'archive.sh'),
    `#!/bin/sh\ntouch ${work}/started-$2\nn=0\nwhile [ -e ${block} ] && [ $n -lt 600 ]; do sleep 0.2; n=$((n+1)); done\n[ -f ${archive}/$2 ] || cp "$1" ${archive}/$2\n`,
    0o755,
  )
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-timeouts',
    nodes: 2,
    namePrefix: 't',
    impl: 'hactl',
    parameters: {archive_mode: 'on', archive_command: `${join(work, 'archive.sh')} %p %f`},
    startTimeoutMs: 120_000,
  })
})

after(async () => {
  if (block) rmSync(block, {force: true})
  await cluster?.destroy()
  await etcd?.destroy()
  if (work) rmSync(work, {recursive: true, force: true})
})

test('primary_start_timeout 300 (default): the postmaster of the leader SIGKILLed is started again on the same node, which keeps the lock', {timeout: 120_000}, () =>
  withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const tl = await timeline(leader)
    const pid = leader.postmasterPid
    assert.ok(pid)
    const holders = new Set<string>()
    process.kill(pid, 'SIGKILL')
    await waitFor(`${name} to run a new writable postmaster`, async () => {
      const l = await cluster.leaderName()
      if (l) holders.add(l)
      const now = leader.postmasterPid
      return now !== undefined && now !== pid && (await writable(leader))
    }, {timeoutMs: 60_000, intervalMs: 200})
    assert.deepEqual([...holders], [name], 'nobody else held the lock')
    assert.equal(await timeline(leader), tl, 'no new timeline: a restart, not a failover')
    assert.match(logOf(leader), /starting primary after failure/)
    await cluster.waitForReplicasStreaming(1, {timeoutMs: 60_000})
  }))

test('master_start_timeout 0: the crashed leader hands over at once to the healthy replica, then rejoins as its replica', {timeout: 180_000}, () =>
  withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const other = cluster.nodes.find((n) => n.name !== name)!
    // Patroni's features/recovery.feature uses the old name; it is an alias of primary_start_timeout.
    await patchConfig(leader, {master_start_timeout: 0}, (c) => (c['primary_start_timeout'] ?? c['master_start_timeout']) === 0)
    await cluster.waitForReplicasStreaming(1)
    const tl = await timeline(leader)
    await sql(leader, "create table if not exists crash_probe (v text); insert into crash_probe values ('before-crash')")
    await waitFor(`${other.name} to replay the probe`, async () => (await sql(other, 'select count(*) from crash_probe').catch(() => '')) === '1', {timeoutMs: 20_000, intervalMs: 200})
    const pid = leader.postmasterPid
    assert.ok(pid)
    const t0 = Date.now()
    process.kill(pid, 'SIGKILL')
    const next = await cluster.waitForLeader({not: name, timeoutMs: 60_000})
    await waitFor(`${next} to be writable`, () => writable(cluster.node(next)), {timeoutMs: 30_000, intervalMs: 200})
    const took = Date.now() - t0
    assert.equal(next, other.name)
    // The lock was given up, not left to expire (ttl 20 s).
    assert.ok(took < cluster.ttl * 1000, `failover took ${took} ms`)
    assert.match(logOf(leader), /stopped PostgreSQL to fail over after a crash/)
    assert.ok(!/starting primary after failure/.test(logOf(leader).split('stopped PostgreSQL to fail over after a crash')[1] ?? ''), 'no restart as primary')
    assert.equal(await timeline(cluster.node(next)), tl + 1, 'the replica was promoted')
    await waitFor(`${name} to stream from ${next}`, async () => (await cluster.streamingReplicas()).includes(name), {timeoutMs: 120_000, intervalMs: 300})
    assert.equal(await sql(leader, 'select pg_is_in_recovery()'), 't')
    assert.equal(await sql(leader, "select count(*) from crash_probe where v = 'before-crash'"), '1')
    await patchConfig(cluster.node(next), {master_start_timeout: null}, (c) => c['primary_start_timeout'] !== 0 && c['master_start_timeout'] === undefined)
  }))

test('primary_stop_timeout 5 in synchronous mode: a shutdown that hangs is escalated after 5 s, the key released, the sync standby promoted', {timeout: 180_000}, () =>
  withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const other = cluster.nodes.find((n) => n.name !== name)!
    await patchConfig(leader, {synchronous_mode: true, primary_stop_timeout: 5}, (c) => c['synchronous_mode'] === true && c['primary_stop_timeout'] === 5)
    await waitFor('/sync to name the replica', async () => {
      const s = JSON.parse((await etcd.get(`${cluster.prefix}sync`)) ?? '{}')
      return s.leader === name && s.sync_standby === other.name
    }, {timeoutMs: 60_000, intervalMs: 300})
    const logBefore = logOf(leader).length
    try {
      await hangArchiver(leader)
      const pm = leader.postmasterPid!
      const t0 = Date.now()
      const exited = new Promise<void>((r) => leader.proc!.once('exit', () => r()))
      leader.proc!.kill('SIGTERM')
      assert.notEqual(await within(exited, 60_000), 'timeout', 'the agent ended its shutdown')
      const took = Date.now() - t0
      assert.ok(took >= 5000, `the agent waited primary_stop_timeout first (${took} ms)`)
      assert.ok(existsSync(block), 'the archiver was still stuck: only the timeout ended the stop')
      assert.ok(!pidAlive(pm), 'the postmaster is gone')
      const log = logOf(leader).slice(logBefore)
      assert.match(log, /still running after 5000 ms: sending SIGQUIT/)
      const next = await cluster.waitForLeader({not: name, timeoutMs: 60_000})
      assert.equal(next, other.name)
    } finally {
      rmSync(block, {force: true})
    }
    await cluster.startNode(name)
    await waitFor(`${name} to stream from ${other.name}`, async () => (await cluster.streamingReplicas()).includes(name), {timeoutMs: 120_000, intervalMs: 300})
  }))

test('primary_stop_timeout without synchronous mode: the same hanging shutdown is waited for, as Patroni does', {timeout: 180_000}, () =>
  withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    await patchConfig(leader, {synchronous_mode: false}, (c) => c['synchronous_mode'] === false && c['primary_stop_timeout'] === 5)
    await cluster.waitForReplicasStreaming(1)
    const logBefore = logOf(leader).length
    let released = false
    try {
      await hangArchiver(leader)
      const pm = leader.postmasterPid!
      const exited = new Promise<void>((r) => leader.proc!.once('exit', () => r()))
      leader.proc!.kill('SIGTERM')
      // Three times primary_stop_timeout: nothing is escalated, the postmaster still runs.
      await holdsFor(15_000, () => {
        assert.ok(leader.running, 'the agent is still stopping PostgreSQL')
        assert.ok(pidAlive(pm), 'the postmaster was not killed')
      })
      rmSync(block, {force: true})
      released = true
      assert.notEqual(await within(exited, 60_000), 'timeout', 'the agent ends once the archiver lets go')
      assert.equal(leader.proc!.exitCode, 0)
      assert.ok(!pidAlive(pm))
      assert.doesNotMatch(logOf(leader).slice(logBefore), /sending SIGQUIT|sending SIGKILL/)
      await cluster.waitForLeader({not: name, timeoutMs: 60_000})
    } finally {
      if (!released) rmSync(block, {force: true})
    }
    await cluster.startNode(name)
    await cluster.waitForReplicasStreaming(1, {timeoutMs: 120_000})
  }))
