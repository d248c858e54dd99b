/**
 * Exhaustive safety grid: every combination of the dimensions below is driven through a whole
 * cycle (decide, perform branching steps from a script, decide again) and the [SAFETY]
 * invariants are asserted on every decision of it.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import type {Action, Decision} from '../../../src/core/actions'
import {decide} from '../../../src/core/decide'
import type {Failover} from '../../../src/core/cluster'
import type {Observation, PeerStatus, PgObservation, RunningTask} from '../../../src/core/observation'
import {MB, NOW, cluster, obs, peer, pgPrimary, pgReplica, pgStopped, runCycle, type Script} from './decide-fixtures'

const ME = 'node2'
const lockHolders = ['none', 'self', 'other'] as const
const dcsStates = [{label: 'reachable', for: undefined}, {label: 'down 3s', for: 3}, {label: 'down 15s', for: 15}, {label: 'down 29s', for: 29}, {label: 'down 120s', for: 120}] as const
const pgStates: Array<{label: string; pg: PgObservation; role: 'primary' | 'replica'}> = [
  {label: 'primary', pg: pgPrimary(), role: 'primary'},
  {label: 'replica', pg: pgReplica(), role: 'replica'},
  {label: 'replica-lagging', pg: pgReplica({walPosition: 50 * MB}), role: 'replica'},
  {label: 'stopped-crashed-primary', pg: pgStopped({controlState: 'in production'}), role: 'primary'},
  {label: 'stopped-replica', pg: pgStopped({controlState: 'shut down in recovery'}), role: 'replica'},
  {label: 'starting', pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW - 400_000}), role: 'primary'},
  {label: 'unknown', pg: pgPrimary({process: 'unknown', inRecovery: null, walPosition: null}), role: 'replica'},
  {label: 'query-failed-primary', pg: pgPrimary({inRecovery: null}), role: 'primary'},
]
const pauses = [false, true]
const nofailovers = [false, true]
const syncModes = ['off', 'on-in-sync', 'on-not-in-sync'] as const
const failovers: Array<{label: string; f: Partial<Failover> | null}> = [
  {label: 'none', f: null},
  {label: 'switchover-to-me', f: {leader: 'node1', candidate: ME}},
  {label: 'switchover-to-node3', f: {leader: 'node1', candidate: 'node3'}},
  {label: 'failover-to-me', f: {candidate: ME}},
  {label: 'scheduled-future', f: {leader: 'node1', candidate: ME, scheduledAt: 'later', scheduledAtMs: NOW + 3_600_000}},
]
const tasks: Array<{label: string; t: RunningTask | null}> = [
  {label: 'none', t: null},
  {label: 'promote', t: {kind: 'promote', name: 'promote', startedAt: NOW - 1000}},
  {label: 'restart', t: {kind: 'restart', name: 'restart', startedAt: NOW - 1000}},
]
const peerSets: Array<{label: string; peers: Record<string, PeerStatus>}> = [
  {label: 'peers-less-healthy', peers: {node1: peer({walPosition: 10 * MB}), node3: peer({walPosition: 10 * MB})}},
  {label: 'peers-healthier', peers: {node1: peer({walPosition: 200 * MB}), node3: peer({walPosition: 200 * MB})}},
  {label: 'peers-unreachable', peers: {}},
  {label: 'old-primary-alive', peers: {node1: peer({inRecovery: false}), node3: peer()}},
]
const scripts: Array<{label: string; s: Partial<Script>}> = [
  {label: 'dcs-ok', s: {}},
  {label: 'cas-lost', s: {update: false, acquire: false, setSync: false}},
  {label: 'dcs-error-on-renew', s: {update: 'dcs-error'}},
]

function isDemote(a: Action): boolean {
  return a.type === 'demote'
}
function startsPrimary(a: Action): boolean {
  return a.type === 'promote' || (a.type === 'start' && a.as === 'primary')
}

interface Combo {
  label: string
  o: Observation
  s: Script
}

function* combos(): Generator<Combo> {
  for (const lock of lockHolders)
    for (const d of dcsStates)
      for (const p of pgStates)
        for (const paused of pauses)
          for (const nofailover of nofailovers)
            for (const sync of syncModes)
              for (const fo of failovers)
                for (const task of tasks)
                  for (const ps of peerSets)
                    for (const sc of scripts) {
                      if (d.for !== undefined && sc.label !== 'dcs-ok') continue // no renewal attempt without a DCS
                      const view = cluster({
                        leader: lock === 'none' ? null : lock === 'self' ? ME : 'node1',
                        failover: fo.f,
                        sync: sync === 'off' ? null : {leader: 'node1', standby: sync === 'on-in-sync' ? ME : 'node3'},
                      })
                      const o = obs({
                        name: ME,
                        view,
                        unreachableFor: d.for,
                        lastLockRenewal: d.for === undefined ? NOW - 10_000 : NOW - d.for * 1000,
                        pg: p.pg,
                        task: task.t,
                        config: {
                          paused,
                          synchronousMode: sync !== 'off',
                          tags: {nofailover, failoverPriority: nofailover ? 0 : 1, clonefrom: false, replicatefrom: null, nostream: false},
                        },
                        memory: {role: p.role, pgState: p.pg.process === 'stopped' ? 'running' : 'running', watchdogRunning: lock === 'self'},
                      })
                      const label = [`lock=${lock}`, `dcs=${d.label}`, `pg=${p.label}`, `paused=${paused}`, `nofailover=${nofailover}`, `sync=${sync}`, `failover=${fo.label}`, `task=${task.label}`, ps.label, sc.label].join(' ')
                      yield {label, o, s: {...sc.s, peers: ps.peers, rewind: 'not-need'}}
                    }
}

/** Observation of the i-th decision in the cycle, rebuilt the way runCycle builds it. */
function check(c: Combo): void {
  const t = runCycle(c.o, c.s)
  const cfg = c.o.config
  const pgIsPrimary = (c.o.pg.process === 'running' || c.o.pg.process === 'starting') && c.o.pg.inRecovery === false
  const pgActsPrimary = pgIsPrimary || ((c.o.pg.process === 'running') && c.o.pg.inRecovery === null && c.o.memory.role === 'primary')
  const view = c.o.dcs.reachable ? c.o.dcs.cluster : null
  const failover = view?.failover ?? null
  const where = (d?: Decision) => `${c.label}\n  rules: ${t.decisions.map((x) => x.rule).join(' -> ')}\n  final: "${t.final.reason}"${d ? `\n  at: ${d.rule}` : ''}`

  // Outcomes seen before each decision, to check "the lock was held in the same observation".
  let renewed = false
  let renewalFailed = false
  for (const d of t.decisions) {
    for (const a of d.actions) {
      if (startsPrimary(a)) {
        assert.ok(renewed, `promote/start-as-primary without acquiring or renewing the lock this cycle: ${where(d)}`)
        assert.ok(c.o.dcs.reachable, `promote with the DCS unreachable: ${where(d)}`)
      }
      if (a.type === 'acquire-lock') {
        assert.ok(!(cfg.tags.nofailover && !pgIsPrimary), `nofailover node raced for the lock: ${where(d)}`)
        assert.ok(c.o.task === null, `raced for the lock with a task running: ${where(d)}`)
      }
    }
    // Outcomes the script produced for this decision's branching actions.
    for (const a of d.actions) {
      if (a.type === 'acquire-lock') renewed = c.s.acquire ?? true
      if (a.type === 'update-lock') {
        if (c.s.update === 'dcs-error' || c.s.update === false) renewalFailed = true
        else renewed = true
      }
    }
  }
  const all = t.actions
  // Existing data starts as a primary only when it was the primary that crashed (same timeline, no promotion).
  for (const a of all) {
    if (a.type === 'start' && a.as === 'primary') {
      assert.ok(c.o.memory.role === 'primary' && !c.o.pg.recoverySignal, `started a non-primary data directory as primary: ${where()}`)
    }
  }
  const promotes = all.some(startsPrimary)
  const demotes = all.some(isDemote)

  // A primary that cannot renew demotes (DCS unreachable: offline; CAS lost: immediate-nolock).
  if (!cfg.paused && pgActsPrimary && (!c.o.dcs.reachable || renewalFailed) && c.o.pg.process !== 'starting') {
    assert.ok(demotes, `primary that cannot renew did not demote: ${where()}`)
  }
  if (!c.o.dcs.reachable) assert.ok(!all.some((a) => a.type === 'acquire-lock' || a.type === 'update-lock'), `DCS writes while unreachable: ${where()}`)

  // A running primary without the lock is demoted at once (not paused).
  if (!cfg.paused && pgIsPrimary && c.o.dcs.reachable && view?.leader && view.leader.name !== ME && c.o.task === null) {
    assert.ok(demotes, `primary without the lock kept running: ${where()}`)
  }

  // Synchronous mode: a replica outside /sync never promotes, unless it is the named candidate of a manual failover.
  if (cfg.synchronousMode && view?.sync.leader && !pgIsPrimary) {
    const inSync = [view.sync.leader, ...(view.sync.syncStandby ?? '').split(',')].includes(ME)
    const namedFailover = failover?.candidate === ME && !failover.leader
    if (!inSync && !namedFailover) assert.ok(!all.some((a) => a.type === 'promote' || a.type === 'acquire-lock'), `non-sync replica promoted: ${where()}`)
  }

  // nofailover never promotes.
  if (cfg.tags.nofailover) assert.ok(!all.some((a) => a.type === 'promote'), `nofailover node promoted: ${where()}`)

  // Pause: no automatic promotion or demotion; only a named candidate promotes, only a switchover demotes gracefully.
  if (cfg.paused) {
    if (all.some((a) => a.type === 'promote')) assert.equal(failover?.candidate, ME, `promoted in pause without being the named candidate: ${where()}`)
    for (const a of all) {
      if (a.type === 'demote') assert.ok(a.mode === 'graceful' && failover, `automatic demotion in pause: ${where()}`)
      if (a.type === 'start') assert.fail(`started PostgreSQL in pause: ${where()}`)
    }
  }

  // Unknown PostgreSQL is never healthy: no race, no promotion.
  if (c.o.pg.process === 'unknown' || (c.o.pg.process === 'running' && c.o.pg.inRecovery === null && c.o.dcs.reachable)) {
    assert.ok(!all.some((a) => a.type === 'acquire-lock' || a.type === 'promote'), `unknown PostgreSQL took part in the race: ${where()}`)
  }

  // A scheduled switchover in the future never demotes now.
  if (failover?.scheduledAtMs && failover.scheduledAtMs > c.o.now + cfg.loopWait * 1000) {
    assert.ok(!all.some((a) => a.type === 'demote' && a.mode === 'graceful'), `scheduled switchover ran early: ${where()}`)
  }

  // Determinism: the same observation gives the same decision.
  assert.deepEqual(decide(c.o), t.decisions[0], `non-deterministic decision: ${where()}`)
  assert.ok(t.final.reason.length > 0, `empty reason: ${where()}`)
}

describe('safety grid', () => {
  test('every combination keeps the safety invariants', () => {
    let n = 0
    for (const c of combos()) {
      check(c)
      n++
    }
    assert.ok(n > 50_000, `grid unexpectedly small: ${n}`)
  })
})
