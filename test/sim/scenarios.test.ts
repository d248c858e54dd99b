/**
 * Hand-written simulator schedules, one per safety bug of the agent's executor that a simulation
 * can show (numbered `item N` in the test names); each failed on the code before its fix (the
 * comment says how). They run the same agents, fakes and invariants as the seeded schedules
 * (test/sim/schedules.test.ts).
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {simulate, TIMING, type Fault, type SimResult} from './simulator'

function show(r: SimResult): string {
  return `violations: ${r.violations.join('; ') || 'none'}\n${r.trace.slice(-80).join('\n')}`
}

async function scenario(schedule: Fault[], opts: {sync?: boolean; dcs?: Record<string, unknown>} = {}): Promise<SimResult> {
  return simulate({seed: 0, sync: opts.sync ?? false, schedule, trace: true, ...(opts.dcs ? {dcs: opts.dcs} : {})})
}

const since = (r: SimResult, ms: number) => r.events.filter((e) => e.at >= ms)

test('item 1: pause, then SIGTERM of the leader agent: PostgreSQL keeps running, the key stays, nobody promotes', async () => {
  // Before the fix the agent stopped PostgreSQL and deleted the key: a 'stop' of node0 and the
  // pause invariant ("stops a primary while the cluster is paused") failed.
  const r = await scenario([
    {kind: 'pause', node: 0, at: 2, duration: 40},
    {kind: 'stop-agent', node: 0, at: 6, duration: 10},
  ])
  assert.deepEqual(r.violations, [], show(r))
  const formedAt = r.events.find((e) => e.node !== 'node0' && e.type === 'start')!.at
  assert.deepEqual(since(r, formedAt + 1000).filter((e) => e.node === 'node0' && (e.type === 'stop' || e.type === 'crash')), [], 'node0 PostgreSQL was never stopped')
  assert.deepEqual(since(r, formedAt).filter((e) => e.type === 'promote'), [], 'no promotion happened')
})

test('item 2: a failed stop at shutdown keeps the leader key: no replica promotes before the lease runs out', async () => {
  // Before the fix the key was deleted right after the failed stop: node1 promoted within a few
  // seconds while node0's PostgreSQL still ran.
  const r = await scenario([
    {kind: 'stop-fails', node: 0, at: 2, duration: 60},
    {kind: 'stop-agent', node: 0, at: 4, duration: 70},
  ])
  const sigterm = r.trace.find((l) => l.includes('fault stop-agent node0'))
  assert.ok(sigterm, show(r))
  const at = Date.parse(sigterm.slice(0, 24))
  const promote = r.events.find((e) => e.type === 'promote' && e.at > at)
  assert.ok(promote, `a replica takes over once node0's lease expired\n${show(r)}`)
  assert.ok(promote.at - at >= (TIMING.ttl - TIMING.loopWait) * 1000, `promoted ${(promote.at - at) / 1000}s after the SIGTERM, before the lease could expire\n${show(r)}`)
  assert.deepEqual(r.violations, [], show(r))
})

test('item 3: a lock holder whose promote failed promotes again instead of leading read-only for ever', async () => {
  // Before the fix the new lock holder (role 'promoted', PostgreSQL in recovery) logged "no action,
  // I am the leader" for ever: no primary within the liveness bound.
  const r = await scenario([
    {kind: 'promote-fails', node: 1, at: 0, duration: 30},
    {kind: 'promote-fails', node: 2, at: 0, duration: 30},
    {kind: 'kill-node', node: 0, at: 2, duration: 80},
  ])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.events.some((e) => e.type === 'promote' && e.node !== 'node0'), show(r))
})

test('item 4: a leader cut off from etcd stops answering as leader when its lease may have expired', async () => {
  // Before the fix GET /primary answered from the last view read ("the view names me"), which a
  // partitioned leader keeps: node0 and the promoted node1 both believed they led.
  const r = await scenario([{kind: 'dcs-partition', node: 0, at: 2, duration: 40}])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.events.some((e) => e.type === 'promote'), 'a replica took over')
})

test('item 4: a leader frozen past the ttl never answers as leader after it wakes', async () => {
  const r = await scenario([{kind: 'long-freeze', node: 0, at: 2, duration: TIMING.ttl + 15}])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.events.some((e) => e.type === 'promote'), 'a replica took over')
})

test('item 8: a switchover waits for a slow shutdown checkpoint instead of escalating to an immediate stop', async () => {
  // Before the fix the demote's stop escalated to SIGQUIT after pg_ctl_timeout (60s): an unclean
  // stop of node0, whose last WAL the candidate may not have.
  const r = await scenario([
    {kind: 'slow-stop', node: 0, at: 2, duration: 90},
    {kind: 'switchover', node: 1, at: 4, duration: 0},
  ])
  assert.deepEqual(r.violations, [], show(r))
  const stops = r.events.filter((e) => e.node === 'node0' && e.type === 'stop')
  assert.ok(stops.length > 0, show(r))
  assert.deepEqual(stops.filter((e) => e.unclean), [], 'node0 was stopped cleanly')
  assert.ok(r.events.some((e) => e.type === 'promote' && e.node === 'node1'), 'node1 took over')
})

test('a switchover: the demoted primary starts again only once the candidate holds the key, already following it', async () => {
  // Before the change the old primary started PostgreSQL with no upstream right after releasing
  // the key (competing with the candidate's promotion) and was pointed at the new leader later.
  // node1's agent is frozen for a second around the release, so that it takes the key a moment
  // after node0 released it rather than at the same simulated instant.
  const r = await scenario([
    {kind: 'switchover', node: 1, at: 4, duration: 0},
    {kind: 'freeze', node: 1, at: 4.7, duration: 1},
  ])
  assert.deepEqual(r.violations, [], show(r))
  const promote = r.events.find((e) => e.type === 'promote' && e.node === 'node1')
  assert.ok(promote, `node1 took over\n${show(r)}`)
  const demoted = r.events.find((e) => e.node === 'node0' && e.type === 'stop')
  assert.ok(demoted && !demoted.unclean, `node0 was stopped cleanly\n${show(r)}`)
  const restart = r.events.find((e) => e.node === 'node0' && e.type === 'start' && e.at >= demoted.at)
  assert.ok(restart, `node0 started again\n${show(r)}`)
  assert.equal(restart.primary, false)
  assert.equal(restart.upstream, '127.0.1.2:5432', `node0's first start after the demotion streams from node1\n${show(r)}`)
})

test('synchronous mode: the leader dies right after a commit was acknowledged; the promoted standby has it', async () => {
  const r = await scenario([{kind: 'kill-node', node: 0, at: 5, duration: 40}], {sync: true})
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.ackedCommits > 0)
  assert.ok(r.events.some((e) => e.type === 'promote'), 'a synchronous standby took over')
})

test('item 5: a DCS config key with an unusable value still pauses the cluster (the rest of it applies)', async () => {
  // Before the fix a /config that failed validation was ignored whole: pause included, so the
  // SIGTERM below stopped PostgreSQL and released the key.
  const r = await scenario([
    {kind: 'bad-pause', node: 0, at: 2, duration: 40},
    {kind: 'stop-agent', node: 0, at: 6, duration: 10},
  ])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.trace.some((l) => /retry_timeout: .*the value in force before is kept/.test(l)), 'the agents named the unusable key')
  const formedAt = r.events.find((e) => e.node !== 'node0' && e.type === 'start')!.at
  assert.deepEqual(since(r, formedAt + 1000).filter((e) => e.node === 'node0' && e.type === 'stop'), [], 'node0 PostgreSQL was never stopped')
  assert.deepEqual(since(r, formedAt).filter((e) => e.type === 'promote'), [], 'no promotion happened')
})

test('item 5: an agent restarted while etcd is unreachable knows from patroni.dynamic.json that the cluster is paused', async () => {
  // Before the cache the restarted agent ran with defaults (not paused) and, unable to reach
  // etcd with a running primary, demoted it: a stop of node0.
  const r = await scenario([
    {kind: 'pause', node: 0, at: 2, duration: 60},
    {kind: 'dcs-partition', node: 0, at: 5, duration: 35},
    {kind: 'kill-agent', node: 0, at: 8, duration: 4},
  ])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.trace.some((l) => l.includes('node0 INFO: dynamic configuration loaded from patroni.dynamic.json (the cluster is paused)')), show(r))
  const formedAt = r.events.find((e) => e.node !== 'node0' && e.type === 'start')!.at
  assert.deepEqual(since(r, formedAt + 1000).filter((e) => e.node === 'node0' && e.type === 'stop'), [], show(r))
})

test('item 10: a primary whose status query hangs keeps renewing its lock (no failover, no second primary)', async () => {
  // Before the fix the PostgreSQL observation ran unbounded between the etcd read and the
  // renewal: the lease ran out while the status query hung and node1 promoted next to node0.
  // Its REST API is cut off too, so the replicas cannot see that it still runs.
  const r = await scenario([
    {kind: 'slow-queries', node: 0, at: 2, duration: 40},
    {kind: 'peer-partition', node: 0, at: 2, duration: 40},
  ])
  assert.deepEqual(r.violations, [], show(r))
  assert.deepEqual(r.events.filter((e) => e.type === 'promote'), [], show(r))
  assert.equal(r.maxWritable, 1)
})

test('item 6: check_timeline: a second failover soon after the first still finds the replica on the new timeline', async () => {
  // Before the fix a replica without a WAL receiver (its upstream just died) reported pg_control's
  // timeline, which lags a switch until the next restartpoint: after the second failure every
  // replica looked "behind the cluster timeline" and nobody was promoted.
  const r = await scenario(
    [
      {kind: 'kill-node', node: 0, at: 2, duration: 200},
      {kind: 'kill-node', node: 1, at: 40, duration: 200},
    ],
    {dcs: {check_timeline: true}},
  )
  const promotions = r.events.filter((e) => e.type === 'promote')
  assert.deepEqual(promotions.map((e) => e.node), ['node1', 'node2'], show(r))
  assert.deepEqual(r.violations, [], show(r))
})

test('item 7: a replica ahead of the member that won is rewound when it switches to it, and streams again', async () => {
  // node1 stops receiving WAL and falls behind; node2 keeps up but its REST API is cut off when
  // node0 dies, so node1 (within maximum_lag_on_failover) wins. node2 is ahead of the new
  // timeline's fork point. Before the fix it was pointed at node1 without a divergence check
  // and never streamed again ("timeline forked" for ever).
  const r = await scenario([
    {kind: 'stream-stop', node: 1, at: 2, duration: 30},
    {kind: 'peer-partition', node: 2, at: 10, duration: 30},
    {kind: 'kill-node', node: 0, at: 12, duration: 100},
  ])
  assert.deepEqual(r.violations, [], show(r))
  assert.ok(r.events.some((e) => e.type === 'promote' && e.node === 'node1'), `node1 took over\n${show(r)}`)
  assert.ok(r.events.some((e) => e.type === 'rewind' && e.node === 'node2'), `node2 was rewound\n${show(r)}`)
  assert.deepEqual(r.notStreaming, [], `every member streams from the primary at the end\n${show(r)}`)
})

test('item 11: no replication slot is dropped while the cluster is paused', async () => {
  // Before the fix the leader dropped node2's slot as soon as node2's member key expired
  // (member_slots_ttl 0), in maintenance mode too.
  const r = await scenario(
    [
      {kind: 'pause', node: 0, at: 2, duration: 60},
      {kind: 'kill-node', node: 2, at: 5, duration: 50},
    ],
    {dcs: {member_slots_ttl: 0}},
  )
  assert.deepEqual(r.violations, [], show(r))
  const paused = r.trace.findIndex((l) => l.includes('cluster paused'))
  const resumed = r.trace.findIndex((l) => l.includes('cluster resumed'))
  assert.ok(paused > 0 && resumed > paused, show(r))
  assert.deepEqual(r.trace.slice(paused, resumed).filter((l) => l.includes('dropped unused replication slot')), [], show(r))
})
