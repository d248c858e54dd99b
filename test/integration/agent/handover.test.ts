/**
 * A hand-over restart changes nothing (docs/ha-rules.md#hand-over), on three hactl agents with real
 * etcd and PostgreSQL 15, under a writer: every agent gets a SIGTERM with a hand-over marker at
 * the same moment (what an unattended upgrade on every node amounts to), exits leaving PostgreSQL
 * running and the leader key in place, and the agents started again pick everything up: the same
 * leader, the leader key never absent nor re-created, the same postmaster (PID and
 * pg_postmaster_start_time()) on every member, the same timeline, no failed write, no dropped
 * connection. A SIGTERM without a marker still stops PostgreSQL and releases the key (last test).
 *
 * Fails without the hand-over (a SIGTERM is always Patroni's stop): each agent stops its
 * PostgreSQL, the writer's connection breaks and the leader key is deleted.
 */
import assert from 'node:assert/strict'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {facts, leaderKey, sql, startWriter, watchLeaderKey, type Facts} from '../../harness/handover'
import {PatroniCluster} from '../../harness/patroni'
import {waitFor, within} from '../../harness/ports'
import {WatchdogFifo} from '../../harness/watchdog-fifo'

let etcd: EtcdServer
let cluster: PatroniCluster
let runDir: string
/** Each member's watchdog (Patroni's `testing` driver on a named pipe); the leader arms its own. */
const fifos = new Map<string, WatchdogFifo>()

before(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'hactl-run-'))
  chmodSync(runDir, 0o755) // as /run/hactl: the agents (postgres) read the root-owned markers
  const local: Record<string, Record<string, unknown>> = {}
  for (const name of ['h1', 'h2', 'h3']) {
    const fifo = new WatchdogFifo(join(runDir, `${name}.watchdog`))
    fifos.set(name, fifo)
    local[name] = {watchdog: {mode: 'required', driver: 'testing', device: fifo.path}}
  }
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'handover', nodes: 3, namePrefix: 'h', impl: 'hactl', agentEnv: {HACTL_RUNTIME_DIR: runDir}, local, startTimeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
  for (const f of fifos.values()) f.close()
  if (runDir) rmSync(runDir, {recursive: true, force: true})
})

test('every agent hands over at once under a writer: same leader, same postmasters, leader key never gone, no failed write', {timeout: 240_000}, () =>
  cluster.withLogs(async () => {
    await cluster.waitForReplicasStreaming(2)
    const writer = await startWriter(cluster, 'handover_probe')
    const watch = watchLeaderKey(etcd, cluster.prefix)
    let before: Facts | undefined
    try {
      await waitFor('the writer to commit 20 rows', () => writer.acked.length >= 20, {timeoutMs: 30_000})
      before = await facts(etcd, cluster)
      assert.ok(before.leader, 'a leader')
      const oldLease = (await leaderKey(etcd, cluster.prefix))!.lease
      const logFrom = cluster.nodes.map((n) => n.log.length)

      const dog = fifos.get(before.leader)!
      assert.ok(dog.timeout !== null && dog.kicks.length > 0, 'the leader armed its watchdog and kicks it')
      const tHandover = Date.now()
      // The package scripts' step, for every member at once: the marker named after the agent's
      // PID, then the SIGTERM systemd sends on `try-restart`.
      const exits = cluster.nodes.map((n) => {
        const proc = n.proc!
        writeFileSync(join(runDir, `handover.${proc.pid}`), '')
        return new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
      })
      for (const n of cluster.nodes) n.proc!.kill('SIGTERM')
      const codes = await within(Promise.all(exits), 30_000)
      assert.deepEqual(codes, [0, 0, 0], 'every agent exits 0 soon after the SIGTERM')
      for (const [i, n] of cluster.nodes.entries()) {
        const log = n.log.slice(logFrom[i])
        assert.match(log, /hand-over: PostgreSQL is left running/, `${n.name} logs the hand-over`)
        assert.doesNotMatch(log, /leader key released|stopping PostgreSQL/, `${n.name} neither stops PostgreSQL nor releases the key`)
        assert.equal(n.postmasterPid, before.postmasters[n.name]!.pid, `${n.name}: the postmaster outlives its agent`)
      }
      const tExited = Date.now()
      const between = await leaderKey(etcd, cluster.prefix)
      assert.equal(between?.value, before.leader, 'the leader key still names the leader while no agent runs')
      assert.equal(between?.lease, oldLease, 'on the old agent lease')

      // What the new agents log, apart from the old ones' last lines.
      const restartFrom = cluster.nodes.map((n) => n.fullLog.length)
      for (const n of cluster.nodes) await cluster.startNode(n.name)
      await waitFor('the new leader agent to renew the key under its own lease', async () => {
        const k = await leaderKey(etcd, cluster.prefix)
        if (k?.value !== before!.leader || k?.lease === oldLease) return undefined
        const s = await cluster.node(before!.leader!).status()
        return s?.role === 'primary' && s.state === 'running' ? true : undefined
      }, {timeoutMs: 30_000, intervalMs: 100})
      // Every new agent decided for real twice before judging.
      await waitFor('two HA cycles of every new agent', () =>
        cluster.nodes.every((n, i) => n.fullLog.slice(restartFrom[i]).split('\n').filter((l) => / INFO: no action\. I am /.test(l)).length >= 2) || undefined,
      {timeoutMs: 30_000, intervalMs: 200})
      await cluster.waitForReplicasStreaming(2)
      // The watchdog was handed over too: kicked once more on the way out, never disarmed, and
      // kicked again by the new agent before the timeout could run out.
      const since = dog.events.filter((e) => e.at >= tHandover)
      assert.equal(since.filter((e) => e.kind === 'magic-close').length, 0, `no magic close: ${JSON.stringify(since)}`)
      const kicks = since.filter((e) => e.kind === 'kick')
      const lastOld = kicks.filter((e) => e.at <= tExited).pop()
      const firstNew = kicks.find((e) => e.at > tExited)
      assert.ok(lastOld, `the old agent kicked on its way out: ${JSON.stringify(since)}`)
      assert.ok(firstNew, `the new agent kicks the device: ${JSON.stringify(since)}`)
      assert.ok(firstNew.at - lastOld.at < dog.timeout! * 1000, `kicks ${firstNew.at - lastOld.at} ms apart, within the ${dog.timeout} s timeout`)
      const mark = writer.acked.length
      await waitFor('20 more committed rows', () => writer.acked.length >= mark + 20, {timeoutMs: 30_000})
    } finally {
      await writer.stop()
      await watch.stop()
    }
    const afterFacts = await facts(etcd, cluster)
    const figures = {writes: writer.acked.length, failed: writer.failures.length, reconnects: writer.reconnects, leaderBefore: before?.leader, leaderAfter: afterFacts.leader, postmastersBefore: before?.postmasters, postmastersAfter: afterFacts.postmasters, holdersSeen: [...watch.holders], keySamples: watch.samples()}
    process.stdout.write(`# hand-over figures: ${JSON.stringify(figures)}\n`)
    assert.deepEqual(writer.failures, [], 'no write failed')
    assert.equal(writer.reconnects, 0, 'the writer never lost its connection')
    assert.deepEqual([...watch.holders], [before!.leader], 'the leader key always named the leader')
    assert.equal(watch.revisions.size, 1, 'the leader key was never deleted and re-created')
    assert.ok(watch.samples() > 50, `the key was watched throughout (${watch.samples()} samples)`)
    assert.equal(afterFacts.leader, before!.leader)
    assert.equal(afterFacts.createRevision, before!.createRevision)
    assert.deepEqual(afterFacts.postmasters, before!.postmasters, 'the same postmaster, started at the same time, on every member')
    assert.equal(afterFacts.timeline, before!.timeline, 'the same timeline')
    const rows = Number((await sql(cluster.node(before!.leader!), 'select count(*) from handover_probe'))[0]![0])
    assert.equal(rows, writer.acked.length, 'every acknowledged row is there')
  }))

test('after the hand-over the new agents manage the PostgreSQL they adopted: a changed parameter is applied everywhere, a REST restart restarts the leader postmaster', {timeout: 120_000}, () =>
  cluster.withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const patch = await leader.api('PATCH', '/config', {postgresql: {parameters: {work_mem: '7MB'}}})
    assert.equal(patch.status, 200, patch.body)
    for (const n of cluster.nodes) {
      await waitFor(`${n.name} to run with work_mem 7MB`, async () => (await sql(n, 'show work_mem'))[0]![0] === '7MB' || undefined, {timeoutMs: 30_000, intervalMs: 200})
    }
    assert.match(leader.fullLog, /running primary adopted: configuration files written and reloaded/)
    const pid = leader.postmasterPid
    const restart = await leader.api('POST', '/restart', {}, {}, 60_000)
    assert.equal(restart.status, 200, restart.body)
    assert.notEqual(leader.postmasterPid, pid, 'a new postmaster on the leader')
    assert.equal(await cluster.waitForLeader(), name, 'still the leader')
    await cluster.waitForReplicasStreaming(2)
  }))

test('without a marker a SIGTERM is still the Patroni stop: PostgreSQL stopped, leader key released', {timeout: 120_000}, () =>
  cluster.withLogs(async () => {
    const name = await cluster.waitForLeader()
    const leader = cluster.node(name)
    const pm = leader.postmasterPid
    assert.ok(pm)
    await cluster.stopNode(name)
    assert.equal(leader.postmasterPid, undefined, 'PostgreSQL was stopped')
    assert.match(leader.log, /leader key released/)
    const next = await cluster.waitForLeader({not: name, timeoutMs: 60_000})
    assert.notEqual(next, name)
  }))
