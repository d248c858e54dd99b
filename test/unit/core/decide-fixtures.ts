/**
 * Builders for decide() observations: a healthy three-node cluster seen from one node, with
 * every field overridable. Pure data, shared by the decision-table and safety-grid tests.
 */
import type {ClusterView, Failover, Member} from '../../../src/core/cluster'
import {emptyCluster} from '../../../src/core/cluster'
import type {Action, Decision} from '../../../src/core/actions'
import type {AgentMemory, DecideConfig, Observation, PeerStatus, PgObservation, StepOutcome} from '../../../src/core/observation'
import {decide} from '../../../src/core/decide'

export const SYSID = '7000000000000000001'
export const NOW = Date.UTC(2026, 0, 1, 12, 0, 0)
export const MB = 1024 * 1024

export function member(name: string, over: Partial<Member> = {}): Member {
  return {
    name,
    version: 10,
    session: '1',
    data: {},
    role: 'replica',
    state: 'running',
    apiUrl: `http://127.0.0.1:80${name.slice(-1)}/patroni`,
    connUrl: `postgres://127.0.0.1:54${name.slice(-1)}/postgres`,
    lsn: 100 * MB,
    timeline: 1,
    tags: {},
    patroniVersion: [3, 0, 2],
    ...over,
  }
}

export function cluster(opts: {leader?: string | null; members?: string[]; failover?: Partial<Failover> | null; sync?: {leader: string; standby: string | null} | null; lastLsn?: number; timeline?: number} = {}): ClusterView {
  const names = opts.members ?? ['node1', 'node2', 'node3']
  const members = names.map((n) => member(n, {role: n === opts.leader ? 'primary' : 'replica'}))
  const c = emptyCluster()
  c.initialize = SYSID
  c.config = {version: 5, modifyVersion: 5, data: {ttl: 30}, valid: true}
  c.members = members
  const leader = opts.leader === undefined ? 'node1' : opts.leader
  if (leader) {
    c.leader = {name: leader, version: 20, session: '1', member: members.find((m) => m.name === leader) ?? member(leader, {version: -1})}
    members.forEach((m) => m.name === leader && (m.role = 'primary'))
  }
  c.status = {lastLsn: opts.lastLsn ?? 100 * MB, slots: null, retainSlots: []}
  const tl = opts.timeline ?? 1
  c.history = {version: 3, raw: tl === 1 ? '[]' : 'x', lines: tl === 1 ? [] : [[tl - 1, 50 * MB, 'no recovery target specified', '2026-01-01T00:00:00+00:00', 'node1']], valid: true}
  if (opts.failover) {
    c.failover = {version: 30, leader: null, candidate: null, scheduledAt: null, scheduledAtMs: null, ...opts.failover}
  }
  if (opts.sync) c.sync = {version: 40, leader: opts.sync.leader, syncStandby: opts.sync.standby, quorum: 0}
  else c.sync = {version: null, leader: null, syncStandby: null, quorum: 0}
  return c
}

export function config(over: Partial<DecideConfig> = {}): DecideConfig {
  return {
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
    maximumLagOnFailover: MB,
    primaryStartTimeout: 300,
    synchronousMode: false,
    synchronousModeStrict: false,
    checkTimeline: false,
    paused: false,
    failsafeMode: false,
    tags: {nofailover: false, failoverPriority: 1, clonefrom: false, replicatefrom: null, nostream: false},
    usePgRewind: false,
    removeDataDirectoryOnRewindFailure: false,
    removeDataDirectoryOnDivergedTimelines: false,
    canBootstrap: true,
    cloneWithoutLeader: false,
    watchdogRequired: false,
    watchdogHealthy: true,
    standbyCluster: false,
    ...over,
  }
}

export function pgPrimary(over: Partial<PgObservation> = {}): PgObservation {
  return {
    dataDir: {kind: 'present', sysid: SYSID},
    process: 'running',
    inRecovery: false,
    timeline: 1,
    walPosition: 100 * MB,
    controlState: 'in production',
    recoverySignal: false,
    startingSince: null,
    pendingRestart: false,
    ...over,
  }
}

export function pgReplica(over: Partial<PgObservation> = {}): PgObservation {
  return pgPrimary({inRecovery: true, controlState: 'in archive recovery', recoverySignal: true, ...over})
}

export function pgStopped(over: Partial<PgObservation> = {}): PgObservation {
  return pgPrimary({process: 'stopped', inRecovery: null, walPosition: null, timeline: null, controlState: 'shut down', ...over})
}

export function memory(over: Partial<AgentMemory> = {}): AgentMemory {
  return {
    role: 'replica',
    pgState: 'running',
    bootstrapping: false,
    recovering: false,
    crashRecoveryStartedAt: null,
    prePromoteFailedAt: null,
    lastTask: null,
    startTimeoutS: null,
    rewind: 'initial',
    canRewind: false,
    watchdogRunning: true,
    callbackFired: true,
    ...over,
  }
}

export function peer(over: Partial<PeerStatus> = {}): PeerStatus {
  return {reachable: true, inRecovery: true, walPosition: 100 * MB, timeline: 1, nofailover: false, failoverPriority: 1, watchdogFailed: false, ...over}
}

export interface ObsOptions {
  name?: string
  view?: ClusterView
  unreachableFor?: number
  config?: Partial<DecideConfig>
  pg?: PgObservation
  peers?: Record<string, PeerStatus>
  memory?: Partial<AgentMemory>
  task?: Observation['task']
  outcomes?: StepOutcome[]
  now?: number
  lastLockRenewal?: number | null
}

export function obs(o: ObsOptions = {}): Observation {
  const name = o.name ?? 'node1'
  const view = o.view ?? cluster()
  const now = o.now ?? NOW
  return {
    name,
    now,
    config: config(o.config),
    dcs:
      o.unreachableFor === undefined
        ? {reachable: true, cluster: view, lastLockedMembers: view.leader ? view.members : []}
        : {reachable: false, unreachableSince: now - o.unreachableFor * 1000, lastCluster: view, store: 'etcd'},
    dcsLastSeen: o.unreachableFor === undefined ? now : now - o.unreachableFor * 1000,
    lastLockRenewal: o.lastLockRenewal === undefined ? now - 10_000 : o.lastLockRenewal,
    pg: o.pg ?? (view.leader?.name === name ? pgPrimary() : pgReplica()),
    peers: o.peers,
    task: o.task ?? null,
    // A paused node's watchdog is disarmed (its first paused cycle did that).
    memory: memory({watchdogRunning: view.leader?.name === name && !o.config?.paused, ...o.memory}),
    outcomes: o.outcomes ?? [],
  }
}

/** A stand-in executor that answers branching actions from a script, to drive a whole cycle. */
export interface Script {
  /**
   * Keep kick-watchdog in the trace's `actions`. The armed watchdog is kicked after every renewal
   * (docs/ha-rules.md#watchdog); the rows about something else leave it out, the watchdog rows
   * (test/unit/core/watchdog.test.ts) keep it. `decisions` always hold it.
   */
  kicks?: boolean
  acquire?: boolean
  update?: boolean | 'dcs-error'
  initialize?: boolean
  setSync?: boolean
  watchdog?: boolean
  failsafe?: boolean
  peers?: Record<string, PeerStatus>
  rewind?: AgentMemory['rewind']
  /** Clock advance per sleep action. */
  advanceOnSleep?: boolean
}

export interface CycleTrace {
  decisions: Decision[]
  actions: Action[]
  final: Decision
}

export function runCycle(start: Observation, s: Script = {}, maxSteps = 12): CycleTrace {
  let o: Observation = start
  const decisions: Decision[] = []
  const actions: Action[] = []
  for (let i = 0; i < maxSteps; i++) {
    const d = decide(o)
    decisions.push(d)
    actions.push(...d.actions.filter((a) => s.kicks || a.type !== 'kick-watchdog'))
    if (d.then === 'done') return {decisions, actions, final: d}
    const outcomes = [...o.outcomes]
    let peers = o.peers
    let now = o.now
    let mem = {...o.memory, ...d.remember}
    for (const a of d.actions) {
      switch (a.type) {
        case 'acquire-lock':
          outcomes.push({type: 'acquire-lock', ok: s.acquire ?? true})
          break
        case 'update-lock':
          if (s.update === 'dcs-error') outcomes.push({type: 'dcs-error', during: 'update-lock'})
          else outcomes.push({type: 'update-lock', ok: s.update ?? true})
          break
        case 'initialize':
          outcomes.push({type: 'initialize', ok: s.initialize ?? true})
          break
        case 'set-sync':
          outcomes.push({type: 'set-sync', ok: s.setSync ?? true})
          break
        case 'activate-watchdog':
          outcomes.push({type: 'activate-watchdog', ok: s.watchdog ?? true})
          if (s.watchdog ?? true) mem = {...mem, watchdogRunning: true}
          break
        case 'kick-watchdog':
          outcomes.push({type: 'kick-watchdog'})
          break
        case 'disable-watchdog':
          mem = {...mem, watchdogRunning: false}
          break
        case 'failsafe-probe':
          outcomes.push({type: 'failsafe-probe', ok: s.failsafe ?? false})
          break
        case 'fetch-peer-status':
          peers = {...(peers ?? {}), ...Object.fromEntries(a.members.map((m) => [m.name, s.peers?.[m.name] ?? peer({reachable: false})]))}
          outcomes.push({type: 'fetch-peer-status'})
          break
        case 'check-rewind':
          outcomes.push({type: 'check-rewind', state: s.rewind ?? 'not-need'})
          break
        case 'sleep':
          outcomes.push({type: 'sleep'})
          if (s.advanceOnSleep ?? true) now += a.ms
          break
        default:
          break
      }
    }
    o = {...o, outcomes, peers, now, memory: mem}
  }
  throw new Error(`cycle did not finish within ${maxSteps} steps: ${decisions.map((d) => d.rule).join(' -> ')}`)
}
