/**
 * PATCH/PUT /config as Patroni's patroni/api.py do_PATCH_config / do_PUT_config: any JSON object
 * is stored (the agents adjust what they read), PATCH merges with patch_config (null removes a
 * key), `--strict` refuses what Patroni would adjust or could not use. Then the first leader's
 * `/config` is bootstrap.dcs as Patroni writes it (its timing adjustments written in). On the
 * fakes: FakeKv under the real Etcd3Dcs, FakePostgres, FakePeers, FakeClock.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {HaLoop} from '../../../src/agent/ha-loop'
import {restoreConfig} from '../../../src/agent/execute/lock'
import {createRestActions} from '../../../src/agent/rest-actions'
import {dynamicInForce} from '../../../src/config/dynamic-schema'
import {validateLocalConfig} from '../../../src/config/schema'
import type {Observation} from '../../../src/core/observation'
import type {ActionHandlers} from '../../../src/api/types'
import {DEFAULT_LOG_SETTINGS, Logger} from '../../../src/log/logger'
import {drive, FakeClock} from '../../fakes/fake-clock'
import {createFakeDcs, FakeKv} from '../../fakes/fake-dcs'
import {FakeFiles} from '../../fakes/fake-files'
import {FakePeers} from '../../fakes/fake-peers'
import {PgWorld} from '../../fakes/fake-postgres'
import {FakeProcessRunner} from '../../fakes/fake-process-runner'
import {createAgentContext} from '../../../src/agent/context'

function setup(opts: {strict?: boolean; bootstrapDcs?: Record<string, unknown>} = {}) {
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
    ...(opts.bootstrapDcs ? {bootstrap: {dcs: opts.bootstrapDcs}} : {}),
    postgresql: {
      listen: '127.0.0.1:5432',
      connect_address: '127.0.0.1:5432',
      data_dir: pg.dataDir,
      authentication: {superuser: {username: 'postgres', password: 'unit'}, replication: {username: 'replicator', password: 'unit'}},
    },
  })
  if (!v.config) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`)
  const lines: string[] = []
  const log = new Logger({...DEFAULT_LOG_SETTINGS, format: '%(levelname)s: %(message)s'}, {write: (l) => void lines.push(l), close() {}}, 'hactl', () => new Date(clock.now()))
  const deps = {config: v.config, dcs, pg, clock, log, peers, requestExit: () => {}, processes: new FakeProcessRunner(clock), childEnv: {}, files: new FakeFiles(), strict: opts.strict}
  const loop = new HaLoop(deps)
  const rest = createRestActions({loop, dcs, clock, log, peers, reload: async () => {}, strict: opts.strict})
  const cycle = () => drive(clock, loop.runCycle(), 60_000)
  const stored = async () => {
    const r = await drive(clock, kv.range('/service/unit/config'), 5000)
    return JSON.parse(r.kvs[0]?.value ?? 'null') as unknown
  }
  const store = (doc: unknown) => drive(clock, dcs.setConfig(doc as Record<string, unknown>), 5000)
  const call = (h: keyof ActionHandlers, body: Record<string, unknown>) =>
    drive(clock, (rest[h] as (b: Record<string, unknown>, ctx: never) => Promise<{status: number; body: unknown}>)(body, {} as never), 5000)
  return {clock, dcs, kv, rest, stored, store, call, deps, issues: v.issues, loop, lines, cycle}
}

describe('PATCH /config as Patroni', () => {
  test('{"ttl": 20} with loop_wait 2 and retry_timeout 10 in force: 200, stored as sent; the agents run with 20/1/9', async () => {
    const s = setup()
    await s.store({ttl: 30, loop_wait: 2, retry_timeout: 10, pause: false})
    const r = await s.call('patchConfig', {ttl: 20})
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body, {ttl: 20, loop_wait: 2, retry_timeout: 10, pause: false})
    assert.deepEqual(await s.stored(), {ttl: 20, loop_wait: 2, retry_timeout: 10, pause: false})
    const f = dynamicInForce(s.deps.config.bootstrap?.dcs ?? ({} as never), await s.stored())
    assert.deepEqual([f.config.ttl, f.config.loop_wait, f.config.retry_timeout], [20, 1, 9])
  })

  test('null removes a key, nested too; a mapping merges; a scalar whose str() is unchanged stays as stored', async () => {
    const s = setup()
    await s.store({ttl: '30', loop_wait: 5, postgresql: {parameters: {work_mem: '8MB', max_connections: 100}, use_slots: true}, slots: {s1: 0}})
    const r = await s.call('patchConfig', {ttl: 30, slots: null, postgresql: {parameters: {work_mem: null, wal_level: 'logical'}}, pause: true})
    assert.equal(r.status, 200)
    assert.deepEqual(await s.stored(), {
      ttl: '30',
      loop_wait: 5,
      postgresql: {parameters: {max_connections: 100, wal_level: 'logical'}, use_slots: true},
      pause: true,
    })
  })

  test('values Patroni adjusts or cannot use are stored as sent: slot short forms, strings, junk', async () => {
    const s = setup()
    await s.store({ttl: 30})
    const body = {slots: {s1: 0, s2: null}, loop_wait: 'often', synchronous_mode: 'on', maximum_lag_on_failover: '16MB', ttl: 10}
    const r = await s.call('patchConfig', body)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(await s.stored(), body)
  })

  test('--strict refuses them (400 naming the keys) and leaves /config as it was', async () => {
    const s = setup({strict: true})
    await s.store({ttl: 30, loop_wait: 2, retry_timeout: 10})
    const r = await s.call('patchConfig', {ttl: 20})
    assert.equal(r.status, 400)
    assert.match(String(r.body), /ttl: loop_wait \(2\) \+ 2\*retry_timeout \(10\) = 22 must be <= ttl \(20\)/)
    const slots = await s.call('patchConfig', {slots: {'Bad-Name': null}})
    assert.equal(slots.status, 400)
    assert.match(String(slots.body), /slots\.Bad-Name/)
    assert.deepEqual(await s.stored(), {ttl: 30, loop_wait: 2, retry_timeout: 10})
    assert.equal((await s.call('patchConfig', {ttl: 40, slots: {s1: 0}})).status, 200, 'a usable patch still goes through')
  })

  test('a /config that is not a JSON mapping: 503, as Patroni (its modify_version is 0 then)', async () => {
    const s = setup()
    await drive(s.clock, s.kv.put('/service/unit/config', '[1, 2]'), 5000)
    assert.equal((await s.call('patchConfig', {ttl: 30})).status, 503)
  })
})

describe('PUT /config as Patroni', () => {
  test('any JSON object replaces /config; --strict refuses a timing Patroni would adjust', async () => {
    const s = setup()
    await s.store({ttl: 30})
    const body = {ttl: 10, loop_wait: 2, retry_timeout: 10, slots: {a: 0}}
    const r = await s.call('putConfig', body)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, body)
    assert.deepEqual(await s.stored(), body)

    const strict = setup({strict: true})
    await strict.store({ttl: 30})
    const refused = await strict.call('putConfig', body)
    assert.equal(refused.status, 400)
    assert.match(String(refused.body), /ttl/)
    assert.deepEqual(await strict.stored(), {ttl: 30})
  })
})

describe('the first leader writes /config as Patroni does', () => {
  test('bootstrap.dcs as given, with the adjusted ttl/loop_wait/retry_timeout written in', async () => {
    const dcsDoc = {ttl: 10, loop_wait: 2, retry_timeout: 10, custom: {kept: true}, slots: {s1: 0}, postgresql: {parameters: {max_connections: 50}}}
    const s = setup({bootstrapDcs: dcsDoc})
    assert.ok(s.issues.some((i) => i.severity === 'warning' && i.path === 'bootstrap.dcs.ttl' && i.message === "ttl=10 can't be smaller than 20, adjusting..."))
    assert.deepEqual([s.deps.config.bootstrap?.dcs.ttl, s.deps.config.bootstrap?.dcs.loop_wait, s.deps.config.bootstrap?.dcs.retry_timeout], [20, 1, 9])
    const x = createAgentContext(s.deps)
    await drive(s.clock, restoreConfig({type: 'restore-config'}, {} as Observation, x), 5000)
    assert.deepEqual(await s.stored(), {...dcsDoc, ttl: 20, loop_wait: 1, retry_timeout: 9})
  })

  test('without a bootstrap section the defaults are written (an empty /config would be restored every cycle)', async () => {
    const s = setup()
    const x = createAgentContext(s.deps)
    await drive(s.clock, restoreConfig({type: 'restore-config'}, {} as Observation, x), 5000)
    const doc = (await s.stored()) as Record<string, unknown>
    assert.deepEqual([doc['ttl'], doc['loop_wait'], doc['retry_timeout']], [30, 10, 10])
  })
})

describe('the agent runs with the timing Patroni would run with', () => {
  const timing = (l: HaLoop) => [l.dynamic.ttl, l.dynamic.loop_wait, l.dynamic.retry_timeout]

  test('a DCS config key with ttl 20, loop_wait 2, retry_timeout 10: 20/1/9 in force, the warning logged once', async () => {
    const s = setup()
    await s.store({ttl: 20, loop_wait: 2, retry_timeout: 10, pause: true})
    await s.cycle()
    assert.deepEqual(timing(s.loop), [20, 1, 9])
    assert.equal(s.loop.dynamic.pause, true)
    const warned = (l: string) => l.includes('WARNING: dynamic configuration (DCS config key): retry_timeout: Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=20. Adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9')
    assert.equal(s.lines.filter(warned).length, 1, s.lines.join('\n'))
    await s.cycle()
    assert.equal(s.lines.filter(warned).length, 1, 'once per version of the key')
  })

  test('--strict: the same key keeps the ttl in force (the rule holding) and names ttl', async () => {
    const s = setup({strict: true})
    await s.store({ttl: 20, loop_wait: 2, retry_timeout: 10, pause: true})
    await s.cycle()
    // ttl keeps its value in force (30); loop_wait 2 and retry_timeout 10 fit under it
    assert.deepEqual(timing(s.loop), [30, 2, 10])
    assert.equal(s.loop.dynamic.pause, true, 'the rest of the document applies')
    assert.ok(s.lines.some((l) => /dynamic configuration \(DCS config key\): ttl: .*must be <= ttl \(20\).*the value in force before is kept/.test(l)), s.lines.join('\n'))
  })

  test('patroni.dynamic.json with ttl 10 is adjusted as read, with the warning', async () => {
    const s = setup()
    const pg = s.deps.pg as unknown as {dynamicCache: Record<string, unknown> | undefined; data: unknown}
    await drive(s.clock, (s.deps.pg as unknown as {initdb(o: unknown): Promise<unknown>}).initdb({}), 60_000)
    assert.ok(pg.data, 'the fake data directory exists')
    pg.dynamicCache = {ttl: 10, loop_wait: 2, retry_timeout: 4, pause: true}
    await s.cycle()
    assert.equal(s.loop.dynamic.pause, true)
    assert.deepEqual(timing(s.loop), [20, 2, 4])
    assert.ok(s.lines.some((l) => l.includes("dynamic configuration (patroni.dynamic.json): ttl: ttl=10 can't be smaller than 20, adjusting...")), s.lines.join('\n'))
  })
})
