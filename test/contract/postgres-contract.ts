/**
 * The one PostgresControl contract suite. test/unit/postgres/fake-postgres-contract.test.ts runs
 * it on the in-memory FakePostgres with a fake clock; test/integration/postgres/
 * postgres-contract.test.ts runs it on PostgresAdapter over a real PostgreSQL 15. Every check
 * here must hold for both, which is what keeps the fake honest: when they disagree, the fake is
 * fixed to behave like PostgreSQL.
 *
 * One two-node story, step by step, as the HA agent lives it: bootstrap a primary, clone a
 * replica from it, stream, promote the replica, find the old primary diverged, wipe it.
 * Whatever one implementation needs and the other does not model (pg_hba, the replication
 * role, a table to insert into, letting fake time pass) lives in the env, never in a check.
 */
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {recoveryParameters} from '../../src/adapters/postgres'
import {isHactlError} from '../../src/errors'
import type {ConfigFiles, ConnParams, InitdbOptions, PostgresControl, RecoveryConfig, StartOptions} from '../../src/ports/postgres'

export interface PgContractNode {
  pg: PostgresControl
  /** Member name: the application_name it replicates as, and its slot name on the other node. */
  name: string
  /** How the other node reaches this one as the superuser (host, port, credentials). */
  superuser: ConnParams
  /** How the other node reaches this one as the replication user (host, port, credentials). */
  replication: ConnParams
  initdb: InitdbOptions
  /** Config files for this node; `recovery` null: a primary. */
  files(recovery: RecoveryConfig | null): ConfigFiles
  startOptions(): StartOptions
}

export interface PgContractEnv {
  /** The node bootstrapped with initdb, later the old primary. Its data dir exists and is empty. */
  primary: PgContractNode
  /** The node cloned from the primary, later promoted. Its data dir exists and is empty. */
  replica: PgContractNode
  /** After the primary first started: whatever else a clone source needs (roles, ...). */
  preparePrimary(): Promise<void>
  /** A client transaction on `node` (a running primary): its WAL grows past what it had. */
  write(node: PgContractNode): Promise<void>
  /**
   * Lets time pass (fake: advances the clock and lets replication run; real: polls) until `cond`
   * holds, failing after `maxMs` of the env's time.
   */
  waitUntil(what: string, cond: () => Promise<boolean>, maxMs: number): Promise<void>
  /** Stops whatever runs, removes whatever was created. */
  cleanup(): Promise<void>
}

/** Deadline for a replica to connect and stream, in the env's time. */
const STREAM_MS = 30_000

export function postgresContract(label: string, makeEnv: () => Promise<PgContractEnv>): void {
  describe(`PostgresControl contract: ${label}`, () => {
    let env: PgContractEnv
    let primary: PgContractNode
    let replica: PgContractNode
    let failed: string | undefined
    let sysid: string

    before(async () => {
      env = await makeEnv()
      primary = env.primary
      replica = env.replica
    })
    after(async () => {
      await env?.cleanup()
    })

    /** The steps build on each other: after a failure the rest are skipped, not failed again. */
    const step = (name: string, fn: () => Promise<void>) =>
      it(name, async (t) => {
        if (failed) return t.skip(`an earlier step failed: ${failed}`)
        try {
          await fn()
        } catch (e) {
          failed = name
          throw e
        }
      })

    const recoveryFollowing = async (me: PgContractNode, upstream: PgContractNode): Promise<RecoveryConfig> => {
      // What HaLoop.recoveryFor builds: the replication credentials, the upstream's address,
      // this member's name as application_name and its slot.
      const {user, password, host, port} = upstream.replication
      const r = recoveryParameters({
        serverVersion: await me.pg.binaryVersion(),
        name: me.name,
        upstream: {host: host!, port: port!},
        replication: {username: user, password},
        slotName: me.name,
      })
      return {signal: 'standby', parameters: r.parameters, primaryConninfo: r.primaryConninfo}
    }

    const unavailable = (e: unknown) => {
      assert.ok(isHactlError(e, 'PG_UNAVAILABLE'), String(e))
      return true
    }

    step('a fresh data directory is empty; initdb initializes a shut-down cluster on timeline 1', async () => {
      const pg = primary.pg
      assert.equal(await pg.dataDirState(), 'empty')
      assert.equal(await pg.controldata(), undefined)
      assert.equal(await pg.dataDirVersion(), undefined)
      assert.deepEqual(await pg.state(), {kind: 'stopped'})
      await pg.initdb(primary.initdb)
      assert.equal(await pg.dataDirState(), 'initialized')
      const major = Math.floor((await pg.binaryVersion()) / 10000) * 10000
      assert.equal(await pg.dataDirVersion(), major)
      const cd = await pg.controldata()
      assert.ok(cd)
      assert.match(cd.systemIdentifier, /^\d{10,}$/)
      assert.equal(cd.clusterState, 'shut down')
      assert.equal(cd.timeline, 1)
      sysid = cd.systemIdentifier
      assert.equal((await pg.controldata())?.systemIdentifier, sysid, 'stable across reads')
      assert.equal(await pg.recoverySignalPresent(), false)
    })

    step('initdb refuses an initialized data directory (PG_PRECONDITION) and leaves it alone', async () => {
      await assert.rejects(primary.pg.initdb(primary.initdb), (e: unknown) => {
        assert.ok(isHactlError(e, 'PG_PRECONDITION'), String(e))
        return true
      })
      assert.equal(await primary.pg.dataDirState(), 'initialized')
      assert.equal((await primary.pg.controldata())?.systemIdentifier, sysid)
    })

    step('a stopped server: no SQL (PG_UNAVAILABLE), no response, nothing to stop', async () => {
      const pg = primary.pg
      assert.equal(await pg.readiness(), 'no-response')
      await assert.rejects(pg.status(), unavailable)
      assert.deepEqual(await pg.stop({mode: 'fast'}), {signalled: false})
    })

    step('start: started as a primary, running with that pid, accepting, not in recovery', async () => {
      const pg = primary.pg
      await pg.writeConfigFiles(primary.files(null))
      assert.equal(await pg.recoverySignalPresent(), false)
      const r = await pg.start(primary.startOptions())
      assert.equal(r.outcome, 'started')
      const st = await pg.state()
      assert.equal(st.kind, 'running')
      assert.equal(st.kind === 'running' && st.pid, r.pid)
      assert.equal(await pg.readiness(), 'accepting')
      const s = await pg.status()
      assert.equal(s.inRecovery, false)
      assert.equal(s.timeline, 1)
      assert.ok(s.walPosition > 0, `walPosition ${s.walPosition}`)
      assert.equal(s.walReceiver, null)
      assert.equal(Math.floor(s.serverVersion / 10000), Math.floor((await pg.binaryVersion()) / 10000))
      assert.deepEqual(await pg.start(primary.startOptions()), {outcome: 'already-running', pid: r.pid})
      assert.equal((await pg.controldata())?.clusterState, 'in production')
      await env.preparePrimary()
    })

    step('physical slots: create is idempotent (true, then false), listed, drop is idempotent', async () => {
      const pg = primary.pg
      assert.equal(await pg.createPhysicalSlot('contract_slot'), true)
      assert.equal(await pg.createPhysicalSlot('contract_slot'), false)
      const slots = await pg.replicationSlots()
      assert.deepEqual(
        slots.map((s) => [s.slotName, s.slotType, s.active]),
        [['contract_slot', 'physical', false]],
      )
      assert.ok((slots[0].restartLsn ?? 0) > 0, 'reserved at creation')
      assert.equal(slots[0].xmin, null, 'no feedback, no xmin')
      assert.equal(await pg.dropSlot('contract_slot'), true)
      assert.equal(await pg.dropSlot('contract_slot'), false)
      assert.deepEqual(await pg.replicationSlots(), [])
    })

    step('a physical slot is advanced to a later position, never past the WAL the server has', async () => {
      const pg = primary.pg
      await pg.createPhysicalSlot('contract_advance')
      const before = (await pg.replicationSlots())[0]!.restartLsn!
      await env.write(primary)
      const end = (await pg.status()).walPosition
      assert.ok(end > before)
      const at = await pg.advanceSlot('contract_advance', end)
      assert.ok(at !== null && at > before && at <= end, `advanced to ${at}, from ${before}, end ${end}`)
      assert.equal((await pg.replicationSlots())[0]!.restartLsn, at)
      assert.ok(((await pg.advanceSlot('contract_advance', end + 1024 ** 3)) ?? Infinity) <= (await pg.status()).walPosition, 'not past the end of WAL')
      await assert.rejects(pg.advanceSlot('contract_missing', end), unavailable)
      await pg.dropSlot('contract_advance')
    })

    step('stop fast: a clean shutdown ("shut down"), stopped, same system; a second stop signals nothing', async () => {
      const pg = primary.pg
      const r = await pg.stop({mode: 'fast', timeoutMs: 30_000})
      assert.equal(r.signalled, true)
      assert.equal(r.escalated, undefined)
      assert.equal(r.clusterState, 'shut down')
      assert.deepEqual(await pg.state(), {kind: 'stopped'})
      const cd = await pg.controldata()
      assert.equal(cd?.clusterState, 'shut down')
      assert.equal(cd?.systemIdentifier, sysid)
      assert.equal(await pg.readiness(), 'no-response')
      await assert.rejects(pg.status(), unavailable)
      assert.deepEqual(await pg.stop({mode: 'fast'}), {signalled: false})
      // Back up for the clone.
      assert.equal((await pg.start(primary.startOptions())).outcome, 'started')
      assert.equal((await pg.status()).inRecovery, false)
    })

    step('basebackup clones the running primary: same system identifier, no recovery signal yet', async () => {
      assert.equal(await primary.pg.createPhysicalSlot(replica.name), true)
      assert.equal(await replica.pg.dataDirState(), 'empty')
      await replica.pg.basebackup({source: primary.replication, options: [{checkpoint: 'fast'}], timeoutMs: 60_000})
      assert.equal(await replica.pg.dataDirState(), 'initialized')
      assert.equal((await replica.pg.controldata())?.systemIdentifier, sysid)
      assert.equal(await replica.pg.recoverySignalPresent(), false)
      assert.deepEqual(await replica.pg.state(), {kind: 'stopped'})
    })

    step('configured as a standby, the replica starts in recovery and streams from the primary through its slot', async () => {
      const pg = replica.pg
      await pg.writeConfigFiles(replica.files(await recoveryFollowing(replica, primary)))
      assert.equal(await pg.recoverySignalPresent(), true)
      assert.equal(await primary.pg.recoverySignalPresent(), false)
      const r = await pg.start(replica.startOptions())
      assert.equal(r.outcome, 'started')
      assert.equal((await pg.status()).inRecovery, true)
      await env.waitUntil('the replica streaming', async () => (await pg.status()).walReceiver?.status === 'streaming', STREAM_MS)
      await env.waitUntil(
        "the replica in the primary's pg_stat_replication",
        async () => (await primary.pg.replicationStats()).some((row) => row.applicationName === replica.name && row.state === 'streaming'),
        STREAM_MS,
      )
      const s = await pg.status()
      assert.equal(s.inRecovery, true)
      assert.equal(s.timeline, 1)
      assert.equal(s.walReceiver?.slotName, replica.name)
      const rows = await primary.pg.replicationStats()
      assert.deepEqual(rows.map((row) => [row.applicationName, row.state]), [[replica.name, 'streaming']])
      await env.waitUntil(
        "the replica's slot active",
        async () => (await primary.pg.replicationSlots()).some((slot) => slot.slotName === replica.name && slot.active),
        STREAM_MS,
      )
      assert.equal(await primary.pg.remoteInRecovery(replica.superuser), true)
      assert.equal(await replica.pg.remoteInRecovery(primary.superuser), false)
    })

    step('a running server is never wiped or rewound (PG_PRECONDITION); a primary cannot be promoted (PG_COMMAND_FAILED)', async () => {
      const precondition = (e: unknown) => {
        assert.ok(isHactlError(e, 'PG_PRECONDITION'), String(e))
        return true
      }
      await assert.rejects(replica.pg.basebackup({source: primary.replication, timeoutMs: 60_000}), precondition)
      await assert.rejects(replica.pg.rewind({source: primary.superuser, timeoutMs: 60_000}), precondition)
      assert.equal(await replica.pg.dataDirState(), 'initialized')
      assert.equal((await replica.pg.status()).inRecovery, true)
      await assert.rejects(primary.pg.promote({timeoutMs: 10_000}), (e: unknown) => {
        assert.ok(isHactlError(e, 'PG_COMMAND_FAILED'), String(e))
        return true
      })
      assert.equal((await primary.pg.status()).inRecovery, false)
      assert.equal((await primary.pg.status()).timeline, 1)
    })

    step("the replica follows the primary's writes and is on its history (checkRewind: not-needed)", async () => {
      await env.write(primary)
      const target = (await primary.pg.status()).walPosition
      await env.waitUntil('the replica to receive the write', async () => (await replica.pg.status()).walPosition >= target, STREAM_MS)
      // The received timeline is known once WAL arrived (an idle primary may send none for a while).
      const s = await replica.pg.status()
      assert.equal(s.walReceiver?.status, 'streaming')
      assert.equal(s.walReceiver?.receivedTimeline, 1)
      assert.equal(s.timeline, 1)
      const check = await replica.pg.checkRewind(primary.superuser, primary.replication)
      assert.equal(check.result, 'not-needed', JSON.stringify(check))
      assert.equal(check.result === 'not-needed' && check.local.inRecovery, true)
      assert.equal(check.result === 'not-needed' && check.sourceTimeline, 1)
    })

    step('promote: the replica leaves recovery on timeline 2, its signal file gone, 00000002.history written', async () => {
      const pg = replica.pg
      const before = await pg.status()
      assert.equal(before.inRecovery, true)
      await pg.promote({timeoutMs: 30_000})
      const s = await pg.status()
      assert.equal(s.inRecovery, false)
      assert.equal(s.timeline, before.timeline + 1)
      assert.equal(s.walReceiver, null)
      assert.equal(await pg.recoverySignalPresent(), false)
      assert.equal((await pg.controldata())?.systemIdentifier, sysid)
      assert.equal(await primary.pg.remoteInRecovery(replica.superuser), false)

      const local = await pg.localTimelineHistory(2)
      assert.ok(local, 'pg_wal/00000002.history present')
      const lines = local.text.split('\n').filter((l) => l !== '')
      assert.equal(lines.length, 1, JSON.stringify(local.text))
      assert.match(lines[0], /^1\t[0-9A-F]+\/[0-9A-F]+\t/)
      assert.equal(await pg.localTimelineHistory(3), undefined)
      assert.equal(await primary.pg.localTimelineHistory(2), undefined)
      // The same file over the replication protocol (what a rewind check reads).
      assert.equal(await primary.pg.timelineHistory(replica.replication, 2), local.text)
      const id = await primary.pg.identifySystem(replica.replication)
      assert.equal(id.systemId, sysid)
      assert.equal(id.timeline, 2)
    })

    step('the old primary writes on, stops cleanly, and has diverged: checkRewind says need-rewind', async () => {
      await env.write(primary)
      const r = await primary.pg.stop({mode: 'fast', timeoutMs: 30_000})
      assert.equal(r.signalled, true)
      assert.equal(r.clusterState, 'shut down')
      assert.equal((await primary.pg.controldata())?.clusterState, 'shut down')
      const check = await primary.pg.checkRewind(replica.superuser, replica.replication)
      assert.equal(check.result, 'need-rewind', JSON.stringify(check))
      assert.equal(check.result === 'need-rewind' && check.sourceTimeline, 2)
      assert.equal(check.result === 'need-rewind' && check.local.inRecovery, false)
      assert.equal(check.result === 'need-rewind' && check.local.timeline, 1)
    })

    step('removeDataDir empties a stopped node; moveDataDirAside leaves no data directory', async () => {
      const pg = primary.pg
      await pg.removeDataDir()
      assert.equal(await pg.dataDirState(), 'empty')
      assert.equal(await pg.controldata(), undefined)
      assert.equal(await pg.dataDirVersion(), undefined)
      assert.equal(await pg.recoverySignalPresent(), false)
      assert.deepEqual(await pg.state(), {kind: 'stopped'})
      assert.equal(await pg.moveDataDirAside('contract'), `${pg.dataDir}_contract`)
      assert.equal(await pg.dataDirState(), 'missing')
    })
  })
}
