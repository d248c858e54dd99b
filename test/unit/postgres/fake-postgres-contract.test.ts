/**
 * The PostgresControl contract (test/contract/postgres-contract.ts) on the in-memory FakePostgres:
 * two nodes of one PgWorld on a FakeClock. The fake waits on the clock for start, stop, promote,
 * initdb and clone, so every call goes through drive(), which advances fake time until the call
 * settles; waitUntil also lets replication run (world.replicate(), the simulator's network tick).
 */
import type {ConnParams, PostgresControl} from '../../../src/ports/postgres'
import {postgresContract, type PgContractNode} from '../../contract/postgres-contract'
import {drive as driveFor, FakeClock, settle} from '../../fakes/fake-clock'
import {FakePostgres, PgWorld} from '../../fakes/fake-postgres'

/** Fake ms a single call may take before the drive gives up (a call parked forever). */
const MAX_CALL_MS = 600_000
const STEP_MS = 50

/** Awaits `p`, advancing fake time while it waits on it. */
const drive = <T>(clock: FakeClock, p: Promise<T>): Promise<T> => driveFor(clock, p, MAX_CALL_MS, STEP_MS)


/** The fake as a PostgresControl whose every async call is driven on the clock. */
function driven(pg: FakePostgres, clock: FakeClock): PostgresControl {
  return new Proxy(pg, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args)
        return r instanceof Promise ? drive(clock, r) : r
      }
    },
  }) as PostgresControl
}

postgresContract('FakePostgres on a fake clock', async () => {
  const clock = new FakeClock()
  const world = new PgWorld(clock)
  const a = world.add('node_a', '10.0.0.1', 5432)
  const b = world.add('node_b', '10.0.0.2', 5432)
  const node = (f: FakePostgres): PgContractNode => {
    const at: ConnParams = {host: f.host, port: f.port}
    return {
      pg: driven(f, clock),
      name: f.name,
      superuser: {...at, user: 'postgres', password: 'su'},
      replication: {...at, user: 'replicator', password: 'rep'},
      initdb: {superuser: {username: 'postgres', password: 'su'}},
      files: (recovery) => ({serverVersion: 150000, parameters: {}, recovery}),
      startOptions: () => ({timeoutMs: 30_000}),
    }
  }
  const fakes = new Map<PgContractNode, FakePostgres>()
  const primary = node(a)
  const replica = node(b)
  fakes.set(primary, a)
  fakes.set(replica, b)
  return {
    primary,
    replica,
    async preparePrimary() {
      // Roles and pg_hba are not modelled: any conn params reach any running node.
    },
    async write(n) {
      if (!fakes.get(n)!.commit()) throw new Error(`${n.name} is not a writable primary`)
    },
    async waitUntil(what, cond, maxMs) {
      const end = clock.monotonic() + maxMs
      for (;;) {
        world.replicate()
        if (await cond()) return
        if (clock.monotonic() >= end) throw new Error(`fake time ran out (${maxMs} ms) waiting for ${what}`)
        await clock.advance(100)
      }
    },
    async cleanup() {
      for (const f of [a, b]) await drive(clock, f.stop({mode: 'immediate'}))
    },
  }
})
