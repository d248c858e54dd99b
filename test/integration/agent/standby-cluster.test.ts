/**
 * Standby clusters with real agents, etcd and PostgreSQL 15 (docs/ha-rules.md#standby-clusters;
 * Patroni's features/standby_cluster.feature): cluster A has one primary; cluster B's first member
 * bootstraps by cloning A's primary and becomes B's standby leader, following A (on a slot), never
 * promoting; B's second member cascades from it; the REST health answers and `hactl list` show the
 * standby leader; when it stops, the other member takes B's lock and follows A. Then the roles are
 * swapped the Patroni 4.1 way: standby_cluster added to A demotes A's primary into a standby
 * leader following B, and standby_cluster removed from B promotes B's standby leader; A and B's
 * replica follow the new primary.
 */
import assert from 'node:assert/strict'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {agentConfig, agentLogs, configPath, makeNode, psql, spawnAgent as spawn, stopAgent as stop, writeCallbackScript, type AgentNode} from '../../harness/agent-node'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {waitFor} from '../../harness/ports'
import {PG_BIN_DIR, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

const AUTH = {
  superuser: {username: 'postgres', password: 'standby-test-su-pw'},
  replication: {username: 'replicator', password: 'standby-test-rep-pw'},
}

interface Node extends AgentNode {
  /** added to bootstrap.dcs (A's permanent slot, B's standby_cluster) */
  dcsExtra: Record<string, unknown>
}

let etcd: EtcdServer
let home: string
const scopeA = `sta${process.pid}`
const scopeB = `stb${process.pid}`
const nodes: Node[] = []

const configFile = configPath

/** Callbacks and a clone_script replica method on top of the shared configuration, plus dcsExtra. */
function spawnAgent(n: Node): void {
  const cfg = agentConfig(n, etcd.endpoint, AUTH, {
    use_slots: true,
    parameters: {wal_level: 'replica', hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: 6, max_replication_slots: 6},
  }) as {bootstrap: {dcs: Record<string, unknown>}; postgresql: Record<string, unknown>}
  Object.assign(cfg.bootstrap.dcs, n.dcsExtra)
  const callback = writeCallbackScript(n)
  cfg.postgresql['callbacks'] = Object.fromEntries(['on_start', 'on_stop', 'on_role_change'].map((a) => [a, callback]))
  // standby_cluster.create_replica_methods names it (Patroni reads the method's options here).
  cfg.postgresql['clone_script'] = {command: join(n.dir, 'clone.sh')}
  // A replica method: records its arguments, then pg_basebackup from --connstring into --datadir
  // (the replication password comes in PGPASSFILE).
  writeOwnedFile(
    join(n.dir, 'clone.sh'),
    `#!/bin/sh\necho "$*" >> ${join(n.dir, 'clone.log')}\nfor a; do case "$a" in --datadir=*) D="\${a#--datadir=}";; --connstring=*) C="\${a#--connstring=}";; esac; done\nexec ${join(PG_BIN_DIR, 'pg_basebackup')} -D "$D" -X stream -d "$C"\n`,
    0o755,
  )
  spawn(n, home, cfg)
}

const stopAgent = (n: Node) => stop(n, 60_000)
const sql = (n: Node, query: string) => psql(n, home, query)

const trySql = (n: Node, q: string) => sql(n, q).catch(() => undefined)

async function status(n: Node, path: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.apiPort}/${path}`, {signal: AbortSignal.timeout(3000)})
  await res.body?.cancel()
  return res.status
}

async function patchConfig(n: Node, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.apiPort}/config`, {method: 'PATCH', body: JSON.stringify(body), headers: {'content-type': 'application/json'}, signal: AbortSignal.timeout(5000)})
  await res.body?.cancel()
  return res.status
}

const leaderOf = async (scope: string) => (await etcd.get(`/service/${scope}/leader`)) ?? undefined
async function memberKey(n: Node): Promise<Record<string, unknown> | undefined> {
  const v = await etcd.get(`/service/${n.scope}/members/${n.name}`)
  return v ? (JSON.parse(v) as Record<string, unknown>) : undefined
}

/** The port this server's WAL receiver streams from, when it streams. */
async function streamsFromPort(n: Node): Promise<number | undefined> {
  const v = await trySql(n, "select sender_port from pg_stat_wal_receiver where status = 'streaming'")
  return v ? Number(v) : undefined
}

function callbackLines(n: Node): string[] {
  try {
    return readFileSync(join(n.dir, 'callbacks.log'), 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

const logs = () => agentLogs(nodes)

async function withLogs(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logs()}`, {cause: e})
  }
}

const [a1, b1, b2] = [0, 1, 2].map((i) => () => nodes[i])

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-standby-')
  for (const [name, scope] of [['a1', scopeA], ['b1', scopeB], ['b2', scopeB]]) nodes.push({...(await makeNode(home, name!, scope!)), dcsExtra: {}})
  // A keeps a permanent slot for B's standby leader; B follows A's primary on it.
  nodes[0].dcsExtra = {slots: {standby_b: {type: 'physical'}}}
  for (const n of nodes.slice(1)) {
    n.dcsExtra = {standby_cluster: {host: '127.0.0.1', port: nodes[0].pgPort, primary_slot_name: 'standby_b', create_replica_methods: ['clone_script']}}
  }
})

after(async () => {
  for (const n of nodes) await stopAgent(n)
  if (process.env.HACTL_TEST_KEEP_LOGS) writeFileSync(process.env.HACTL_TEST_KEEP_LOGS, nodes.map((n) => `--- ${n.name}\n${n.out.join('')}`).join('\n'))
  await etcd?.destroy()
  if (home) rmSync(home, {recursive: true, force: true})
})

test('cluster A forms; cluster B bootstraps from A: its standby leader follows A on the slot and never promotes', {timeout: 180_000}, () =>
  withLogs(async () => {
    spawnAgent(a1())
    await waitFor('a1 to lead a writable primary', async () => {
      if ((await leaderOf(scopeA)) !== 'a1') return undefined
      return (await trySql(a1(), 'select pg_is_in_recovery()')) === 'f' || undefined
    }, {timeoutMs: 60_000, intervalMs: 200})
    await waitFor('the permanent slot standby_b on a1', async () => ((await trySql(a1(), "select count(*) from pg_replication_slots where slot_name = 'standby_b'")) === '1' ? true : undefined), {timeoutMs: 20_000, intervalMs: 200})
    await sql(a1(), 'create table standby_probe (v text)')
    await sql(a1(), "insert into standby_probe values ('before-b')")

    spawnAgent(b1())
    await waitFor('b1 to hold B\'s lock as a standby leader streaming from a1', async () => {
      if ((await leaderOf(scopeB)) !== 'b1') return undefined
      if ((await memberKey(b1()))?.role !== 'standby_leader') return undefined
      return (await streamsFromPort(b1())) === a1().pgPort || undefined
    }, {timeoutMs: 90_000, intervalMs: 300})
    assert.equal(await sql(b1(), 'select pg_is_in_recovery()'), 't', 'the standby leader runs in recovery')
    await waitFor('on_start standby_leader on b1', () => (callbackLines(b1()).includes(`on_start standby_leader ${scopeB}`) ? true : undefined), {timeoutMs: 10_000, intervalMs: 200})
    assert.equal(await sql(b1(), "select slot_name from pg_stat_wal_receiver"), 'standby_b', 'primary_slot_name from standby_cluster')
    assert.equal(await sql(a1(), "select active from pg_replication_slots where slot_name = 'standby_b'"), 't')
    assert.equal(await sql(b1(), "select count(*) from standby_probe where v = 'before-b'"), '1', 'cloned from A')
    // with standby_cluster.create_replica_methods, from A's primary
    const cloned = readFileSync(join(b1().dir, 'clone.log'), 'utf8')
    assert.match(cloned, new RegExp(`--scope=${scopeB} --role=replica --datadir=\\S+ --connstring=dbname=postgres user=replicator host=127\\.0\\.0\\.1 port=${a1().pgPort}\\n`), cloned)
    await sql(a1(), "insert into standby_probe values ('after-b')")
    await waitFor('a write on A to reach b1', async () => ((await trySql(b1(), "select count(*) from standby_probe where v = 'after-b'")) === '1' ? true : undefined), {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(await etcd.get(`/service/${scopeB}/initialize`), await sql(a1(), 'select system_identifier from pg_control_system()'), 'B\'s initialize key is A\'s system id')
    // Several cycles later it still has not promoted.
    const renewed = b1().out.join('')
    await waitFor('more HA cycles on b1', async () => (b1().out.join('').split('the standby leader with the lock').length > renewed.split('the standby leader with the lock').length + 2 ? true : undefined), {timeoutMs: 20_000, intervalMs: 300})
    assert.equal(await sql(b1(), 'select pg_is_in_recovery()'), 't')
  }),
)

test('B\'s second member cascades from the standby leader; REST answers and hactl list show the standby leader', {timeout: 180_000}, () =>
  withLogs(async () => {
    spawnAgent(b2())
    await waitFor('b2 to stream from b1', async () => ((await streamsFromPort(b2())) === b1().pgPort ? true : undefined), {timeoutMs: 120_000, intervalMs: 300})
    await waitFor('b2 published as a running, streaming replica', async () => {
      const m = await memberKey(b2())
      return m?.role === 'replica' && m.state === 'running' && m.replication_state === 'streaming' ? true : undefined
    }, {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(await sql(b2(), "select count(*) from standby_probe where v = 'after-b'"), '1')
    // Every clone in a standby cluster uses standby_cluster.create_replica_methods (patroni/ha.py Ha.clone).
    assert.match(readFileSync(join(b2().dir, 'clone.log'), 'utf8'), new RegExp(`--connstring=dbname=postgres user=replicator host=127\\.0\\.0\\.1 port=${b1().pgPort}\\n`))
    // patroni/api.py: the standby leader answers /standby-leader, /standby_leader and /leader, not /primary.
    assert.deepEqual(
      await Promise.all(['standby-leader', 'standby_leader', 'leader', 'primary', 'replica'].map((p) => status(b1(), p))),
      [200, 200, 200, 503, 503],
      'b1: standby-leader, standby_leader, leader, primary, replica',
    )
    assert.deepEqual(
      await Promise.all(['standby-leader', 'standby_leader', 'leader', 'primary', 'replica'].map((p) => status(b2(), p))),
      [503, 503, 503, 503, 200],
      'b2: standby-leader, standby_leader, leader, primary, replica',
    )
    const list = await runHactl(['-c', configFile(b1()), 'list'])
    assert.equal(list.code, 0, list.stderr)
    assert.match(list.stdout, /\| b1 +\| 127\.0\.0\.1:\d+ \| Standby Leader \| streaming +\|/, list.stdout)
    assert.match(list.stdout, /\| b2 +\| 127\.0\.0\.1:\d+ \| Replica +\| streaming +\|/, list.stdout)
    // patronictl 4.1's demote-cluster/promote-cluster refusals (patroni/ctl.py change_cluster_role).
    const noTarget = await runHactl(['-c', configFile(b1()), 'demote-cluster', '--force'])
    assert.notEqual(noTarget.code, 0)
    assert.match(noTarget.stderr, /At least --host, --port or --restore-command should be specified/)
    const again = await runHactl(['-c', configFile(b1()), 'demote-cluster', '--host', '127.0.0.1', '--force'])
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /Cluster is already in the required state/)
    const promoteA = await runHactl(['-c', configFile(a1()), 'promote-cluster', '--force'])
    assert.notEqual(promoteA.code, 0)
    assert.match(promoteA.stderr, /Cluster is already in the required state/)
    const topo = await runHactl(['-c', configFile(b1()), 'topology'])
    assert.equal(topo.code, 0, topo.stderr)
    assert.match(topo.stdout, /\| b1 +\| 127\.0\.0\.1:\d+ \| Standby Leader \|/, topo.stdout)
    assert.match(topo.stdout, /\| \+ b2 +\| 127\.0\.0\.1:\d+ \| Replica +\|/, topo.stdout)
  }),
)

test('the standby leader stops: b2 takes B\'s lock and follows A; b1 comes back as b2\'s replica', {timeout: 240_000}, () =>
  withLogs(async () => {
    await stopAgent(b1())
    await waitFor('b2 to lead B as a standby leader streaming from a1', async () => {
      if ((await leaderOf(scopeB)) !== 'b2') return undefined
      if ((await memberKey(b2()))?.role !== 'standby_leader') return undefined
      return (await streamsFromPort(b2())) === a1().pgPort || undefined
    }, {timeoutMs: 90_000, intervalMs: 300})
    assert.equal(await sql(b2(), 'select pg_is_in_recovery()'), 't')
    await sql(a1(), "insert into standby_probe values ('after-failover')")
    await waitFor('a write on A to reach b2', async () => ((await trySql(b2(), "select count(*) from standby_probe where v = 'after-failover'")) === '1' ? true : undefined), {timeoutMs: 20_000, intervalMs: 200})
    // The REST answers follow the lease, which the agent counts from its next view of the key.
    await waitFor('b2 to answer GET /standby-leader with 200', async () => ((await status(b2(), 'standby-leader')) === 200 ? true : undefined), {timeoutMs: 10_000, intervalMs: 200})
    await waitFor('on_role_change standby_leader on b2', () => (callbackLines(b2()).includes(`on_role_change standby_leader ${scopeB}`) ? true : undefined), {timeoutMs: 10_000, intervalMs: 200})
    spawnAgent(b1())
    await waitFor('b1 to stream from b2', async () => ((await streamsFromPort(b1())) === b2().pgPort ? true : undefined), {timeoutMs: 120_000, intervalMs: 300})
    await waitFor('b1 no longer answers as standby leader', async () => ((await status(b1(), 'standby-leader').catch(() => 0)) === 503 ? true : undefined), {timeoutMs: 20_000, intervalMs: 300})
  }),
)

test('a switchover within B: b1 becomes the standby leader following A, b2 cascades from it', {timeout: 180_000}, () =>
  withLogs(async () => {
    const r = await runHactl(['-c', configFile(b2()), 'switchover', '--leader', 'b2', '--candidate', 'b1', '--force'], {timeoutMs: 120_000})
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    await waitFor('b1 to lead B as a standby leader streaming from a1', async () => {
      if ((await leaderOf(scopeB)) !== 'b1') return undefined
      if ((await memberKey(b1()))?.role !== 'standby_leader') return undefined
      return (await streamsFromPort(b1())) === a1().pgPort || undefined
    }, {timeoutMs: 90_000, intervalMs: 300})
    await waitFor('b2 to stream from b1', async () => ((await streamsFromPort(b2())) === b1().pgPort ? true : undefined), {timeoutMs: 90_000, intervalMs: 300})
    assert.equal(await sql(b1(), 'select pg_is_in_recovery()'), 't', 'a switchover in a standby cluster promotes nobody')
    assert.ok(callbackLines(b2()).includes(`on_stop standby_leader ${scopeB}`), callbackLines(b2()).join('\n'))
    assert.equal(await sql(b2(), 'select pg_is_in_recovery()'), 't')
    await sql(a1(), "insert into standby_probe values ('after-switchover')")
    await waitFor('a write on A to reach b2 through b1', async () => ((await trySql(b2(), "select count(*) from standby_probe where v = 'after-switchover'")) === '1' ? true : undefined), {timeoutMs: 20_000, intervalMs: 200})
  }),
)

test('standby_cluster added to A demotes its primary into a standby leader following B; removed from B, B\'s standby leader promotes and everyone follows it', {timeout: 240_000}, () =>
  withLogs(async () => {
    await sql(a1(), "insert into standby_probe values ('last-on-a')")
    await waitFor('the last write on A to reach b1', async () => ((await trySql(b1(), "select count(*) from standby_probe where v = 'last-on-a'")) === '1' ? true : undefined), {timeoutMs: 20_000, intervalMs: 200})
    // patronictl 4.1's demote-cluster: PATCH /config on the leader, then wait for the standby leader.
    const demote = await runHactl(['-c', configFile(a1()), 'demote-cluster', '--host', '127.0.0.1', '--port', String(b1().pgPort), '--force'], {timeoutMs: 120_000})
    assert.equal(demote.code, 0, demote.stderr)
    assert.match(demote.stdout, /cluster is successfully demoted/)
    assert.match(demote.stdout, /\| a1 +\| 127\.0\.0\.1:\d+ \| Standby Leader \|/)
    await waitFor('a1 to run as A\'s standby leader, in recovery, keeping A\'s lock', async () => {
      if ((await leaderOf(scopeA)) !== 'a1') return undefined
      if ((await memberKey(a1()))?.role !== 'standby_leader') return undefined
      return (await trySql(a1(), 'select pg_is_in_recovery()')) === 't' || undefined
    }, {timeoutMs: 90_000, intervalMs: 300})
    assert.match(a1().out.join(''), /cannot be a real primary in standby cluster/)
    assert.equal(await status(a1(), 'primary'), 503)
    assert.equal(await status(a1(), 'standby-leader'), 200)
    // b1 has A's shutdown checkpoint: it has replayed everything a1 wrote.
    await waitFor('b1 to have replayed all of A\'s WAL', async () => {
      const aEnd = await trySql(a1(), 'select pg_last_wal_replay_lsn()')
      const bEnd = await trySql(b1(), 'select pg_last_wal_receive_lsn()')
      if (!aEnd || !bEnd) return undefined
      return (await trySql(b1(), `select '${bEnd}'::pg_lsn >= '${aEnd}'::pg_lsn`)) === 't' || undefined
    }, {timeoutMs: 30_000, intervalMs: 300})

    assert.equal(await patchConfig(b1(), {standby_cluster: null}), 200)
    await waitFor('b1 to be B\'s writable primary', async () => {
      if ((await leaderOf(scopeB)) !== 'b1') return undefined
      return (await trySql(b1(), 'select pg_is_in_recovery()')) === 'f' || undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    assert.equal(await status(b1(), 'primary'), 200)
    assert.equal(await status(b1(), 'standby-leader'), 503)
    await sql(b1(), "insert into standby_probe values ('first-on-b')")
    await waitFor('the first write on B to reach b2 and a1', async () => {
      const onB2 = await trySql(b2(), "select count(*) from standby_probe where v = 'first-on-b'")
      const onA1 = await trySql(a1(), "select count(*) from standby_probe where v = 'first-on-b'")
      return onB2 === '1' && onA1 === '1' ? true : undefined
    }, {timeoutMs: 60_000, intervalMs: 300})
    assert.equal(await streamsFromPort(b2()), b1().pgPort, 'b2 follows the new primary')
    assert.equal(await streamsFromPort(a1()), b1().pgPort, 'A\'s standby leader follows B\'s primary')
    assert.equal(await sql(a1(), 'select pg_is_in_recovery()'), 't')
  }),
)
