import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {formatSsn, parseSsn, pickSyncStandbys, quoteIdent, sameSet, syncMemberInfo, syncStandbys, type SyncPickInput} from '../../../src/core/sync'

describe('synchronous_standby_names', () => {
  test('parses the forms PostgreSQL accepts', () => {
    const off = {kind: 'off', num: 0, members: [], hasStar: false}
    assert.deepEqual(parseSsn(''), off)
    assert.deepEqual(parseSsn('pg2'), {kind: 'priority', num: 1, members: ['pg2'], hasStar: false})
    assert.deepEqual(parseSsn('pg2, PG3'), {kind: 'priority', num: 1, members: ['pg2', 'pg3'], hasStar: false})
    assert.deepEqual(parseSsn('2 (pg2,pg3)'), {kind: 'priority', num: 2, members: ['pg2', 'pg3'], hasStar: false})
    assert.deepEqual(parseSsn('FIRST 1 (a, "B c")'), {kind: 'priority', num: 1, members: ['a', 'B c'], hasStar: false})
    assert.deepEqual(parseSsn('ANY 2 (a,b,c)'), {kind: 'any', num: 2, members: ['a', 'b', 'c'], hasStar: false})
    assert.deepEqual(parseSsn('FIRST x (a)'), off, 'garbage reads as off')
    assert.deepEqual(parseSsn('a b'), off)
    assert.deepEqual(parseSsn('a,'), off, 'a trailing comma is refused, as by PostgreSQL and Patroni')
    assert.deepEqual(parseSsn('2 (a,)'), off)
    assert.deepEqual(parseSsn('2 (,)'), off)
    assert.deepEqual(parseSsn('"a'), off, 'an unclosed quote is refused')
    assert.deepEqual(parseSsn('"first"'), {kind: 'priority', num: 1, members: ['first'], hasStar: false})
  })

  test('a star is recorded, not listed as a name (Patroni has_star)', () => {
    assert.deepEqual(parseSsn('*'), {kind: 'priority', num: 1, members: [], hasStar: true})
    assert.deepEqual(parseSsn('ANY 2 ("a", *, b)'), {kind: 'any', num: 2, members: ['a', 'b'], hasStar: true})
    assert.deepEqual(parseSsn('FIRST 1 (pg2, *)'), {kind: 'priority', num: 1, members: ['pg2'], hasStar: true})
  })

  test('writes one name bare, several as N (a,b), quotes what PostgreSQL would fold', () => {
    assert.equal(formatSsn([]), '')
    assert.equal(formatSsn(['pg3']), 'pg3')
    assert.equal(formatSsn(['pg3', 'pg2']), '2 (pg2,pg3)')
    assert.equal(formatSsn(['*']), '*')
    assert.equal(quoteIdent('Node-1'), '"Node-1"')
    assert.equal(quoteIdent('a"b'), '"a""b"')
    assert.equal(formatSsn(['any']), '"any"', 'FIRST and ANY are keywords of the grammar: quoted as names')
    assert.equal(formatSsn(['first', 'pg2']), '2 ("first",pg2)')
    assert.deepEqual(parseSsn(formatSsn(['first', 'any'])).members, ['any', 'first'])
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

  test('a star in synchronous_standby_names names nobody: no standby is proven synchronous by it', () => {
    const rows = base().rows.map((r) => ({...r, syncState: r.applicationName === 'pg2' ? 'sync' : 'potential'}))
    const p = pickSyncStandbys(base({rows, ssn: parseSsn('*')}))
    assert.deepEqual(p.picked, ['pg2'], 'still the one to name in synchronous_standby_names')
    assert.deepEqual(p.allowPromote, [], 'but not published in /sync before SSN names it')
    assert.equal(p.ready.size, 0)
    const both = pickSyncStandbys(base({rows, ssn: parseSsn('FIRST 1 (pg2, *)')}))
    assert.deepEqual(both.allowPromote, ['pg2'], 'a name next to the star still counts')
    const other = pickSyncStandbys(base({rows: rows.map((r) => ({...r, syncState: r.applicationName === 'pg3' ? 'sync' : 'potential'})), ssn: parseSsn('FIRST 1 (pg2, *)'), nodeCount: 2}))
    assert.deepEqual(other.picked, ['pg3', 'pg2'])
    assert.deepEqual(other.allowPromote, [], 'pg3 is synchronous only through the star')
  })

  test('a member that cannot be promoted (failover_priority 0) comes after every promotable one', () => {
    const members = [
      syncMemberInfo({name: 'pg2', state: 'running', tags: {failover_priority: 0}}),
      syncMemberInfo({name: 'pg3', state: 'running', tags: {}}),
    ]
    assert.equal(members[0].nofailover, true)
    const rows = [
      {pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'sync', lsn: 100},
      {pid: 11, applicationName: 'pg3', state: 'streaming', syncState: 'potential', lsn: 90},
    ]
    const p = pickSyncStandbys(base({rows, members, ssn: parseSsn('pg2')}))
    assert.deepEqual(p.picked, ['pg3'], 'the promotable standby replaces the non-promotable sync one')
    assert.deepEqual(p.allowPromote, [], 'pg3 is not named in SSN yet; pg2 is not picked')
  })

  test('a non-promotable member is still picked when no promotable one qualifies, as in Patroni', () => {
    // Patroni (sync.py current_state, priority mode) only sorts nofailover members last; when one is
    // picked and proven synchronous it goes into /sync too (it never promotes itself).
    const members = [syncMemberInfo({name: 'pg2', state: 'running', tags: {nofailover: true}})]
    const rows = [{pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'sync', lsn: 100}]
    const p = pickSyncStandbys(base({rows, members, ssn: parseSsn('pg2')}))
    assert.deepEqual(p.picked, ['pg2'])
    assert.deepEqual(p.allowPromote, ['pg2'])
  })

  test('member tags are read as Patroni reads them', () => {
    const info = (tags: Record<string, unknown>, state = 'running') => syncMemberInfo({name: 'x', state, tags})
    assert.deepEqual(info({}), {name: 'x', running: true, nosync: false, nofailover: false, syncPriority: 1, replicatefrom: null})
    assert.equal(info({failover_priority: 0}).nofailover, true)
    assert.equal(info({failover_priority: 2}).nofailover, false)
    assert.equal(info({nofailover: false, failover_priority: 0}).nofailover, false, 'the boolean tag wins')
    assert.equal(info({nofailover: true, failover_priority: 3}).nofailover, true)
    assert.equal(info({sync_priority: 0}).nosync, true)
    assert.deepEqual([info({nosync: true}).nosync, info({nosync: true}).syncPriority], [true, 0])
    assert.deepEqual([info({nosync: false, sync_priority: 0}).nosync, info({nosync: false, sync_priority: 0}).syncPriority], [false, 0])
    assert.equal(info({sync_priority: 5}).syncPriority, 5)
    assert.equal(info({replicatefrom: 'pg3'}).replicatefrom, 'pg3')
    assert.equal(info({}, 'starting').running, false)
  })

  test('a higher sync_priority is picked first, before sync_state and LSN', () => {
    const members = [
      syncMemberInfo({name: 'pg2', state: 'running', tags: {}}),
      syncMemberInfo({name: 'pg3', state: 'running', tags: {sync_priority: 2}}),
      syncMemberInfo({name: 'pg4', state: 'running', tags: {sync_priority: 0}}),
    ]
    const rows = [
      {pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'sync', lsn: 100},
      {pid: 11, applicationName: 'pg3', state: 'streaming', syncState: 'async', lsn: 90},
      {pid: 12, applicationName: 'pg4', state: 'streaming', syncState: 'async', lsn: 100},
    ]
    assert.deepEqual(pickSyncStandbys(base({rows, members})).picked, ['pg3'])
    assert.deepEqual(pickSyncStandbys(base({rows, members, nodeCount: 3})).picked, ['pg3', 'pg2'], 'sync_priority 0 is nosync')
  })

  test('a quoted mixed-case name in SSN matches its member (application_name matching ignores case)', () => {
    const members = [{name: 'Node-1', running: true, nosync: false, nofailover: false}]
    const rows = [{pid: 10, applicationName: 'node-1', state: 'streaming', syncState: 'sync', lsn: 100}]
    const p = pickSyncStandbys(base({rows, members, ssn: parseSsn(formatSsn(['Node-1']))}))
    assert.deepEqual(p.picked, ['Node-1'])
    assert.deepEqual(p.allowPromote, ['Node-1'])
  })

  test('two walsenders of one member count once', () => {
    const rows = [
      {pid: 10, applicationName: 'pg2', state: 'streaming', syncState: 'async', lsn: 100},
      {pid: 12, applicationName: 'pg2', state: 'streaming', syncState: 'async', lsn: 99},
      {pid: 11, applicationName: 'pg3', state: 'streaming', syncState: 'async', lsn: 90},
    ]
    const p = pickSyncStandbys(base({rows, nodeCount: 2}))
    assert.deepEqual(p.picked, ['pg2', 'pg3'])
    assert.equal(formatSsn(p.picked), '2 (pg2,pg3)')
  })

  test('a member that should cascade from a standby already streaming from us is not a candidate', () => {
    const members = [
      syncMemberInfo({name: 'pg2', state: 'running', tags: {}}),
      syncMemberInfo({name: 'pg3', state: 'running', tags: {replicatefrom: 'pg2'}}),
      syncMemberInfo({name: 'pg4', state: 'running', tags: {replicatefrom: 'pg3'}}),
      syncMemberInfo({name: 'pg5', state: 'running', tags: {replicatefrom: 'pg6'}}),
      syncMemberInfo({name: 'pg6', state: 'running', tags: {replicatefrom: 'pg5'}}),
    ]
    const row = (pid: number, applicationName: string, lsn: number) => ({pid, applicationName, state: 'streaming', syncState: 'async', lsn})
    const rows = [row(3, 'pg3', 100), row(4, 'pg4', 100), row(2, 'pg2', 50), row(5, 'pg5', 10)]
    assert.deepEqual(pickSyncStandbys(base({rows, members, nodeCount: 5})).picked, ['pg2', 'pg5'], 'pg3 and pg4 cascade; a pg5/pg6 loop is no chain')
    const withoutRoot = rows.filter((r) => r.applicationName !== 'pg2')
    assert.deepEqual(pickSyncStandbys(base({rows: withoutRoot, members, nodeCount: 5})).picked, ['pg3', 'pg4', 'pg5'], 'the chain root is not streaming from us')
  })
})
