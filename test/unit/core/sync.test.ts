import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {formatSsn, parseSsn, pickSyncStandbys, quoteIdent, sameSet, syncStandbys, type SyncPickInput} from '../../../src/core/sync'

describe('synchronous_standby_names', () => {
  test('parses the forms PostgreSQL accepts', () => {
    assert.deepEqual(parseSsn(''), {kind: 'off', num: 0, members: []})
    assert.deepEqual(parseSsn('pg2'), {kind: 'priority', num: 1, members: ['pg2']})
    assert.deepEqual(parseSsn('pg2, PG3'), {kind: 'priority', num: 1, members: ['pg2', 'pg3']})
    assert.deepEqual(parseSsn('2 (pg2,pg3)'), {kind: 'priority', num: 2, members: ['pg2', 'pg3']})
    assert.deepEqual(parseSsn('FIRST 1 (a, "B c")'), {kind: 'priority', num: 1, members: ['a', 'B c']})
    assert.deepEqual(parseSsn('ANY 2 (a,b,c)'), {kind: 'any', num: 2, members: ['a', 'b', 'c']})
    assert.deepEqual(parseSsn('*'), {kind: 'star', num: 1, members: ['*']})
    assert.deepEqual(parseSsn('FIRST x (a)'), {kind: 'off', num: 0, members: []}, 'garbage reads as off')
    assert.deepEqual(parseSsn('a b'), {kind: 'off', num: 0, members: []})
  })

  test('writes one name bare, several as N (a,b), quotes what PostgreSQL would fold', () => {
    assert.equal(formatSsn([]), '')
    assert.equal(formatSsn(['pg3']), 'pg3')
    assert.equal(formatSsn(['pg3', 'pg2']), '2 (pg2,pg3)')
    assert.equal(formatSsn(['*']), '*')
    assert.equal(quoteIdent('Node-1'), '"Node-1"')
    assert.equal(quoteIdent('a"b'), '"a""b"')
    assert.deepEqual(parseSsn(formatSsn(['Node-1', 'x'])).members, ['Node-1', 'x'], 'round trip')
  })

  test('/sync values and set comparison ignore order and case', () => {
    assert.deepEqual(syncStandbys('pg2,PG3'), ['pg2', 'pg3'])
    assert.deepEqual(syncStandbys(null), [])
    assert.ok(sameSet(['a', 'B'], ['b', 'A']))
    assert.ok(!sameSet(['a'], ['a', 'b']))
  })
})

const base = (over: Partial<SyncPickInput> = {}): SyncPickInput => ({
  rows: [
    {pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'async', lsn: 100},
    {pid: 11, applicationName: 'pg3', state: 'streaming', syncState: 'async', lsn: 90},
  ],
  members: [
    {name: 'pg2', running: true, nosync: false, nofailover: false},
    {name: 'pg3', running: true, nosync: false, nofailover: false},
  ],
  current: [],
  ssn: parseSsn(''),
  ready: new Set(),
  barrier: 100,
  primaryLsn: 100,
  nodeCount: 1,
  maxLagOnSyncnode: -1,
  ...over,
})

describe('choosing synchronous standbys', () => {
  test('picks the most advanced streaming replica, but nobody may promote before SSN names it', () => {
    const p = pickSyncStandbys(base())
    assert.deepEqual(p.picked, ['pg2'])
    assert.deepEqual(p.allowPromote, [])
  })

  test('a replica named in SSN, reported sync and at the barrier may be published', () => {
    const rows = base().rows.map((r) => (r.applicationName === 'pg2' ? {...r, syncState: 'sync'} : {...r, syncState: 'potential'}))
    const p = pickSyncStandbys(base({rows, ssn: parseSsn('pg2')}))
    assert.deepEqual(p.picked, ['pg2'])
    assert.deepEqual(p.allowPromote, ['pg2'])
    assert.ok(p.ready.has(10))
  })

  test('a sync replica still behind the barrier is not published yet', () => {
    const rows = [{pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'sync', lsn: 50}]
    const p = pickSyncStandbys(base({rows, ssn: parseSsn('pg2'), barrier: 60}))
    assert.deepEqual(p.picked, ['pg2'])
    assert.deepEqual(p.allowPromote, [])
  })

  test('nosync, stopped, non-streaming and unknown replicas are never picked; nofailover ones come last', () => {
    const rows = [
      {pid: 1, applicationName: 'a', state: 'streaming', syncState: 'async', lsn: 100},
      {pid: 2, applicationName: 'b', state: 'streaming', syncState: 'async', lsn: 100},
      {pid: 3, applicationName: 'c', state: 'catchup', syncState: 'async', lsn: 100},
      {pid: 4, applicationName: 'stranger', state: 'streaming', syncState: 'async', lsn: 100},
      {pid: 5, applicationName: 'd', state: 'streaming', syncState: 'async', lsn: 100},
      {pid: 6, applicationName: 'e', state: 'streaming', syncState: 'async', lsn: 10},
    ]
    const members = [
      {name: 'a', running: true, nosync: true, nofailover: false},
      {name: 'b', running: false, nosync: false, nofailover: false},
      {name: 'c', running: true, nosync: false, nofailover: false},
      {name: 'd', running: true, nosync: false, nofailover: true},
      {name: 'e', running: true, nosync: false, nofailover: false},
    ]
    const p = pickSyncStandbys(base({rows, members, nodeCount: 2}))
    assert.deepEqual(p.picked, ['e', 'd'])
  })

  test('maximum_lag_on_syncnode skips a lagging replica', () => {
    const p = pickSyncStandbys(base({maxLagOnSyncnode: 5, rows: [
      {pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'sync', lsn: 50},
      {pid: 11, applicationName: 'pg3', state: 'streaming', syncState: 'async', lsn: 100},
    ]}))
    assert.deepEqual(p.picked, ['pg3'])
  })
})
