/**
 * hactl's control commands driving a real 3-node cluster of hactl agents (not Patroni) on real
 * etcd and PostgreSQL, run as a user runs them: `node --import tsx src/cli.ts -c CFG ...`, answers
 * piped to stdin, or typed into a real terminal (tmux) at each question. Every case checks the
 * effect in the cluster (etcd keys, pg_is_in_recovery(), the agents' GET /patroni, PostgreSQL's
 * own settings), not just exit codes. The cases share one cluster and run in order.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import pg from 'pg'
import {parse, stringify} from 'yaml'
import {EtcdServer} from '../../harness/etcd'
import {type CliOptions, type CliRun, runHactl} from '../../harness/hactl-cli'
import {PATRONI_TEST_AUTH, PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import {asUser, PG_BIN_DIR, runCommand} from '../../harness/postgres-bin'

const SCOPE = 'ctlhactl'
const REPO = join(import.meta.dirname, '..', '..', '..')
let etcd: EtcdServer
let cluster: PatroniCluster
let cfg: string

type Run = CliRun

/**
 * The CLI as a user runs it; never throws on a non-zero exit. `openStdin` leaves stdin an open
 * pipe that never carries a line (a script run under ssh or a CI step with a dangling stdin).
 */
function hactl(args: string[], opts: CliOptions = {}): Promise<Run> {
  return runHactl(['-c', cfg, ...args], opts)
}

/** One statement on a member as the superuser over TCP; rows as arrays. */
async function sql(n: PatroniNode, query: string, params: unknown[] = []): Promise<unknown[][]> {
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: 'postgres', password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 5000})
  c.on('error', () => {})
  await c.connect()
  try {
    return (await c.query({text: query, values: params, rowMode: 'array'})).rows as unknown[][]
  } finally {
    await c.end().catch(() => {})
  }
}

async function one(n: PatroniNode, query: string): Promise<unknown> {
  return (await sql(n, query))[0]?.[0]
}

async function leader(): Promise<PatroniNode> {
  return cluster.node(await cluster.waitForLeader())
}

async function replicas(): Promise<PatroniNode[]> {
  const l = await cluster.waitForLeader()
  return cluster.nodes.filter((n) => n.name !== l)
}

async function etcdJson(rel: string): Promise<any> {
  const v = await etcd.get(`${cluster.prefix}${rel}`)
  return v === undefined || v === null ? undefined : JSON.parse(v)
}

/** The failover key is absent or empty: no switchover waits to happen. */
async function noPendingFailover(): Promise<boolean> {
  const f = await etcd.get(`${cluster.prefix}failover`)
  return !f || f === '{}'
}

/** Retries assertions until they hold or the deadline passes; then throws the last failure. */
async function eventually<T>(what: string, check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  let last: unknown
  try {
    return await waitFor(what, async () => {
      try {
        return {v: await check()}
      } catch (e) {
        last = e
        return undefined
      }
    }, {timeoutMs, intervalMs: 250}).then((r) => r.v)
  } catch (e) {
    throw last instanceof Error ? Object.assign(last, {message: `${what}: ${last.message}`}) : e
  }
}

/** Fails with the agents' logs attached, so that a CI failure says what the agents did. */
async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${cluster.logTails(cluster.nodes, 2500)}`, {cause: e})
  }
}

/** Table rows of the pretty/topology output: the cells of each `| ... |` line after the header. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n').filter((l) => l.startsWith('| '))
  return lines.slice(1).map((l) => l.slice(1, -1).split('|').map((c) => c.trim()))
}

/**
 * A client that keeps inserting numbered rows into whoever holds the leader key, and records each
 * value whose COMMIT was acknowledged and by which member. A failed statement is not counted.
 */
function startWriter() {
  const acked: Array<{v: number; on: string}> = []
  let running = true
  let failed = 0
  const done = (async () => {
    let client: pg.Client | undefined
    let on = ''
    for (let v = 1; running; v++) {
      try {
        if (!client) {
          const name = await cluster.leaderName()
          if (!name) throw new Error('no leader yet')
          const target = cluster.node(name)
          const c = new pg.Client({host: '127.0.0.1', port: target.pgPort, user: 'postgres', password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 5000})
          c.on('error', () => {})
          client = c
          on = target.name
          await c.connect()
        }
        await client.query('insert into ctl_ack values ($1)', [v])
        acked.push({v, on})
      } catch {
        failed++
        await client?.end().catch(() => {})
        client = undefined
        // Reconnect once the leader key names a running primary again (a switchover in progress).
        if (running) await cluster.waitForLeader({timeoutMs: 60_000}).catch(() => {})
      }
    }
    await client?.end().catch(() => {})
  })()
  return {
    acked,
    failed: () => failed,
    stop: async () => {
      running = false
      await done
    },
  }
}

/** Our own tmux server (-L socket), so nothing else's sessions are touched; killed in after(). */
const TMUX_SOCKET = `hactl-ctl-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
/** The server's socket file, removed after kill-server (tmux leaves it behind). */
let tmuxSocketPath: string | undefined

function tmux(...args: string[]): string {
  try {
    return execFileSync('tmux', ['-L', TMUX_SOCKET, ...args], {encoding: 'utf8'})
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('tmux is not installed (bash scripts/setup.sh installs it)')
    throw e
  }
}

/** Runs hactl in a fresh 200x50 terminal; the pane stays after the exit, with the exit code printed. */
function terminal(session: string, args: string[]) {
  const cmd = [process.execPath, '--import', 'tsx', 'src/cli.ts', '-c', cfg, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', '-c', REPO, `${cmd}; echo "hactl exited $?"; exec sleep 600`)
  tmuxSocketPath ??= tmux('display-message', '-p', '#{socket_path}').trim()
  const screen = () => tmux('capture-pane', '-p', '-S', '-200', '-t', session)
  return {
    screen,
    /** Waits until the screen matches, then returns the match. */
    async waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
      try {
        return await waitFor(`the terminal to show ${re}`, () => screen().match(re) ?? undefined, {timeoutMs, intervalMs: 100})
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- screen ---\n${screen()}`)
      }
    },
    type(text: string): void {
      if (text) tmux('send-keys', '-t', session, '-l', text)
      tmux('send-keys', '-t', session, 'Enter')
    },
  }
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: SCOPE, nodes: 3, namePrefix: 'c', impl: 'hactl', startTimeoutMs: 120_000})
  cfg = cluster.nodes[0]!.configPath
  const l = await leader()
  await sql(l, 'create table ctl_ack (v int primary key)')
})

after(async () => {
  if (tmuxSocketPath) {
    try {
      tmux('kill-server')
    } catch {
      // the server already ended
    }
    rmSync(tmuxSocketPath, {force: true})
  }
  await cluster?.destroy()
  await etcd?.destroy()
})

describe('hactl control commands on a 3-node hactl cluster', () => {
  test('list -f json rows are the cluster: members, hosts, roles, states, timelines, lag; topology puts the leader first', () =>
    withLogs(async () => {
      await cluster.waitForReplicasStreaming(2)
      const l = await leader()
      const rows = await eventually('list -f json to show the running cluster', async () => {
        const r = await hactl(['list', '-f', 'json'])
        assert.equal(r.code, 0, r.stderr)
        const got = JSON.parse(r.stdout) as Array<Record<string, unknown>>
        const expected = []
        for (const n of cluster.nodes) {
          const st = await n.status()
          const row: Record<string, unknown> = {Cluster: SCOPE, Member: n.name, Host: `127.0.0.1:${n.pgPort}`}
          if (n.name === l.name) Object.assign(row, {Role: 'Leader', State: 'running', TL: st.timeline})
          else Object.assign(row, {Role: 'Replica', State: 'streaming', TL: st.timeline, 'Lag in MB': 0})
          expected.push(row)
        }
        assert.deepEqual(got, expected)
        return got
      })
      // the timeline is PostgreSQL's own, and the roles are what PostgreSQL says
      const leaderRow = rows.find((r) => r['Member'] === l.name)!
      assert.equal(leaderRow['TL'], Number(await one(l, 'select timeline_id from pg_control_checkpoint()')))
      for (const n of cluster.nodes) assert.equal(await one(n, 'select pg_is_in_recovery()'), n.name !== l.name, n.name)
      // Lag in MB is computed from the member keys and the leader's optime, as patronictl does
      // (a replica that published after the leader's last optime is not behind: lag 0)
      const status = await etcdJson('status')
      for (const n of await replicas()) {
        const m = await etcdJson(`members/${n.name}`)
        assert.equal(typeof m.xlog_location, 'number')
        assert.equal(Math.round(Math.max(0, status.optime - m.xlog_location) / 1048576), 0, `${n.name}: ${JSON.stringify(m)} vs ${JSON.stringify(status)}`)
      }

      // --lsn: Patroni 4.1's columns, from the receive_lsn/replay_lsn the agents publish
      const lsn = await hactl(['list', '--lsn', '-f', 'json'])
      assert.equal(lsn.code, 0, lsn.stderr)
      for (const row of JSON.parse(lsn.stdout) as Array<Record<string, unknown>>) {
        if (row['Member'] === l.name) {
          assert.equal('Receive LSN' in row || 'Replay LSN' in row, false, JSON.stringify(row))
          continue
        }
        const m = await etcdJson(`members/${String(row['Member'])}`)
        assert.match(String(row['Receive LSN']), /^[0-9A-F]+\/[0-9A-F]+$/, JSON.stringify(row))
        assert.match(String(row['Replay LSN']), /^[0-9A-F]+\/[0-9A-F]+$/, JSON.stringify(row))
        assert.equal(typeof m.receive_lsn, 'number', JSON.stringify(m))
        assert.equal(typeof row['Receive Lag'], 'number')
        assert.equal(typeof row['Replay Lag'], 'number')
        assert.equal('Lag in MB' in row, false)
      }

      const topo = await hactl(['topology'])
      assert.equal(topo.code, 0, topo.stderr)
      const names = tableRows(topo.stdout).map((r) => r[0])
      assert.equal(names[0], l.name, topo.stdout)
      assert.deepEqual(names.slice(1).sort(), (await replicas()).map((n) => `+ ${n.name}`).sort())
      assert.match(topo.stdout, new RegExp(`^\\+ Cluster: ${SCOPE} \\(\\d+\\) `))
    }))

  test('switchover --leader X --candidate Y --force under a writer: no acknowledged commit lost, Y leads, X streams from Y', {timeout: 120_000}, () =>
    withLogs(async () => {
      const x = await leader()
      const y = (await replicas())[0]!
      const writer = startWriter()
      try {
        await waitFor('the writer to commit on the leader', () => writer.acked.length >= 30, {timeoutMs: 20_000})
        const r = await hactl(['switchover', '--leader', x.name, '--candidate', y.name, '--force'])
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stdout, new RegExp(`^Current cluster topology\n`))
        assert.match(r.stdout, new RegExp(`\\n\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{5} Successfully switched over to "${y.name}"\\n`))
        assert.equal(await cluster.waitForLeader(), y.name)
        await waitFor('the writer to commit on the new leader', () => writer.acked.filter((a) => a.on === y.name).length >= 30, {timeoutMs: 30_000})
      } finally {
        await writer.stop()
      }
      const onX = writer.acked.filter((a) => a.on === x.name).length
      assert.ok(onX >= 30, `${onX} commits acknowledged by ${x.name}`)
      const present = new Set((await sql(y, 'select v from ctl_ack')).map((row) => Number(row[0])))
      const lost = writer.acked.filter((a) => !present.has(a.v))
      assert.deepEqual(lost, [], `acknowledged commits missing on ${y.name} (of ${writer.acked.length}, ${writer.failed()} statements failed)`)

      assert.equal(await etcd.get(`${cluster.prefix}leader`), y.name)
      assert.equal(await one(y, 'select pg_is_in_recovery()'), false)
      const streaming = await cluster.waitForReplicasStreaming(2)
      assert.ok(streaming.includes(x.name), streaming.join(','))
      assert.equal(await one(x, 'select pg_is_in_recovery()'), true)
      const [host, port] = (await sql(x, 'select sender_host, sender_port from pg_stat_wal_receiver'))[0] ?? []
      assert.deepEqual([host, port], ['127.0.0.1', y.pgPort], `${x.name} receives WAL from ${y.name}`)
      assert.ok(await noPendingFailover())
    }))

  test('edit-config -p of a restart-only parameter: every member pending restart; restart CLUSTER --force applies it', {timeout: 90_000}, () =>
    withLogs(async () => {
      // shared_buffers would be the classic example, but the harness pins it in each member's
      // local postgresql.parameters, which win over the DCS (as in Patroni): wal_buffers is not pinned.
      const before = new Map<string, unknown>()
      for (const n of cluster.nodes) {
        assert.equal(await one(n, 'show wal_buffers'), '512kB', n.name)
        before.set(n.name, await one(n, 'select pg_postmaster_start_time()::text'))
      }
      const e = await hactl(['edit-config', '-p', 'wal_buffers=1MB', '--force'])
      assert.equal(e.code, 0, e.stderr)
      assert.match(e.stdout, /\n\+    wal_buffers: 1MB\n(.*\n)*Configuration changed\n$/)
      assert.equal((await etcdJson('config')).postgresql.parameters.wal_buffers, '1MB')

      await eventually('every member to show pending restart', async () => {
        const rows = JSON.parse((await hactl(['list', '-f', 'json'])).stdout) as Array<Record<string, unknown>>
        assert.deepEqual(rows.map((r) => [r['Member'], r['Pending restart']]), cluster.nodes.map((n) => [n.name, '*']))
      })
      const pretty = await hactl(['list'])
      assert.match(pretty.stdout, /\| Pending restart \|/)
      const col = pretty.stdout.split('\n').find((l) => l.startsWith('| Member'))!.split('|').map((c) => c.trim()).indexOf('Pending restart') - 1
      assert.deepEqual(tableRows(pretty.stdout).map((r) => r[col]), ['*', '*', '*'], pretty.stdout)
      for (const n of cluster.nodes) assert.equal(await one(n, 'show wal_buffers'), '512kB', `${n.name} is not restarted yet`)
      for (const n of cluster.nodes) {
        // Patroni 3.1+'s reason: the running value in a unit a person reads, and the new one.
        const s = await n.status()
        assert.deepEqual(s?.pending_restart_reason?.wal_buffers, {old_value: '512kB', new_value: '1MB'}, n.name)
      }

      const r = await hactl(['restart', SCOPE, '--force'])
      assert.equal(r.code, 0, r.stderr)
      for (const n of cluster.nodes) assert.match(r.stdout, new RegExp(`\\nSuccess: restart on member ${n.name}\\n`))
      await eventually('the pending restart to clear', async () => {
        const rows = JSON.parse((await hactl(['list', '-f', 'json'])).stdout) as Array<Record<string, unknown>>
        assert.deepEqual(rows.filter((x) => 'Pending restart' in x), [])
        assert.doesNotMatch((await hactl(['list'])).stdout, /Pending restart/)
      })
      for (const n of cluster.nodes) {
        assert.equal(await one(n, 'show wal_buffers'), '1MB', n.name)
        assert.notEqual(await one(n, 'select pg_postmaster_start_time()::text'), before.get(n.name), `${n.name} restarted`)
      }
      await cluster.waitForReplicasStreaming(2)
    }))

  test('pause --wait and resume --wait: maintenance mode in list and /config; paused agents leave a stopped PostgreSQL alone', {timeout: 90_000}, () =>
    withLogs(async () => {
      const l = await leader()
      const p = await hactl(['pause', '--wait'])
      assert.equal(p.code, 0, p.stderr)
      assert.equal(p.stdout, "'pause' request sent, waiting until it is recognized by all nodes\nSuccess: cluster management is paused\n")
      assert.equal((await etcdJson('config')).pause, true)
      for (const n of cluster.nodes) assert.equal((await etcdJson(`members/${n.name}`)).pause, true, n.name)
      assert.match((await hactl(['list'])).stdout, /\n\+-+(\+-+)*\+\n Maintenance mode: on\n$/)
      const again = await hactl(['pause'])
      assert.deepEqual([again.code, again.stderr], [1, 'Error: Cluster is already paused\n'])

      // a replica's PostgreSQL stopped behind the agent's back stays stopped while paused
      const victim = (await replicas())[0]!
      const mark = victim.log.length
      const stop = await runCommand(join(PG_BIN_DIR, 'pg_ctl'), ['-D', victim.dataDir, 'stop', '-m', 'fast', '-w'], {...asUser(cluster.home), timeoutMs: 30_000})
      assert.equal(stop.code, 0, stop.stderr)
      await waitFor(`${victim.name}'s agent to go through 3 paused cycles with PostgreSQL stopped`, () => {
        const cycles = victim.log.slice(mark).split('\n').filter((line) => /PAUSE: /.test(line) && /not running/.test(line))
        return cycles.length >= 3
      }, {timeoutMs: 30_000, intervalMs: 200})
      assert.equal(victim.postmasterPid, undefined, `${victim.name}'s PostgreSQL was started while paused`)
      assert.equal((await etcdJson(`members/${victim.name}`)).state, 'stopped')
      assert.equal(await cluster.leaderName(), l.name)
      assert.ok(await noPendingFailover())

      const r = await hactl(['resume', '--wait'])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, "'resume' request sent, waiting until it is recognized by all nodes\nSuccess: cluster management is resumed\n")
      assert.equal((await etcdJson('config')).pause, undefined)
      assert.doesNotMatch((await hactl(['list'])).stdout, /Maintenance mode/)
      // resumed, the agent starts it again
      const streaming = await cluster.waitForReplicasStreaming(2)
      assert.ok(streaming.includes(victim.name))
      assert.ok(victim.postmasterPid)
    }))

  test('reinit --force --wait rebuilds a replica; reload applies a changed local config', {timeout: 120_000}, () =>
    withLogs(async () => {
      const l = await leader()
      const [r1, r2] = await replicas()
      const none = await hactl(['reinit', SCOPE, l.name, '--force'])
      assert.deepEqual([none.code, none.stderr], [1, 'Error: No replica among provided members\n'])

      const startedBefore = (await r1!.status()).postmaster_start_time
      const marker = join(r1!.dataDir, 'hactl-reinit-marker')
      writeFileSync(marker, 'this file is gone once the data directory is cloned again\n')
      const r = await hactl(['reinit', SCOPE, r1!.name, '--force', '--wait'])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, new RegExp(`\\nSuccess: reinitialize for member ${r1!.name}\\nWaiting for reinitialize to complete on: ${r1!.name}\\n(.*\\n)*Reinitialize is completed on: ${r1!.name}\\n$`))
      const streaming = await cluster.waitForReplicasStreaming(2)
      assert.ok(streaming.includes(r1!.name))
      assert.equal(existsSync(marker), false, 'the data directory was cloned anew')
      assert.notEqual((await r1!.status()).postmaster_start_time, startedBefore)
      assert.equal(await one(r1!, 'select pg_is_in_recovery()'), true)
      assert.equal(await one(r1!, 'select count(*) > 0 from ctl_ack'), true, 'the clone has the data')

      // reload: a local parameter changed in one member's file reaches its PostgreSQL only
      const doc = parse(readFileSync(r2!.configPath, 'utf8')) as any
      doc.postgresql.parameters.work_mem = '7MB'
      writeFileSync(r2!.configPath, stringify(doc))
      const reload = await hactl(['reload', SCOPE, r2!.name, '--force'])
      assert.equal(reload.code, 0, reload.stderr)
      assert.match(reload.stdout, new RegExp(`\\nReload request received for member ${r2!.name} and will be processed within 2 seconds\\n$`))
      await eventually(`${r2!.name} to run with work_mem 7MB`, async () => assert.equal(await one(r2!, 'show work_mem'), '7MB'))
      assert.equal(await one(l, 'show work_mem'), '4MB')
      assert.equal(await one(r1!, 'show work_mem'), '4MB')
    }))

  test('reinit --from-leader (Patroni 4.1) clones with pg_basebackup only, skipping create_replica_methods', {timeout: 240_000}, () =>
    withLogs(async () => {
      const [, r2] = await replicas()
      const original = readFileSync(r2!.configPath, 'utf8')
      const ran = join(r2!.dir, 'replica-method-ran')
      const doc = parse(original) as any
      // A method that leaves a trace and fails, so the clone falls back to basebackup.
      doc.postgresql.create_replica_methods = ['trace', 'basebackup']
      doc.postgresql.trace = {command: `sh -c 'echo ran >> ${ran}; exit 1'`}
      writeFileSync(r2!.configPath, stringify(doc))
      try {
        assert.equal((await hactl(['reload', SCOPE, r2!.name, '--force'])).code, 0)
        // Without --from-leader the configured method runs first (this also shows the reload took effect).
        await eventually(`${r2!.name}'s reinit to run the configured method`, async () => {
          const r = await hactl(['reinit', SCOPE, r2!.name, '--force', '--wait'])
          assert.equal(r.code, 0, r.stderr)
          assert.equal(existsSync(ran), true, 'the trace method ran')
        }, 120_000)
        await cluster.waitForReplicasStreaming(2)
        rmSync(ran)
        const r = await hactl(['reinit', SCOPE, r2!.name, '--from-leader', '--force', '--wait'])
        assert.equal(r.code, 0, r.stderr)
        assert.match(r.stdout, new RegExp(`\\nSuccess: reinitialize for member ${r2!.name}\\n`))
        const streaming = await cluster.waitForReplicasStreaming(2)
        assert.ok(streaming.includes(r2!.name))
        assert.equal(existsSync(ran), false, 'from_leader skipped create_replica_methods')
        assert.equal(await one(r2!, 'select count(*) > 0 from ctl_ack'), true, 'the clone has the data')
      } finally {
        writeFileSync(r2!.configPath, original)
        await hactl(['reload', SCOPE, r2!.name, '--force'])
      }
    }))

  test('refused switchovers: patronictl texts, exit 1, nothing changes', () =>
    withLogs(async () => {
      const l = await leader()
      const [r1] = await replicas()
      const history = await etcd.get(`${cluster.prefix}history`)
      const started = await one(l, 'select pg_postmaster_start_time()::text')
      const cases: Array<[string[], string]> = [
        [['--leader', l.name, '--candidate', 'nosuch', '--force'], `Error: Member nosuch does not exist in cluster ${SCOPE}`],
        [['--leader', l.name, '--candidate', l.name, '--force'], 'Error: Switchover target and source are the same.'],
        [['--leader', r1!.name, '--candidate', l.name, '--force'], `Error: Member ${r1!.name} is not the leader of cluster ${SCOPE}`],
      ]
      for (const [args, message] of cases) {
        const r = await hactl(['switchover', ...args])
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`)
        const [first, ...hints] = r.stderr.trimEnd().split('\n')
        assert.equal(first, message)
        assert.ok(hints.length > 0 && hints.every((h) => h.startsWith('  hint: ')), r.stderr)
        assert.match(r.stdout, /^Current cluster topology\n/)
      }
      const nosuch = await hactl(['switchover', '--candidate', 'nosuch', '--force'])
      assert.match(nosuch.stderr, /\n {2}hint: no member key nosuch in etcd; members: c1, c2, c3\n/)
      const same = await hactl(['switchover', '--candidate', l.name, '--force'])
      assert.match(same.stderr, new RegExp(`hint: ${l.name} is the leader; the candidates are ${(await replicas()).map((n) => n.name).sort().join(', ')}\\n`))

      assert.equal(await cluster.leaderName(), l.name)
      assert.ok(await noPendingFailover())
      assert.equal(await etcd.get(`${cluster.prefix}history`), history)
      assert.equal(await one(l, 'select pg_is_in_recovery()'), false)
      assert.equal(await one(l, 'select pg_postmaster_start_time()::text'), started)
    }))

  test('a switchover the agents refuse says why for the candidate: its REST API does not answer', {timeout: 90_000}, () =>
    withLogs(async () => {
      const l = await leader()
      const [gone] = await replicas()
      // the agent dies; its PostgreSQL and its member key (until the ttl) stay
      await cluster.stopNode(gone!.name, {signal: 'SIGKILL'})
      try {
        const r = await hactl(['switchover', '--leader', l.name, '--candidate', gone!.name, '--force'])
        assert.equal(r.code, 1, `an agent's refusal exits 1 (patronictl: 0): ${r.stderr}`)
        assert.match(r.stdout, /\nSwitchover failed, details: 412, switchover is not possible: no good candidates have been found\n/)
        assert.match(
          r.stdout,
          new RegExp(`\\nWhy, as etcd and the candidates' REST APIs show it:\\n {2}${gone!.name}: its REST API does not answer \\(http://127\\.0\\.0\\.1:${gone!.apiPort}/patroni: .*ECONNREFUSED.*\\)\\n$`),
        )
        assert.equal(await cluster.leaderName(), l.name)
        assert.ok(await noPendingFailover())
      } finally {
        await cluster.startNode(gone!.name)
      }
      await cluster.waitForNodeState(gone!.name, 'running')
      await cluster.waitForReplicasStreaming(2)
    }))

  test('a switchover to a lagging replica: the leader refuses, hactl gives the lag against maximum_lag_on_failover', {timeout: 90_000}, () =>
    withLogs(async () => {
      const l = await leader()
      const [late] = await replicas()
      await sql(l, 'create table if not exists ctl_bulk (v int)')
      // the replica stops receiving WAL (its walreceiver frozen) while the leader writes ~6 MB
      const receiver = Number(await one(late!, 'select pid from pg_stat_wal_receiver'))
      assert.ok(receiver > 0)
      process.kill(receiver, 'SIGSTOP')
      try {
        await sql(l, 'insert into ctl_bulk select generate_series(1, 100000)')
        const lagMb = await eventually(`etcd to show ${late!.name} more than 2 MB behind`, async () => {
          const rows = JSON.parse((await hactl(['list', '-f', 'json'])).stdout) as Array<Record<string, unknown>>
          const lag = rows.find((r) => r['Member'] === late!.name)!['Lag in MB'] as number
          assert.ok(lag > 2, `lag ${lag} MB`)
          return lag
        })
        const r = await hactl(['switchover', '--leader', l.name, '--candidate', late!.name, '--force'])
        assert.equal(r.code, 1, `an agent's refusal exits 1 (patronictl: 0): ${r.stderr}`)
        assert.match(r.stdout, /\nSwitchover failed, details: 503, Switchover failed\nWhy, as etcd and the candidates' REST APIs show it:\n/)
        const m = r.stdout.match(
          new RegExp(`\\n {2}${late!.name}: (\\d+\\.\\d) MB behind the leader \\((\\d+) bytes: leader at [0-9A-F]+/[0-9A-F]+, ${late!.name} at [0-9A-F]+/[0-9A-F]+\\), more than maximum_lag_on_failover 1048576 bytes \\(1\\.0 MB\\)\\n$`),
        )
        assert.ok(m, r.stdout)
        assert.ok(Number(m[2]) > 2 * 1048576 && Math.abs(Number(m[1]) - lagMb) <= 1, `${m[1]} MB / ${m[2]} bytes vs list ${lagMb} MB`)
        assert.equal(await cluster.leaderName(), l.name)
        assert.ok(await noPendingFailover())
        assert.equal(await one(late!, 'select pg_is_in_recovery()'), true)
      } finally {
        process.kill(receiver, 'SIGCONT')
      }
      await eventually(`${late!.name} to catch up`, async () => {
        const rows = JSON.parse((await hactl(['list', '-f', 'json'])).stdout) as Array<Record<string, unknown>>
        assert.equal(rows.find((r) => r['Member'] === late!.name)!['Lag in MB'], 0)
      })
      await cluster.waitForReplicasStreaming(2)
    }))

  test('no terminal and no flag: end of input aborts with a hint; a silent open stdin ends in an error, not a hang', () =>
    withLogs(async () => {
      const l = await leader()
      const eof = await hactl(['switchover'])
      assert.equal(eof.code, 1)
      assert.match(eof.stdout, new RegExp(`\\nPrimary \\[${l.name}\\]: $`))
      assert.equal(eof.stderr, `Aborted!\n  hint: stdin is not a terminal and ended before an answer to "Primary [${l.name}]:"; pass --leader NAME, or give the answers on stdin, one line each\n`)

      const open = await hactl(['switchover', '--leader', l.name], {openStdin: true, env: {HACTL_PROMPT_TIMEOUT: '1'}, timeoutMs: 20_000})
      assert.equal(open.code, 1)
      assert.match(open.stderr, /^Error: no answer to "Candidate \['c\d', 'c\d'\] \[\]:" on stdin within 1 s\n {2}hint: .*pass --candidate NAME/)
      assert.ok(open.ms < 15_000, `took ${open.ms} ms`)
      assert.equal(await cluster.leaderName(), l.name)

      // edit-config with nothing to apply would start vi on a pipe (patronictl does): refused instead
      const config = await etcd.get(`${cluster.prefix}config`)
      const edit = await hactl(['edit-config'], {openStdin: true, timeoutMs: 20_000})
      assert.equal(edit.code, 1)
      assert.match(edit.stderr, /^Error: stdin is not a terminal, so no editor can be opened; nothing was changed\n {2}hint: give the change with -s\/--set/)
      assert.equal(await etcd.get(`${cluster.prefix}config`), config)
    }))

  test('switchover with no flags in a real terminal: each question answered as it appears', {timeout: 90_000}, () =>
    withLogs(async () => {
      const l = await leader()
      const candidate = (await replicas())[0]!.name
      const t = terminal('yes', ['switchover'])
      const primary = await t.waitFor(/^Primary \[(c\d)\]: ?$/m)
      assert.equal(primary[1], l.name)
      t.type('')
      const offered = await t.waitFor(/^Candidate \[('c\d', 'c\d')\] \[\]: ?$/m)
      assert.equal(offered[1], (await replicas()).map((n) => `'${n.name}'`).sort().join(', '))
      t.type(candidate)
      await t.waitFor(/^When should the switchover take place \(e\.g\. \d{4}-\d\d-\d\dT\d\d:\d\d \) {2}\[now\]: ?$/m)
      t.type('')
      await t.waitFor(new RegExp(`^Are you sure you want to switchover cluster ${SCOPE}, demoting current leader ${l.name}\\? \\[y/N\\]: ?$`, 'm'))
      t.type('y')
      await t.waitFor(new RegExp(`Successfully switched over to "${candidate}"`), 60_000)
      await t.waitFor(/^hactl exited 0$/m)
      assert.equal(await cluster.waitForLeader(), candidate)
      assert.equal(await one(cluster.node(candidate), 'select pg_is_in_recovery()'), false)
      await cluster.waitForReplicasStreaming(2)
    }))

  test('answering N in the terminal aborts the switchover and changes nothing', () =>
    withLogs(async () => {
      const l = await leader()
      const t = terminal('no', ['switchover'])
      await t.waitFor(/^Primary \[c\d\]: ?$/m)
      t.type(l.name)
      await t.waitFor(/^Candidate \['c\d', 'c\d'\] \[\]: ?$/m)
      t.type('')
      await t.waitFor(/^When should the switchover take place .*\[now\]: ?$/m)
      t.type('')
      await t.waitFor(/^Are you sure you want to switchover cluster .*\? \[y\/N\]: ?$/m)
      t.type('N')
      await t.waitFor(/^Error: Aborting switchover$/m)
      await t.waitFor(/^hactl exited 1$/m)
      assert.equal(await cluster.leaderName(), l.name)
      assert.ok(await noPendingFailover())
      assert.equal(await one(l, 'select pg_is_in_recovery()'), false)
    }))
})
