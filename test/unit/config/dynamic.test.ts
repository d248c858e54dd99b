import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {checkTiming, defaultDynamicConfig, isStandbyCluster, parseDynamicConfig} from '../../../src/config/dynamic-schema'

describe('dynamic config defaults', () => {
  it("are Patroni's", () => {
    const d = defaultDynamicConfig()
    assert.deepEqual(d, {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      maximum_lag_on_syncnode: -1,
      max_timelines_history: 0,
      primary_start_timeout: 300,
      primary_stop_timeout: 0,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      synchronous_node_count: 1,
      failsafe_mode: false,
      check_timeline: false,
      postgresql: {use_slots: true, parameters: {}},
    })
  })
})

describe('parseDynamicConfig', () => {
  it('accepts lax Patroni values and converts them', () => {
    const r = parseDynamicConfig({
      ttl: '1min',
      loop_wait: '5',
      retry_timeout: '10s',
      maximum_lag_on_failover: '16MB',
      synchronous_mode: 'on',
      synchronous_mode_strict: 'no',
      synchronous_node_count: '2',
      pause: 'true',
      master_start_timeout: 120,
      postgresql: {use_pg_rewind: 'yes', use_slots: 'off', parameters: {max_connections: 200}, pg_hba: ['local all all trust']},
      slots: {cdc: {type: 'logical', database: 'app', plugin: 'pgoutput'}, keep_me: null},
      ignore_slots: [{name: 'ext', type: 'physical'}],
    })
    assert.deepEqual(r.issues.map((x) => [x.severity, x.path]), [['warning', 'slots']], 'a permanent logical slot is warned about: hactl does not keep it yet')
    assert.equal(r.valid, true)
    const c = r.config
    assert.equal(c.ttl, 60)
    assert.equal(c.loop_wait, 5)
    assert.equal(c.retry_timeout, 10)
    assert.equal(c.maximum_lag_on_failover, 16 * 1024 * 1024)
    assert.equal(c.synchronous_mode, true)
    assert.equal(c.synchronous_mode_strict, false)
    assert.equal(c.synchronous_node_count, 2)
    assert.equal(c.pause, true)
    assert.equal(c.primary_start_timeout, 120)
    assert.equal(c.postgresql.use_pg_rewind, true)
    assert.equal(c.postgresql.use_slots, false)
    assert.deepEqual(c.slots, {cdc: {type: 'logical', database: 'app', plugin: 'pgoutput'}, keep_me: {type: 'physical'}})
    assert.deepEqual(c.ignore_slots, [{name: 'ext', type: 'physical'}])
  })

  it('primary_start_timeout wins over the legacy master_start_timeout', () => {
    assert.equal(parseDynamicConfig({primary_start_timeout: 10, master_start_timeout: 99}).config.primary_start_timeout, 10)
  })

  it('refuses the timing invariant instead of adjusting it, and says how to fix it', () => {
    const r = parseDynamicConfig({ttl: 25, loop_wait: 10, retry_timeout: 10})
    assert.equal(r.valid, false)
    assert.deepEqual(r.issues.map((i) => [i.path, i.message]), [
      ['ttl', 'loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (25): raise ttl to 30 or lower loop_wait/retry_timeout'],
    ])
    // the values are kept as given (not silently shrunk)
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [25, 10, 10])
    assert.equal(checkTiming({ttl: 30, loop_wait: 10, retry_timeout: 10}), undefined)
    assert.match(checkTiming({ttl: 20, loop_wait: 1, retry_timeout: 10}) ?? '', /= 21 must be <= ttl \(20\)/)
  })

  it('enforces the minimums (ttl 20, loop_wait 1, retry_timeout 3) and reports one error each', () => {
    const r = parseDynamicConfig({ttl: 5, loop_wait: 0, retry_timeout: 1}, 'bootstrap.dcs')
    assert.deepEqual(r.issues.map((i) => i.path), ['bootstrap.dcs.ttl', 'bootstrap.dcs.loop_wait', 'bootstrap.dcs.retry_timeout'])
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [30, 10, 10])
  })

  it('never throws on garbage, reports it and falls back to defaults', () => {
    const garbage: unknown[] = [
      null, undefined, 42, 'not json', '[1,2]', '"str"', '{"ttl": ', [], [1, 2], true,
      {ttl: [], loop_wait: {}, retry_timeout: null, postgresql: 'x', slots: [1], ignore_slots: 'all', standby_cluster: 5},
      {postgresql: {parameters: [], pg_hba: 'host all', use_slots: 'maybe'}, synchronous_node_count: -3, pause: 'perhaps'},
      {slots: {'Bad-Name': {type: 'physical'}, ok: {type: 'weird'}, l: {type: 'logical'}}},
      {ignore_slots: [null, 'x', {name: 3, type: 'other'}]},
      JSON.parse('{"__proto__": {"ttl": 1}, "constructor": 5}'),
    ]
    for (const g of garbage) {
      const r = parseDynamicConfig(g)
      assert.equal(r.valid, false, JSON.stringify(g) ?? String(g))
      assert.ok(r.issues.some((i) => i.severity === 'error'), JSON.stringify(g) ?? String(g))
      // defaults where the values were bad
      assert.equal(typeof r.config.ttl, 'number')
      assert.equal(typeof r.config.postgresql.use_slots, 'boolean')
      assert.equal(typeof r.config.postgresql.parameters, 'object')
    }
    assert.equal(({} as Record<string, unknown>)['ttl'], undefined, 'no prototype pollution')
    assert.equal(parseDynamicConfig({postgresql: {parameters: JSON.parse('{"__proto__": {"x": 1}}')}}).valid, false)
  })

  it('reports per-path errors for a mixed bag, all at once', () => {
    const r = parseDynamicConfig({ttl: 'abc', postgresql: {parameters: [], use_slots: 'maybe'}, synchronous_node_count: 0})
    assert.deepEqual(r.issues.filter((i) => i.severity === 'error').map((i) => i.path).sort(), [
      'postgresql.parameters',
      'postgresql.use_slots',
      'synchronous_node_count',
      'ttl',
    ])
    assert.equal(r.config.postgresql.use_slots, true)
    assert.equal(r.config.synchronous_node_count, 1)
  })

  it('warns about per-node keys and unknown keys; keeps role-specific and pass-through keys', () => {
    const r = parseDynamicConfig({
      postgresql: {data_dir: '/x', authentication: {}, parameters_primary: {}, create_replica_methods: ['basebackup'], basebackup: {}, use_slot: true},
      loop_wiat: 5,
    })
    assert.equal(r.valid, true)
    assert.deepEqual(r.issues.map((i) => i.path).sort(), ['loop_wiat', 'postgresql.authentication', 'postgresql.data_dir', 'postgresql.use_slot'])
  })

  it('unsupported dynamic settings: quorum refused; failsafe_mode is supported', () => {
    const q = parseDynamicConfig({synchronous_mode: 'quorum'})
    assert.equal(q.valid, false)
    assert.equal(q.config.synchronous_mode, 'quorum')
    const f = parseDynamicConfig({failsafe_mode: true})
    assert.equal(f.valid, true)
    assert.deepEqual(f.issues, [])
    assert.equal(f.config.failsafe_mode, true)
  })

  it('isStandbyCluster', () => {
    assert.equal(isStandbyCluster({standby_cluster: {host: '10.0.0.1'}}), true)
    assert.equal(isStandbyCluster({standby_cluster: {primary_slot_name: 'x'}}), false)
    assert.equal(isStandbyCluster({}), false)
  })
})
