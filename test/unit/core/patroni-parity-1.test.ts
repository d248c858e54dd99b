/**
 * The decisions behind primary_start_timeout, primary_stop_timeout, pre_promote and the nostream
 * tag, each against Patroni's rule (patroni/ha.py Ha.recover, Ha.handle_starting_instance,
 * Ha.handle_long_action_in_progress, Ha.is_failover_possible, Ha.get_failover_candidates,
 * Ha.primary_stop_timeout, Ha.enforce_primary_role, Ha.is_healthiest_node, Ha._get_node_to_follow;
 * patroni/dcs/__init__.py Cluster._get_members_slots; patroni/tags.py Tags._filter_tags).
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import type {Action} from '../../../src/core/actions'
import {isFailoverPossible} from '../../../src/core/candidates'
import type {PeerStatus} from '../../../src/core/observation'
import {makeCtx} from '../../../src/core/rules/context'
import {memberToFollow, nodeToFollow} from '../../../src/core/rules/follow'
import {shutdownPlan} from '../../../src/core/shutdown'
import {slotMembers} from '../../../src/core/slots'
import {publishedTags, tagIsTrue} from '../../../src/core/tags'
import {MB, NOW, cluster, member, obs, peer, pgPrimary, pgReplica, pgStopped, runCycle, type ObsOptions} from './decide-fixtures'

const ctx = (o: ObsOptions) => makeCtx({...obs(o), outcomes: [{type: 'fetch-peer-status'}]})
const healthy = {node2: peer(), node3: peer({walPosition: 90 * MB})}
const down = {node2: peer({reachable: false}), node3: peer({reachable: false})}
/** node1 holds the lock; its postmaster died while it ran as primary. */
const crashed = (over: ObsOptions = {}): ObsOptions => ({pg: pgStopped({controlState: 'in production'}), memory: {role: 'primary', pgState: 'running'}, ...over})
const types = (as: Action[]) => as.map((a) => a.type)
const startOf = (as: Action[]) => as.find((a): a is Extract<Action, {type: 'start'}> => a.type === 'start')

describe('primary_start_timeout after the primary crashed (Ha.recover)', () => {
  test('0 with a healthy replica: stop (immediate) and give the lock up at once, no restart', () => {
    const t = runCycle(obs(crashed({config: {primaryStartTimeout: 0}})), {peers: healthy})
    assert.equal(t.final.rule, 'recover.failover-after-crash')
    assert.deepEqual(types(t.actions), ['update-lock', 'fetch-peer-status', 'disable-watchdog', 'demote'])
    assert.deepEqual(t.actions.at(-1), {type: 'demote', mode: 'immediate'})
    assert.equal(startOf(t.actions), undefined, 'PostgreSQL is not started again')
  })

  test('0 with nobody to take over: no restart as primary, it starts read-only with the lock (timeout 0 is falsy in Patroni)', () => {
    const t = runCycle(obs(crashed({config: {primaryStartTimeout: 0}})), {peers: down})
    assert.ok(!types(t.actions).includes('demote'), 'no demotion without a candidate')
    assert.equal(t.final.rule, 'recover.readonly-with-lock')
    const s = startOf(t.actions)
    assert.equal(s?.as, 'replica')
    assert.equal(s?.timeoutS, 0, 'the start gets primary_start_timeout 0 (the executor turns it into pg_ctl_timeout)')
  })

  test('> 0: the lock holder starts the crashed primary again with that timeout, asking no peer', () => {
    const t = runCycle(obs(crashed({config: {primaryStartTimeout: 120}})), {peers: healthy})
    assert.equal(t.final.rule, 'recover.restart-primary')
    assert.deepEqual(types(t.actions), ['update-lock', 'start'])
    assert.deepEqual(startOf(t.actions), {type: 'start', as: 'primary', upstream: null, task: 'start-primary-after-failure', timeoutS: 120})
  })

  test('a replica (no lock) never starts as primary, whatever the timeout', () => {
    for (const primaryStartTimeout of [0, 300]) {
      const t = runCycle(obs({name: 'node2', pg: pgStopped({controlState: 'in archive recovery'}), memory: {role: 'replica', pgState: 'running'}, config: {primaryStartTimeout}}), {peers: healthy})
      assert.equal(startOf(t.actions)?.as, 'replica', `timeout ${primaryStartTimeout}`)
      assert.ok(!types(t.actions).includes('demote'))
    }
  })

  test('a lock that could not be renewed starts nothing as primary', () => {
    const t = runCycle(obs(crashed({config: {primaryStartTimeout: 0}})), {peers: healthy, update: false})
    assert.ok(!types(t.actions).includes('demote'))
    assert.notEqual(startOf(t.actions)?.as, 'primary')
  })
})

describe('primary_start_timeout while PostgreSQL starts (Ha.handle_starting_instance)', () => {
  const starting = (since: number, over: ObsOptions = {}) => obs({pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW - since * 1000}), ...over})

  test('before the timeout the lock holder waits and says how long is left', () => {
    const t = runCycle(starting(100, {config: {primaryStartTimeout: 300}}), {peers: healthy})
    assert.equal(t.final.rule, 'starting.wait')
    assert.match(t.final.reason, /^PostgreSQL is still starting up, 200 seconds until timeout/)
  })

  test('after it: demote (immediate) when someone can take over, keep waiting otherwise', () => {
    assert.equal(runCycle(starting(301), {peers: healthy}).final.rule, 'starting.timeout')
    assert.equal(runCycle(starting(301), {peers: down}).final.rule, 'starting.timeout-no-failover')
  })

  test('a POST /restart timeout overrides it; a restart timeout of 0 means primary_start_timeout (`_start_timeout or ...`)', () => {
    assert.equal(runCycle(starting(61, {memory: {startTimeoutS: 60}}), {peers: healthy}).final.rule, 'starting.timeout')
    const zero = runCycle(starting(61, {memory: {startTimeoutS: 0}, config: {primaryStartTimeout: 300}}), {peers: healthy})
    assert.equal(zero.final.rule, 'starting.wait')
    assert.match(zero.final.reason, /239 seconds until timeout/)
  })

  test('crash recovery that outlasts it is cancelled when someone can take over (Ha.handle_long_action_in_progress)', () => {
    const o = (started: number) => obs({pg: pgStopped(), task: {kind: 'crash-recovery', name: 'doing crash recovery in a single user mode', startedAt: started}, memory: {crashRecoveryStartedAt: started}, config: {primaryStartTimeout: 60}})
    assert.equal(runCycle(o(NOW - 30_000), {peers: healthy}).final.rule, 'task.leader-renewed')
    const t = runCycle(o(NOW - 61_000), {peers: healthy})
    assert.equal(t.final.rule, 'task.crash-recovery-timeout')
    assert.deepEqual(types(t.actions), ['update-lock', 'fetch-peer-status', 'cancel-task', 'demote'])
    assert.equal(runCycle(o(NOW - 61_000), {peers: down}).final.rule, 'task.leader-renewed')
  })
})

describe('who can take over from a crashed primary (Ha.is_failover_possible, Ha.get_failover_candidates)', () => {
  const sync = (standby: string | null) => cluster({sync: {leader: 'node1', standby}})
  const peers = (over: Record<string, Partial<PeerStatus>>) => ({node2: peer(over['node2']), node3: peer(over['node3'])})

  test('synchronous mode active: only the /sync standby counts', () => {
    const cfg = {synchronousMode: true}
    assert.equal(isFailoverPossible(ctx({view: sync('node2'), config: cfg, peers: peers({node2: {reachable: false}})})).ok, false, 'node3 is healthy but asynchronous')
    assert.equal(isFailoverPossible(ctx({view: sync('node2'), config: cfg, peers: peers({node3: {reachable: false}})})).ok, true)
    assert.equal(isFailoverPossible(ctx({view: sync(null), config: cfg, peers: peers({})})).ok, false, '/sync names no standby: nobody may take over')
  })

  test('so with primary_start_timeout 0 in synchronous mode the crashed primary restarts when its sync standby is down', () => {
    const t = runCycle(obs(crashed({view: sync('node2'), config: {primaryStartTimeout: 0, synchronousMode: true}})), {peers: peers({node2: {reachable: false}})})
    assert.ok(!types(t.actions).includes('demote'), t.final.rule)
    const ok = runCycle(obs(crashed({view: sync('node2'), config: {primaryStartTimeout: 0, synchronousMode: true}})), {peers: healthy})
    assert.equal(ok.final.rule, 'recover.failover-after-crash')
  })

  test('synchronous mode requested but not yet active (/sync empty): every member counts, as in Patroni (sync_mode_is_active)', () => {
    assert.equal(isFailoverPossible(ctx({view: cluster(), config: {synchronousMode: true}, peers: peers({node2: {reachable: false}})})).ok, true)
  })

  test('a failover request without a leader may go to an asynchronous member', () => {
    const view = {...sync('node2'), failover: {version: 30, leader: null, candidate: 'node3', scheduledAt: null, scheduledAtMs: null}}
    assert.equal(isFailoverPossible(ctx({view, config: {synchronousMode: true}, peers: peers({node2: {reachable: false}})})).ok, true)
  })

  test('a /failover candidate is the only one considered unless left out', () => {
    const view = {...cluster(), failover: {version: 30, leader: 'node1', candidate: 'node3', scheduledAt: null, scheduledAtMs: null}}
    const c = ctx({view, peers: peers({node3: {reachable: false}})})
    assert.equal(isFailoverPossible(c).ok, false, 'node2 is healthy, but node3 is the candidate')
    assert.equal(isFailoverPossible(c, {exclude: ['node3']}).ok, true)
  })

  test('nofailover members, members without api_url, lagging members and the crashed node itself never count', () => {
    const view = cluster()
    view.members = [member('node1', {role: 'primary'}), member('node2', {tags: {nofailover: true}}), member('node3', {apiUrl: null})]
    assert.equal(isFailoverPossible(ctx({view, peers: healthy})).ok, false)
    assert.equal(isFailoverPossible(ctx({peers: peers({node2: {walPosition: 10 * MB}, node3: {reachable: false}})})).ok, false)
  })
})

describe('primary_stop_timeout (Ha.primary_stop_timeout: synchronous mode only)', () => {
  const facts = {cause: 'signal' as const, paused: false, holdsLock: true, pgRunning: true}
  test('in synchronous mode a positive value limits the fast stop before escalating', () => {
    assert.deepEqual(shutdownPlan({...facts, synchronousMode: true, primaryStopTimeout: 7}).stop, {mode: 'fast', timeoutMs: 7000})
  })
  test('without synchronous mode, or 0, a fast stop waits however long it takes', () => {
    assert.deepEqual(shutdownPlan({...facts, synchronousMode: false, primaryStopTimeout: 7}).stop, {mode: 'fast', timeoutMs: null})
    assert.deepEqual(shutdownPlan({...facts, synchronousMode: true, primaryStopTimeout: 0}).stop, {mode: 'fast', timeoutMs: null})
  })
})

describe('pre_promote (Ha.enforce_primary_role, Ha.is_healthiest_node)', () => {
  const failedPromote = {lastTask: {kind: 'promote' as const, ok: false, prePromoteFailed: true, finishedAt: NOW - 1000}}

  test('a failed script: the lock is released, the failure forgotten, and the node sits out the race for ttl', () => {
    const t = runCycle(obs({pg: pgReplica(), memory: {...failedPromote, role: 'promoted'}}))
    assert.equal(t.final.reason, 'Promotion cancelled because the pre-promote script failed')
    assert.deepEqual(types(t.actions), ['update-lock', 'release-lock'])
    assert.equal(t.final.remember?.prePromoteFailedAt, NOW)
    assert.equal(t.final.remember?.lastTask, null)

    const unlocked = cluster({leader: null})
    const early = runCycle(obs({now: NOW + 29_000, view: unlocked, pg: pgReplica(), memory: {prePromoteFailedAt: NOW}}), {peers: down})
    assert.match(early.final.reason, /backoff: skip leader race after pre_promote script failure/)
    assert.ok(!types(early.actions).includes('acquire-lock'))
    const late = runCycle(obs({now: NOW + 31_000, view: unlocked, pg: pgReplica(), memory: {prePromoteFailedAt: NOW}}), {peers: down})
    assert.ok(types(late.actions).includes('acquire-lock'), late.final.rule)
    assert.ok(types(late.actions).includes('promote'), 'after the backoff it tries again')
  })

  test('a failed promote that is not the script (pg_ctl promote) does not release the lock: promote again', () => {
    const t = runCycle(obs({pg: pgReplica(), memory: {lastTask: {kind: 'promote', ok: false, finishedAt: NOW - 1000}}}))
    assert.ok(!types(t.actions).includes('release-lock'))
    assert.ok(types(t.actions).includes('promote'))
  })

  test('in pause the failure is not acted upon (Patroni checks it only when not paused)', () => {
    const t = runCycle(obs({pg: pgReplica(), config: {paused: true}, view: cluster({failover: {candidate: 'node1'}}), memory: failedPromote}))
    assert.ok(!types(t.actions).includes('release-lock'), t.final.rule)
  })

  test('while the script runs the lock holder keeps renewing; losing the lock cancels it before pg_ctl promote', () => {
    const task = {kind: 'promote' as const, name: 'promote', startedAt: NOW - 5000}
    assert.equal(runCycle(obs({pg: pgReplica(), task, memory: {role: 'promoted'}})).final.rule, 'task.leader-renewed')
    const lost = runCycle(obs({name: 'node2', pg: pgReplica(), task, memory: {role: 'promoted'}}))
    assert.equal(lost.final.rule, 'task.lost-before-promote')
    assert.deepEqual(types(lost.actions), ['cancel-task'])
  })
})

describe('the nostream tag', () => {
  const nostream = {nofailover: false, failoverPriority: 1, clonefrom: false, replicatefrom: null, nostream: true}

  test('a nostream replica follows nobody: no primary_conninfo, the archive only (Ha._get_node_to_follow)', () => {
    assert.equal(nodeToFollow(ctx({name: 'node2', config: {tags: nostream}})), null)
    assert.equal(nodeToFollow(ctx({name: 'node2', config: {tags: {...nostream, replicatefrom: 'node3'}}})), null, 'not even its replicatefrom')
    assert.equal((nodeToFollow(ctx({name: 'node2'})) as {name: string} | null)?.name, 'node1')
    const t = runCycle(obs({name: 'node2', config: {tags: nostream}}))
    assert.equal(t.final.rule, 'healthy.follow')
    assert.deepEqual(t.actions.filter((a) => a.type === 'follow'), [{type: 'follow', leader: null}], 'pointed at nobody, so a primary_conninfo from before the tag goes')
    const r = runCycle(obs({name: 'node2', config: {tags: nostream}, pg: pgStopped({controlState: 'shut down in recovery'}), memory: {pgState: 'stopped'}}))
    const s = startOf(r.actions)
    assert.equal(s?.as, 'replica')
    assert.equal(s?.upstream, null)
  })

  test('a fresh clone starts following the same member (Ha.clone calls _get_node_to_follow)', () => {
    const view = cluster()
    assert.equal(memberToFollow(view, 'node2', {nostream: true, replicatefrom: null}), null)
    assert.equal(memberToFollow(view, 'node2', {nostream: false, replicatefrom: null})?.name, 'node1')
    assert.equal(memberToFollow(view, 'node2', {nostream: false, replicatefrom: 'node3'})?.name, 'node3')
    assert.equal(memberToFollow(view, 'node2', {nostream: false, replicatefrom: 'gone'})?.name, 'node1', 'an unknown replicatefrom falls back to the leader')
    assert.equal(memberToFollow(view, 'node1', {nostream: false, replicatefrom: null}), null, 'never itself')
  })

  test('the leader keeps no slot for a nostream member, however the tag is spelled (Cluster._get_members_slots, parse_bool)', () => {
    const ms = [member('node1'), member('node2', {tags: {nostream: true}}), member('node3', {tags: {nostream: 'yes'}}), member('node4', {tags: {nostream: false}}), member('node5', {tags: {nostream: 'off'}})]
    assert.deepEqual(slotMembers(ms, 'node1'), ['node4', 'node5'])
    for (const v of [true, 1, 'on', 'TRUE', 'yes', '1']) assert.equal(tagIsTrue(v), true, String(v))
    for (const v of [false, 0, 'off', 'no', '', null, undefined, 'maybe']) assert.equal(tagIsTrue(v), false, String(v))
  })

  test('a nostream member can still be promoted: the tag only changes how it replicates', () => {
    const view = cluster({leader: null})
    view.members = view.members.map((m) => (m.name === 'node2' ? {...m, tags: {nostream: true}} : m))
    const t = runCycle(obs({name: 'node2', view, config: {tags: nostream}}), {peers: {node1: peer({reachable: false}), node3: peer({walPosition: 90 * MB})}})
    assert.equal(t.final.rule, 'race.won')
  })
})

describe('published tags (Tags._filter_tags)', () => {
  test('unset boolean tags are left out, other tags are kept', () => {
    assert.deepEqual(publishedTags({nostream: false, nosync: false, clonefrom: false, noloadbalance: false, nofailover: false, replicatefrom: 'x', dc: 'east'}), {replicatefrom: 'x', dc: 'east'})
    assert.deepEqual(publishedTags({nostream: true, noloadbalance: true}), {nostream: true, noloadbalance: true})
  })
  test('nofailover next to failover_priority and nosync next to sync_priority are kept even when false', () => {
    assert.deepEqual(publishedTags({nofailover: false, failover_priority: 2}), {nofailover: false, failover_priority: 2})
    assert.deepEqual(publishedTags({nosync: false, sync_priority: 0}), {nosync: false, sync_priority: 0})
    assert.deepEqual(publishedTags({nosync: false, failover_priority: 2}), {failover_priority: 2})
  })
})
