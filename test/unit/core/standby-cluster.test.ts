/**
 * The standby cluster decisions (docs/ha-rules.md#standby-clusters; patroni/ha.py
 * Ha.enforce_follow_remote_member, Ha._get_node_to_follow, Ha.bootstrap_standby_leader,
 * Ha.recover, Ha.follow with demote('demote-cluster')): the lock holder follows the remote primary
 * and never promotes, the other members follow it, a primary is demoted into a standby leader,
 * and removing standby_cluster lets the standby leader promote.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import type {Action} from '../../../src/core/actions'
import {decide} from '../../../src/core/decide'
import type {PeerStatus} from '../../../src/core/observation'
import {cluster, MB, member, obs, peer, pgPrimary, pgReplica, pgStopped, runCycle, type ObsOptions, type Script} from './decide-fixtures'

const standby = {standbyCluster: true}

function cycle(o: ObsOptions, s: Script = {}) {
  const t = runCycle(obs(o), s)
  return {rule: t.final.rule, reason: t.final.reason, actions: t.actions, remember: Object.assign({}, ...t.decisions.map((d) => d.remember ?? {}))}
}

/** Action types in order; the watchdog's upkeep is left out (it is not what these tests are about). */
function types(a: Action[]): string[] {
  return a.map((x) => x.type).filter((t) => !t.endsWith('-watchdog'))
}

describe('standby cluster: the lock holder is the standby leader', () => {
  test('a lock holder in recovery renews and follows the remote primary, it does not promote', () => {
    const c = cycle({pg: pgReplica(), config: standby, memory: {role: 'replica'}})
    assert.equal(c.rule, 'healthy.standby-leader')
    assert.equal(c.reason, 'promoted self to a standby leader because i had the session lock')
    assert.deepEqual(types(c.actions), ['update-lock', 'follow'])
    assert.deepEqual(c.actions.find((a) => a.type === 'follow'), {type: 'follow', leader: null, remote: true})
    assert.equal(c.remember.role, 'standby_leader')
  })

  test('once the standby leader, the same cycle says so; the same lock holder in a normal cluster promotes', () => {
    const c = cycle({pg: pgReplica(), config: standby, memory: {role: 'standby_leader'}})
    assert.equal(c.reason, 'no action. I am (node1), the standby leader with the lock')
    assert.ok(!types(c.actions).includes('promote'))
    // standby_cluster removed from the dynamic configuration: the standby leader promotes.
    const p = cycle({pg: pgReplica(), memory: {role: 'standby_leader'}})
    assert.equal(p.rule, 'healthy.leader')
    assert.equal(p.reason, 'promoted self to leader because I had the session lock')
    assert.deepEqual(types(p.actions), ['update-lock', 'promote'])
  })

  test('a primary holding the lock when standby_cluster is added is demoted into a standby leader, keeping the lock', () => {
    const c = cycle({pg: pgPrimary(), config: standby, memory: {role: 'primary'}})
    assert.equal(c.reason, 'cannot be a real primary in standby cluster')
    assert.deepEqual(types(c.actions), ['update-lock', 'demote'])
    assert.deepEqual(c.actions.find((a) => a.type === 'demote'), {type: 'demote', mode: 'demote-cluster'})
    assert.ok(!types(c.actions).includes('release-lock'))
  })

  test('after that demotion (PostgreSQL stopped, lock kept) it starts as the standby leader following the remote', () => {
    const c = cycle({pg: pgStopped(), config: standby, memory: {role: 'demoted', pgState: 'stopped'}})
    assert.equal(c.rule, 'recover.standby-leader')
    assert.equal(c.reason, 'starting as a standby leader because i had the session lock')
    const start = c.actions.find((a) => a.type === 'start')
    assert.deepEqual(start, {type: 'start', as: 'replica', upstream: null, remote: true, task: 'restart-after-failure', timeoutS: 300})
    assert.equal(c.remember.role, 'standby_leader')
    // In a normal cluster the same lock holder starts read-only (then promotes).
    const n = cycle({pg: pgStopped(), memory: {role: 'demoted', pgState: 'stopped'}})
    assert.equal(n.rule, 'recover.readonly-with-lock')
  })

  test('in pause the standby leader keeps its lock (a normal lock holder in recovery releases it)', () => {
    const c = cycle({pg: pgReplica(), config: {...standby, paused: true}, memory: {role: 'standby_leader'}})
    assert.ok(!types(c.actions).includes('release-lock'), c.reason)
    assert.ok(!types(c.actions).includes('promote'), c.reason)
    const n = cycle({pg: pgReplica(), config: {paused: true}, memory: {role: 'replica'}})
    assert.deepEqual(types(n.actions), ['release-lock'])
  })
})

describe('standby cluster: the other members', () => {
  test('a replica follows the standby leader (cascading), not the remote', () => {
    const c = cycle({name: 'node2', config: standby})
    assert.equal(c.rule, 'healthy.follow')
    assert.equal(c.reason, 'no action. I am (node2), a secondary, and following a standby leader (node1)')
    assert.deepEqual(c.actions, [{type: 'follow', leader: 'node1'}])
    assert.equal(c.remember.role, 'replica')
  })

  test('a primary that does not hold the lock is demoted', () => {
    const c = cycle({name: 'node2', pg: pgPrimary(), config: standby})
    assert.equal(c.reason, 'cannot be a real primary in a standby cluster')
    assert.deepEqual(types(c.actions), ['demote'])
  })

  test('a leader key naming a member without conn_url: keep following as before', () => {
    const view = cluster()
    view.leader = {...view.leader!, member: member('node1', {connUrl: null})}
    const c = cycle({name: 'node2', view, config: standby})
    assert.equal(c.reason, 'continue following the old known standby leader')
    assert.deepEqual(c.actions, [])
  })

  test('the standby leader is gone: the healthiest member takes the lock and follows the remote, no promotion', () => {
    const c = cycle({name: 'node2', view: cluster({leader: null}), config: standby}, {peers: {node1: peer({reachable: false}), node3: peer({walPosition: 90 * MB})}})
    assert.equal(c.rule, 'race.won')
    assert.equal(c.reason, 'promoted self to a standby leader by acquiring session lock')
    assert.deepEqual(types(c.actions), ['fetch-peer-status', 'acquire-lock', 'follow'])
    assert.deepEqual(c.actions.at(-1), {type: 'follow', leader: null, remote: true})
    assert.equal(c.remember.role, 'standby_leader')
  })

  test('without a leader the members that do not win follow the remote primary', () => {
    const c = cycle({name: 'node3', view: cluster({leader: null}), config: standby, pg: pgReplica({walPosition: 90 * MB})}, {peers: {node1: peer({reachable: false}), node2: peer()}})
    assert.equal(c.rule, 'race.not-healthiest')
    assert.deepEqual(c.actions.at(-1), {type: 'follow', leader: null, remote: true})
    assert.equal(c.remember.role, 'replica')
  })

  test('a stopped member of an unlocked standby cluster starts following the remote', () => {
    const c = cycle({name: 'node2', view: cluster({leader: null}), pg: pgStopped({controlState: 'shut down in recovery'}), config: standby, memory: {pgState: 'stopped'}})
    assert.equal(c.rule, 'recover.follow-remote')
    assert.equal(c.reason, 'trying to follow a remote member because standby cluster is unhealthy')
  })
})

describe('standby cluster: bootstrap', () => {
  const empty = {dataDir: {kind: 'empty' as const}, process: 'stopped' as const, inRecovery: null, timeline: null, walPosition: null, controlState: null, recoverySignal: false, startingSince: null, pendingRestart: false}

  test('the initialize winner clones from the remote primary instead of running initdb', () => {
    const view = {...cluster({leader: null, members: []}), initialize: null}
    const c = cycle({view, pg: empty, config: standby})
    assert.equal(c.rule, 'bootstrap.standby-leader')
    assert.equal(c.reason, 'trying to bootstrap a new standby leader')
    assert.deepEqual(c.actions.at(-1), {type: 'clone', source: null, sourceRole: null, remote: true})
    assert.equal(c.remember.bootstrapping, true)
    const n = cycle({view, pg: empty})
    assert.deepEqual(n.actions.at(-1), {type: 'bootstrap'})
  })

  test('a finished clone becomes the standby leader: initialize, config and leader keys, no post_bootstrap', () => {
    const view = {...cluster({leader: null}), initialize: ''}
    const d = decide(obs({view, pg: pgReplica(), config: standby, memory: {bootstrapping: true, lastTask: {kind: 'clone', ok: true, finishedAt: 0}, watchdogRunning: true}}))
    assert.equal(d.rule, 'bootstrap.done')
    assert.deepEqual(types(d.actions), ['initialize', 'restore-config', 'take-leader'])
    assert.equal(d.remember?.role, 'standby_leader')
  })

  test('a failed clone of the standby leader gives up the initialize key and exits, as a failed bootstrap', () => {
    const view = {...cluster({leader: null}), initialize: ''}
    const d = decide(obs({view, pg: pgStopped(), config: standby, memory: {bootstrapping: true, lastTask: {kind: 'clone', ok: false, finishedAt: 0}}}))
    assert.equal(d.rule, 'bootstrap.failed')
    assert.deepEqual(types(d.actions), ['cancel-initialization', 'exit'])
  })

  test('another member waits for the standby leader', () => {
    const view = {...cluster({leader: null, members: []}), initialize: ''}
    const c = cycle({name: 'node2', view, pg: empty, config: standby})
    assert.equal(c.reason, 'waiting for standby_leader to bootstrap')
  })
})

describe('standby cluster: safety over a grid of situations', () => {
  const lockHolders = ['none', 'self', 'other'] as const
  const pgStates = [
    {label: 'primary', pg: pgPrimary(), role: 'primary' as const},
    {label: 'replica', pg: pgReplica(), role: 'replica' as const},
    {label: 'standby-leader', pg: pgReplica(), role: 'standby_leader' as const},
    {label: 'stopped-crashed-primary', pg: pgStopped({controlState: 'in production'}), role: 'primary' as const},
    {label: 'stopped-replica', pg: pgStopped({controlState: 'shut down in recovery'}), role: 'replica' as const},
    {label: 'query-failed', pg: pgPrimary({inRecovery: null}), role: 'standby_leader' as const},
  ]
  const failovers = [null, {leader: 'node1', candidate: 'node2'}, {candidate: 'node2'}]
  const peerSets: Array<Record<string, PeerStatus>> = [{}, {node1: peer({walPosition: 10 * MB}), node3: peer({walPosition: 10 * MB})}, {node1: peer({walPosition: 200 * MB}), node3: peer()}]
  const scripts: Script[] = [{}, {update: false, acquire: false}, {update: 'dcs-error'}]

  test('nobody promotes; a running primary holding the lock is demoted into a standby leader; the remote is followed only by the lock holder or while nobody holds the lock', () => {
    let n = 0
    for (const lock of lockHolders)
      for (const p of pgStates)
        for (const paused of [false, true])
          for (const down of [undefined, 15])
            for (const f of failovers)
              for (const peers of peerSets)
                for (const s of scripts) {
                  if (down !== undefined && Object.keys(s).length) continue
                  const view = cluster({leader: lock === 'none' ? null : lock === 'self' ? 'node2' : 'node1', failover: f})
                  const o = obs({name: 'node2', view, unreachableFor: down, pg: p.pg, config: {standbyCluster: true, paused}, memory: {role: p.role, watchdogRunning: lock === 'self'}})
                  const t = runCycle(o, {...s, peers, rewind: 'not-need'})
                  const where = `lock=${lock} pg=${p.label} paused=${paused} down=${down} failover=${JSON.stringify(f)} peers=${Object.keys(peers).length} script=${JSON.stringify(s)}: ${t.decisions.map((d) => d.rule).join(' -> ')} "${t.final.reason}"`
                  assert.ok(!t.actions.some((a) => a.type === 'promote'), `promoted in a standby cluster: ${where}`)
                  for (const a of t.actions) {
                    if (a.type === 'start' && a.as === 'primary') assert.equal(p.role, 'primary', `a non-primary started as primary: ${where}`)
                    const remote = (a.type === 'follow' || a.type === 'start' || a.type === 'clone') && a.remote === true
                    if (remote) {
                      const holder = t.actions.some((x) => x.type === 'acquire-lock') ? (s.acquire ?? true) : lock === 'self'
                      assert.ok(holder || (lock === 'none' && !paused), `followed the remote without holding the lock: ${where}`)
                    }
                  }
                  const renewedOwnLock = lock === 'self' && down === undefined && s.update === undefined
                  if (renewedOwnLock && !paused && p.label === 'primary' && f === null) {
                    assert.ok(t.actions.some((a) => a.type === 'demote' && a.mode === 'demote-cluster'), `primary kept running in a standby cluster: ${where}`)
                    assert.ok(!t.actions.some((a) => a.type === 'release-lock'), `released the lock on demote-cluster: ${where}`)
                  }
                  n++
                }
    assert.ok(n > 1000, `grid unexpectedly small: ${n}`)
  })
})
