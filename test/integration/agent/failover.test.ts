/**
 * `hactl agent` automatic failover with three real agents (real etcd, real PostgreSQL, the real
 * CLI as the unprivileged account): a leader that shuts down cleanly hands over to a replica and
 * rejoins as its replica; a leader whose agent and postmaster are SIGKILLed is replaced once its
 * key expires.
 */
import assert from 'node:assert/strict'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {agentConfig, agentLogs, agentRunning, makeNode, psql, spawnAgent as spawn, stopAgent, writeCallbackScript, type AgentNode} from '../../harness/agent-node'
import {EtcdServer} from '../../harness/etcd'
import {sampleEvery, waitFor, within} from '../../harness/ports'
import {PG_BIN_DIR, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

const AUTH = {
  superuser: {username: 'postgres', password: 'failover-test-su-pw'},
  replication: {username: 'replicator', password: 'failover-test-rep-pw'},
}

type Node = AgentNode
let etcd: EtcdServer
let home: string
const scope = `failover${process.pid}`
const nodes: Node[] = []

/** Slots, pg_rewind, a post_bootstrap script and every callback, on top of the shared configuration. */
function spawnAgent(n: Node): void {
  const cfg = agentConfig(n, etcd.endpoint, AUTH, {
    use_slots: true,
    use_pg_rewind: true,
    parameters: {wal_level: 'replica', hot_standby: 'on', wal_log_hints: 'on', max_wal_senders: 6, max_replication_slots: 6},
  }) as {bootstrap: Record<string, unknown>; postgresql: Record<string, unknown>}
  // Patroni's post_bootstrap contract: called with a DSN, the password in PGPASSFILE.
  cfg.bootstrap['post_bootstrap'] = `${join(n.dir, 'post-bootstrap.sh')} --quiet`
  const callback = writeCallbackScript(n)
  cfg.postgresql['callbacks'] = Object.fromEntries(['on_start', 'on_stop', 'on_restart', 'on_role_change'].map((a) => [a, callback]))
  writeOwnedFile(
    join(n.dir, 'post-bootstrap.sh'),
    `#!/bin/sh\n[ "$1" = --quiet ] || exit 3\nexec ${join(PG_BIN_DIR, 'psql')} -v ON_ERROR_STOP=1 -q "$2" -c "create table post_bootstrap_probe (by text); insert into post_bootstrap_probe values (current_user)"\n`,
    0o755,
  )
  spawn(n, home, cfg)
}

const key = (k: string) => `/service/${scope}/${k}`

/**
 * Inserts numbered rows into the primary over TCP as fast as it acknowledges them, until told to
 * stop or the primary goes away; `acked` holds every number whose COMMIT returned.
 */
function startWriter(n: Node): {acked: number[]; stop: () => Promise<void>} {
  const acked: number[] = []
  let running = true
  const done = (async () => {
    const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: AUTH.superuser.username, password: AUTH.superuser.password, database: 'postgres'})
    c.on('error', () => {})
    try {
      await c.connect()
      for (let i = 1; running; i++) {
        await c.query('insert into ack_probe values ($1)', [i])
        acked.push(i)
      }
    } catch {
      // the primary went away: the writer's job is done
    } finally {
      await c.end().catch(() => {})
    }
  })()
  return {
    acked,
    stop: async () => {
      running = false
      await done
    },
  }
}

const sql = (n: Node, query: string) => psql(n, home, query)

async function getJson(url: string): Promise<{status: number; body: Record<string, unknown>}> {
  const res = await fetch(url, {signal: AbortSignal.timeout(3000)})
  return {status: res.status, body: (await res.json()) as Record<string, unknown>}
}

/** Runs a test body; a failure carries the agents' last log lines. */
async function withLogs(body: () => Promise<void>): Promise<void> {
  try {
    await body()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logs()}`, {cause: e})
  }
}

function callbackLines(n: Node): string[] {
  try {
    return readFileSync(join(n.dir, 'callbacks.log'), 'utf8').split('\n').filter(Boolean)
  } catch {
    return []
  }
}

const logs = () => agentLogs(nodes)

const TTL = 20
const LOOP_WAIT = 2

async function leaderName(): Promise<string | undefined> {
  return (await etcd.get(key('leader'))) ?? undefined
}

function byName(name: string): Node {
  const n = nodes.find((x) => x.name === name)
  if (!n) throw new Error(`unknown node ${name}`)
  return n
}

const running = agentRunning

/** The new primary: holds the key, is out of recovery and takes a write. */
async function writablePrimary(exclude: string, marker: string): Promise<string | undefined> {
  const l = await leaderName()
  if (!l || l === exclude) return undefined
  const n = byName(l)
  try {
    if ((await sql(n, 'select pg_is_in_recovery()')) !== 'f') return undefined
    await sql(n, `insert into failover_probe values ('${marker}')`)
    return l
  } catch {
    return undefined
  }
}

async function streamingFrom(leader: Node): Promise<string[]> {
  try {
    const rows = await sql(leader, "select application_name from pg_stat_replication where state = 'streaming'")
    return rows.split('\n').filter(Boolean).sort()
  } catch {
    return []
  }
}

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-failover-')
  for (const name of ['node1', 'node2', 'node3']) nodes.push(await makeNode(home, name, scope))
})

after(async () => {
  for (const n of nodes) await stopAgent(n)
  await etcd?.destroy()
  if (home) rmSync(home, {recursive: true, force: true})
})

test('a cluster of three forms: node1 leads, node2 and node3 stream', {timeout: 180_000}, () =>
  withLogs(async () => {
    const [n1, n2, n3] = nodes
    spawnAgent(n1)
    await waitFor('node1 to lead a writable primary', async () => {
      if ((await leaderName()) !== 'node1') return undefined
      return (await sql(n1, 'select pg_is_in_recovery()').catch(() => '')) === 'f' || undefined
    }, {timeoutMs: 60_000, intervalMs: 200})
    await sql(n1, 'create table failover_probe (v text)')
    await sql(n1, "insert into failover_probe values ('before')")
    spawnAgent(n2)
    spawnAgent(n3)
    await waitFor('node2 and node3 to stream from node1', async () => {
      const s = await streamingFrom(n1)
      return s.includes('node2') && s.includes('node3') ? s : undefined
    }, {timeoutMs: 120_000, intervalMs: 300})
    await waitFor('both replicas to be published as running replicas', async () => {
      for (const name of ['node2', 'node3']) {
        const v = await etcd.get(key(`members/${name}`))
        const m = v ? JSON.parse(v) : undefined
        if (!m || m.role !== 'replica' || m.state !== 'running') return undefined
      }
      return true
    }, {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(await sql(n2, "select count(*) from failover_probe where v = 'before'"), '1')
    assert.equal(await sql(n1, 'select by from post_bootstrap_probe'), 'postgres', 'post_bootstrap ran once, as the superuser')
    await waitFor('on_start callbacks', async () => {
      const lines = nodes.map((n) => callbackLines(n))
      return lines[0].includes(`on_start primary ${scope}`) && lines[1].includes(`on_start replica ${scope}`) && lines[2].includes(`on_start replica ${scope}`) ? true : undefined
    }, {timeoutMs: 10_000, intervalMs: 200})
  }))

test('SIGTERM of the leader: a replica takes over, history is written, the old leader rejoins', {timeout: 180_000}, () =>
  withLogs(async () => {
    const [n1] = nodes
    await sql(n1, 'create table ack_probe (v int primary key)')
    const writer = startWriter(n1)
    await waitFor('the writer to get acknowledgements', async () => (writer.acked.length >= 20 ? true : undefined), {timeoutMs: 10_000, intervalMs: 50})
    const t0 = Date.now()
    n1.proc!.kill('SIGTERM')
    const winner = await waitFor('a replica to become a writable leader', () => writablePrimary('node1', 'after-sigterm'), {
      timeoutMs: 15_000,
      intervalMs: 200,
    })
    const took = Date.now() - t0
    assert.ok(['node2', 'node3'].includes(winner), `winner ${winner}`)
    assert.ok(took < 15_000, `failover took ${took} ms`)
    assert.equal(await within(n1.exit!, 30_000), 0, 'node1 exits 0 after SIGTERM')
    const gone = JSON.parse((await etcd.get(key('members/node1'))) ?? '{}')
    assert.equal(gone.state, 'stopped', 'the member key says stopped right after shutdown, not at ttl expiry')

    const history = await waitFor('/history to describe the switch to timeline 2', async () => {
      const v = await etcd.get(key('history'))
      const h = v ? JSON.parse(v) : undefined
      return Array.isArray(h) && h.length === 1 && h[0].length === 5 ? h : undefined
    }, {timeoutMs: 15_000, intervalMs: 200})
    assert.equal(history[0][0], 1, 'the entry is for the ended timeline 1')
    assert.equal(typeof history[0][1], 'number')
    assert.ok(history[0][1] > 0)
    assert.match(history[0][3], /^\d{4}-\d\d-\d\dT.*\+00:00$/)
    assert.equal(history[0][4], winner)
    const leader = byName(winner)
    // the timeline the primary writes on (pg_control_checkpoint() lags until the promotion's
    // background end-of-recovery checkpoint ends)
    assert.equal(await sql(leader, "select ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"), '2')
    await writer.stop()
    const have = new Set((await sql(leader, 'select v from ack_probe')).split('\n').filter(Boolean).map(Number))
    const lost = writer.acked.filter((v) => !have.has(v))
    assert.deepEqual(lost, [], `every write node1 acknowledged (${writer.acked.length}) is on ${winner}`)
    assert.ok(callbackLines(n1).includes(`on_stop primary ${scope}`), `node1 callbacks: ${callbackLines(n1)}`)
    await waitFor(`on_role_change primary on ${winner}`, async () => (callbackLines(leader).includes(`on_role_change primary ${scope}`) ? true : undefined), {
      timeoutMs: 10_000,
      intervalMs: 200,
    })

    spawnAgent(n1)
    const other = winner === 'node2' ? 'node3' : 'node2'
    await waitFor(`node1 and ${other} to stream from ${winner}`, async () => {
      const s = await streamingFrom(leader)
      return s.includes('node1') && s.includes(other) ? s : undefined
    }, {timeoutMs: 90_000, intervalMs: 300})
    assert.equal(await sql(n1, 'select pg_is_in_recovery()'), 't')
    await waitFor('node1 to replay the write made on the new leader', async () => {
      return (await sql(n1, "select count(*) from failover_probe where v = 'after-sigterm'").catch(() => '')) === '1' || undefined
    }, {timeoutMs: 15_000, intervalMs: 200})
    assert.equal(await leaderName(), winner, 'the rejoining node did not take the lock')
  }))

test('SIGKILL of the leader agent and its postmaster: a replica takes over after the ttl', {timeout: 180_000}, () =>
  withLogs(async () => {
    const old = await leaderName()
    assert.ok(old, 'there is a leader')
    const victim = byName(old)
    const pid = Number(readFileSync(join(victim.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
    assert.ok(Number.isInteger(pid) && pid > 1, `postmaster pid ${pid}`)
    const t0 = Date.now()
    victim.proc!.kill('SIGKILL')
    await within(victim.exit!, 10_000)
    process.kill(pid, 'SIGKILL')
    const deadline = (TTL + LOOP_WAIT + 10) * 1000
    const winner = await waitFor('another node to become a writable leader', () => writablePrimary(old, 'after-sigkill'), {
      timeoutMs: deadline,
      intervalMs: 300,
    })
    assert.notEqual(winner, old)
    assert.ok(Date.now() - t0 < deadline)
    await waitFor('/history to gain the timeline 2 entry', async () => {
      const v = JSON.parse((await etcd.get(key('history'))) ?? '[]')
      return Array.isArray(v) && v.length === 2 && v[1][0] === 2 && v[1][4] === winner ? v : undefined
    }, {timeoutMs: 15_000, intervalMs: 200})
  }))

test('a second agent started with the name of a running member refuses to start', {timeout: 60_000}, async () => {
  const live = nodes.find((n) => running(n))
  assert.ok(live, 'a member runs')
  const dup: Node = {...(await makeNode(home, 'duplicate', scope)), name: live.name}
  try {
    spawnAgent(dup)
    assert.equal(await within(dup.exit!, 30_000), 1, `the duplicate exits 1; its output:\n${dup.out.join('')}`)
    assert.match(dup.out.join(''), new RegExp(`CRITICAL: Can't start; there is already a node named '${live.name}' running`))
    assert.ok(running(live), `${live.name} still runs`)
    const m = JSON.parse((await etcd.get(key(`members/${live.name}`))) ?? '{}')
    assert.equal(m.api_url, `http://127.0.0.1:${live.apiPort}/patroni`, 'the member key still points at the running member')
  } finally {
    if (running(dup)) dup.proc!.kill('SIGKILL')
  }
})

test('the primary postmaster crashes under a live agent: restarted in place, no failover', {timeout: 120_000}, () =>
  withLogs(async () => {
    const name = await leaderName()
    assert.ok(name)
    const leader = byName(name)
    const pidFile = join(leader.dir, 'data', 'postmaster.pid')
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
    process.kill(pid, 'SIGKILL')
    await waitFor(`${name} to be a writable primary again under a new postmaster`, async () => {
      const now = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
      if (now === pid || !Number.isInteger(now)) return undefined
      return (await writablePrimary('', 'after-pg-crash')) === name || undefined
    }, {timeoutMs: 60_000, intervalMs: 200})
    assert.equal(await leaderName(), name, 'the lock stayed where it was')
    const history = JSON.parse((await etcd.get(key('history'))) ?? '[]')
    assert.equal(history.length, 2, 'no new timeline: it was a restart, not a failover')
  }))

test('the leader agent frozen past the ttl: a replica takes over; resumed, the old leader demotes and never takes the lock back', {timeout: 240_000}, () =>
  withLogs(async () => {
    const old = await leaderName()
    assert.ok(old)
    const frozen = byName(old)
    assert.ok(nodes.some((n) => n.name !== old && running(n)), 'a replica runs')
    frozen.proc!.kill('SIGSTOP')
    let winner: string
    try {
      winner = await waitFor('another node to become a writable leader', () => writablePrimary(old, 'after-sigstop'), {
        timeoutMs: (TTL + LOOP_WAIT + 20) * 1000,
        intervalMs: 300,
      })
    } finally {
      frozen.proc!.kill('SIGCONT')
    }
    const resumed = Date.now()
    // From the resume on, sample the lock: it must never go back to the frozen node.
    const holders = new Set<string>()
    const sampler = sampleEvery(50, async () => {
      const l = await leaderName().catch(() => undefined)
      if (l) holders.add(l)
    })
    try {
      await waitFor(`${old} to stop being a writable primary`, async () => {
        const r = await sql(frozen, 'select pg_is_in_recovery()').catch(() => 'down')
        return r !== 'f' || undefined
      }, {timeoutMs: 20_000, intervalMs: 100})
      const demotedAfter = Date.now() - resumed
      assert.ok(demotedAfter < (LOOP_WAIT + 4 + 6) * 1000, `demoted ${demotedAfter} ms after the resume`)
      await waitFor(`${old} to rejoin as a replica of ${winner}`, async () => ((await streamingFrom(byName(winner))).includes(old) ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 300,
      })
    } finally {
      await sampler.stop()
    }
    assert.deepEqual([...holders], [winner], 'only the new leader held the lock after the resume')
  }))

test('etcd stops: the primary demotes before the ttl, replicas keep serving reads; etcd back: a leader again', {timeout: 180_000}, () =>
  withLogs(async () => {
    const name = await leaderName()
    assert.ok(name)
    const leader = byName(name)
    const replicas = nodes.filter((n) => n.name !== name && running(n))
    assert.ok(replicas.length >= 1)
    const t0 = Date.now()
    await etcd.stop()
    try {
      await waitFor(`${name} to stop being a writable primary`, async () => {
        const r = await sql(leader, 'select pg_is_in_recovery()').catch(() => 'down')
        return r !== 'f' || undefined
      }, {timeoutMs: TTL * 1000, intervalMs: 100})
      const took = Date.now() - t0
      assert.ok(took < TTL * 1000, `demoted ${took} ms after etcd stopped (ttl ${TTL} s)`)
      for (const r of replicas) assert.match(await sql(r, 'select count(*) from failover_probe'), /^\d+$/, `${r.name} serves reads`)
    } finally {
      await etcd.launch()
    }
    await waitFor('a writable leader again', () => writablePrimary('', 'after-etcd-outage'), {timeoutMs: 90_000, intervalMs: 300})
  }))
