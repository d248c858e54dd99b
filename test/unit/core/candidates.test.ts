import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {compareWal, failoverLimitation, isFailoverPossible, isHealthiestNode, manualFailoverNoLeader} from '../../../src/core/candidates'
import {effectiveNofailover, makeCtx} from '../../../src/core/rules/context'
import {leaseMayExpireBeforeNextCycle, leaseSecondsLeft, scheduleVerdict, timingIsSafe, timingSlack} from '../../../src/core/timing'
import {MB, NOW, cluster, member, obs, peer, pgPrimary, pgReplica, type ObsOptions} from './decide-fixtures'

const ctx = (o: ObsOptions) => makeCtx({...obs(o), outcomes: [{type: 'fetch-peer-status'}]})

describe('candidates', () => {
  test('failover limitation: first match wins', () => {
    assert.equal(failoverLimitation(peer({reachable: false, nofailover: true})), 'not reachable')
    assert.equal(failoverLimitation(peer({nofailover: true, watchdogFailed: true})), 'not allowed to promote')
    assert.equal(failoverLimitation(peer({watchdogFailed: true})), 'not watchdog capable')
    assert.equal(failoverLimitation(peer()), null)
  })

  test('effective nofailover: explicit tag wins, priority 0 means nofailover', () => {
    assert.equal(effectiveNofailover({nofailover: false, failover_priority: 0}), false)
    assert.equal(effectiveNofailover({failover_priority: 0}), true)
    assert.equal(effectiveNofailover({failover_priority: 2}), false)
    assert.equal(effectiveNofailover({nofailover: true}), true)
  })

  test('WAL race: lag is measured against status.optime with the configured maximum', () => {
    const base = {name: 'node2', view: cluster({leader: null, lastLsn: 100 * MB})}
    assert.equal(compareWal(ctx({...base, pg: pgReplica({walPosition: 99 * MB})}), [], true).ok, true)
    const v = compareWal(ctx({...base, pg: pgReplica({walPosition: 99 * MB - 1})}), [], true)
    assert.equal(v.ok, false)
    assert.match(v.reason, /1048577 bytes behind/)
    assert.equal(compareWal(ctx({...base, pg: pgReplica({walPosition: 99 * MB - 1})}), [], false).ok, true)
  })

  test('WAL race ignores unreachable, nofailover and watchdog-failed peers but not a live primary', () => {
    const c = ctx({name: 'node2', view: cluster({leader: null}), peers: {node1: peer({reachable: false, inRecovery: false}), node3: peer({walPosition: 500 * MB, nofailover: true})}})
    assert.equal(compareWal(c, c.cluster.members, true).ok, true)
    const c2 = ctx({name: 'node2', view: cluster({leader: null}), peers: {node1: peer({inRecovery: false})}})
    assert.deepEqual(compareWal(c2, c2.cluster.members, true), {ok: false, reason: 'Primary (node1) is still alive'})
  })

  test('members tagged nofailover in the DCS are not asked at all', () => {
    const v = cluster({leader: null})
    v.members[2] = member('node3', {tags: {nofailover: true}})
    const c = makeCtx({...obs({name: 'node2', view: v}), peers: {node1: peer({walPosition: 0})}})
    assert.equal(compareWal(c, v.members, true).ok, true)
  })

  test('failover possible: qualifies by lag, or by the shutdown checkpoint when given', () => {
    const c = ctx({peers: {node2: peer({walPosition: 100 * MB - 10}), node3: peer({walPosition: 10 * MB})}})
    assert.equal(isFailoverPossible(c).ok, true)
    assert.equal(isFailoverPossible(c, {clusterLsn: 100 * MB}).ok, false)
    assert.match(isFailoverPossible(c, {only: ['node3']}).reason, /node3 exceeds maximum replication lag/)
  })

  test('failover possible in sync mode looks only at /sync members', () => {
    const c = ctx({view: cluster({sync: {leader: 'node1', standby: 'node3'}}), config: {synchronousMode: true}, peers: {node2: peer(), node3: peer({reachable: false})}})
    const v = isFailoverPossible(c)
    assert.equal(v.ok, false)
    assert.equal(v.reason, 'node3 is not reachable')
  })

  test('check_timeline: a candidate behind the cluster timeline does not qualify', () => {
    const c = ctx({view: cluster({timeline: 3}), config: {checkTimeline: true}, peers: {node2: peer({timeline: 2}), node3: peer({timeline: 3})}})
    assert.equal(isFailoverPossible(c, {only: ['node2']}).ok, false)
    assert.equal(isFailoverPossible(c, {only: ['node3']}).ok, true)
  })

  test('a running primary hands over only to a member on its timeline, whatever check_timeline says', () => {
    // The leader promoted to timeline 6 a moment ago; node2 still reports 5 (it has not followed
    // yet) with a byte lag well under maximum_lag_on_failover.
    const o = {view: cluster({timeline: 5, failover: {leader: 'node1', candidate: 'node2'}}), pg: pgPrimary({timeline: 6, walPosition: 100 * MB}), config: {checkTimeline: false}}
    const behind = isFailoverPossible(ctx({...o, peers: {node2: peer({timeline: 5, walPosition: 100 * MB - 1000}), node3: peer({timeline: 6})}}))
    assert.equal(behind.ok, false)
    assert.match(behind.reason, /timeline 5 of node2 is behind the leader's timeline 6: it does not follow the leader yet/)
    assert.equal(isFailoverPossible(ctx({...o, peers: {node2: peer({timeline: 6}), node3: peer({timeline: 6})}})).ok, true)
    // Not a running primary (the leaderless race): only check_timeline counts, as in Patroni.
    assert.equal(isFailoverPossible(ctx({...o, pg: pgReplica({timeline: 6}), peers: {node2: peer({timeline: 5})}})).ok, true)
  })

  test('manual failover, former leader: takes the lock back only if nobody else can', () => {
    const o = {name: 'node1', view: cluster({leader: null, failover: {leader: 'node1', candidate: 'node2'}}), pg: pgReplica()}
    assert.equal(manualFailoverNoLeader(ctx({...o, peers: {node2: peer({reachable: false}), node3: peer()}})).answer, 'no')
    assert.equal(manualFailoverNoLeader(ctx({...o, peers: {node2: peer({reachable: false}), node3: peer({reachable: false})}})).answer, 'yes')
  })

  test('healthiest node: a failed pre_promote backs off for ttl', () => {
    const o = {name: 'node2', view: cluster({leader: null})}
    assert.equal(isHealthiestNode(ctx({...o, memory: {prePromoteFailedAt: NOW - 29_000}})).answer, 'no')
    assert.equal(isHealthiestNode(ctx({...o, memory: {prePromoteFailedAt: NOW - 31_000}})).answer, 'yes')
  })

  test('healthiest node: failsafe topology without me disqualifies', () => {
    const v = {...cluster({leader: null}), failsafe: {node1: 'http://a', node3: 'http://c'}}
    assert.match(isHealthiestNode(ctx({name: 'node2', view: v, config: {failsafeMode: true}})).reason, /not in the \/failsafe topology/)
  })
})

describe('timing', () => {
  const t = {ttl: 30, loopWait: 10, retryTimeout: 10}
  test('loop_wait + 2*retry_timeout <= ttl', () => {
    assert.equal(timingSlack(t), 0)
    assert.equal(timingIsSafe(t), true)
    assert.equal(timingIsSafe({...t, retryTimeout: 11}), false)
  })
  test('a lease renewed 10s ago could expire before the next cycle ends only if the slack is gone', () => {
    assert.equal(leaseMayExpireBeforeNextCycle(NOW - 1, NOW, {...t, ttl: 31}), false)
    assert.equal(leaseMayExpireBeforeNextCycle(NOW - 10_000, NOW, t), true)
    assert.equal(leaseMayExpireBeforeNextCycle(null, NOW, t), true)
    assert.equal(leaseSecondsLeft(NOW - 21_000, NOW, t), 9)
    assert.equal(leaseSecondsLeft(NOW - 31_000, NOW, t), 0)
  })
  test('scheduled actions: wait, due (with the sleep), stale', () => {
    assert.deepEqual(scheduleVerdict(NOW + 11_000, NOW, 10), {kind: 'wait', inSeconds: 11})
    assert.deepEqual(scheduleVerdict(NOW + 4_000, NOW, 10), {kind: 'due', sleepMs: 4000})
    assert.deepEqual(scheduleVerdict(NOW - 15_000, NOW, 10), {kind: 'due', sleepMs: 0})
    assert.deepEqual(scheduleVerdict(NOW - 16_000, NOW, 10), {kind: 'stale', lateSeconds: 16})
  })
})
