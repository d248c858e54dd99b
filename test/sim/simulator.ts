/**
 * A deterministic simulation of an hactl cluster: several agents running the real HA loop
 * (src/agent/ha-loop.ts, its decide() core and the runtime's cycle and shutdown) in one process,
 * against the real etcd3 DCS adapter over an in-memory etcd (FakeKv: leases that expire,
 * revisions, watches), in-memory PostgreSQL servers (test/fakes/fake-postgres.ts: WAL lineages,
 * timelines, crashes, promote/stop latency, streaming replication) and one virtual clock.
 *
 * A seed picks a random fault schedule (partitions from etcd and from peers, agents frozen for
 * less or more than the ttl, killed or stopped and restarted, postmaster crashes, failing and
 * slow parts, switchovers, pause) on top of a client that keeps writing to whichever node says
 * it is the primary. After every step the invariants are checked:
 *
 * - split brain: never two members whose PostgreSQL is writable while both believe they lead
 *   (the lease-based belief the REST API answers GET /primary with);
 * - synchronous_mode: no acknowledged commit is missing from a server when it is promoted, nor
 *   from the final primary;
 * - liveness: a cluster that is not paused, with every fault healed and every agent running,
 *   has a primary again within LIVENESS_BOUND_S;
 * - pause: while the cluster is paused no agent promotes or stops a primary.
 *
 * `npm run sim -- --seed N` replays one schedule and prints its trace.
 */
import {HaLoop} from '../../src/agent/ha-loop'
import {runCycles, shutdownAgent} from '../../src/agent/runtime'
import type {ShutdownCause} from '../../src/core/shutdown'
import {snapshot} from '../../src/agent/snapshot'
import {createRestActions} from '../../src/agent/rest-actions'
import {Etcd3Dcs} from '../../src/adapters/dcs-etcd3/etcd3-dcs'
import type {CallOptions, Compare, KvBackend, TxnOp, WatchHandle, WatchHandlers, WatchEvent} from '../../src/adapters/dcs-etcd3/kv'
import {buildStatusDocument} from '../../src/api/status'
import {PATRONI_COMPAT_VERSION} from '../../src/build-info'
import {validateLocalConfig, type LocalConfig} from '../../src/config/schema'
import {HactlError} from '../../src/errors'
import {DEFAULT_LOG_SETTINGS, Logger, type LogSink} from '../../src/log/logger'
import type {PeerAnswer, Peers} from '../../src/ports/peers'
import {FakeKv} from '../fakes/fake-dcs'
import {FakePeers} from '../fakes/fake-peers'
import {FakeProcessRunner} from '../fakes/fake-process-runner'
import {FakeFiles} from '../fakes/fake-files'
import {contains, FakePostgres, PgWorld, type PgEvent} from '../fakes/fake-postgres'
import {drain, Gate, gated, gatedClock, SimClock} from './sim-clock'

export const TIMING = {ttl: 20, loopWait: 2, retryTimeout: 4}
/** A healed, unpaused cluster has a primary again within this many seconds (2 ttl + 5 loop_wait). */
export const LIVENESS_BOUND_S = 2 * TIMING.ttl + 5 * TIMING.loopWait
const TICK_MS = 200
const SCOPE = 'sim'

export interface SimOptions {
  seed: number
  nodes?: number
  /** synchronous_mode on (the durability invariant applies). Default: chosen by the seed. */
  sync?: boolean
  /**
   * With sync: synchronous_mode quorum (Patroni 4 quorum commit) instead of on; the same
   * invariant. Default: a third of the synchronous seeds (seed % 3 == 0, so the seed's other
   * choices stay as they were).
   */
  quorum?: boolean
  /** Number of faults. Default: chosen by the seed (2..6). */
  faults?: number
  /** Only these fault kinds (default: all). */
  kinds?: FaultKind[]
  /** Keep every log line and event for printing. */
  trace?: boolean
  /** A hand-written schedule instead of the seed's (scenario tests); the seed still names the run. */
  schedule?: Fault[]
  /** Extra dynamic configuration for bootstrap.dcs (scenario tests). */
  dcs?: Record<string, unknown>
}

export type FaultKind =
  | 'dcs-partition'
  | 'peer-partition'
  | 'freeze'
  | 'long-freeze'
  | 'kill-agent'
  | 'stop-agent'
  | 'crash-postmaster'
  | 'kill-node'
  | 'query-fails'
  | 'slow-dcs'
  | 'switchover'
  | 'pause'
  | 'stop-fails'
  | 'promote-fails'
  | 'slow-stop'
  | 'slow-queries'
  | 'bad-pause'
  | 'stream-stop'

export const FAULT_KINDS: FaultKind[] = [
  'dcs-partition',
  'peer-partition',
  'freeze',
  'long-freeze',
  'kill-agent',
  'stop-agent',
  'crash-postmaster',
  'kill-node',
  'query-fails',
  'slow-dcs',
  'switchover',
  'pause',
  'stop-fails',
  'promote-fails',
  'slow-stop',
  'slow-queries',
  'bad-pause',
  'stream-stop',
]

export interface Fault {
  kind: FaultKind
  /** Node index, or for a switchover the candidate's. */
  node: number
  /** Seconds after the cluster formed. */
  at: number
  /** Seconds it lasts (0 for instant ones). */
  duration: number
}

export interface SimResult {
  seed: number
  sync: boolean
  /** synchronous_mode quorum. */
  quorum: boolean
  faults: Fault[]
  /** Violated invariants, each a sentence with the time. */
  violations: string[]
  /** Virtual seconds simulated. */
  simulatedS: number
  /** Invariant checks made. */
  checks: number
  /** Steps: timer events processed plus client/replication ticks (each followed by the checks). */
  steps: number
  ackedCommits: number
  /** Every PostgreSQL event (start, stop, crash, promote, rewind, clone) in order. */
  events: PgEvent[]
  /** Members not streaming from the final primary at the end (reported; scenarios assert it). */
  notStreaming: string[]
  /** Most PostgreSQL servers writable at one check, whatever their agents believed. */
  maxWritable: number
  /** Asynchronous mode: acknowledged commits not on the final primary (allowed, reported). */
  lostAsync: number
  /** Longest time from the last heal to a primary, seconds (liveness margin). */
  recoveryS: number | null
  trace: string[]
}

/** mulberry32: a small seeded PRNG, so a seed is a whole schedule. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function schedule(seed: number, nodes: number, opts: Pick<SimOptions, 'faults' | 'kinds' | 'sync' | 'quorum'> = {}): {faults: Fault[]; sync: boolean; quorum: boolean} {
  const r = rng(seed)
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]
  const sync = opts.sync ?? (opts.quorum || r() < 0.5)
  const quorum = sync && (opts.quorum ?? seed % 3 === 0)
  const n = opts.faults ?? 2 + Math.floor(r() * 5)
  const kinds = opts.kinds ?? FAULT_KINDS
  const faults: Fault[] = []
  for (let i = 0; i < n; i++) {
    const kind = pick(kinds)
    const at = Math.round(r() * 60 * 10) / 10
    let duration: number
    switch (kind) {
      case 'long-freeze':
        duration = TIMING.ttl + 2 + Math.round(r() * 20)
        break
      case 'freeze':
        duration = 1 + Math.round(r() * (TIMING.ttl - 4))
        break
      case 'switchover':
      case 'crash-postmaster':
        duration = 0
        break
      default:
        duration = 2 + Math.round(r() * 30)
    }
    faults.push({kind, node: Math.floor(r() * nodes), at, duration})
  }
  faults.sort((a, b) => a.at - b.at || a.node - b.node)
  return {faults, sync, quorum}
}

class TraceSink implements LogSink {
  constructor(private readonly out: string[] | null) {}
  write(line: string): void {
    this.out?.push(line)
  }
  close(): void {}
}

/** One node's view of etcd: partitions (calls fail at their deadline), latency, death. */
class NodeKv implements KvBackend {
  partitioned = false
  latencyMs = 0
  private watches = new Set<{handle: WatchHandle; ended: boolean}>()
  private held: Array<() => void> = []

  constructor(
    private readonly kv: FakeKv,
    private readonly clock: SimClock,
    private readonly gate: Gate,
  ) {}

  private async call<T>(opts: CallOptions | undefined, fn: () => Promise<T>): Promise<T> {
    if (this.latencyMs > 0) await this.clock.sleep(this.latencyMs)
    if (this.partitioned) {
      // A real client keeps trying until the operation's deadline, then gives up.
      const wait = Math.max(0, (opts?.deadline ?? this.clock.monotonic() + 1000) - this.clock.monotonic())
      await this.clock.sleep(wait)
      throw new HactlError('DCS_UNAVAILABLE', 'etcd: no endpoint answered (simulated partition)', {recoverable: true})
    }
    return fn()
  }

  range(key: string, opts?: CallOptions & {prefix?: boolean; serializable?: boolean}) {
    return this.call(opts, () => this.kv.range(key, opts))
  }
  put(key: string, value: string, opts?: CallOptions & {lease?: string}) {
    return this.call(opts, () => this.kv.put(key, value, opts))
  }
  deleteRange(key: string, opts?: CallOptions & {prefix?: boolean}) {
    return this.call(opts, () => this.kv.deleteRange(key, opts))
  }
  txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[], opts?: CallOptions) {
    return this.call(opts, () => this.kv.txn(compare, success, failure, opts))
  }
  leaseGrant(ttl: number, opts?: CallOptions) {
    return this.call(opts, () => this.kv.leaseGrant(ttl))
  }
  leaseKeepAlive(id: string, opts?: CallOptions) {
    return this.call(opts, () => this.kv.leaseKeepAlive(id))
  }
  leaseRevoke(id: string, opts?: CallOptions) {
    return this.call(opts, () => this.kv.leaseRevoke(id))
  }
  watchPrefix(prefix: string, startRevision: number, handlers: WatchHandlers): WatchHandle {
    if (this.partitioned) {
      queueMicrotask(() => handlers.onClosed(new Error('etcd unreachable (simulated partition)')))
      return {close: () => {}}
    }
    const w = {handle: {close: () => {}} as WatchHandle, ended: false}
    // Events reach a frozen process only once it runs again, a dead one never.
    const deliver = (f: () => void) => {
      if (this.gate.state === 'run') f()
      else if (this.gate.state === 'frozen') this.held.push(f)
    }
    w.handle = this.kv.watchPrefix(prefix, startRevision, {
      onCreated: () => deliver(() => handlers.onCreated?.()),
      onEvents: (evs: WatchEvent[]) => deliver(() => !w.ended && handlers.onEvents(evs)),
      onClosed: (err) => {
        if (w.ended) return
        w.ended = true
        this.watches.delete(w)
        deliver(() => handlers.onClosed(err))
      },
    })
    this.watches.add(w)
    return {close: () => w.handle.close()}
  }
  setRetryTimeout(): void {}
  close(): void {
    this.cut()
  }

  /** Closes every open watch (a partition or a dead process): the store ends them. */
  cut(): void {
    for (const w of [...this.watches]) w.handle.close()
  }

  /** Delivers what a frozen process missed. */
  release(): void {
    for (const f of this.held.splice(0)) f()
  }
}

interface AgentProcess {
  gate: Gate
  log: Logger
  kv: NodeKv
  dcs: Etcd3Dcs
  loop: HaLoop
  stop: AbortController
  done: Promise<void>
  nextRunMs: number
}

class SimNode {
  readonly name: string
  readonly pg: FakePostgres
  readonly config: LocalConfig
  agent: AgentProcess | null = null
  /** REST unreachable in both directions. */
  peerPartitioned = false
  private dcsPartitioned = false
  private dcsLatencyMs = 0
  readonly apiUrl: string

  constructor(
    readonly sim: Simulation,
    readonly index: number,
  ) {
    this.name = `node${index}`
    const host = `127.0.1.${index + 1}`
    this.pg = sim.world.add(this.name, host, 5432)
    this.apiUrl = `http://${host}:8008/patroni`
    const v = validateLocalConfig({
      scope: SCOPE,
      name: this.name,
      restapi: {listen: `${host}:8008`, connect_address: `${host}:8008`},
      etcd3: {hosts: ['127.0.0.1:2379']},
      bootstrap: {
        dcs: {
          ttl: TIMING.ttl,
          loop_wait: TIMING.loopWait,
          retry_timeout: TIMING.retryTimeout,
          synchronous_mode: sim.quorum ? 'quorum' : sim.sync,
          maximum_lag_on_failover: 1048576,
          postgresql: {use_pg_rewind: true, use_slots: true},
          ...sim.opts.dcs,
        },
      },
      postgresql: {
        listen: `${host}:5432`,
        connect_address: `${host}:5432`,
        data_dir: this.pg.dataDir,
        authentication: {superuser: {username: 'postgres', password: 'sim'}, replication: {username: 'replicator', password: 'sim'}},
      },
    })
    if (!v.config) throw new Error(`simulator config invalid: ${JSON.stringify(v.issues)}`)
    this.config = v.config
  }

  get running(): boolean {
    return this.agent?.gate.state === 'run'
  }

  setDcsPartition(on: boolean): void {
    this.dcsPartitioned = on
    if (this.agent) {
      this.agent.kv.partitioned = on
      if (on) this.agent.kv.cut()
    }
  }

  setDcsLatency(ms: number): void {
    this.dcsLatencyMs = ms
    if (this.agent) this.agent.kv.latencyMs = ms
  }

  start(): void {
    if (this.agent) return
    const sim = this.sim
    const gate = new Gate()
    const clock = gatedClock(sim.clock, gate)
    const kv = new NodeKv(sim.kv, sim.clock, gate)
    kv.partitioned = this.dcsPartitioned
    kv.latencyMs = this.dcsLatencyMs
    const log = new Logger(
      {...DEFAULT_LOG_SETTINGS, level: sim.trace ? 'INFO' : 'CRITICAL', format: `%(asctime)s ${this.name} %(levelname)s: %(message)s`},
      new TraceSink(sim.trace),
      'hactl',
      () => new Date(sim.clock.now()),
    )
    const dcs = new Etcd3Dcs({
      kv,
      clock,
      name: this.name,
      scope: SCOPE,
      timing: {ttl: TIMING.ttl, loopWait: TIMING.loopWait, retryTimeout: TIMING.retryTimeout},
      watch: true,
      // One decoded view serves cycles until the cache changes: a modification fails here.
      freezeViews: true,
    })
    const stop = new AbortController()
    let cause: ShutdownCause = 'signal'
    const loop = new HaLoop({
      config: this.config,
      dcs,
      pg: gated(sim.agentPg(this), gate),
      clock,
      log,
      peers: gated(sim.peersFor(this), gate),
      processes: gated(new FakeProcessRunner(clock), gate),
      childEnv: {},
      files: new FakeFiles(),
      requestExit: (_code, c) => {
        cause = c ?? 'signal'
        stop.abort()
      },
    })
    const agent: AgentProcess = {gate, log, kv, dcs, loop, stop, done: Promise.resolve(), nextRunMs: sim.clock.now()}
    const deps = {loop, dcs, pg: gated(sim.agentPg(this), gate), clock, log}
    agent.done = (async () => {
      try {
        await runCycles(deps, stop.signal, (ms) => (agent.nextRunMs = ms))
      } finally {
        await shutdownAgent(deps, cause)
        kv.close()
        if (this.agent === agent) this.agent = null
      }
    })()
    this.agent = agent
    sim.note(`${this.name}: agent started`)
  }

  /** SIGTERM: the agent shuts down as it would under systemctl stop. */
  async terminate(): Promise<void> {
    const a = this.agent
    if (!a || a.gate.state === 'dead') return
    a.gate.thaw()
    a.stop.abort()
  }

  /** kill -9 of the agent: it does nothing more, its lease runs out. */
  kill(): void {
    const a = this.agent
    if (!a) return
    a.gate.kill()
    a.kv.cut()
    this.agent = null
    this.sim.note(`${this.name}: agent killed`)
  }

  freeze(): void {
    this.agent?.gate.freeze()
  }

  thaw(): void {
    const a = this.agent
    if (!a) return
    a.gate.thaw()
    a.kv.release()
  }

  /** GET /patroni of this node, as its REST API would answer it now. */
  async restStatus(): Promise<PeerAnswer> {
    const a = this.agent!
    const snap = await snapshot(a.loop, this.name, SCOPE, a.nextRunMs, a.dcs.lastSeen, this.config.tags as Record<string, unknown>, this.sim.clock.now())
    return {status: 200, body: JSON.stringify(buildStatusDocument(snap, {patroniVersion: PATRONI_COMPAT_VERSION, primaryRoleName: 'master'}))}
  }

  /** Believes it is the leader (what GET /primary answers 200 from), and may act on it. */
  believesLeader(): boolean {
    const a = this.agent
    return !!a && a.gate.state === 'run' && a.loop.leaseValid(this.sim.clock.now())
  }
}

interface Commit {
  node: string
  branch: number
  lsn: number
  acked: boolean
}

export class Simulation {
  readonly clock = new SimClock()
  readonly kv = new FakeKv(this.clock)
  readonly world: PgWorld
  readonly nodes: SimNode[]
  readonly sync: boolean
  readonly quorum: boolean
  readonly faults: Fault[]
  readonly trace: string[] | null
  private readonly ctl: Etcd3Dcs
  private readonly violations: string[] = []
  private checks = 0
  private pending: Commit[] = []
  private acked: Commit[] = []
  private paused = false
  private readonly t0: number

  constructor(readonly opts: SimOptions) {
    const n = opts.nodes ?? 3
    const s = schedule(opts.seed, n, opts)
    this.sync = s.sync
    this.quorum = s.quorum
    this.faults = opts.schedule ?? s.faults
    this.trace = opts.trace ? [] : null
    this.t0 = this.clock.now()
    this.world = new PgWorld(this.clock)
    this.world.onEvent = (e) => this.onPgEvent(e)
    this.nodes = Array.from({length: n}, (_, i) => new SimNode(this, i))
    this.ctl = new Etcd3Dcs({kv: this.kv, clock: this.clock, name: 'ctl', scope: SCOPE, freezeViews: true, timing: {ttl: TIMING.ttl, loopWait: TIMING.loopWait, retryTimeout: TIMING.retryTimeout}})
  }

  private secs(): string {
    return ((this.clock.now() - this.t0) / 1000).toFixed(1)
  }

  note(msg: string): void {
    this.trace?.push(`${new Date(this.clock.now()).toISOString()} [sim] ${msg}`)
  }

  private violate(msg: string): void {
    const text = `t=${this.secs()}s: ${msg}`
    if (!this.violations.includes(text)) this.violations.push(text)
    this.note(`VIOLATION ${msg}`)
  }

  /**
   * The members' REST APIs as `from` reaches them: FakePeers (held to the same contract as the
   * real client, test/contract/peers-contract.ts), each member answering GET /patroni from its
   * agent's state. Before each call the address states follow the faults: a member whose agent is
   * not running refuses, one that is frozen or cut off (or a caller that is cut off) is silent
   * until the timeout.
   */
  peersFor(from: SimNode): Peers {
    const fp = new FakePeers(this.clock)
    for (const n of this.nodes) {
      fp.serve(n.apiUrl, {
        patroni: () => n.restStatus(),
        failsafe: () => ({status: 200, body: 'Accepted'}),
        liveness: () => ({status: 200, body: ''}),
      })
    }
    const follow = () => {
      for (const n of this.nodes) {
        fp.setState(n.apiUrl, !n.agent ? 'refused' : from.peerPartitioned || n.peerPartitioned || n.agent.gate.state !== 'run' ? 'silent' : 'up')
      }
    }
    return {
      status: (url, ms) => (follow(), fp.status(url, ms)),
      postFailsafe: (url, body, ms) => (follow(), fp.postFailsafe(url, body, ms)),
      liveness: (url, ms) => (follow(), fp.liveness(url, ms)),
    }
  }

  /**
   * PostgreSQL as `node`'s agent calls it: the moment the agent decides to promote or to stop a
   * primary is when the pause invariant is checked (the effect itself may land later).
   */
  agentPg(node: SimNode): FakePostgres {
    return new Proxy(node.pg, {
      get: (target, prop, receiver) => {
        const v = Reflect.get(target, prop, receiver)
        if (typeof v !== 'function') return v
        if (prop === 'promote' || prop === 'stop') {
          return (...args: unknown[]) => {
            this.checks++
            if (this.pausedEverywhere(node.name) && (prop === 'promote' || target.writable)) {
              this.violate(`${node.name}'s agent ${prop === 'promote' ? 'promotes' : 'stops a primary'} while the cluster is paused`)
            }
            return (v as (...a: unknown[]) => unknown).apply(target, args)
          }
        }
        return (v as (...a: unknown[]) => unknown).bind(target)
      },
    })
  }

  /**
   * The cluster is paused as `node`'s agent sees it, and no switchover is pending (Patroni carries
   * out a switchover to a named candidate in pause too; the simulator requests them only unpaused).
   */
  private pausedEverywhere(node: string): boolean {
    const n = this.nodes.find((x) => x.name === node)
    const failover = this.kv.peek(`/service/${SCOPE}/failover`)
    return this.paused && n?.agent?.loop.dynamic.pause === true && !failover
  }

  private onPgEvent(e: PgEvent): void {
    this.note(`pg ${e.node}: ${e.type}${e.primary !== undefined ? (e.primary ? ' (primary)' : ' (replica)') : ''}${e.unclean ? ' unclean' : ''}`)
    if (e.type === 'promote') {
      if (this.sync && e.lineage) {
        const missing = this.acked.filter((c) => !contains(e.lineage!, c.branch, c.lsn))
        if (missing.length) this.violate(`synchronous mode: ${e.node} promoted without ${missing.length} acknowledged commit(s), first from ${missing[0].node} at ${missing[0].lsn}`)
      }
      this.checks++
    }
    this.checkSplitBrain()
  }

  private checkSplitBrain(): void {
    this.checks++
    const believers = this.nodes.filter((n) => n.believesLeader())
    if (believers.length > 1) this.violate(`${believers.map((n) => n.name).join(' and ')} all believe they lead`)
    this.maxWritable = Math.max(this.maxWritable, this.nodes.filter((n) => n.pg.writable).length)
    const both = believers.filter((n) => n.pg.writable)
    if (both.length > 1) this.violate(`two writable primaries that both believe they lead: ${both.map((n) => n.name).join(', ')}`)
  }

  private primary(): SimNode | undefined {
    return this.nodes.find((n) => n.pg.writable && n.believesLeader())
  }

  /** The client: one commit per tick to the node that answers GET /primary; acks per synchronous_commit. */
  private ticks = 0
  private maxWritable = 0

  private tick(): void {
    this.ticks++
    this.world.replicate()
    const p = this.primary()
    if (p && !this.paused) {
      const c = p.pg.commit()
      if (c) this.pending.push({node: p.name, ...c, acked: false})
    }
    for (const c of this.pending) {
      const n = this.nodes.find((x) => x.name === c.node)!
      if (!n.pg.writable || !n.pg.data || !contains(n.pg.data.lineage, c.branch, c.lsn)) continue
      if (this.sync) {
        const a = n.pg.syncAcks(c.branch, c.lsn)
        if (a.needed > 0 && a.have < a.needed) continue
      }
      c.acked = true
      this.acked.push(c)
    }
    // A commit whose server went away unacknowledged is simply an error the client saw.
    this.pending = this.pending.filter((c) => !c.acked && this.nodes.find((x) => x.name === c.node)!.pg.writable)
    this.checkSplitBrain()
  }

  private async runFor(ms: number, until?: () => boolean): Promise<boolean> {
    const end = this.clock.now() + ms
    while (this.clock.now() < end) {
      await this.clock.runUntil(Math.min(end, this.clock.now() + TICK_MS))
      this.tick()
      if (until?.()) return true
    }
    return false
  }

  private formed(): boolean {
    const p = this.primary()
    return !!p && this.nodes.every((n) => n === p || (n.pg.proc?.streaming === true && n.agent?.loop.lastPg?.process === 'running'))
  }

  /** Pause or resume; `junk` adds an unusable value next to pause (agents must still pause). */
  private async setPause(on: boolean, junk = false): Promise<void> {
    try {
      const view = await this.ctl.loadCluster({fresh: true})
      const cfg: Record<string, unknown> = {...(view.config?.data ?? {}), pause: on}
      if (junk) cfg['retry_timeout'] = 'soon'
      else if (cfg['retry_timeout'] === 'soon') cfg['retry_timeout'] = TIMING.retryTimeout
      if (!on) delete cfg['pause']
      await this.ctl.setConfig(cfg, view.config?.version)
      this.paused = on
      this.note(on ? 'cluster paused' : 'cluster resumed')
    } catch (e) {
      this.note(`pause/resume failed: ${(e as Error).message}`)
    }
  }

  /**
   * POST /switchover to the candidate's own REST API, through the agent's real handler (its
   * preconditions, the failover key, the wait for the result): as patronictl would.
   */
  private async switchover(candidate: SimNode): Promise<void> {
    const a = candidate.agent
    if (!a || a.gate.state !== 'run' || candidate.peerPartitioned) return this.note(`switchover to ${candidate.name}: its REST API does not answer`)
    const leader = a.loop.state.lastCluster?.leader?.name
    if (!leader || leader === candidate.name) return
    const handlers = createRestActions({loop: a.loop, dcs: a.dcs, clock: gatedClock(this.clock, a.gate), log: a.log, peers: gated(this.peersFor(candidate), a.gate), reload: async () => {}})
    this.note(`switchover requested: ${leader} -> ${candidate.name}`)
    void handlers.switchover!({leader, candidate: candidate.name}, {clientAddress: '127.0.0.1', signal: new AbortController().signal}).then(
      (r) => this.note(`switchover answer: ${r.status} ${r.body}`),
      (e: unknown) => this.note(`switchover failed: ${(e as Error).message}`),
    )
  }

  private async apply(f: Fault, on: boolean): Promise<void> {
    const n = this.nodes[f.node]
    this.note(`${on ? 'fault' : 'heal'} ${f.kind} ${n.name}${on && f.duration ? ` for ${f.duration}s` : ''}`)
    switch (f.kind) {
      case 'dcs-partition':
        n.setDcsPartition(on)
        break
      case 'peer-partition':
        n.peerPartitioned = on
        break
      case 'freeze':
      case 'long-freeze':
        if (on) n.freeze()
        else n.thaw()
        break
      case 'kill-agent':
        if (on) n.kill()
        else n.start()
        break
      case 'stop-agent':
        if (on) await n.terminate()
        else if (!n.agent) n.start()
        break
      case 'crash-postmaster':
        n.pg.crash()
        break
      case 'kill-node':
        if (on) {
          n.kill()
          n.pg.crash()
        } else n.start()
        break
      case 'query-fails':
        n.pg.faults.queryFails = on
        break
      case 'slow-dcs':
        n.setDcsLatency(on ? 1500 : 0)
        break
      case 'switchover':
        await this.switchover(n)
        break
      case 'pause':
        await this.setPause(on)
        break
      case 'bad-pause':
        await this.setPause(on, on)
        break
      case 'slow-queries':
        n.pg.faults.slowQueries = on
        break
      case 'stream-stop':
        n.pg.faults.noStreaming = on
        break
      case 'stop-fails':
        n.pg.faults.stopFails = on
        break
      case 'promote-fails':
        n.pg.faults.promoteFails = on
        break
      case 'slow-stop':
        n.pg.faults.slowStopMs = on ? 90_000 : 0
        break
    }
  }

  /** Everything back to normal: partitions healed, processes thawed, every agent running. */
  private async healAll(): Promise<void> {
    if (this.paused) await this.setPause(false)
    for (const n of this.nodes) {
      n.setDcsPartition(false)
      n.setDcsLatency(0)
      n.peerPartitioned = false
      n.pg.faults = {queryFails: false, stopFails: false, promoteFails: false, slowStopMs: 0, slowQueries: false, noStreaming: false}
      n.thaw()
      if (!n.agent) n.start()
    }
  }

  async run(): Promise<SimResult> {
    for (const n of this.nodes) n.start()
    const formed = await this.runFor(90_000, () => this.formed())
    let recoveryS: number | null = null
    if (!formed) {
      this.violate('the cluster did not form (a primary and streaming replicas) within 90s')
    } else {
      this.note(`cluster formed: ${this.primary()?.name} leads${this.quorum ? ' (synchronous_mode quorum)' : this.sync ? ' (synchronous_mode)' : ''}`)
      const start = this.clock.now()
      type Ev = {at: number; f: Fault; on: boolean}
      const evs: Ev[] = []
      for (const f of this.faults) {
        evs.push({at: start + f.at * 1000, f, on: true})
        if (f.duration > 0) evs.push({at: start + (f.at + f.duration) * 1000, f, on: false})
      }
      evs.sort((a, b) => a.at - b.at)
      for (const e of evs) {
        if (e.at > this.clock.now()) await this.runFor(e.at - this.clock.now())
        await this.apply(e.f, e.on)
      }
      await this.healAll()
      const healed = this.clock.now()
      const ok = await this.runFor(LIVENESS_BOUND_S * 1000, () => !!this.primary())
      if (!ok) this.violate(`no primary within ${LIVENESS_BOUND_S}s of every fault healing (paused: ${this.paused})`)
      else recoveryS = (this.clock.now() - healed) / 1000
      // Let the others rejoin, then check the final state.
      await this.runFor(10_000)
    }
    const final = this.primary()
    let lostAsync = 0
    if (final?.pg.data) {
      const lost = this.acked.filter((c) => !contains(final.pg.data!.lineage, c.branch, c.lsn))
      if (this.sync && lost.length) this.violate(`synchronous mode: the final primary ${final.name} lacks ${lost.length} acknowledged commit(s)`)
      lostAsync = this.sync ? 0 : lost.length
    }
    const notStreaming = this.nodes.filter((n) => n !== final && !(n.pg.proc?.streaming && n.pg.proc.upstream === final?.pg.address)).map((n) => n.name)
    const simulatedS = (this.clock.now() - this.t0) / 1000
    for (const n of this.nodes) {
      if (n.agent) n.kill()
    }
    await drain()
    return {
      seed: this.opts.seed,
      sync: this.sync,
      quorum: this.quorum,
      faults: this.faults,
      violations: this.violations,
      simulatedS,
      checks: this.checks,
      steps: this.clock.fired + this.ticks,
      ackedCommits: this.acked.length,
      events: this.world.events,
      notStreaming,
      maxWritable: this.maxWritable,
      lostAsync,
      recoveryS,
      trace: this.trace ?? [],
    }
  }
}

export async function simulate(opts: SimOptions): Promise<SimResult> {
  return new Simulation(opts).run()
}

/** The command that replays a seed. */
export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seed}`
}
