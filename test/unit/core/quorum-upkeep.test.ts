import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {quorumPrepromoteSsn, quorumUpkeepSteps, type QuorumView} from '../../../src/core/quorum'
import {formatQuorumSsn, nextSyncStep, parseSsn, pickQuorumStandbys, syncMemberInfo, type SyncReplicaRow} from '../../../src/core/sync'

const PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__'

function view(over: Partial<QuorumView> & {ssn?: string} = {}): QuorumView {
  const {ssn, ...rest} = over
  return {
    me: 'pg1',
    keyLeader: 'pg1',
    keyQuorum: 0,
    keyVoters: [],
    live: parseSsn(ssn ?? ''),
    active: [],
    confirmed: [],
    nodeCount: 1,
    strict: false,
    ...rest,
  }
}

describe('synchronous_standby_names in quorum form', () => {
  test('ANY n with sorted, quoted names; the strict placeholder; empty', () => {
    assert.equal(formatQuorumSsn(1, ['pg3', 'pg2']), 'ANY 1 (pg2,pg3)')
    assert.equal(formatQuorumSsn(1, ['postgres-1']), 'ANY 1 ("postgres-1")', 'as features/quorum_commit.feature shows it')
    assert.equal(formatQuorumSsn(2, ['Any', 'b']), 'ANY 2 ("Any",b)')
    assert.equal(formatQuorumSsn(1, []), `ANY 1 (${PLACEHOLDER})`)
    assert.equal(formatQuorumSsn(0, []), '')
    assert.deepEqual(parseSsn(formatQuorumSsn(2, ['a', 'b', 'c'])), {kind: 'any', num: 2, members: ['a', 'b', 'c'], hasStar: false})
  })
})

describe('quorum upkeep steps (patroni/ha.py _process_quorum_replication)', () => {
  test('an empty /sync is enabled first', () => {
    assert.deepEqual(quorumUpkeepSteps(view({keyLeader: null})), [{type: 'enable-sync'}])
  })

  test('two replicas appear: both listed at once, then a restart; once confirmed, quorum 1 of both', () => {
    assert.deepEqual(quorumUpkeepSteps(view({active: ['pg2', 'pg3']})), [{type: 'set-ssn', num: 1, names: ['pg2', 'pg3']}, {type: 'restart'}])
    assert.deepEqual(quorumUpkeepSteps(view({ssn: 'ANY 1 (pg2,pg3)', active: ['pg2', 'pg3'], confirmed: ['pg2', 'pg3']})), [
      {type: 'write-sync', leader: 'pg1', quorum: 1, voters: ['pg2', 'pg3']},
    ])
    // only one confirmed: the quorum covers the other
    assert.deepEqual(quorumUpkeepSteps(view({ssn: 'ANY 1 (pg2,pg3)', active: ['pg2', 'pg3'], confirmed: ['pg2']})), [
      {type: 'write-sync', leader: 'pg1', quorum: 1, voters: ['pg2', 'pg3']},
    ])
  })

  test('steady state: nothing; a priority list left by synchronous_mode on is rewritten as ANY', () => {
    const steady = {keyQuorum: 1, keyVoters: ['pg2', 'pg3'], active: ['pg2', 'pg3'], confirmed: ['pg2', 'pg3']}
    assert.deepEqual(quorumUpkeepSteps(view({...steady, ssn: 'ANY 1 (pg2,pg3)'})), [])
    assert.deepEqual(quorumUpkeepSteps(view({keyVoters: ['pg2'], active: ['pg2'], confirmed: ['pg2'], ssn: 'pg2'})), [{type: 'set-ssn', num: 1, names: ['pg2']}])
  })

  test('strict mode without an active standby keeps the voters listed, or the placeholder', () => {
    const held = quorumUpkeepSteps(view({strict: true, keyQuorum: 1, keyVoters: ['pg2', 'pg3'], ssn: 'ANY 1 (pg2,pg3)'}))
    assert.deepEqual(held, [{type: 'strict-hold', names: ['pg2', 'pg3']}])
    assert.deepEqual(quorumUpkeepSteps(view({strict: true})), [{type: 'set-ssn', num: 1, names: []}, {type: 'strict-hold', names: []}])
    assert.equal(formatQuorumSsn(1, []), `ANY 1 (${PLACEHOLDER})`)
    // the placeholder (or a *) lists nobody real: with a standby back, the list moves to it
    const back = quorumUpkeepSteps(view({strict: true, ssn: `ANY 1 (${PLACEHOLDER})`, active: ['pg2']}))
    assert.deepEqual(back, [{type: 'set-ssn', num: 1, names: ['pg2']}, {type: 'restart'}])
  })

  test('not strict and nobody to list: the list is emptied', () => {
    assert.deepEqual(quorumUpkeepSteps(view({ssn: 'ANY 1 (pg2)'})), [{type: 'set-ssn', num: 0, names: []}])
  })

  test('after a failover: the former leader becomes a voter before anything else, the list keeps the invariant', () => {
    // pg2 promoted; it listed the other /sync members before promotion: ANY 1 (pg1,pg3)
    const steps = quorumUpkeepSteps(view({me: 'pg2', keyLeader: 'pg1', keyQuorum: 1, keyVoters: ['pg2', 'pg3'], ssn: 'ANY 1 (pg1,pg3)', active: []}))
    assert.deepEqual(steps[0], {type: 'write-sync', leader: 'pg2', quorum: 1, voters: ['pg3', 'pg1']})
    assert.equal(steps.length, 1, 'nobody reconnected yet: wait a loop before dropping them')
    const later = quorumUpkeepSteps(view({me: 'pg2', keyLeader: 'pg2', keyQuorum: 1, keyVoters: ['pg1', 'pg3'], ssn: 'ANY 1 (pg1,pg3)', active: ['pg3']}))
    assert.deepEqual(later, [
      {type: 'set-ssn', num: 1, names: ['pg3']},
      {type: 'write-sync', leader: 'pg2', quorum: 0, voters: ['pg3']},
    ])
  })

  test('the list before promotion (patroni/ha.py _process_quorum_prepromote)', () => {
    const sync = {leader: 'pg1', quorum: 1, voters: ['pg2', 'pg3']}
    assert.deepEqual(quorumPrepromoteSsn('pg2', sync, false), {num: 1, names: ['pg1', 'pg3']})
    // from outside the voters: one more must confirm
    assert.deepEqual(quorumPrepromoteSsn('pg4', sync, false), {num: 2, names: ['pg1', 'pg2', 'pg3']})
    assert.deepEqual(quorumPrepromoteSsn('pg1', {leader: 'pg1', quorum: 0, voters: ['pg2']}, false), {num: 1, names: ['pg2']})
    assert.deepEqual(quorumPrepromoteSsn('pg1', {leader: null, quorum: 0, voters: []}, false), {num: 0, names: []})
    assert.deepEqual(quorumPrepromoteSsn('pg1', {leader: null, quorum: 0, voters: []}, true), {num: 1, names: []})
  })

  test('switching back to synchronous_mode on rewrites an ANY list in priority form', () => {
    const step = nextSyncStep({
      enabled: true,
      strict: false,
      me: 'pg1',
      primary: true,
      keyExists: true,
      keyLeader: 'pg1',
      keyStandbys: [],
      managed: true,
      liveSsn: 'ANY 1 (pg2)',
      pick: {picked: ['pg2'], allowPromote: []},
      waited: false,
    })
    assert.deepEqual(step, {type: 'set-ssn', names: ['pg2']})
  })
})

describe('quorum candidates (patroni/postgresql/sync.py current_state, quorum mode)', () => {
  const rows: SyncReplicaRow[] = [
    {pid: 2, applicationName: 'pg2', state: 'streaming', syncState: 'quorum', lsn: 100},
    {pid: 3, applicationName: 'pg3', state: 'streaming', syncState: 'quorum', lsn: 100},
    {pid: 4, applicationName: 'pg4', state: 'streaming', syncState: 'async', lsn: 100},
  ]
  const m = (name: string, tags: Record<string, unknown> = {}) => syncMemberInfo({name, state: 'running', tags})
  const base = {rows, ssn: parseSsn('ANY 1 (pg2,pg3)'), ready: new Set<number>(), barrier: 100, primaryLsn: 100, nodeCount: 1, maxLagOnSyncnode: -1}

  test('every eligible standby is active; listed ones reporting quorum at the barrier are confirmed', () => {
    const p = pickQuorumStandbys({...base, members: [m('pg2'), m('pg3'), m('pg4')]})
    assert.deepEqual(p.active, ['pg2', 'pg3', 'pg4'])
    assert.deepEqual(p.confirmed, ['pg2', 'pg3'])
    const behind = pickQuorumStandbys({...base, barrier: 101, members: [m('pg2'), m('pg3'), m('pg4')]})
    assert.deepEqual(behind.confirmed, [], 'not yet at the position the primary had when the list changed')
  })

  test('nosync (and sync_priority <= 0) never; higher sync_priority first', () => {
    const p = pickQuorumStandbys({...base, members: [m('pg2', {nosync: true}), m('pg3', {sync_priority: 0}), m('pg4', {sync_priority: 5})]})
    assert.deepEqual(p.active, ['pg4'])
    const order = pickQuorumStandbys({...base, members: [m('pg2'), m('pg3', {sync_priority: 3}), m('pg4', {sync_priority: 2})]})
    assert.deepEqual(order.active, ['pg3', 'pg4', 'pg2'])
  })

  test('nofailover members only while fewer than synchronous_node_count are active', () => {
    const one = pickQuorumStandbys({...base, members: [m('pg2'), m('pg3', {nofailover: true}), m('pg4', {nofailover: true})]})
    assert.deepEqual(one.active, ['pg2'])
    const none = pickQuorumStandbys({...base, nodeCount: 2, members: [m('pg2', {nofailover: true}), m('pg3', {nofailover: true}), m('pg4')]})
    assert.deepEqual(none.active, ['pg4', 'pg2'])
  })

  test('maximum_lag_on_syncnode leaves a lagging standby out', () => {
    const lag = pickQuorumStandbys({...base, rows: [...rows.slice(0, 2), {...rows[2], lsn: 10}], maxLagOnSyncnode: 50, members: [m('pg2'), m('pg3'), m('pg4')]})
    assert.deepEqual(lag.active, ['pg2', 'pg3'])
  })
})
