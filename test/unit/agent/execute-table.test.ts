/**
 * The executor's table (src/agent/execute/index.ts): every action type of src/core/actions.ts has
 * exactly one handler, named after it and exported by the file of its concern; an unknown type
 * is a loud error. Then a few handlers alone, on the fakes (FakeKv under the real Etcd3Dcs,
 * FakePostgres, FakePeers, FakeClock): each carries out its one effect and reports it.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {createAgentContext, type AgentContext} from '../../../src/agent/context'
import {FakeProcessRunner} from '../../fakes/fake-process-runner'
import {FakeWatchdogs} from '../../fakes/fake-watchdog'
import {FakeFiles} from '../../fakes/fake-files'
import {cluster} from '../core/decide-fixtures'
import {DcsFailed, execute, HANDLERS, type HandlerTable} from '../../../src/agent/execute'
import * as lock from '../../../src/agent/execute/lock'
import * as misc from '../../../src/agent/execute/misc'
import * as peers from '../../../src/agent/execute/peers'
import * as postgres from '../../../src/agent/execute/postgres'
import * as replica from '../../../src/agent/execute/replica'
import * as sync from '../../../src/agent/execute/sync'
import {leaseValid} from '../../../src/agent/state'
import {validateLocalConfig} from '../../../src/config/schema'
import type {Action, ActionType} from '../../../src/core/actions'
import type {Observation} from '../../../src/core/observation'
import {DEFAULT_LOG_SETTINGS, Logger} from '../../../src/log/logger'
import {FakeClock} from '../../fakes/fake-clock'
import {createFakeDcs, FakeKv} from '../../fakes/fake-dcs'
import {FakePeers} from '../../fakes/fake-peers'
import {PgWorld} from '../../fakes/fake-postgres'

/** The file of each action type's handler. Typed by ActionType: a new action type fails the type check here too. */
const FILES: Record<ActionType, keyof typeof MODULES> = {
  'acquire-lock': 'lock',
  'update-lock': 'lock',
  'release-lock': 'lock',
  'take-leader': 'lock',
  initialize: 'lock',
  'cancel-initialization': 'lock',
  'restore-config': 'lock',
  'touch-member': 'lock',
  'set-failover': 'lock',
  'clear-failover': 'lock',
  'write-history': 'lock',
  start: 'postgres',
  stop: 'postgres',
  promote: 'postgres',
  demote: 'postgres',
  follow: 'postgres',
  'crash-recovery': 'postgres',
  clone: 'replica',
  rewind: 'replica',
  reinitialize: 'replica',
  'check-rewind': 'replica',
  'trigger-rewind-check': 'replica',
  bootstrap: 'replica',
  'post-bootstrap': 'replica',
  'set-sync': 'sync',
  'manage-sync': 'sync',
  'fetch-peer-status': 'peers',
  'failsafe-probe': 'peers',
  sleep: 'misc',
  exit: 'misc',
  'activate-watchdog': 'misc',
  'kick-watchdog': 'misc',
  'disable-watchdog': 'misc',
  'cancel-task': 'misc',
}

const MODULES = {lock, postgres, replica, sync, peers, misc}

/** `acquire-lock` -> `acquireLock`. */
const handlerName = (type: string) => type.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

describe('the action table', () => {
  test('every action type has exactly one handler, and the table has nothing else', () => {
    assert.deepEqual(Object.keys(HANDLERS).sort(), Object.keys(FILES).sort())
    const handlers = Object.values(HANDLERS)
    assert.equal(new Set(handlers).size, handlers.length, 'no handler serves two action types')
    for (const [type, h] of Object.entries(HANDLERS)) assert.equal(typeof h, 'function', type)
  })

  test('a table without a handler for some action type does not compile', () => {
    const {sleep: _dropped, ...withoutSleep} = HANDLERS
    // @ts-expect-error: property 'sleep' is missing (npx tsc -p . checks this file)
    const incomplete: HandlerTable = withoutSleep
    assert.equal('sleep' in incomplete, false)
  })

  test('each handler is named after its action type and exported by the file of its concern', () => {
    for (const [type, file] of Object.entries(FILES)) {
      const h = HANDLERS[type as ActionType]
      const name = handlerName(type)
      assert.equal(h.name, name, `the handler of ${type}`)
      assert.equal((MODULES[file] as Record<string, unknown>)[name], h, `execute/${file}.ts exports ${name}, the handler of ${type}`)
    }
  })

  test('the handler files export no function that is not in the table', () => {
    const inTable = new Set<unknown>(Object.values(HANDLERS))
    for (const [file, mod] of Object.entries(MODULES)) {
      for (const [name, v] of Object.entries(mod)) {
        if (typeof v === 'function') assert.ok(inTable.has(v), `execute/${file}.ts exports ${name}, which no action type maps to`)
      }
    }
  })

  test('an action type the table does not know is a loud error, not a skip', () => {
    const {x} = agent()
    assert.throws(() => execute({type: 'launch-rockets'} as unknown as Action, NO_OBS, x), /no handler for action type "launch-rockets"/)
    // Not an inherited property either.
    assert.throws(() => execute({type: 'toString'} as unknown as Action, NO_OBS, x), /no handler for action type "toString"/)
  })
})

/** The handlers below do not read the observation. */
const NO_OBS = {} as Observation

function agent(extra: Record<string, unknown> = {}, watchdogs?: FakeWatchdogs): {x: AgentContext; clock: FakeClock; kv: FakeKv; world: PgWorld; peers: FakePeers; lines: string[]} {
  const clock = new FakeClock()
  const peers = new FakePeers(clock)
  const kv = new FakeKv(clock)
  const dcs = createFakeDcs({kv, name: 'node1', scope: 'unit', watch: false, timing: {ttl: 30, loopWait: 10, retryTimeout: 10}})
  const world = new PgWorld(clock)
  const pg = world.add('node1', '127.0.0.1', 5432)
  const v = validateLocalConfig({
    scope: 'unit',
    name: 'node1',
    restapi: {listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008'},
    etcd3: {hosts: ['127.0.0.1:2379']},
    postgresql: {
      listen: '127.0.0.1:5432',
      connect_address: '127.0.0.1:5432',
      data_dir: pg.dataDir,
      authentication: {superuser: {username: 'postgres', password: 'unit'}, replication: {username: 'replicator', password: 'unit'}},
    },
    ...extra,
  })
  if (!v.config) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`)
  const lines: string[] = []
  const log = new Logger({...DEFAULT_LOG_SETTINGS, level: 'DEBUG', format: '%(levelname)s: %(message)s'}, {write: (l) => void lines.push(l), close() {}}, 'hactl', () => new Date(clock.now()))
  const x = createAgentContext({config: v.config, dcs, pg, clock, log, peers, requestExit: () => {}, processes: new FakeProcessRunner(clock), childEnv: {}, files: new FakeFiles(), watchdogs})
  return {x, clock, kv, world, peers, lines}
}

/** Runs `p` while the fake clock moves `ms` forward (the fakes take their latencies on it). */
async function withTime<T>(clock: FakeClock, ms: number, p: Promise<T>): Promise<T> {
  const caught = p.then(
    (v) => ({ok: true as const, v}),
    (e: unknown) => ({ok: false as const, e}),
  )
  await clock.advance(ms)
  const r = await caught
  if (!r.ok) throw r.e
  return r.v
}

describe('handlers alone', () => {
  test('release-lock: the lease is no longer believed, and the leader key is deleted', async () => {
    const {x, clock} = agent()
    assert.equal(await x.dcs.attemptToAcquireLeader(), true)
    x.state.lastCluster = await x.dcs.loadCluster({fresh: true})
    x.state.lastLockRenewal = clock.now()
    assert.equal(leaseValid(x.state, 'node1', x.slot.current, clock.now()), true, 'holding the lock before')
    const r = await HANDLERS['release-lock']({type: 'release-lock'}, NO_OBS, x)
    assert.deepEqual(r, {}, 'not branching: no outcome')
    assert.equal(x.state.lastLockRenewal, null)
    assert.equal(leaseValid(x.state, 'node1', x.slot.current, clock.now()), false)
    assert.equal((await x.dcs.loadCluster({fresh: true})).leader, null, 'the leader key is gone')
  })

  test('acquire-lock: the lease counts from before the call; a DCS failure is DcsFailed with the action named', async () => {
    const {x, clock, kv, lines} = agent()
    const at = clock.now()
    const r = await HANDLERS['acquire-lock']({type: 'acquire-lock'}, NO_OBS, x)
    assert.deepEqual(r, {outcome: {type: 'acquire-lock', ok: true}})
    assert.equal(x.state.lastLockRenewal, at)
    kv.setAvailable(false)
    x.state.lastLockRenewal = null
    await assert.rejects(withTime(clock, 20_000, HANDLERS['acquire-lock']({type: 'acquire-lock'}, NO_OBS, x)), DcsFailed)
    assert.equal(x.state.lastLockRenewal, null, 'no lease believed on failure')
    assert.ok(lines.some((l) => l.startsWith('ERROR: DCS operation acquire-lock failed')), lines.join('\n'))
  })

  test('stop: PostgreSQL is stopped and pgState records it', async () => {
    const {x, clock} = agent()
    await withTime(clock, 1000, x.pg.initdb({}))
    await withTime(clock, 1000, x.pg.start({}))
    x.state.memory = {...x.state.memory, pgState: 'running'}
    const r = await withTime(clock, 1000, HANDLERS.stop({type: 'stop', mode: 'fast'}, NO_OBS, x))
    assert.deepEqual(r, {})
    assert.equal(x.state.memory.pgState, 'stopped')
    assert.equal((await x.pg.state()).kind, 'stopped')
  })

  test('touch-member: a member key that cannot be written is a warning, never an exception', async () => {
    const {x, clock, kv, lines} = agent()
    kv.setAvailable(false)
    const r = await withTime(clock, 20_000, HANDLERS['touch-member']({type: 'touch-member'}, NO_OBS, x))
    assert.deepEqual(r, {})
    assert.ok(lines.some((l) => l.startsWith('WARNING: failed to update member key')), lines.join('\n'))
  })

  test('touch-member: writes members/<me> with the state as published', async () => {
    const {x} = agent()
    await HANDLERS['touch-member']({type: 'touch-member'}, NO_OBS, x)
    const me = (await x.dcs.loadCluster({fresh: true})).members.find((m) => m.name === 'node1')
    assert.ok(me, 'member key written')
    assert.equal(me.data['state'], 'stopped')
    assert.equal(me.data['api_url'], 'http://127.0.0.1:8008/patroni')
  })

  test('fetch-peer-status: each member as its REST API answers, unreachable when it does not answer in time', async () => {
    const {x, clock, peers} = agent()
    const up = 'http://127.0.0.2:8008/patroni'
    const silent = 'http://127.0.0.3:8008/patroni'
    peers.serve(up, {patroni: () => FakePeers.json(200, {state: 'running', role: 'replica', xlog: {received_location: 300, replayed_location: 200}, timeline: 2})})
    peers.setState(silent, 'silent')
    const members = [
      {name: 'node2', apiUrl: up},
      {name: 'node3', apiUrl: silent},
    ]
    const r = await withTime(clock, 3000, HANDLERS['fetch-peer-status']({type: 'fetch-peer-status', members}, NO_OBS, x))
    assert.deepEqual(r.outcome, {type: 'fetch-peer-status'})
    assert.equal(r.peers?.['node2']?.reachable, true)
    assert.equal(r.peers?.['node2']?.walPosition, 300)
    assert.equal(r.peers?.['node3']?.reachable, false)
    assert.equal(peers.callsTo(silent)[0]?.timeoutMs, 2000, 'asked with a 2 s timeout')
  })

  test('sleep reports its outcome', async () => {
    const {x, clock} = agent()
    assert.deepEqual(await withTime(clock, 500, HANDLERS.sleep({type: 'sleep', ms: 500}, NO_OBS, x)), {outcome: {type: 'sleep'}})
  })

  test('the watchdog actions arm (timeout ttl - safety_margin), kick and disarm the device; memory follows', async () => {
    const wd = new FakeWatchdogs().addDevice('/dev/watchdog')
    const {x, lines} = agent({watchdog: {mode: 'required'}}, wd)
    assert.deepEqual(await HANDLERS['activate-watchdog']({type: 'activate-watchdog'}, NO_OBS, x), {outcome: {type: 'activate-watchdog', ok: true}})
    assert.equal(x.state.memory.watchdogRunning, true)
    assert.deepEqual(wd.log('/dev/watchdog').timeouts, [25], 'ttl 30 - safety_margin 5')
    assert.ok(lines.includes('INFO: fake watchdog at /dev/watchdog activated with 25 second timeout, timing slack 15 seconds'), lines.join('\n'))
    assert.deepEqual(await HANDLERS['kick-watchdog']({type: 'kick-watchdog'}, NO_OBS, x), {outcome: {type: 'kick-watchdog'}})
    assert.equal(wd.log('/dev/watchdog').kicks, 1)
    assert.deepEqual(await HANDLERS['disable-watchdog']({type: 'disable-watchdog'}, NO_OBS, x), {})
    assert.equal(wd.log('/dev/watchdog').magicCloses, 1)
    assert.equal(wd.log('/dev/watchdog').armed, false)
    assert.equal(x.state.memory.watchdogRunning, false)
    await HANDLERS['kick-watchdog']({type: 'kick-watchdog'}, NO_OBS, x)
    assert.equal(wd.log('/dev/watchdog').kicks, 1, 'no kick once disarmed')
  })

  test('required without a usable device: activation fails with Patroni\'s lines; automatic goes on and warns once', async () => {
    const req = agent({watchdog: {mode: 'required'}}, new FakeWatchdogs())
    assert.equal(req.x.watchdog.isHealthy, false, 'the device does not exist')
    assert.deepEqual(await HANDLERS['activate-watchdog']({type: 'activate-watchdog'}, NO_OBS, req.x), {outcome: {type: 'activate-watchdog', ok: false}})
    assert.ok(req.lines.some((l) => l.startsWith("WARNING: Could not activate fake watchdog at /dev/watchdog: Can't open watchdog device: ENOENT")), req.lines.join('\n'))
    assert.ok(req.lines.includes('ERROR: Configuration requires watchdog, but watchdog could not be configured.'))
    assert.equal(req.x.state.memory.watchdogRunning, false)
    const auto = agent({watchdog: {mode: 'automatic'}}, new FakeWatchdogs())
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await HANDLERS['activate-watchdog']({type: 'activate-watchdog'}, NO_OBS, auto.x), {outcome: {type: 'activate-watchdog', ok: true}})
    }
    assert.equal(auto.lines.filter((l) => l.startsWith('WARNING: Could not activate') && l.endsWith('running without a watchdog (mode automatic)')).length, 1)
    assert.equal(auto.x.state.memory.watchdogRunning, false)
  })

  test('exit: logs the message and asks for the exit with its code and cause', async () => {
    const {x, lines} = agent()
    const asked: Array<[number, string | undefined]> = []
    const y: AgentContext = {...x, requestExit: (code, cause) => void asked.push([code, cause])}
    await HANDLERS.exit({type: 'exit', code: 1, message: 'system ID mismatch', cause: 'sysid-mismatch'}, NO_OBS, y)
    assert.deepEqual(asked, [[1, 'sysid-mismatch']])
    assert.ok(lines.includes('CRITICAL: system ID mismatch'), lines.join('\n'))
  })

  test('follow: a new upstream is taken with a reload on PostgreSQL 13+, with a restart up to 12 (recovery.conf); both check for divergence', async () => {
    for (const [version, restarts] of [[120000, true], [150000, false]] as const) {
      const {x, clock, world} = agent()
      const pg = world.nodes[0]
      pg.version = version
      await withTime(clock, 5000, pg.initdb({}))
      await pg.writeConfigFiles({serverVersion: version, parameters: {}, recovery: {signal: 'standby', parameters: {}}})
      await withTime(clock, 5000, pg.start({}))
      x.state.lastCluster = cluster({leader: 'node2'})
      x.state.memory = {...x.state.memory, canRewind: true}
      const obs = {pg: {inRecovery: true, process: 'running'}, config: {usePgRewind: true, removeDataDirectoryOnDivergedTimelines: false}} as unknown as Observation
      await execute({type: 'follow', leader: 'node2'}, obs, x)
      assert.equal(x.slot.current?.kind === 'follow-restart', restarts, `PostgreSQL ${version}: ${restarts ? 'a restart task' : 'no restart'}`)
      assert.equal(x.state.memory.rewind, 'check', 'a new upstream is checked for divergence first')
      await withTime(clock, 10_000, x.slot.settled())
    }
  })
})
