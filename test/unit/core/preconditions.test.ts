import assert from 'node:assert/strict'
import {test} from 'node:test'
import type {Member, SyncState} from '../../../src/core/cluster'
import {checkManualRequest, membersToAsk, noGoodCandidate, syncCandidateOk, type ManualRequest} from '../../../src/core/preconditions'
import type {PeerStatus} from '../../../src/core/observation'

const sync = (leader: string | null, standbys: string | null): SyncState => ({leader, syncStandby: standbys, version: 1}) as SyncState
const member = (name: string, apiUrl: string | null = `http://${name}:8008/patroni`): Member => ({name, apiUrl, tags: {}, state: 'running'}) as unknown as Member

test('checkManualRequest: Patroni refusals in order', () => {
  const rows: Array<[ManualRequest, boolean, string | {action: string}]> = [
    [{kind: 'failover', scheduled: false}, false, 'Failover could be performed only to a specific candidate'],
    [{kind: 'switchover', candidate: 'b', scheduled: false}, false, 'Switchover could be performed only from a specific leader'],
    [{kind: 'failover', leader: 'a', candidate: 'b', scheduled: true}, false, "Failover can't be scheduled"],
    [{kind: 'switchover', leader: 'a', candidate: 'b', scheduled: true}, true, "Can't schedule switchover in the paused state"],
    [{kind: 'switchover', leader: 'a', scheduled: false}, true, 'Switchover is possible only to a specific candidate in a paused state'],
    [{kind: 'switchover', leader: 'a', candidate: 'a', scheduled: false}, false, 'Switchover target and source are the same'],
    [{kind: 'failover', leader: 'a', candidate: 'b', scheduled: false}, false, {action: 'switchover'}],
    [{kind: 'failover', candidate: 'b', scheduled: false}, true, {action: 'failover'}],
    [{kind: 'switchover', leader: 'a', scheduled: false}, false, {action: 'switchover'}],
  ]
  for (const [req, paused, want] of rows) {
    const r = checkManualRequest(req, paused)
    if (typeof want === 'string') assert.deepEqual(r, {ok: false, status: 400, message: want}, JSON.stringify(req))
    else assert.equal(r.ok && r.action, want.action, JSON.stringify(req))
  }
})

test('checkManualRequest: the schedule is judged after the scheduling refusals, before the rest', () => {
  const bad = () => ({status: 422, message: 'Unable to parse scheduled timestamp'})
  assert.deepEqual(checkManualRequest({kind: 'switchover', leader: 'a', candidate: 'a', scheduled: true}, false, bad), {ok: false, status: 422, message: 'Unable to parse scheduled timestamp'})
  assert.deepEqual(checkManualRequest({kind: 'failover', candidate: 'b', scheduled: true}, false, bad), {ok: false, status: 400, message: "Failover can't be scheduled"})
})

test('syncCandidateOk: only a synchronous standby of the current leader, in synchronous mode', () => {
  assert.equal(syncCandidateOk(false, sync('a', null), 'a', 'c'), true)
  assert.equal(syncCandidateOk(true, sync('a', 'b'), 'a', 'b'), true)
  assert.equal(syncCandidateOk(true, sync('a', 'B'), 'a', 'b'), true, 'names compare case-insensitively')
  assert.equal(syncCandidateOk(true, sync('a', 'b'), 'a', 'c'), false)
  assert.equal(syncCandidateOk(true, sync('x', 'b'), 'a', 'b'), false, 'a /sync of another leader is stale')
  assert.equal(syncCandidateOk(true, sync('x', 'b'), null, 'b'), true, 'no leader to compare with')
})

test('membersToAsk and noGoodCandidate: REST is_failover_possible', () => {
  const members = [member('a'), member('b'), member('c', null)]
  const facts = {leaderName: 'a', members, syncMode: false, sync: sync(null, null)}
  assert.deepEqual(membersToAsk('switchover', 'x', undefined, facts), {refusal: 'leader name does not match'})
  assert.deepEqual(membersToAsk('switchover', 'a', 'z', facts), {refusal: 'candidate does not exists'})
  assert.deepEqual(membersToAsk('switchover', 'a', undefined, facts), {members: [members[1]]}, 'not the leader, and only with an api_url')
  assert.deepEqual(membersToAsk('switchover', 'a', 'c', {...facts, syncMode: true, sync: sync('a', 'b')}), {refusal: 'candidate name does not match with sync_standby'})
  assert.deepEqual(membersToAsk('failover', undefined, 'c', {...facts, syncMode: true, sync: sync('a', 'b')}), {members: [members[2]]}, 'a failover to a named member skips the sync check')
  assert.deepEqual(membersToAsk('switchover', 'a', undefined, {...facts, syncMode: true, sync: sync('a', null)}), {refusal: 'switchover is not possible: can not find sync_standby'})
  assert.deepEqual(membersToAsk('switchover', 'a', undefined, {...facts, members: [members[0]]}), {refusal: 'switchover is not possible: cluster does not have members except leader'})
  const ok: PeerStatus = {reachable: true, inRecovery: true, walPosition: 1, timeline: 1, nofailover: false, failoverPriority: 1, watchdogFailed: false}
  assert.equal(noGoodCandidate('switchover', [ok]), null)
  assert.equal(noGoodCandidate('switchover', [{...ok, nofailover: true}, {...ok, reachable: false}]), 'switchover is not possible: no good candidates have been found')
})
