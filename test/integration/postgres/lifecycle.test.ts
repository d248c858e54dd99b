/** The PostgreSQL adapter against a real PostgreSQL 15: one primary through its life. */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {isHactlError} from '../../../src/errors'
import {waitFor} from '../../harness/ports'
import {runAs} from '../../harness/unprivileged'
import {PgNode, REPLICATION, SUPERUSER} from './pg-node'

describe('PostgresAdapter: a primary on real PostgreSQL 15', () => {
  let node: PgNode
  before(async () => {
    node = await PgNode.create('life')
  })
  after(async () => {
    await node?.destroy()
  })

  it('initdb refuses a forbidden option, naming it, before touching the disk', async () => {
    await assert.rejects(node.pg.initdb({options: ['data-checksums', {pgdata: '/elsewhere'}]}), (e: unknown) => {
      assert.ok(isHactlError(e, 'CONFIG_INVALID'), String(e))
      assert.match((e as Error).message, /bootstrap\.initdb\[1\].*"pgdata"/)
      return true
    })
    assert.equal(await node.pg.dataDirState(), 'missing')
  })

  it('initdb creates an owned cluster; pg_controldata is parsed', async () => {
    const out = await node.pg.initdb({options: ['data-checksums', {encoding: 'UTF8'}, {locale: 'C.UTF-8'}], superuser: SUPERUSER})
    assert.doesNotMatch(out.stdout + out.stderr, /secret/)
    assert.equal(await node.pg.dataDirState(), 'initialized')
    assert.equal(await node.pg.dataDirVersion(), 150000)
    assert.ok((await node.pg.binaryVersion()) >= 150000)
    const cd = await node.pg.controldata()
    assert.ok(cd)
    assert.match(cd.systemIdentifier, /^\d{10,}$/)
    assert.equal(cd.clusterState, 'shut down')
    assert.equal(cd.timeline, 1)
    assert.ok(cd.checkpointLsn > 0)
    assert.equal(cd.dataChecksums, true)
    assert.equal(cd.walLogHints, false)
    assert.equal(cd.maxConnections, 100)
    const who = runAs()
    if (who) assert.equal(statSync(node.pg.dataDir).uid, who.uid)
  })

  it('writeConfigFiles renames the original conf, writes an owned postgresql.conf, pg_hba and no signal files', async () => {
    await node.pg.writeConfigFiles(node.files())
    const dir = node.pg.dataDir
    assert.ok(existsSync(join(dir, 'postgresql.base.conf')))
    const conf = readFileSync(join(dir, 'postgresql.conf'), 'utf8')
    assert.match(conf, /^include 'postgresql\.base\.conf'$/m)
    assert.match(conf, new RegExp(`^port = '${node.port}'$`, 'm'))
    assert.match(conf, new RegExp(`^hba_file = '${join(dir, 'pg_hba.conf')}'$`, 'm'))
    assert.match(readFileSync(join(dir, 'pg_hba.conf'), 'utf8'), /^host all all 127\.0\.0\.1\/32 scram-sha-256$/m)
    assert.ok(!existsSync(join(dir, 'standby.signal')))
    const who = runAs()
    if (who) assert.equal(statSync(join(dir, 'postgresql.conf')).uid, who.uid)
    // A second write keeps the base (never renames our own file over it).
    await node.pg.writeConfigFiles(node.files())
    assert.match(readFileSync(join(dir, 'postgresql.base.conf'), 'utf8'), /PostgreSQL configuration file/)
  })

  it('starts as a primary and answers the status query', async () => {
    assert.deepEqual(await node.pg.state(), {kind: 'stopped'})
    const r = await node.pg.start({cmdline: node.cmdline(), timeoutMs: 30_000})
    assert.equal(r.outcome, 'started')
    const st = await node.pg.state()
    assert.equal(st.kind, 'running')
    assert.equal(st.kind === 'running' && st.pid, r.pid)
    assert.equal(await node.pg.readiness(), 'accepting')
    const s = await node.pg.status()
    assert.equal(s.inRecovery, false)
    assert.equal(s.timeline, 1)
    assert.ok(s.walPosition > 0)
    assert.ok(s.serverVersion >= 150000)
    assert.equal(s.walReceiver, null)
    assert.ok(Math.abs(Date.parse(s.postmasterStartTime) - Date.now()) < 120_000)
    // The cmdline parameters are in force (beating postgresql.conf and ALTER SYSTEM).
    const [wlh] = await node.pg.settings(['wal_log_hints'])
    assert.equal(wlh.setting, 'on')
    assert.equal(wlh.source, 'command line')
    assert.deepEqual(await node.pg.start({cmdline: node.cmdline()}), {outcome: 'already-running', pid: r.pid})
  })

  it('createRoles is idempotent and sets passwords that work over TCP', async () => {
    const setup = {superuser: SUPERUSER, replication: REPLICATION, rewind: {username: 'rewinder', password: 'rw'}}
    await node.pg.createRoles(setup)
    await node.pg.createRoles(setup)
    const rows = await node.pg.query<{rolname: string; rolreplication: boolean; rolsuper: boolean}>(
      "SELECT rolname, rolreplication, rolsuper FROM pg_roles WHERE rolname IN ('replicator', 'rewinder', 'postgres') ORDER BY rolname",
    )
    assert.deepEqual(rows, [
      {rolname: 'postgres', rolreplication: true, rolsuper: true},
      {rolname: 'replicator', rolreplication: true, rolsuper: false},
      {rolname: 'rewinder', rolreplication: false, rolsuper: false},
    ])
    assert.equal(await node.pg.remoteInRecovery({host: '127.0.0.1', port: node.port, user: 'replicator', password: REPLICATION.password}), false)
    await assert.rejects(
      node.pg.remoteInRecovery({host: '127.0.0.1', port: node.port, user: 'replicator', password: 'wrong'}),
      (e: unknown) => isHactlError(e, 'PG_UNAVAILABLE') && /password authentication failed/.test((e as Error).message),
    )
    const id = await node.pg.identifySystem({host: '127.0.0.1', port: node.port, user: 'replicator', password: REPLICATION.password})
    assert.equal(id.systemId, (await node.pg.controldata())!.systemIdentifier)
    assert.equal(id.timeline, 1)
  })

  it('creates and drops physical slots idempotently', async () => {
    assert.equal(await node.pg.createPhysicalSlot('node_x'), true)
    assert.equal(await node.pg.createPhysicalSlot('node_x'), false)
    const slots = await node.pg.replicationSlots()
    assert.deepEqual(slots.map((s) => [s.slotName, s.slotType, s.active]), [['node_x', 'physical', false]])
    assert.ok((slots[0].restartLsn ?? 0) > 0, 'immediately reserved')
    assert.equal(await node.pg.dropSlot('node_x'), true)
    assert.equal(await node.pg.dropSlot('node_x'), false)
  })

  it('reload applies a changed parameter; a shared_buffers change is pending restart', async () => {
    await node.pg.writeConfigFiles(node.files(null, {work_mem: '7MB', shared_buffers: '24MB'}))
    assert.equal(await node.pg.reload(), true)
    await waitFor('work_mem reloaded', async () => (await node.pg.settings(['work_mem']))[0]?.setting === String(7 * 1024))
    const [sb] = await node.pg.settings(['shared_buffers'])
    assert.equal(sb.context, 'postmaster')
    await waitFor('pending_restart', async () => (await node.pg.settings(['shared_buffers']))[0]?.pendingRestart === true)
    const pending = (await node.pg.settings()).filter((s) => s.pendingRestart).map((s) => s.name)
    assert.deepEqual(pending, ['shared_buffers'])
  })

  it('restart applies the pending change; CHECKPOINT works', async () => {
    const r = await node.pg.restart({mode: 'fast', timeoutMs: 20_000}, {cmdline: node.cmdline(), timeoutMs: 30_000})
    assert.equal(r.outcome, 'started')
    const [sb] = await node.pg.settings(['shared_buffers'])
    assert.equal(sb.setting, String((24 * 1024) / 8))
    assert.equal(sb.pendingRestart, false)
    await node.pg.checkpoint()
  })

  it('stop fast shuts down cleanly; stopping a stopped server is a no-op', async () => {
    const r = await node.pg.stop({mode: 'fast', timeoutMs: 20_000})
    assert.equal(r.signalled, true)
    assert.equal(r.escalated, undefined)
    assert.equal(r.clusterState, 'shut down')
    // Read from pg_control directly; pg_controldata must agree.
    const cd = (await node.pg.controldata())!
    assert.equal(r.checkpointLsn, cd.checkpointLsn)
    assert.ok(r.checkpointLsn! > 0)
    assert.deepEqual(await node.pg.state(), {kind: 'stopped'})
    assert.deepEqual(await node.pg.stop(), {signalled: false})
    await assert.rejects(node.pg.status(), (e: unknown) => isHactlError(e, 'PG_UNAVAILABLE'))
  })

  it('a bad parameter fails the start with the server message', async () => {
    await assert.rejects(node.pg.start({cmdline: {...node.cmdline(), shared_buffers: 'garbage'}, timeoutMs: 20_000}), (e: unknown) => {
      assert.ok(isHactlError(e, 'PG_START_FAILED'), String(e))
      assert.match((e as Error).message, /invalid value for parameter "shared_buffers": "garbage"/)
      return true
    })
    assert.deepEqual(await node.pg.state(), {kind: 'stopped'})
  })

  it('immediate stop leaves a crashed cluster that crash recovery makes clean', async () => {
    await node.pg.start({cmdline: node.cmdline(), timeoutMs: 30_000})
    await node.pg.query('CREATE TABLE t AS SELECT 1 AS x')
    const r = await node.pg.stop({mode: 'immediate', timeoutMs: 20_000})
    assert.equal(r.signalled, true)
    assert.equal(r.clusterState, 'in production')
    assert.equal(r.checkpointLsn, (await node.pg.controldata())!.checkpointLsn)
    await node.pg.crashRecovery({timeoutMs: 30_000})
    assert.equal((await node.pg.controldata())!.clusterState, 'shut down')
  })

  it('a postmaster that ignores the stop signal is escalated to SIGQUIT then SIGKILL', async () => {
    const started = await node.pg.start({cmdline: node.cmdline(), timeoutMs: 30_000})
    assert.equal(started.outcome, 'started')
    // A frozen postmaster stands in for a hung one: signals stay pending, only SIGKILL acts.
    assert.ok(node.runner.signal(started.pid, 'SIGSTOP'))
    const t0 = Date.now()
    const r = await node.pg.stop({mode: 'fast', timeoutMs: 400, checkpoint: false})
    assert.equal(r.escalated, 'SIGKILL')
    assert.ok(Date.now() - t0 >= 800, 'waited twice the timeout before SIGKILL')
    assert.equal(node.runner.isAlive(started.pid), false)
    await waitFor('postmaster children gone', async () => !(await node.pg.state().then((s) => s.kind === 'running')))
    // It comes back: the next start runs crash recovery by itself.
    assert.equal((await node.pg.start({cmdline: node.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    assert.deepEqual(await node.pg.query('SELECT x FROM t'), [{x: 1}])
    await node.pg.stop({mode: 'fast', timeoutMs: 20_000})
  })
})
