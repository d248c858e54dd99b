/**
 * A promote request that PostgreSQL 15 takes and then waits out (docs/ha-rules.md#promotion).
 *
 * When a standby's stream has just failed (the old primary of a switchover shut down), its startup
 * process asks the postmaster for a new walreceiver and waits for WAL. A promote request that
 * arrives before the postmaster has started that walreceiver is taken, the walreceiver that never
 * ran is marked stopped (nobody is left to wake the startup process), and the startup process then
 * sleeps for the rest of wal_retrieve_retry_interval before it acts on the request it already
 * holds. On a busy host hactl's quick switchover met this (a 5 s promotion). PostgresAdapter.promote
 * signals again while the server stays in recovery: the next signal wakes that sleep.
 *
 * Made deterministic here by stopping node_b's postmaster (SIGSTOP): the walreceiver it was asked
 * for cannot start, and the test forwards the adapter's promote request to the startup process
 * itself (SIGUSR2, as the postmaster does), then lets the postmaster go on. With
 * wal_retrieve_retry_interval at 10 minutes, a single request would leave node_b in recovery for
 * 10 minutes and the promote time out after 30 s.
 */
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {recoveryParameters} from '../../../src/adapters/postgres'
import {waitFor} from '../../harness/ports'
import {PgNode, REPLICATION, replOn, SUPERUSER} from './pg-node'

describe('PostgresAdapter.promote: a promote request PostgreSQL took and then waited out (real PostgreSQL 15)', () => {
  let a: PgNode
  let b: PgNode
  let stoppedPostmaster: number | undefined
  before(async () => {
    ;[a, b] = await Promise.all([PgNode.create('node_a'), PgNode.create('node_b')])
  })
  after(async () => {
    if (stoppedPostmaster) process.kill(stoppedPostmaster, 'SIGCONT')
    await Promise.all([a?.destroy(), b?.destroy()])
  })

  it('node_b streams from node_a, with wal_retrieve_retry_interval at 10 minutes', async () => {
    await a.pg.initdb({options: [{encoding: 'UTF8'}, {locale: 'C.UTF-8'}], superuser: SUPERUSER})
    await a.pg.writeConfigFiles(a.files())
    assert.equal((await a.pg.start({cmdline: a.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    await a.pg.createRoles({superuser: SUPERUSER, replication: REPLICATION})
    await b.pg.basebackup({source: replOn(a), options: [{checkpoint: 'fast'}], timeoutMs: 60_000})
    const r = recoveryParameters({serverVersion: 150000, name: b.name, upstream: {host: '127.0.0.1', port: a.port}, replication: REPLICATION})
    await b.pg.writeConfigFiles(b.files({signal: 'standby', parameters: r.parameters, primaryConninfo: r.primaryConninfo}, {wal_retrieve_retry_interval: '10min'}))
    assert.equal((await b.pg.start({cmdline: b.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    await waitFor('node_b streaming', async () => (await a.pg.replicationStats()).some((s) => s.applicationName === 'node_b' && s.state === 'streaming'))
    const [row] = await b.pg.query<{v: string}>("SELECT setting AS v FROM pg_catalog.pg_settings WHERE name = 'wal_retrieve_retry_interval'")
    assert.equal(row?.v, '600000')
  })

  it('the stream fails, the new walreceiver cannot start, the request is taken and waited out: promote() still promotes', async () => {
    const startupPid = async () => {
      const [row] = await b.pg.query<{pid: number; w: string | null}>("SELECT pid, wait_event AS w FROM pg_catalog.pg_stat_activity WHERE backend_type = 'startup'")
      assert.ok(row, 'node_b has a startup process')
      return row
    }
    const {pid: startup} = await startupPid()
    const [rcv] = await b.pg.query<{pid: number}>('SELECT pid FROM pg_catalog.pg_stat_wal_receiver')
    assert.ok(rcv?.pid, 'node_b has a walreceiver')

    // The postmaster stops; the stream fails (the walreceiver is told to exit); the startup process
    // asks for a new walreceiver, which cannot start, and waits for WAL.
    const postmaster = Number(readFileSync(join(b.pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(postmaster, 'SIGSTOP')
    stoppedPostmaster = postmaster
    process.kill(rcv.pid, 'SIGTERM')
    await waitFor('the walreceiver gone and the startup process waiting for streamed WAL', async () => {
      const gone = (await b.pg.query('SELECT pid FROM pg_catalog.pg_stat_wal_receiver')).length === 0
      return gone && (await startupPid()).w === 'RecoveryWalStream'
    })

    // promote() writes its request and signals the (stopped) postmaster; the test forwards it.
    const promoted = b.pg.promote({timeoutMs: 30_000})
    await waitFor('the promote request written', () => existsSync(join(b.pg.dataDir, 'promote')))
    process.kill(startup, 'SIGUSR2')
    await waitFor('the startup process sitting out wal_retrieve_retry_interval with the request taken', async () => (await startupPid()).w === 'RecoveryRetrieveRetryInterval')

    process.kill(postmaster, 'SIGCONT')
    stoppedPostmaster = undefined
    await promoted
    const s = await b.pg.status()
    assert.equal(s.inRecovery, false)
    assert.equal(s.timeline, 2)
    // A request written again after the startup process had taken one is not left behind.
    assert.equal(existsSync(join(b.pg.dataDir, 'promote')), false)
  })
})
