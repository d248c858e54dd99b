import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {adjustTiming, checkTiming, defaultDynamicConfig, dynamicDocument, dynamicInForce, isStandbyCluster, parseDynamicConfig} from '../../../src/config/dynamic-schema'

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
    assert.deepEqual(r.issues.map((x) => [x.severity, x.path]), [['warning', 'slots.cdc']], 'a permanent logical slot without wal_level logical is named')
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

  it('--strict refuses the timing invariant instead of adjusting it, and says how to fix it', () => {
    const r = parseDynamicConfig({ttl: 25, loop_wait: 10, retry_timeout: 10}, '', {strict: true})
    assert.equal(r.valid, false)
    assert.deepEqual(r.issues.map((i) => [i.path, i.message]), [
      ['ttl', 'loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (25): raise ttl to 30 or lower loop_wait/retry_timeout (--strict)'],
    ])
    // the values are kept as given (not silently shrunk)
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [25, 10, 10])
    assert.equal(checkTiming({ttl: 30, loop_wait: 10, retry_timeout: 10}), undefined)
    assert.match(checkTiming({ttl: 20, loop_wait: 1, retry_timeout: 10}) ?? '', /= 21 must be <= ttl \(20\)/)
  })

  it('--strict enforces the minimums (ttl 20, loop_wait 1, retry_timeout 3) and reports one error each', () => {
    const r = parseDynamicConfig({ttl: 5, loop_wait: 0, retry_timeout: 1}, 'bootstrap.dcs', {strict: true})
    assert.deepEqual(r.issues.map((i) => [i.severity, i.path]), [
      ['error', 'bootstrap.dcs.ttl'],
      ['error', 'bootstrap.dcs.loop_wait'],
      ['error', 'bootstrap.dcs.retry_timeout'],
    ])
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [30, 10, 10])
  })

  it('without --strict adjusts the timing as Patroni does, with its warnings, and stays valid', () => {
    const r = parseDynamicConfig({ttl: 5, loop_wait: 0, retry_timeout: 1}, 'bootstrap.dcs')
    assert.equal(r.valid, true)
    assert.deepEqual(r.issues.map((i) => [i.severity, i.path, i.message]), [
      ['warning', 'bootstrap.dcs.loop_wait', "loop_wait=0 can't be smaller than 1, adjusting..."],
      ['warning', 'bootstrap.dcs.retry_timeout', "retry_timeout=1 can't be smaller than 3, adjusting..."],
      ['warning', 'bootstrap.dcs.ttl', "ttl=5 can't be smaller than 20, adjusting..."],
    ])
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [20, 1, 3])
  })

  it('the timing values are read as Python int() reads them: "30" is 30, 30.9 is 30', () => {
    const r = parseDynamicConfig({ttl: '30', loop_wait: 5.9, retry_timeout: ' 10 '})
    assert.deepEqual(r.issues, [])
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [30, 5, 10])
  })

  it('never throws on garbage, reports it and falls back to defaults', () => {
    const garbage: unknown[] = [
      null, undefined, 42, 'not json', '[1,2]', '"str"', '{"ttl": ', [], [1, 2], true,
      {ttl: [], loop_wait: {}, retry_timeout: null, postgresql: 'x', slots: [1], ignore_slots: 'all', standby_cluster: 5},
      {postgresql: {parameters: [], pg_hba: 'host all', use_slots: 'maybe'}, synchronous_node_count: -3, pause: 'perhaps'},
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

  it('synchronous_mode quorum (any case) and failsafe_mode are supported', () => {
    for (const v of ['quorum', 'Quorum', ' QUORUM ']) {
      const q = parseDynamicConfig({synchronous_mode: v, synchronous_node_count: 2})
      assert.equal(q.valid, true, v)
      assert.deepEqual(q.issues, [], v)
      assert.equal(q.config.synchronous_mode, 'quorum', v)
    }
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

// patroni/config.py Config._validate_and_adjust_timeouts, case by case: [given, adjusted, warnings]
const PATRONI_TIMING_CASES: [string, [number, number, number], [number, number, number], string[]][] = [
  ['valid values are kept', [30, 10, 10], [30, 10, 10], []],
  ['the rule holds with equality', [30, 10, 10], [30, 10, 10], []],
  ['ttl under 20 is raised', [10, 2, 4], [20, 2, 4], ["ttl=10 can't be smaller than 20, adjusting..."]],
  ['loop_wait under 1 is raised', [30, 0, 10], [30, 1, 10], ["loop_wait=0 can't be smaller than 1, adjusting..."]],
  ['retry_timeout under 3 is raised', [30, 10, 2], [30, 10, 3], ["retry_timeout=2 can't be smaller than 3, adjusting..."]],
  [
    'loop_wait lowered (ttl 25)',
    [25, 10, 10],
    [25, 5, 10],
    ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=25 and retry_timeout=10. Adjusting loop_wait from 10 to 5'],
  ],
  [
    'loop_wait lowered to 1 exactly',
    [21, 5, 10],
    [21, 1, 10],
    ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=21 and retry_timeout=10. Adjusting loop_wait from 5 to 1'],
  ],
  [
    'both lowered (ttl 20, loop_wait 2, retry_timeout 10)',
    [20, 2, 10],
    [20, 1, 9],
    ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=20. Adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9'],
  ],
  [
    'both lowered, retry_timeout rounded down (ttl 30, retry_timeout 20)',
    [30, 10, 20],
    [30, 1, 14],
    ['Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=30. Adjusting loop_wait from 10 to 1 and retry_timeout from 20 to 14'],
  ],
  [
    'minimum first, then the rule (ttl 10 -> 20, then both lowered)',
    [10, 2, 10],
    [20, 1, 9],
    [
      "ttl=10 can't be smaller than 20, adjusting...",
      'Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=20. Adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9',
    ],
  ],
]

describe("timing adjusted as Patroni's _validate_and_adjust_timeouts", () => {
  for (const [name, [ttl, lw, rt], want, notes] of PATRONI_TIMING_CASES) {
    it(name, () => {
      const a = adjustTiming({ttl, loop_wait: lw, retry_timeout: rt})
      assert.deepEqual([a.timing.ttl, a.timing.loop_wait, a.timing.retry_timeout], want)
      assert.deepEqual(a.notes.map((n) => n.message), notes)
      assert.ok(a.timing.loop_wait + 2 * a.timing.retry_timeout <= a.timing.ttl, 'the result keeps the rule')
      // the parser applies the same adjustment, warnings included, and the config stays valid
      const r = parseDynamicConfig({ttl, loop_wait: lw, retry_timeout: rt})
      assert.equal(r.valid, true)
      assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], want)
      assert.deepEqual(r.issues.map((i) => i.message), notes)
      // --strict refuses exactly what would be adjusted
      assert.equal(parseDynamicConfig({ttl, loop_wait: lw, retry_timeout: rt}, '', {strict: true}).valid, notes.length === 0)
    })
  }

  it("the document keeps the given values and gets Patroni's adjusted ones written in", () => {
    const r = parseDynamicConfig({ttl: 10, retry_timeout: '10', pause: true, custom_key: {a: 1}})
    assert.deepEqual(dynamicDocument(r.config), {ttl: 20, loop_wait: 1, retry_timeout: 9, pause: true, custom_key: {a: 1}})
    const ok = parseDynamicConfig({ttl: '30', x: 1})
    assert.deepEqual(dynamicDocument(ok.config), {ttl: '30', x: 1}, 'nothing adjusted: the document as given')
  })
})

describe('permanent slots as Patroni reads them', () => {
  it('an empty value (null, 0, "", {}) is a physical slot; a mapping without type naming database and plugin is logical', () => {
    const r = parseDynamicConfig({slots: {a: 0, b: null, c: '', d: {}, e: {database: 'app', plugin: 'pgoutput'}, f: {type: 'physical', cluster_type: 'standby'}}})
    assert.equal(r.valid, true)
    assert.deepEqual(r.config.slots, {
      a: {type: 'physical'},
      b: {type: 'physical'},
      c: {type: 'physical'},
      d: {type: 'physical'},
      e: {type: 'logical', database: 'app', plugin: 'pgoutput'},
      f: {type: 'physical', cluster_type: 'standby'},
    })
  })

  it('a slot Patroni cannot use is skipped with a warning naming it; the other slots apply', () => {
    const r = parseDynamicConfig({slots: {'Bad-Name': {type: 'physical'}, weird: {type: 'weird'}, l: {type: 'logical'}, one: 1, ok: null}})
    assert.equal(r.valid, true)
    assert.deepEqual(r.config.slots, {ok: {type: 'physical'}})
    assert.deepEqual(r.issues.filter((i) => i.severity === 'warning' && i.path !== 'slots').map((i) => i.path).sort(), ['slots.Bad-Name', 'slots.l', 'slots.one', 'slots.weird'])
    const strict = parseDynamicConfig({slots: {'Bad-Name': null, ok: 0}}, '', {strict: true})
    assert.equal(strict.valid, false)
    assert.deepEqual(strict.issues.filter((i) => i.severity === 'error').map((i) => i.path), ['slots.Bad-Name'])
    assert.deepEqual(strict.config.slots, {ok: {type: 'physical'}}, 'an empty value is a physical slot under --strict too')
  })

  it('permanent_replication_slots, then permanent_slots, then slots: the first that is not empty', () => {
    assert.deepEqual(parseDynamicConfig({slots: {s: 0}, permanent_slots: {p: 0}}).config.slots, {p: {type: 'physical'}})
    assert.deepEqual(parseDynamicConfig({slots: {s: 0}, permanent_slots: {p: 0}, permanent_replication_slots: {r: 0}}).config.slots, {r: {type: 'physical'}})
    assert.deepEqual(parseDynamicConfig({slots: {s: 0}, permanent_slots: {}}).config.slots, {s: {type: 'physical'}})
    const r = parseDynamicConfig({permanent_slots: {'x-y': 0}})
    assert.deepEqual(r.issues.map((i) => i.path), ['permanent_slots.x-y'], 'issues name the key as written')
  })
})

describe('dynamicInForce', () => {
  const previous = () => parseDynamicConfig({ttl: 40, loop_wait: 5, retry_timeout: 10, pause: true, slots: {keep: 0}}).config

  it('adjusts the timing of a new DCS document as Patroni does and keeps every usable key', () => {
    const r = dynamicInForce(previous(), JSON.stringify({ttl: 20, loop_wait: 2, retry_timeout: 10, pause: false}))
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout, r.config.pause], [20, 1, 9, false])
    assert.ok(r.issues.some((i) => i.severity === 'warning' && /Adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9/.test(i.message)))
    assert.deepEqual(r.document, {ttl: 20, loop_wait: 1, retry_timeout: 9, pause: false})
  })

  it('an unusable key keeps the value in force before; the merged timing is adjusted again', () => {
    const r = dynamicInForce(previous(), {ttl: 'soon', loop_wait: 10, retry_timeout: 10, pause: 'perhaps', permanent_slots: [1], ignore_slots: [{type: 'x'}]})
    assert.equal(r.config.pause, true, 'pause kept')
    assert.deepEqual(r.config.slots, {keep: {type: 'physical'}}, 'slots kept (reported under permanent_slots)')
    assert.equal(r.config.ignore_slots, undefined)
    assert.ok(!('ignore_slots[0]' in r.config) && !('permanent_slots' in r.config), 'no stray keys')
    // ttl 40 (kept) with loop_wait 10 and retry_timeout 10: fine, nothing adjusted
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [40, 10, 10])
    const t = dynamicInForce(parseDynamicConfig({ttl: 20, loop_wait: 1, retry_timeout: 5}).config, {ttl: 'x', retry_timeout: 10})
    assert.deepEqual([t.config.ttl, t.config.loop_wait, t.config.retry_timeout], [20, 1, 9])
  })

  it('with strict the previous triple stays together, as before', () => {
    const before = parseDynamicConfig({ttl: 20, loop_wait: 1, retry_timeout: 5}).config
    const r = dynamicInForce(before, {ttl: 20, loop_wait: 2, retry_timeout: 10}, {strict: true})
    assert.deepEqual([r.config.ttl, r.config.loop_wait, r.config.retry_timeout], [20, 1, 5])
    assert.ok(r.issues.some((i) => i.severity === 'error' && i.path === 'ttl'))
  })

  it('a document that is not a mapping keeps everything in force', () => {
    const p = previous()
    const r = dynamicInForce(p, '[1]')
    assert.equal(r.config, p)
    assert.equal(r.document, null)
  })
})

describe('a permanent logical slot without wal_level logical is named in a warning, however it is written', () => {
  for (const doc of [
    {slots: {cdc: {type: 'logical', database: 'app', plugin: 'pgoutput'}}},
    {slots: {cdc: {database: 'app', plugin: 'pgoutput'}}},
    {permanent_slots: {cdc: {database: 'app', plugin: 'pgoutput'}}, postgresql: {parameters: {wal_level: 'replica'}}},
    {permanent_replication_slots: {cdc: {type: 'logical', database: 'app', plugin: 'pgoutput'}}},
  ]) {
    it(JSON.stringify(doc), () => {
      const r = parseDynamicConfig(doc)
      assert.equal(r.config.slots?.['cdc']?.type, 'logical')
      const key = Object.keys(doc).find((k) => k !== 'postgresql')!
      assert.deepEqual(r.issues.map((i) => [i.severity, i.path]), [['warning', `${key}.cdc`]], JSON.stringify(r.issues))
      assert.match(r.issues[0]!.message, /permanent logical slot cdc needs wal_level logical \(postgresql.parameters.wal_level is replica\)/)
    })
  }
  it('not with wal_level logical', () => {
    const r = parseDynamicConfig({slots: {cdc: {database: 'app', plugin: 'pgoutput'}}, postgresql: {parameters: {wal_level: 'Logical'}}})
    assert.deepEqual(r.issues, [])
  })
  it('not for physical ones', () => {
    const r = parseDynamicConfig({slots: {a: 0, b: {type: 'physical', database: 'x', plugin: 'y'}}})
    assert.deepEqual(r.issues, [])
  })
})
