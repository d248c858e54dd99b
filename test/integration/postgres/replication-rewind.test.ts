/**
 * Two real PostgreSQL 15 nodes: clone, stream through a slot, promote, diverge, pg_rewind,
 * follow the new timeline.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {recoveryParameters} from '../../../src/adapters/postgres'
import {isHactlError} from '../../../src/errors'
import type {RecoveryConfig} from '../../../src/ports/postgres'
import {waitFor} from '../../harness/ports'
import {runAs} from '../../harness/unprivileged'
import {PgNode, REPLICATION, replOn, SUPERUSER, superOn} from './pg-node'

function follow(me: PgNode, upstream: PgNode): RecoveryConfig {
  const r = recoveryParameters({
    serverVersion: 150000,
    name: me.name,
    upstream: {host: '127.0.0.1', port: upstream.port},
    replication: REPLICATION,
    slotName: me.name,
  })
  return {signal: 'standby', parameters: r.parameters, primaryConninfo: r.primaryConninfo}
}


describe('PostgresAdapter: replication, promotion and pg_rewind on real PostgreSQL 15', () => {
  let a: PgNode
  let b: PgNode
  before(async () => {
    ;[a, b] = await Promise.all([PgNode.create('node_a'), PgNode.create('node_b')])
  })
  after(async () => {
    await Promise.all([a?.destroy(), b?.destroy()])
  })

  it('node_a: initdb, start as primary, roles and a slot for node_b', async () => {
    await a.pg.initdb({options: [{encoding: 'UTF8'}, {locale: 'C.UTF-8'}], superuser: SUPERUSER})
    await a.pg.writeConfigFiles(a.files())
    assert.equal((await a.pg.start({cmdline: a.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    await a.pg.createRoles({superuser: SUPERUSER, replication: REPLICATION})
    assert.equal(await a.pg.createPhysicalSlot('node_b'), true)
    await a.pg.query('CREATE TABLE t (id int primary key, who text)')
    await a.pg.query("INSERT INTO t VALUES (1, 'a before clone')")
  })

  it('node_b: basebackup refuses a forbidden option and never shows the password', async () => {
    await assert.rejects(b.pg.basebackup({source: replOn(a), options: {'wal-method': 'fetch'}}), (e: unknown) => {
      assert.ok(isHactlError(e, 'CONFIG_INVALID'), String(e))
      assert.match((e as Error).message, /postgresql\.basebackup\.wal-method/)
      return true
    })
    await assert.rejects(b.pg.basebackup({source: {...replOn(a), password: 'wrong'}, timeoutMs: 30_000}), (e: unknown) => {
      assert.ok(isHactlError(e, 'PG_COMMAND_FAILED'), String(e))
      assert.match((e as Error).message, /pg_basebackup exited with code 1: .*password authentication failed/s)
      assert.doesNotMatch((e as Error).message, /wrong/)
      return true
    })
  })

  it('node_b: clone with pg_basebackup, follow node_a through its slot', async () => {
    await b.pg.basebackup({source: replOn(a), options: [{checkpoint: 'fast'}, {'max-rate': '100M'}, 'no-verify-checksums'], timeoutMs: 60_000})
    assert.equal(await b.pg.dataDirState(), 'initialized')
    const who = runAs()
    if (who) assert.equal(statSync(join(b.pg.dataDir, 'PG_VERSION')).uid, who.uid)
    await b.pg.writeConfigFiles(b.files(follow(b, a)))
    assert.ok(existsSync(join(b.pg.dataDir, 'standby.signal')))
    const conf = readFileSync(join(b.pg.dataDir, 'postgresql.conf'), 'utf8')
    assert.match(conf, /^primary_slot_name = 'node_b'$/m)
    assert.match(conf, new RegExp(`^primary_conninfo = 'user=replicator passfile=${join(b.base, 'pgpass')} host=127\\.0\\.0\\.1 port=${a.port} sslmode=prefer application_name=node_b gssencmode=prefer channel_binding=prefer'$`, 'm'))
    assert.doesNotMatch(conf, /rep pass/, 'the password stays in pgpass')
    const pgpass = statSync(join(b.base, 'pgpass'))
    assert.equal(pgpass.mode & 0o777, 0o600)
    if (who) assert.equal(pgpass.uid, who.uid)

    const r = await b.pg.start({cmdline: b.cmdline(), timeoutMs: 30_000})
    assert.equal(r.outcome, 'started')
    const rows = await waitFor('node_b streaming', async () => {
      const s = await a.pg.replicationStats()
      return s.length === 1 && s[0].state === 'streaming' ? s : undefined
    })
    assert.equal(rows[0].applicationName, 'node_b')
    const slots = await a.pg.replicationSlots()
    assert.deepEqual(slots.map((s) => [s.slotName, s.active]), [['node_b', true]])

    // The status query reads slots and walsenders along (one query per idle cycle, as Patroni's
    // cluster-info query): the next replicationSlots() and replicationStats() take them once,
    // without a query of their own; a second read, or one after a slot change, queries.
    const sql = (a.pg as unknown as {sql: {sent: number}}).sql
    await a.pg.status()
    const sent = sql.sent
    const alongSlots = await a.pg.replicationSlots()
    const alongStats = await a.pg.replicationStats()
    assert.equal(sql.sent, sent, 'both taken from the status query')
    assert.deepEqual(alongSlots.map((s) => [s.slotName, s.slotType, s.active]), [['node_b', 'physical', true]])
    assert.deepEqual(alongStats.map((r) => [r.applicationName, r.state, r.pid]), rows.map((r) => [r.applicationName, r.state, r.pid]))
    await a.pg.replicationSlots()
    assert.equal(sql.sent, sent + 1, 'a second read queries')
    await a.pg.status()
    assert.equal(await a.pg.createPhysicalSlot('along_probe'), true)
    assert.deepEqual((await a.pg.replicationSlots()).map((s) => s.slotName), ['along_probe', 'node_b'], 'a slot created since is seen')
    assert.equal(await a.pg.dropSlot('along_probe'), true)

    const s = await b.pg.status()
    assert.equal(s.inRecovery, true)
    assert.equal(s.timeline, 1)
    assert.equal(s.walReceiver?.slotName, 'node_b')
    assert.equal(s.walReceiver?.status, 'streaming')
    await a.pg.query("INSERT INTO t VALUES (2, 'a streamed')")
    await waitFor('row 2 replayed on node_b', async () => (await b.pg.query('SELECT count(*)::int AS n FROM t'))[0].n === 2)
    const check = await b.pg.checkRewind(superOn(a), replOn(a))
    assert.equal(check.result, 'not-needed', JSON.stringify(check))
  })

  it('node_b is promoted while node_a keeps writing: the timelines diverge', async () => {
    // Promoted through pg_promote() on the adapter's own session: no pg_ctl process.
    const ran: string[] = []
    const run = b.runner.run.bind(b.runner)
    b.runner.run = (cmd, args, opts) => (ran.push(`${cmd} ${args.join(' ')}`), run(cmd, args, opts))
    try {
      await b.pg.promote({timeoutMs: 30_000})
    } finally {
      b.runner.run = run
    }
    assert.deepEqual(ran.filter((c) => /pg_ctl/.test(c)), [])
    const s = await b.pg.status()
    assert.equal(s.inRecovery, false)
    assert.equal(s.timeline, 2)
    await b.pg.query("INSERT INTO t VALUES (3, 'b after promote')")
    // The old primary does not know yet: it writes past the fork point.
    await a.pg.query("INSERT INTO t VALUES (4, 'a diverged')")
    await a.pg.query('SELECT pg_catalog.pg_switch_wal()')
    assert.equal((await a.pg.stop({mode: 'fast', timeoutMs: 20_000})).clusterState, 'shut down')
  })

  it('the divergence check says rewind, and pg_rewind runs once node_b has checkpointed', async () => {
    const history = await b.pg.timelineHistory(replOn(b), 2)
    assert.match(history, /^1\t[0-9A-F]+\/[0-9A-F]+\tno recovery target specified/m)

    const check = await a.pg.checkRewind(superOn(b), replOn(b))
    assert.equal(check.result, 'need-rewind', JSON.stringify(check))
    assert.equal(check.result === 'need-rewind' && check.sourceTimeline, 2)
    assert.equal(check.result === 'need-rewind' && check.local.inRecovery, false)

    // pg_rewind needs wal_log_hints (a command-line parameter) or checksums: node_a ran with wal_log_hints=on.
    assert.equal((await a.pg.controldata())!.walLogHints, true)
    await b.pg.checkpoint(superOn(b))
    const out = await a.pg.rewind({source: superOn(b), timeoutMs: 60_000})
    assert.match(out.stdout + out.stderr, /Done!/)
  })

  it('the rewound node_a follows node_b on timeline 2, without its diverged row', async () => {
    await b.pg.createPhysicalSlot('node_a')
    await a.pg.writeConfigFiles(a.files(follow(a, b)))
    assert.equal((await a.pg.start({cmdline: a.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    await waitFor('node_a streaming from node_b', async () => {
      const s = await b.pg.replicationStats()
      return s.some((r) => r.applicationName === 'node_a' && r.state === 'streaming')
    })
    const s = await a.pg.status()
    assert.equal(s.inRecovery, true)
    assert.equal(s.timeline, 2)
    await b.pg.query("INSERT INTO t VALUES (5, 'b streamed to a')")
    const rows = await waitFor('row 5 on node_a', async () => {
      const r = await a.pg.query<{id: number; who: string}>('SELECT id, who FROM t ORDER BY id')
      return r.some((x) => x.id === 5) ? r : undefined
    })
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 5])
    const check = await a.pg.checkRewind(superOn(b), replOn(b))
    assert.equal(check.result, 'not-needed', JSON.stringify(check))
  })

  it('pg_rewind refuses to run against a running target', async () => {
    await assert.rejects(a.pg.rewind({source: superOn(b)}), (e: unknown) => isHactlError(e, 'PG_PRECONDITION'))
  })
})
