/**
 * The core's watchdog decisions (docs/ha-rules.md#watchdog; patroni/ha.py): armed before leading,
 * kicked once per cycle after the leader key was renewed (or failsafe kept the leader), disarmed
 * while paused and on shutdown once PostgreSQL is down; mode required never leads without one.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {releaseAfterStop, shutdownPlan, type ShutdownFacts} from '../../../src/core/shutdown'
import {MB, cluster, obs, peer, pgPrimary, pgReplica, runCycle} from './decide-fixtures'

const types = (t: ReturnType<typeof runCycle>) => t.actions.map((a) => a.type)

describe('core: watchdog', () => {
  test('an armed leader is kicked once per cycle, right after the renewal', () => {
    const t = runCycle(obs({memory: {watchdogRunning: true}}), {kicks: true})
    assert.deepEqual(types(t), ['update-lock', 'kick-watchdog'])
    assert.equal(t.final.rule, 'healthy.leader')
  })

  test('a renewal that failed is not kicked (the device fires unless PostgreSQL is stopped first)', () => {
    const t = runCycle(obs({memory: {watchdogRunning: true}}), {kicks: true, update: false})
    assert.deepEqual(types(t), ['update-lock', 'demote'])
  })

  test('a leader without an armed watchdog arms it before going on; an armed one is not armed again', () => {
    const t = runCycle(obs({memory: {watchdogRunning: false}}), {kicks: true})
    assert.deepEqual(types(t), ['update-lock', 'activate-watchdog'])
    assert.equal(t.final.reason, 'no action. I am (node1), the leader with the lock')
    const armed = runCycle(obs({memory: {watchdogRunning: true}}), {kicks: true})
    assert.ok(!types(armed).includes('activate-watchdog'))
  })

  test('mode automatic: activation that found no device (ok, not armed) leads on', () => {
    const t = runCycle(obs({pg: pgReplica(), memory: {watchdogRunning: false}}), {kicks: true, watchdog: true})
    assert.deepEqual(types(t), ['update-lock', 'activate-watchdog', 'promote'])
  })

  test('mode required: a failed activation demotes a primary, and a replica with the lock releases it instead of promoting', () => {
    const p = runCycle(obs({memory: {watchdogRunning: false}, config: {watchdogRequired: true}}), {kicks: true, watchdog: false})
    assert.equal(p.final.reason, 'Demoting self because watchdog could not be activated')
    assert.deepEqual(p.final.actions, [{type: 'demote', mode: 'immediate'}])
    const r = runCycle(obs({pg: pgReplica(), memory: {watchdogRunning: false}, config: {watchdogRequired: true}}), {kicks: true, watchdog: false})
    assert.equal(r.final.reason, 'Not promoting self because watchdog could not be activated')
    assert.deepEqual(types(r), ['update-lock', 'activate-watchdog', 'release-lock'])
    assert.ok(!types(r).includes('promote'))
  })

  test('mode required, device not usable: the node does not join the race at all', () => {
    const t = runCycle(obs({name: 'node2', view: cluster({leader: null}), config: {watchdogRequired: true, watchdogHealthy: false}}), {
      kicks: true,
      peers: {node1: peer({reachable: false}), node3: peer({walPosition: 90 * MB})},
    })
    assert.ok(!types(t).includes('acquire-lock'), types(t).join(','))
    assert.match(t.final.reason, /Watchdog device is not usable/)
  })

  test('the race winner arms the watchdog after taking the lock and before promoting', () => {
    const t = runCycle(obs({name: 'node2', view: cluster({leader: null}), memory: {watchdogRunning: false}}), {
      kicks: true,
      peers: {node1: peer({reachable: false}), node3: peer({walPosition: 90 * MB})},
    })
    const a = types(t)
    assert.ok(a.indexOf('acquire-lock') < a.indexOf('activate-watchdog') && a.indexOf('activate-watchdog') < a.indexOf('promote'), a.join(','))
  })

  test('paused: an armed watchdog is disarmed first, and not kicked', () => {
    const t = runCycle(obs({config: {paused: true}, memory: {watchdogRunning: true}}), {kicks: true})
    assert.equal(types(t)[0], 'disable-watchdog')
    assert.ok(!types(t).includes('kick-watchdog'))
    assert.ok(!types(t).includes('activate-watchdog'))
  })

  test('failsafe: the leader that all members vouch for is kicked though the DCS is down', () => {
    const t = runCycle(
      obs({unreachableFor: 5, memory: {watchdogRunning: true}, config: {failsafeMode: true}, view: {...cluster(), failsafe: {node1: 'a', node2: 'b'}}}),
      {kicks: true, failsafe: true},
    )
    assert.equal(t.final.rule, 'dcs.failsafe')
    assert.deepEqual(types(t), ['failsafe-probe', 'kick-watchdog'])
  })

  test('a replica never touches the watchdog', () => {
    const t = runCycle(obs({name: 'node2', memory: {watchdogRunning: false}}), {kicks: true})
    assert.ok(!types(t).some((a) => a.endsWith('-watchdog')), types(t).join(','))
  })

  test('a primary that lost its lock demotes; PostgreSQL stopped (next cycle) disarms it', () => {
    const t = runCycle(obs({name: 'node2', pg: pgPrimary(), memory: {watchdogRunning: true}}), {kicks: true})
    assert.deepEqual(types(t), ['demote'], 'no kick: the lock is not ours')
  })

  test('shutdown: disarmed once PostgreSQL is down or left running paused; a failed stop leaves it armed', () => {
    const f = (o: Partial<ShutdownFacts>): ShutdownFacts => ({cause: 'signal', paused: false, holdsLock: true, pgRunning: true, synchronousMode: false, primaryStopTimeout: 0, ...o})
    assert.equal(releaseAfterStop(shutdownPlan(f({})), true).disableWatchdog, true)
    assert.equal(releaseAfterStop(shutdownPlan(f({})), false).disableWatchdog, false)
    assert.equal(releaseAfterStop(shutdownPlan(f({paused: true})), false).disableWatchdog, true)
    assert.equal(releaseAfterStop(shutdownPlan(f({pgRunning: false})), true).disableWatchdog, true)
  })
})
