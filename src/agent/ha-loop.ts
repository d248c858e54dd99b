/**
 * One HA cycle: observe -> decide() until done -> perform the actions -> publish members/<me>.
 * The executor follows the contract of src/core/actions.ts; actions it cannot perform yet are
 * logged as such and skipped, so the log never claims an effect that did not happen.
 */
import {mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PATRONI_COMPAT_VERSION} from '../build-info'
import {HactlError} from '../errors'
import type {LocalConfig} from '../config/load'
import {dynamicInForce, type DynamicConfig} from '../config/dynamic-schema'
import {describeIssue} from '../config/issues'
import type {Action, Decision, DemoteMode} from '../core/actions'
import {BRANCHING} from '../core/actions'
import type {ClusterView, HistoryLine, MemberData} from '../core/cluster'
import {getMember, timelineFromHistory} from '../core/cluster'
import {decide} from '../core/decide'
import type {DcsObservation, Observation, PeerStatus, PgObservation, RewindState, StepOutcome, TaskKind} from '../core/observation'
import {humanSetting, serverParameters} from '../core/pg-params'
import {type IgnoreSlot, slotCleanup} from '../core/slots'
import {formatSsn, parseSsn, pickSyncStandbys, sameSet, syncMemberInfo, syncStandbys} from '../core/sync'
import {scheduleVerdict} from '../core/timing'
import type {ShutdownCause} from '../core/shutdown'
import {recoveryParameters} from '../postgres/recovery'
import type {Logger} from '../log/logger'
import type {Clock} from '../ports/clock'
import type {Dcs} from '../ports/dcs'
import type {Peers} from '../ports/peers'
import type {ConnParams, Controldata, PgStatus, PostgresControl, RecoveryConfig} from '../ports/postgres'
import {Callbacks, shellSplit, type CallbackAction} from './callbacks'
import {localConn} from './settings'
import {TaskSlot} from './task-slot'
import {type FailsafeState, withFailsafeLeader} from './failsafe'
import {historyLinesFrom, PrePromoteFailed, replicationConn, rewindConn, runArgv, runScript} from './execute-failover'
import {decideConfig, getPeerStatus, hostPortOf, hostPortText, peerStatusFrom, slotNameFor} from './helpers'
import {initialState, isLeader, leaseValid, stoppingPostgres, type AgentState, type ScheduledRestart} from './state'

/** Patroni 4's default member_slots_ttl: a member slot outlives its member by 30 minutes. */
const DEFAULT_MEMBER_SLOTS_TTL_S = 1800

const TASK_NAMES: Partial<Record<TaskKind, string>> = {
  bootstrap: 'bootstrap',
  'post-bootstrap': 'post_bootstrap',
  clone: 'clone',
  promote: 'promote',
  'crash-recovery': 'crash recovery',
  rewind: 'pg_rewind',
  reinitialize: 'reinitialize',
  'switchover-demote': 'demote',
  'offline-demote': 'demote',
}

class DcsFailed extends Error {}

export interface HaLoopDeps {
  config: LocalConfig
  dcs: Dcs
  pg: PostgresControl
  clock: Clock
  log: Logger
  /** The other members' REST APIs (leader race, failsafe). */
  peers: Peers
  /** Called by the `exit` action: the daemon shuts down with this code. */
  requestExit: (code: number, cause?: ShutdownCause) => void
}

export class HaLoop {
  /** The agent's state as one record (state.ts): what the loop keeps between cycles and what the REST API reads. */
  readonly state: AgentState
  readonly slot: TaskSlot
  private warned = new Set<string>()

  readonly callbacks: Callbacks

  constructor(private readonly d: HaLoopDeps) {
    this.slot = new TaskSlot(d.clock, () => d.dcs.wakeup())
    this.callbacks = new Callbacks({commands: () => this.d.config.postgresql.callbacks as never, scope: () => this.d.config.scope, log: d.log})
    this.state = initialState(d.config, d.clock)
  }

  // --- read by runtime.ts, rest-actions.ts and the simulator ---

  get dynamic(): DynamicConfig {
    return this.state.dynamic
  }

  get lastPg(): PgObservation | null {
    return this.state.lastPg
  }

  get lastStatus(): PgStatus | null {
    return this.state.lastStatus
  }

  get failsafe(): FailsafeState {
    return this.state.failsafe
  }

  /** POST /restart with `schedule` sets it, DELETE /restart clears it; the cycle runs it when due. */
  get scheduledRestart(): ScheduledRestart | null {
    return this.state.scheduledRestart
  }

  set scheduledRestart(v: ScheduledRestart | null) {
    this.state.scheduledRestart = v
  }

  /** The lock is no longer ours (released or demoted): the REST API stops answering as leader at once. */
  forgetLock(): void {
    this.state.lastLockRenewal = null
  }

  get isLeader(): boolean {
    return isLeader(this.state, this.d.config.name)
  }

  /** state.ts leaseValid: what GET /primary answers from (Patroni's Ha.is_leader). */
  leaseValid(now: number): boolean {
    return leaseValid(this.state, this.d.config.name, this.slot.current, now)
  }

  /**
   * Runs one cycle; returns the final decision (also logged at INFO). A task that ends during the
   * cycle is seen ended only by the next one, and a task's critical section never overlaps it.
   */
  async runCycle(): Promise<Decision> {
    await this.slot.beginCycle()
    try {
      return await this.cycle()
    } finally {
      this.slot.endCycle()
    }
  }

  private async cycle(): Promise<Decision> {
    const {clock, log} = this.d
    this.warned.clear()
    const finished = this.slot.takeOutcome()
    if (finished) {
      if (!finished.ok && !finished.cancelled) log.error(`${finished.description} failed: ${errText(finished.error)}`)
      const prePromoteFailed = finished.error instanceof PrePromoteFailed
      this.state.memory = {
        ...this.state.memory,
        lastTask: {kind: finished.kind as TaskKind, ok: finished.ok, finishedAt: clock.now(), ...(prePromoteFailed ? {prePromoteFailed} : {})},
      }
    }
    let obs = await this.observe()
    let final: Decision | undefined
    for (let i = 0; i < 16; i++) {
      const dec = decide(obs)
      const outcomes = [...obs.outcomes]
      let peers = obs.peers
      for (const a of dec.actions) {
        try {
          const r = await this.perform(a, obs)
          if (r.peers) peers = {...(peers ?? {}), ...r.peers}
          if (r.outcome) outcomes.push(r.outcome)
          else if (BRANCHING.has(a.type)) outcomes.push(fallbackOutcome(a))
        } catch (e) {
          if (e instanceof DcsFailed) {
            outcomes.push({type: 'dcs-error', during: a.type})
            break
          }
          throw e
        }
      }
      if (dec.remember) this.state.memory = {...this.state.memory, ...dec.remember}
      if (dec.then === 'done') {
        final = dec
        break
      }
      log.debug(`${dec.rule}: ${dec.reason}`)
      obs = {...obs, outcomes, peers, memory: this.state.memory, now: clock.now()}
    }
    if (!final) throw new Error('decide() did not finish the cycle within 16 steps')
    if (obs.dcs.reachable && !this.d.config.bootstrap?.dcs) void 0
    await this.primaryMaintenance()
    await this.runScheduledRestart(obs).catch((e) => log.warning(`scheduled restart: ${errText(e)}`))
    await this.applyPgConfigIfChanged().catch((e) => log.warning(`failed to apply the PostgreSQL configuration: ${errText(e)}`))
    await this.publishMember().catch((e) => log.warning(`failed to update member key: ${errText(e)}`))
    log.info(final.reason)
    return final
  }

  private async observe(): Promise<Observation> {
    const {clock, config} = this.d
    if (!this.state.cacheLoaded) await this.loadDynamicCache()
    // The DCS read and the PostgreSQL observation run side by side, the latter bounded by
    // retry_timeout/2 (Patroni's deadline for local queries): the lock renewal that follows then
    // starts at most retry_timeout after the cycle began, which ttl >= loop_wait + 2*retry_timeout
    // was chosen to allow. A query that does not answer in time is an unknown state, not a wait.
    const pgDeadline = clock.monotonic() + this.state.dynamic.retry_timeout * 500
    const [dcsObs, pg] = await Promise.all([this.observeDcs(), this.observePg(pgDeadline)])
    this.state.lastPg = pg
    if (pg.process === 'running') this.state.memory = {...this.state.memory, pgState: 'running'}
    await this.saveDynamicCache()
    const t = this.slot.current
    const now = clock.now()
    return {
      name: config.name,
      now,
      config: decideConfig(config, this.state.dynamic),
      dcs: dcsObs,
      dcsLastSeen: this.d.dcs.lastSeen,
      lastLockRenewal: this.state.lastLockRenewal,
      pg,
      task: t ? {kind: t.kind as TaskKind, name: TASK_NAMES[t.kind as TaskKind] ?? t.description, startedAt: now - (clock.monotonic() - t.startedAt)} : null,
      memory: this.state.memory,
      outcomes: [],
    }
  }

  /**
   * Patroni's patroni.dynamic.json: read once before the first DCS read, so that an agent started
   * while etcd is down runs with the cluster's settings (pause above all) instead of defaults.
   */
  private async loadDynamicCache(): Promise<void> {
    this.state.cacheLoaded = true
    const cached = await this.d.pg.readDynamicCache().catch(() => undefined)
    if (cached === undefined) return
    const r = dynamicInForce(this.state.dynamic, cached)
    this.applyDynamic(r.config)
    this.state.cachedJson = JSON.stringify(r.config)
    this.d.log.info(`dynamic configuration loaded from patroni.dynamic.json${r.config.pause ? ' (the cluster is paused)' : ''}`)
  }

  /** Writes patroni.dynamic.json when the configuration in force changed (once there is data). */
  private async saveDynamicCache(): Promise<void> {
    if (this.state.memory.role === 'uninitialized' || this.state.lastPg?.dataDir.kind !== 'present') return
    const json = JSON.stringify(this.state.dynamic)
    if (json === this.state.cachedJson) return
    try {
      await this.d.pg.writeDynamicCache(this.state.dynamic as unknown as Record<string, unknown>)
      this.state.cachedJson = json
    } catch (e) {
      if (!this.state.warnedForever.has('dynamic-cache')) this.d.log.warning(`could not write patroni.dynamic.json: ${errText(e)}`)
      this.state.warnedForever.add('dynamic-cache')
    }
  }

  private async observeDcs(): Promise<DcsObservation> {
    const {dcs, clock} = this.d
    try {
      let cluster = await dcs.loadCluster()
      this.state.unreachableSince = null
      if (cluster.leader) this.state.lastLockedMembers = cluster.members
      if (!cluster.leader && this.state.dynamic.failsafe_mode) {
        // The lock expired, but the primary pinged us within the ttl: it runs and only lost etcd.
        const ping = this.state.failsafe.leader(this.state.dynamic.ttl)
        if (ping) cluster = withFailsafeLeader(cluster, ping)
      }
      this.state.lastCluster = cluster
      this.applyDcsConfig(cluster)
      return {reachable: true, cluster, lastLockedMembers: this.state.lastLockedMembers}
    } catch (e) {
      this.d.log.error(`failed to read the cluster from the DCS: ${errText(e)}`)
      this.state.unreachableSince ??= clock.now()
      return {reachable: false, unreachableSince: this.state.unreachableSince, lastCluster: this.state.lastCluster, store: 'etcd'}
    }
  }

  /**
   * The DCS `config` key in force: every usable key of it, and for an unusable one the value in
   * force before, with a warning naming it (once per version of the key). Never ignored whole.
   */
  private applyDcsConfig(cluster: ClusterView): void {
    const cfg = cluster.config
    if (!cfg) return
    const fresh = this.state.configSeen !== cfg.version
    this.state.configSeen = cfg.version
    if (!cfg.valid) {
      if (fresh) this.d.log.warning('the DCS config key is not a JSON mapping; the dynamic configuration in force is kept')
      return
    }
    const r = dynamicInForce(this.state.dynamic, cfg.data)
    this.applyDynamic(r.config)
    if (!fresh) return
    for (const i of r.issues) {
      const kept = i.severity === 'error' ? '; the value in force before is kept' : ''
      this.d.log.warning(`dynamic configuration (DCS config key): ${describeIssue(i)}${kept}`)
    }
  }

  private applyDynamic(next: DynamicConfig): void {
    const before = this.state.dynamic
    this.state.dynamic = next
    if (before.ttl !== next.ttl || before.loop_wait !== next.loop_wait || before.retry_timeout !== next.retry_timeout) {
      this.d.dcs.setTiming({ttl: next.ttl, loopWait: next.loop_wait, retryTimeout: next.retry_timeout})
    }
  }

  /**
   * A replica's timeline when no WAL receiver reports one (the upstream went away: exactly when
   * a failover looks at it): pg_control's lags a timeline switch until the next restartpoint, so,
   * as Patroni does, ask the server itself with IDENTIFY_SYSTEM over a local replication
   * connection, cached until the cluster's timeline changes. Falls back to pg_control's.
   */
  private async replicaTimeline(fallback: number, deadline: number): Promise<number> {
    const key = timelineFromHistory(this.state.lastCluster?.history ?? null)
    if (this.state.replicaTl && this.state.replicaTl.key === key) return this.state.replicaTl.timeline
    const pgc = this.d.config.postgresql
    const host = pgc.listen.host === '*' || pgc.listen.host === '0.0.0.0' || pgc.listen.host === '' ? '127.0.0.1' : pgc.listen.host
    try {
      const id = await this.byDeadline(this.d.pg.identifySystem(replicationConn(this.d.config, {host, port: pgc.listen.port})), deadline, 'IDENTIFY_SYSTEM')
      this.state.replicaTl = {key, timeline: id.timeline}
      return id.timeline
    } catch (e) {
      this.d.log.debug(`IDENTIFY_SYSTEM on the local replica failed, using pg_control's timeline ${fallback}: ${errText(e)}`)
      return fallback
    }
  }

  /** `p`, or PG_UNAVAILABLE once the monotonic `deadline` passed. */
  private async byDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
    const left = deadline - this.d.clock.monotonic()
    const ac = new AbortController()
    try {
      return await Promise.race([
        p,
        this.d.clock.sleep(Math.max(0, left), ac.signal).then(() => {
          throw new HactlError('PG_UNAVAILABLE', `${what} did not answer within retry_timeout/2`, {recoverable: true})
        }),
      ])
    } finally {
      ac.abort()
    }
  }

  private async observePg(deadline: number): Promise<PgObservation> {
    const {pg} = this.d
    const out: PgObservation = {
      dataDir: {kind: 'empty'},
      process: 'unknown',
      inRecovery: null,
      timeline: null,
      walPosition: null,
      controlState: null,
      recoverySignal: false,
      startingSince: null,
      pendingRestart: false,
    }
    // The postmaster first: while the same one runs, pg_control's facts the loop uses (sysid,
    // wal_log_hints, checksums) cannot change, so pg_controldata runs once per postmaster, not
    // once per cycle; its cluster state only matters while PostgreSQL is not running.
    const ps = await pg.state().catch((e) => ({kind: 'unknown' as const, reason: errText(e)}))
    const postmaster = ps.kind === 'running' ? `${ps.pid}:${ps.startTime}` : null
    try {
      const st = await pg.dataDirState()
      if (st === 'missing' || st === 'empty') {
        out.dataDir = {kind: 'empty'}
        this.state.controlCache = null
      } else {
        let cd: Controldata | undefined
        if (postmaster !== null && this.state.controlCache?.postmaster === postmaster) cd = this.state.controlCache.cd
        else {
          cd = st === 'initialized' ? await pg.controldata().catch(() => undefined) : undefined
          this.state.controlCache = cd && postmaster !== null ? {postmaster, cd} : null
        }
        out.dataDir = {kind: 'present', sysid: cd?.systemIdentifier ?? null}
        out.controlState = cd?.clusterState ?? null
        if (cd) {
          this.state.sysid = cd.systemIdentifier
          const canRewind = decideConfig(this.d.config, this.state.dynamic).usePgRewind && (cd.walLogHints || cd.dataChecksums)
          if (canRewind !== this.state.memory.canRewind) this.state.memory = {...this.state.memory, canRewind}
        }
      }
    } catch (e) {
      out.dataDir = {kind: 'inaccessible', error: errText(e)}
    }
    out.recoverySignal = await pg.recoverySignalPresent().catch(() => false)
    // lastStatus is replaced once, at the end: the REST API reads it between these awaits, and a
    // peer asking GET /patroni in that window must not see a member without a WAL position.
    let status: PgStatus | null = null
    if (ps.kind === 'stopped') out.process = 'stopped'
    else if (ps.kind === 'unknown') out.process = 'unknown'
    else {
      // A status query that answers proves PostgreSQL accepts connections; pg_isready (a child
      // process every cycle) is asked only when it does not, to tell starting from running.
      let queryError: unknown
      try {
        status = await this.byDeadline(pg.status(), deadline, 'the status query')
      } catch (e) {
        queryError = e
      }
      const ready = status ? 'accepting' : await this.byDeadline(pg.readiness(), deadline, 'pg_isready').catch(() => 'unknown' as const)
      out.process = ready === 'accepting' ? 'running' : 'starting'
      if (status) {
        out.inRecovery = status.inRecovery
        out.timeline = status.timeline
        out.walPosition = status.walPosition
      } else if (out.process === 'running') {
        this.d.log.warning(`could not query PostgreSQL: ${errText(queryError)}`)
      }
    }
    if (status?.inRecovery && status.walReceiver?.receivedTimeline == null) {
      status = {...status, timeline: await this.replicaTimeline(status.timeline, deadline)}
      out.timeline = status.timeline
    }
    this.state.lastStatus = status
    if (out.process === 'starting') this.state.startingSince ??= this.d.clock.now()
    else this.state.startingSince = null
    out.startingSince = this.state.startingSince
    return out
  }

  /** Performs one action. Throws DcsFailed when a DCS call failed. */
  private async perform(a: Action, obs: Observation): Promise<{outcome?: StepOutcome; peers?: Record<string, PeerStatus>}> {
    const {dcs, pg, clock, log, config} = this.d
    const viaDcs = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (e) {
        log.error(`DCS operation ${a.type} failed: ${errText(e)}`)
        throw new DcsFailed(errText(e))
      }
    }
    switch (a.type) {
      case 'acquire-lock': {
        // The lease counts from before the call: it cannot have been granted later than that.
        const at = clock.now()
        const ok = await viaDcs(() => dcs.attemptToAcquireLeader())
        if (ok) this.state.lastLockRenewal = at
        return {outcome: {type: 'acquire-lock', ok}}
      }
      case 'update-lock': {
        const cluster = obs.dcs.reachable ? obs.dcs.cluster : this.state.lastCluster
        if (!cluster) throw new DcsFailed('no cluster view')
        const lsn = a.status && obs.pg.walPosition !== null ? obs.pg.walPosition : undefined
        const failsafe = this.state.dynamic.failsafe_mode ? this.failsafeTopology(cluster) : undefined
        const extras = lsn !== undefined || failsafe ? {...(lsn !== undefined ? {lastLsn: lsn} : {}), ...(failsafe ? {failsafe} : {})} : undefined
        const at = clock.now()
        const ok = await viaDcs(() => dcs.updateLeader(cluster, extras))
        if (ok) {
          this.state.lastLockRenewal = at
          this.state.failsafe.setActive(0)
        }
        return {outcome: {type: 'update-lock', ok}}
      }
      case 'release-lock':
        this.state.lastLockRenewal = null
        await viaDcs(() => dcs.deleteLeader(a.lastLsn))
        return {}
      case 'take-leader': {
        const at = clock.now()
        await viaDcs(() => dcs.takeLeader())
        this.state.lastLockRenewal = at
        return {}
      }
      case 'initialize': {
        const ok = await viaDcs(() => dcs.initialize(a.create, a.sysid))
        return {outcome: {type: 'initialize', ok}}
      }
      case 'cancel-initialization':
        await viaDcs(() => dcs.cancelInitialization())
        await pg.stop({mode: 'immediate', timeoutMs: 30_000}).catch((e) => log.error(`stop after failed bootstrap: ${errText(e)}`))
        await this.moveDataDirAside()
        return {}
      case 'restore-config':
        await viaDcs(() => dcs.setConfig(this.state.dynamic as unknown as Record<string, unknown>))
        return {}
      case 'touch-member':
        // Patroni's touch_member swallows DCS errors: a member key we could not write is not a
        // reason to demote (the lock renewal that follows decides that).
        await this.publishMember().catch((e) => log.warning(`failed to update member key: ${errText(e)}`))
        return {}
      case 'fetch-peer-status': {
        const peers = await fetchPeers(this.d.peers, a.members, log)
        log.debug(`peer status: ${Object.entries(peers).map(([n, p]) => `${n}=${p.reachable ? `wal ${p.walPosition}${p.nofailover ? ' nofailover' : ''}` : 'unreachable'}`).join(', ')}`)
        return {outcome: {type: 'fetch-peer-status'}, peers}
      }
      case 'sleep':
        await clock.sleep(a.ms)
        return {outcome: {type: 'sleep'}}
      case 'exit':
        log.critical(a.message)
        this.d.requestExit(a.code, a.cause)
        return {}
      case 'stop':
        await pg.stop({mode: a.mode, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
        this.state.memory = {...this.state.memory, pgState: 'stopped'}
        return {}
      case 'activate-watchdog':
        if (!this.state.warnedForever.has('watchdog')) {
          this.state.warnedForever.add('watchdog')
          log.warning('watchdog support is not implemented yet; continuing without a watchdog')
        }
        return {outcome: {type: 'activate-watchdog', ok: false}}
      case 'disable-watchdog':
        return {}
      case 'bootstrap':
        this.startTask('bootstrap', 'bootstrap', (signal) => this.bootstrap(signal))
        return {}
      case 'post-bootstrap':
        this.startTask('post-bootstrap', 'post_bootstrap', () => this.postBootstrap())
        return {}
      case 'clone': {
        if (a.source === null) {
          this.startTask('clone', 'clone without a leader', (signal) => this.clone(null, signal))
          return {}
        }
        const src = this.memberConn(a.source)
        if (!src) {
          log.error(`cannot clone: member ${a.source} has no usable conn_url`)
          return {}
        }
        const source = a.source
        this.startTask('clone', `clone from ${source}`, (signal) => this.clone(src, signal))
        return {}
      }
      case 'start': {
        const timeoutMs = (a.timeoutS ?? config.postgresql.pg_ctl_timeout) * 1000
        const upstream = a.as === 'replica' ? a.upstream : null
        this.startTask(a.task, `start as ${a.as}`, (signal) => this.startPg(a.as, upstream, timeoutMs, signal))
        return {}
      }
      case 'follow':
        await this.follow(a.leader, obs)
        return {}
      case 'set-sync': {
        const v = await viaDcs(() => dcs.setSync({leader: a.leader, sync_standby: null}, a.expectedVersion ?? 0))
        if (v === false) return {outcome: {type: 'set-sync', ok: false}}
        // Until a standby is proven synchronous, commits on the new primary either wait (strict) or
        // do not wait at all; never for a standby that /sync does not name.
        this.state.ssn = a.strict ? '*' : ''
        await this.applyPgConfigIfChanged()
        return {outcome: {type: 'set-sync', ok: true}}
      }
      case 'manage-sync':
        await this.manageSync(obs, viaDcs)
        return {}
      case 'set-failover':
        await viaDcs(() => dcs.setFailover(a.value, a.expectedVersion))
        return {}
      case 'clear-failover':
        await viaDcs(() => dcs.setFailover({}, a.expectedVersion))
        return {}
      case 'failsafe-probe':
        return {outcome: {type: 'failsafe-probe', ok: await this.failsafeProbe(obs)}}
      case 'cancel-task':
        await this.slot.cancel()
        return {}
      case 'promote':
        this.startTask('promote', 'promote', (signal) => this.promote(signal))
        return {}
      case 'write-history':
        await this.writeHistory(obs, viaDcs)
        return {}
      case 'demote':
        await this.demote(a.mode, obs)
        return {}
      case 'crash-recovery':
        this.startTask('crash-recovery', 'crash recovery', (signal) =>
          pg.crashRecovery({timeoutMs: config.postgresql.pg_ctl_timeout * 1000, signal}).then(() => undefined))
        return {}
      case 'trigger-rewind-check':
        this.triggerRewindCheck(obs)
        return {}
      case 'check-rewind':
        return {outcome: {type: 'check-rewind', state: await this.checkRewind(a.leader)}}
      case 'rewind': {
        const src = this.memberConn(a.leader)
        if (!src) {
          log.error(`cannot rewind: member ${a.leader} has no usable conn_url`)
          return {}
        }
        this.startTask('rewind', `pg_rewind from ${a.leader}`, (signal) => this.rewind(src, signal))
        return {}
      }
      case 'reinitialize': {
        const src = this.memberConn(a.source)
        if (!src) {
          log.error(`cannot reinitialize: member ${a.source} has no usable conn_url`)
          return {}
        }
        this.startTask('reinitialize', `reinitialize from ${a.source}`, (signal) => this.reinitializeFrom(src, signal))
        return {}
      }
      default: {
        // every action type is handled above; a new one fails the type check here first
        const unhandled: never = a
        this.warnOnce((unhandled as Action).type, `action ${(unhandled as Action).type} not implemented`)
        return {}
      }
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.d.log.warning(message)
  }

  private startTask(kind: TaskKind, description: string, fn: (signal: AbortSignal) => Promise<unknown>): void {
    if (!this.slot.start(kind, description, fn)) this.d.log.warning(`cannot start ${description}: ${this.slot.current?.description} is running`)
  }

  private async moveDataDirAside(): Promise<void> {
    const suffix = new Date(this.d.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*/, '')
    try {
      const aside = await this.d.pg.moveDataDirAside(suffix)
      this.d.log.info(`moved data directory aside to ${aside}`)
    } catch (e) {
      this.d.log.error(`could not move ${this.d.pg.dataDir} aside: ${errText(e)}`)
    }
  }

  private pgHba(): string[] | undefined {
    const b = this.d.config.bootstrap?.pg_hba
    if (Array.isArray(b) && b.every((x) => typeof x === 'string')) return b as string[]
    return this.d.config.postgresql.pg_hba ?? this.state.dynamic.postgresql.pg_hba
  }

  private serverParams(version: number) {
    const c = this.d.config
    const p = serverParameters({
      serverVersion: version,
      scope: c.scope,
      listen: `${c.postgresql.listen.hosts.join(',')}:${c.postgresql.listen.port}`,
      dynamicParameters: this.state.dynamic.postgresql.parameters,
      localParameters: c.postgresql.parameters,
      synchronousMode: this.state.dynamic.synchronous_mode !== false,
      synchronousModeStrict: this.state.dynamic.synchronous_mode_strict,
      synchronousStandbyNames: this.state.ssn,
    })
    for (const w of p.warnings) this.d.log.warning(w)
    return p
  }

  private recoveryFor(version: number, upstream: string | null): RecoveryConfig {
    const c = this.d.config.postgresql
    const up = upstream ? hostPortOf(this.state.lastCluster ? getMember(this.state.lastCluster, upstream)?.connUrl : null) : undefined
    const r = recoveryParameters({
      serverVersion: version,
      name: this.d.config.name,
      upstream: up,
      replication: {...c.authentication.replication, user: c.authentication.replication.username} as ConnParams & {username?: string},
      recoveryConf: c.recovery_conf ?? this.state.dynamic.postgresql.recovery_conf,
      slotName: this.state.dynamic.postgresql.use_slots ? slotNameFor(this.d.config.name) : undefined,
    })
    return {signal: 'standby', parameters: r.parameters, primaryConninfo: r.primaryConninfo}
  }

  private async writeConfig(version: number, recovery: RecoveryConfig | null): Promise<ReturnType<HaLoop['serverParams']>> {
    const params = this.serverParams(version)
    await this.d.pg.writeConfigFiles({
      serverVersion: version,
      parameters: params.parameters,
      customConf: this.d.config.postgresql.custom_conf,
      pgHba: this.pgHba(),
      pgIdent: this.d.config.postgresql.pg_ident,
      recovery,
    })
    this.state.runningRecovery = recovery
    this.state.appliedKey = this.configKey(params)
    return params
  }

  private configKey(params: ReturnType<HaLoop['serverParams']>): string {
    return JSON.stringify([params.parameters, this.pgHba() ?? null, this.d.config.postgresql.pg_ident ?? null, this.d.config.postgresql.custom_conf ?? null])
  }

  /**
   * Patroni's reload_config for a running PostgreSQL (patroni/postgresql/config.py
   * ConfigHandler.reload_config; docs/ha-rules.md#postgresql-configuration): when the parameters or
   * pg_hba/pg_ident wanted now differ from what was written, rewrite the files and reload. A
   * command-line parameter (max_connections, wal_level, ...) cannot change without a restart: it
   * becomes pending_restart, and pg_settings adds the file parameters that need one.
   */
  private async applyPgConfigIfChanged(force = false): Promise<void> {
    const {pg, log, clock} = this.d
    if (this.state.pendingCheckAt !== null && clock.now() >= this.state.pendingCheckAt && this.state.lastPg?.process === 'running') {
      this.state.pendingCheckAt = null
      await this.refreshPendingRestart()
    }
    if (this.state.lastPg?.process !== 'running' || this.slot.busy || this.state.appliedKey === null) return
    const version = await pg.binaryVersion()
    const params = this.serverParams(version)
    if (!force && this.configKey(params) === this.state.appliedKey) return
    await this.writeConfig(version, this.state.runningRecovery)
    await pg.reload()
    log.info('PostgreSQL configuration changed: files rewritten and reloaded')
    this.fireCallback('on_reload', this.publishedRole())
    this.state.pendingCheckAt = clock.now() + 1000
    this.d.dcs.wakeup()
  }

  private async refreshPendingRestart(): Promise<void> {
    const reasons: Record<string, {old_value: string; new_value: string}> = {}
    const params = this.serverParams(await this.d.pg.binaryVersion())
    const rows = await this.d.pg.settings()
    for (const [k, v] of Object.entries(params.cmdline)) {
      const was = this.state.startedCmdline?.[k]
      if (was !== undefined && was !== v) reasons[k] = {old_value: was, new_value: v}
    }
    // pg_settings still shows the running value of a parameter waiting for a restart.
    for (const r of rows) {
      if (r.pendingRestart && !reasons[r.name]) {
        reasons[r.name] = {old_value: humanSetting(r.setting, r.unit), new_value: params.parameters[r.name] ?? '(changed in the configuration files)'}
      }
    }
    const pending = Object.keys(reasons).length > 0
    if (pending && !this.state.pendingRestart) this.d.log.info(`pending restart: ${Object.keys(reasons).sort().join(', ')}`)
    this.state.pendingRestart = pending
    this.state.pendingRestartReason = pending ? reasons : null
  }

  private async bootstrap(signal: AbortSignal): Promise<void> {
    const {pg, config} = this.d
    if (config.bootstrap?.method && config.bootstrap.method !== 'initdb') {
      throw new Error(`bootstrap.method ${config.bootstrap.method} is not implemented yet (only initdb)`)
    }
    const su = config.postgresql.authentication.superuser
    await pg.initdb({options: config.bootstrap?.initdb, superuser: {username: su.username, password: su.password}, signal})
    const version = await pg.binaryVersion()
    const params = await this.writeConfig(version, null)
    const r = await pg.start({cmdline: params.cmdline, timeoutMs: config.postgresql.pg_ctl_timeout * 1000, signal})
    if (r.outcome === 'still-starting') throw new Error('PostgreSQL did not accept connections in time after initdb')
    this.state.memory = {...this.state.memory, pgState: 'running'}
  }

  private async postBootstrap(): Promise<void> {
    const {pg, config} = this.d
    const a = config.postgresql.authentication
    await pg.createRoles({superuser: a.superuser, replication: a.replication, rewind: a.rewind})
    const cmd = config.bootstrap?.post_bootstrap ?? config.bootstrap?.post_init
    if (typeof cmd === 'string' && cmd.trim()) await this.runPostBootstrap(cmd)
    this.callbacks.fire('on_start', 'primary')
  }

  /**
   * Patroni's call_post_bootstrap: `<script...> <dsn>` as the superuser over the local
   * connection, the password in a private passfile (never on the command line), commits local.
   */
  private async runPostBootstrap(cmd: string): Promise<void> {
    const {config, log} = this.d
    const argv = shellSplit(cmd)
    if (!argv?.length) throw new Error(`bootstrap.post_bootstrap: cannot split the command line: ${cmd}`)
    const c = localConn(config)
    const dir = mkdtempSync(join(tmpdir(), 'hactl-post-bootstrap-'))
    try {
      const esc = (v: unknown) => String(v ?? '').replace(/\\/g, '\\\\').replace(/:/g, '\\:')
      const passfile = join(dir, 'pgpass')
      writeFileSync(passfile, `${esc(c.host)}:${esc(c.port)}:*:${esc(c.user)}:${esc(c.password)}\n`, {mode: 0o600})
      const dsn = `dbname=${c.dbname} user=${c.user} host=${c.host} port=${c.port}`
      log.info(`running post_bootstrap: ${argv.join(' ')}`)
      const r = await runArgv([...argv, dsn], {...process.env, PGPASSFILE: passfile, PGOPTIONS: '-c synchronous_commit=local'})
      if (r.code !== 0) throw new Error(`post_bootstrap script ${argv[0]} returned non-zero code ${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  private memberConn(name: string): {host: string; port: number} | undefined {
    return hostPortOf(this.state.lastCluster ? getMember(this.state.lastCluster, name)?.connUrl : null)
  }

  /**
   * Patroni's create_replica, then start the copy as a replica: `create_replica_methods` in
   * order until one succeeds. `basebackup` is pg_basebackup from `src`; any other name runs
   * `postgresql.<method>.command` (default: the name) with the method's other keys as
   * `--key=value`, then --scope, --role=replica, --datadir and --connstring (none of them with
   * `no_params`), the replication password in a private PGPASSFILE. Without a source (no leader
   * yet) only methods marked `no_leader` (or `no_master`) are tried.
   */
  private async clone(src: {host: string; port: number} | null, signal: AbortSignal): Promise<void> {
    const {pg, config, log} = this.d
    const configured = config.postgresql.create_replica_methods
    const section = (m: string) => ((config.postgresql as Record<string, unknown>)[m] ?? {}) as Record<string, unknown>
    const methods = src ? configured : configured.filter((m) => m !== 'basebackup' && (truthy(section(m)['no_leader']) || truthy(section(m)['no_master'])))
    if (!methods.length) throw new Error(`no replica method can work without a leader (create_replica_methods: ${configured.join(', ')}; mark one no_leader: true)`)
    const conn = src ? replicationConn(config, src) : null
    let failure: unknown
    let created = false
    for (const m of methods) {
      if (signal.aborted) break
      try {
        if (m === 'basebackup') {
          log.info(`cloning from ${hostPortText(src!)} with pg_basebackup`)
          await pg.basebackup({source: {...conn!, dbname: config.postgresql.database}, options: config.postgresql.basebackup as never, signal})
        } else {
          await this.runReplicaMethod(m, section(m), conn, signal)
        }
        log.info(`replica has been created using ${m}`)
        created = true
        break
      } catch (e) {
        log.error(`Error creating replica using method ${m}: ${errText(e)}`)
        failure = e
      }
    }
    if (!created) {
      // As Patroni does: an empty data dir again, so the next cycle clones afresh instead of
      // taking a half-copied directory for existing data.
      await pg.removeDataDir().catch((e) => log.error(`could not empty ${config.postgresql.data_dir}: ${errText(e)}`))
      throw failure instanceof Error ? failure : new Error(`no replica method succeeded (${methods.join(', ')})`)
    }
    await pg.restoreConfigFiles().catch(() => {})
    // Start the copy as a replica inside the same task, as Patroni does: a fresh base backup's
    // pg_control says "in production", and left stopped it would look like a crashed primary.
    const upstream = this.state.lastCluster?.leader?.name ?? null
    log.info(upstream ? `starting the clone as a replica of ${upstream}` : 'starting the clone as a replica')
    await this.startPg('replica', upstream === config.name ? null : upstream, config.postgresql.pg_ctl_timeout * 1000, signal)
    this.state.memory = {...this.state.memory, role: 'replica'}
  }

  private async runReplicaMethod(method: string, options: Record<string, unknown>, conn: ConnParams | null, signal: AbortSignal): Promise<void> {
    const {pg, config, log} = this.d
    const opts = {...options}
    const dataDir = config.postgresql.data_dir
    let empty = true
    try {
      empty = readdirSync(dataDir).length === 0
    } catch {
      empty = true
    }
    if (!empty) {
      if (truthy(opts['keep_data'])) log.info('Leaving data directory uncleaned')
      else await pg.removeDataDir()
    }
    const command = typeof opts['command'] === 'string' ? opts['command'] : method
    delete opts['command']
    const argv = shellSplit(command)
    if (!argv?.length) throw new Error(`postgresql.${method}.command: cannot split the command line: ${command}`)
    if (!truthy(opts['no_params'])) {
      const connstring = conn ? `dbname=${config.postgresql.database} user=${conn.user} host=${conn.host} port=${conn.port}` : ''
      Object.assign(opts, {scope: config.scope, role: 'replica', datadir: dataDir, connstring})
    } else {
      for (const k of ['no_params', 'no_master', 'no_leader', 'keep_data']) delete opts[k]
    }
    const params = Object.entries(opts).map(([k, v]) => `--${k}=${pyStr(v)}`)
    const dir = mkdtempSync(join(tmpdir(), 'hactl-replica-method-'))
    try {
      const env: NodeJS.ProcessEnv = {...process.env}
      if (conn) {
        const esc = (v: unknown) => String(v ?? '').replace(/\\/g, '\\\\').replace(/:/g, '\\:')
        const passfile = join(dir, 'pgpass')
        writeFileSync(passfile, `${esc(conn.host)}:${esc(conn.port)}:*:${esc(conn.user)}:${esc(conn.password)}\n`, {mode: 0o600})
        env.PGPASSFILE = passfile
      }
      log.info(`creating a replica with ${method}: ${[...argv, ...params].join(' ')}`)
      const r = await runArgv([...argv, ...params], env, signal)
      if (r.code !== 0) throw new Error(`${command} exited with code=${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  private async startPg(as: 'primary' | 'replica', upstream: string | null, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const {pg} = this.d
    const version = await pg.binaryVersion()
    const recovery = as === 'replica' ? this.recoveryFor(version, upstream) : null
    const params = await this.writeConfig(version, recovery)
    this.state.followKey = JSON.stringify(recovery)
    this.state.upstream = upstream
    if (as === 'replica') this.state.ssn = undefined
    this.clearPendingRestart(params.cmdline)
    const before = this.state.memory.role
    const r = await pg.start({cmdline: params.cmdline, timeoutMs, signal})
    if (r.outcome === 'started') {
      const wasPrimary = before === 'primary' || before === 'promoted' || before === 'demoted'
      if (as === 'replica' && wasPrimary) this.fireCallback('on_role_change', 'replica')
      else this.fireCallback('on_start', as)
    }
  }

  private clearPendingRestart(cmdline: Record<string, string>): void {
    this.state.startedCmdline = {...cmdline}
    this.state.pendingRestart = false
    this.state.pendingRestartReason = null
    this.state.pendingCheckAt = null
  }

  /** Point a running replica at `leader`: rewrite recovery settings and reload when they changed. */
  private async follow(leader: string | null, obs: Observation): Promise<void> {
    const {pg, log} = this.d
    const version = await pg.binaryVersion()
    const recovery = this.recoveryFor(version, leader)
    const key = JSON.stringify(recovery)
    this.state.upstream = leader
    if (obs.pg.inRecovery === false) {
      const params = await this.writeConfig(version, recovery)
      this.state.followKey = key
      this.clearPendingRestart(params.cmdline)
      this.startTask('follow-restart', 'restart to follow', (signal) =>
        pg.restart({mode: 'fast', timeoutMs: this.d.config.postgresql.pg_ctl_timeout * 1000}, {cmdline: params.cmdline, signal}))
      return
    }
    if (key === this.state.followKey) return
    const params = await this.writeConfig(version, recovery)
    this.state.followKey = key
    // A new upstream may be behind us (an asynchronous replica ahead of the member that won):
    // check for divergence before streaming from it, as Patroni does after changing
    // primary_conninfo (the next cycle asks check-rewind, and rewinds when needed).
    if (leader) this.triggerRewindCheck(obs)
    if (obs.pg.process === 'running' && version < 130000) {
      // Up to PostgreSQL 12 the recovery settings (recovery.conf) take effect only at a start.
      this.clearPendingRestart(params.cmdline)
      this.startTask('follow-restart', 'restart to follow', (signal) =>
        pg.restart({mode: 'fast', timeoutMs: this.d.config.postgresql.pg_ctl_timeout * 1000}, {cmdline: params.cmdline, signal}))
      log.info(leader ? `following ${leader}: recovery settings updated, restarting (PostgreSQL ${Math.floor(version / 10000)} reads them only at start)` : 'running without an upstream: restarting')
      return
    }
    if (obs.pg.process === 'running') await pg.reload()
    log.info(leader ? `following ${leader}: recovery settings updated` : 'running without an upstream')
  }

  /** pre_promote (a failure aborts: the core then releases the lock), pg_ctl promote, CHECKPOINT. */
  private async promote(signal: AbortSignal): Promise<void> {
    const {pg, config, log} = this.d
    this.state.failsafe.setActive(0)
    const script = config.postgresql.pre_promote
    if (script) {
      const r = await runScript(script, signal)
      if (r.code !== 0) throw new PrePromoteFailed(`pre_promote script exited with code ${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
    }
    // Until pg_ctl promote runs, a cancel (lock lost) leaves nothing to undo.
    signal.throwIfAborted()
    await pg.promote({timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
    this.state.memory = {...this.state.memory, pgState: 'running'}
    log.info('PostgreSQL promoted')
    this.fireCallback('on_role_change', 'primary')
    // pg_rewind on the old primary refuses a source whose pg_control still shows the old timeline.
    await pg.checkpoint().catch((e) => log.warning(`CHECKPOINT after promote failed: ${errText(e)}`))
  }

  /**
   * `/history` from the local timeline history file, keeping stamps already stored (patroni/ha.py
   * Ha.update_cluster_history).
   */
  private async writeHistory(obs: Observation, viaDcs: <T>(fn: () => Promise<T>) => Promise<T>): Promise<void> {
    const {pg, dcs, config, clock, log} = this.d
    const tl = obs.pg.timeline
    if (!tl) return
    let lines: HistoryLine[] = []
    if (tl > 1) {
      let file = await pg.localTimelineHistory(tl)
      if (!file) {
        try {
          file = {text: await pg.timelineHistory(replicationConn(config, config.postgresql.connect_address), tl), mtimeMs: clock.now()}
        } catch (e) {
          log.warning(`cannot read the history of timeline ${tl}: ${errText(e)}`)
          return
        }
      }
      const existing = (obs.dcs.reachable ? obs.dcs.cluster : this.state.lastCluster)?.history?.lines ?? []
      lines = historyLinesFrom(file.text, existing, config.name, file.mtimeMs, this.state.dynamic.max_timelines_history)
    }
    await viaDcs(() => dcs.setHistory(lines))
    log.info(`updated /history for timeline ${tl} (${lines.length} entries)`)
  }

  /**
   * Stop PostgreSQL for demotion (docs/ha-rules.md#demotion; patroni/ha.py Ha.demote). The restart
   * as a replica is the core's next decision (recover/follow), after the rewind check this
   * triggers.
   */
  private async demote(mode: DemoteMode, obs: Observation): Promise<void> {
    const {pg, dcs, config, log} = this.d
    // A fast stop waits for the shutdown checkpoint however long it takes (the candidate needs
    // that WAL); only primary_stop_timeout in synchronous mode turns it into an immediate stop,
    // as Patroni's stop_timeout does. An immediate stop gets pg_ctl_timeout before SIGKILL.
    const fastTimeout = this.primaryStopTimeoutMs()
    const timeoutMs = mode === 'immediate' || mode === 'immediate-nolock' ? config.postgresql.pg_ctl_timeout * 1000 : fastTimeout
    const mine = this.isLeader
    this.state.lastLockRenewal = null
    this.stoppingPostgres()
    this.triggerRewindCheck(obs)
    const stopped = () => {
      this.fireCallback('on_stop', 'primary')
      this.state.memory = {...this.state.memory, pgState: 'stopped', role: 'demoted'}
    }
    if (mode === 'graceful') {
      this.startTask('switchover-demote', 'demote', async (signal) => {
        await pg.close().catch(() => {})
        await pg.stop({mode: 'fast', checkpoint: true, ...(timeoutMs !== undefined ? {timeoutMs} : {})})
        stopped()
        // The shutdown checkpoint is the last WAL a candidate must have to be eligible.
        const cd = await pg.controldata().catch(() => undefined)
        // Never while a cycle runs: its renewal could re-create the key we delete (the cycle
        // that follows sees the task ended and the key gone).
        if (mine && (await this.slot.exclusive(signal, () => dcs.deleteLeader(cd?.checkpointLsn)))) log.info('released the leader key after demotion')
      })
      return
    }
    await pg.close().catch(() => {})
    await pg.stop({mode: mode === 'offline' ? 'fast' : 'immediate', checkpoint: false, ...(timeoutMs !== undefined ? {timeoutMs} : {})})
    stopped()
    if (mode === 'immediate' && mine) {
      try {
        await dcs.deleteLeader()
      } catch (e) {
        log.error(`failed to release the leader key after demotion: ${errText(e)}`)
      }
    }
  }

  /** state.ts stoppingPostgres: no WAL position, no running primary until the next observation. */
  stoppingPostgres(): void {
    stoppingPostgres(this.state)
  }

  /** Patroni's primary_stop_timeout(): honoured only in synchronous mode; undefined = no limit. */
  private primaryStopTimeoutMs(): number | undefined {
    const t = this.state.dynamic.primary_stop_timeout
    return this.state.dynamic.synchronous_mode !== false && t > 0 ? t * 1000 : undefined
  }

  /**
   * The lock holder's synchronous replication upkeep (docs/ha-rules.md#synchronous-mode;
   * patroni/ha.py Ha._process_multisync_replication). Order is the safety: a standby leaves `/sync`
   * before it leaves synchronous_standby_names, and enters `/sync` only after
   * synchronous_standby_names names it and it reports `sync` at or past the barrier.
   */
  private async manageSync(obs: Observation, viaDcs: <T>(fn: () => Promise<T>) => Promise<T>): Promise<void> {
    const {pg, dcs, log, clock} = this.d
    if (!obs.dcs.reachable) return
    const cluster = obs.dcs.cluster
    const me = this.d.config.name
    if (this.state.dynamic.synchronous_mode !== true) {
      if (cluster.sync.version !== null) {
        if (!(await viaDcs(() => dcs.deleteSync(cluster.sync.version!)))) return
        log.info('synchronous mode off: removed /sync')
      }
      if (this.state.ssn !== undefined) {
        this.state.ssn = undefined
        await this.applyPgConfigIfChanged()
      }
      return
    }
    if (this.state.lastPg?.inRecovery !== false) return
    let version = cluster.sync.version
    let current = cluster.sync.leader === me ? syncStandbys(cluster.sync.syncStandby) : []
    if (cluster.sync.leader !== me) {
      const v = await viaDcs(() => dcs.setSync({leader: me, sync_standby: null}, version ?? 0))
      if (v === false) return log.info('Synchronous replication key updated by someone else.')
      version = v
    }
    const compute = async () => {
      const rows = await pg.settings(['synchronous_standby_names', 'synchronous_commit'])
      const live = rows.find((r) => r.name === 'synchronous_standby_names')?.setting ?? ''
      const commit = rows.find((r) => r.name === 'synchronous_commit')?.setting ?? 'on'
      const st = await pg.status()
      if (live !== this.state.ssnSeen) {
        // A new list: a standby counts as caught up only once it reaches what the primary had then.
        this.state.ssnSeen = live
        this.state.syncBarrier = st.walPosition
        this.state.syncReady = new Set()
      }
      const reps = await pg.replicationStats()
      const lsnOf = (r: (typeof reps)[number]) => (commit === 'remote_apply' ? r.replayLsn : commit === 'remote_write' ? r.writeLsn : r.flushLsn) ?? 0
      const pick = pickSyncStandbys({
        rows: reps.map((r) => ({pid: r.pid, applicationName: r.applicationName, state: r.state, syncState: r.syncState, lsn: lsnOf(r)})),
        members: cluster.members.filter((m) => m.name.toLowerCase() !== me.toLowerCase()).map(syncMemberInfo),
        current,
        ssn: parseSsn(live),
        ready: this.state.syncReady,
        barrier: this.state.syncBarrier,
        primaryLsn: st.walPosition,
        nodeCount: this.state.dynamic.synchronous_node_count,
        maxLagOnSyncnode: this.state.dynamic.maximum_lag_on_syncnode,
      })
      this.state.syncReady = pick.ready
      return pick
    }
    const publish = async (names: string[]) => {
      const v = await viaDcs(() => dcs.setSync({leader: me, sync_standby: names.length ? [...names].sort().join(',') : null}, version ?? 0))
      if (v === false) {
        log.info('Synchronous replication key updated by someone else.')
        return false
      }
      version = v
      current = names.map((n) => n.toLowerCase())
      return true
    }
    let {picked, allowPromote} = await compute()
    if (sameSet(picked, current)) {
      if (!sameSet(allowPromote, current)) await publish(allowPromote)
      return
    }
    const common = allowPromote.filter((n) => current.includes(n.toLowerCase()))
    if (!sameSet(common, current) && !(await publish(common))) return
    const want = picked.length === 0 && this.state.dynamic.synchronous_mode_strict ? ['*'] : picked
    const value = formatSsn(want)
    if (value !== this.state.ssn) {
      this.state.ssn = value
      log.info(`assigning synchronous standby status to ${want.length ? want.join(', ') : 'nobody'} (synchronous_standby_names = '${value}')`)
      await this.applyPgConfigIfChanged()
    }
    if (want.length && !want.includes('*') && !sameSet(allowPromote, want)) {
      await clock.sleep(2000)
      ;({allowPromote} = await compute())
    }
    if (allowPromote.length && !sameSet(allowPromote, common)) {
      if (await publish(allowPromote)) log.info(`synchronous standby for ${me}: ${allowPromote.join(', ')} (published in /sync)`)
    }
  }

  /** Rewind state INITIAL/CHECK/... -> CHECK when a rewind or reinit on divergence is allowed. */
  private triggerRewindCheck(obs: Observation): void {
    const c = obs.config
    const allowed = (c.usePgRewind && this.state.memory.canRewind) || c.removeDataDirectoryOnDivergedTimelines
    if (allowed && this.state.memory.rewind !== 'need') this.state.memory = {...this.state.memory, rewind: 'check'}
  }

  private async checkRewind(leader: string): Promise<RewindState> {
    const {pg, config, log} = this.d
    const src = this.memberConn(leader)
    if (!src) return this.state.memory.rewind
    const r = await pg.checkRewind(rewindConn(config, src), replicationConn(config, src))
    const state: RewindState = r.result === 'need-rewind' ? 'need' : r.result === 'not-needed' ? 'not-need' : 'check'
    if (r.result === 'need-rewind') log.info(`a rewind from ${leader} is needed: ${r.reason}`)
    else if (r.result === 'undecided') log.info(`cannot tell yet whether a rewind from ${leader} is needed: ${r.reason}`)
    this.state.memory = {...this.state.memory, rewind: state}
    return state
  }

  private async rewind(src: {host: string; port: number}, signal: AbortSignal): Promise<void> {
    const {pg, config, log} = this.d
    await pg.close().catch(() => {})
    await pg.stop({mode: 'fast', checkpoint: false, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
    this.state.memory = {...this.state.memory, pgState: 'stopped'}
    try {
      await pg.rewind({source: rewindConn(config, src), signal})
      this.state.memory = {...this.state.memory, rewind: 'success'}
      log.info(`pg_rewind from ${hostPortText(src)} finished`)
    } catch (e) {
      // Aborted, or the source is not ready yet (no checkpoint since promotion): try again later.
      if (signal.aborted || (e instanceof HactlError && e.recoverable)) throw e
      this.state.memory = {...this.state.memory, rewind: 'failed'}
      const p = config.postgresql
      if (p.remove_data_directory_on_rewind_failure || p.remove_data_directory_on_diverged_timelines) {
        log.warning('pg_rewind failed: removing the data directory so that the node is cloned again')
        await pg.removeDataDir()
        this.state.memory = {...this.state.memory, rewind: 'initial'}
      }
      throw e
    }
  }

  /**
   * The lock holder keeps a physical slot for every other member (use_slots) and for every
   * permanent physical slot of the dynamic `slots` (not the one named after itself); every node
   * drops an inactive physical slot nobody wants once unused for member_slots_ttl (core/slots.ts).
   */
  private async primaryMaintenance(): Promise<void> {
    this.state.replication = this.state.lastPg?.inRecovery === false ? await this.d.pg.replicationStats().catch(() => []) : []
    if (this.state.lastPg?.process === 'running' && this.state.lastPg.inRecovery === true && !this.slot.busy) {
      // A replica keeps only the permanent slots: an old primary that rejoined still has its
      // members' slots, and on a standby an inactive slot holds back WAL removal for ever.
      await this.dropUnusedSlots(new Set(Object.keys(this.state.dynamic.slots ?? {})))
      return
    }
    if (!this.isLeader || !this.state.dynamic.postgresql.use_slots || this.state.lastPg?.inRecovery !== false || !this.state.lastCluster) return
    const mine = slotNameFor(this.d.config.name)
    const permanent = Object.entries(this.state.dynamic.slots ?? {}).filter(([name, spec]) => spec.type !== 'logical' && name !== mine).map(([name]) => name)
    const members = this.state.lastCluster.members.filter((m) => m.name !== this.d.config.name).map((m) => slotNameFor(m.name))
    const want = [...new Set([...members, ...permanent])]
    for (const slot of want) {
      try {
        if (await this.d.pg.createPhysicalSlot(slot)) this.d.log.info(`created replication slot ${slot}`)
      } catch (e) {
        this.d.log.warning(`failed to create replication slot ${slot}: ${errText(e)}`)
      }
    }
    await this.dropUnusedSlots(new Set([...want, ...Object.keys(this.state.dynamic.slots ?? {})]))
  }

  private async dropUnusedSlots(wanted: Set<string>): Promise<void> {
    const {pg, log, clock} = this.d
    // In maintenance mode nothing is dropped: the operator may be moving members around.
    if (this.state.dynamic.pause) return
    const rows = await pg.replicationSlots().catch((e) => {
      log.warning(`could not list replication slots: ${errText(e)}`)
      return undefined
    })
    if (!rows) return
    const ttlS = this.state.dynamic.member_slots_ttl ?? DEFAULT_MEMBER_SLOTS_TTL_S
    const r = slotCleanup({
      now: clock.now(),
      slots: rows.map((x) => ({name: x.slotName, type: x.slotType, plugin: x.plugin, database: x.database, active: x.active})),
      wanted,
      ignore: (this.state.dynamic.ignore_slots ?? []) as IgnoreSlot[],
      ttlS,
      unusedSince: this.state.slotsUnusedSince,
    })
    for (const w of r.waiting) {
      if (this.state.slotsUnusedSince[w.name] === undefined) {
        log.warning(`replication slot ${w.name} is used by no member: dropping it in ${w.leftS}s (member_slots_ttl ${ttlS}s) unless a member uses it again or it is listed in slots or ignore_slots`)
      }
    }
    this.state.slotsUnusedSince = r.unusedSince
    for (const name of r.drop) {
      try {
        if (await pg.dropSlot(name)) log.info(`dropped unused replication slot ${name} (unused for member_slots_ttl ${ttlS}s)`)
      } catch (e) {
        log.warning(`failed to drop replication slot ${name}: ${errText(e)}`)
      }
    }
  }

  private async reinitializeFrom(src: {host: string; port: number}, signal: AbortSignal): Promise<void> {
    const {pg, config} = this.d
    await pg.close().catch(() => {})
    await pg.stop({mode: 'immediate', checkpoint: false, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
    this.state.memory = {...this.state.memory, pgState: 'stopped', rewind: 'initial'}
    await pg.removeDataDir()
    await this.clone(src, signal)
  }

  /** Runs a configured callback (never while bootstrapping) and remembers that one ran. */
  fireCallback(action: CallbackAction, role: string): void {
    if (this.state.memory.bootstrapping) return
    if (this.callbacks.fire(action, role)) this.state.memory = {...this.state.memory, callbackFired: true}
  }

  /** The running task's name as Patroni words it in `<x> already in progress`. */
  private busyText(): string {
    const t = this.slot.current
    return `${t ? (TASK_NAMES[t.kind as TaskKind] ?? t.description) : 'another action'} already in progress`
  }

  /** Patroni's restart_matches: the filters of POST /restart and scheduled restarts. */
  restartMatches(role: string | undefined, postgresVersion: number | undefined, pendingOnly: boolean): string | null {
    const mine = this.publishedRole()
    const norm = (r: string) => (r === 'primary' ? 'master' : r)
    if (role && norm(role) !== norm(mine)) return 'host role mismatch'
    const running = this.state.lastStatus?.serverVersion
    if (postgresVersion !== undefined && running !== undefined && postgresVersion <= running) return 'postgres version mismatch'
    if (pendingOnly && !this.state.pendingRestart) return 'pending restart flag is not set'
    return null
  }

  /**
   * POST /restart (immediate): a fast stop and a start with the same role, run in the task slot
   * and awaited. ok true = accepting connections again, null = still starting at the timeout.
   */
  async restartNow(timeoutS: number | null): Promise<{ok: boolean | null; message: string}> {
    const {pg, config, log} = this.d
    let settle!: (r: {ok: boolean | null; message: string}) => void
    const result = new Promise<{ok: boolean | null; message: string}>((r) => (settle = r))
    const startTimeoutS = timeoutS ?? this.state.dynamic.primary_start_timeout
    const started = this.slot.start('restart', 'restart', async (signal) => {
      try {
        const version = await pg.binaryVersion()
        const recovery = this.state.lastPg?.inRecovery === false ? null : this.recoveryFor(version, this.state.upstream)
        const params = await this.writeConfig(version, recovery)
        this.clearPendingRestart(params.cmdline)
        await pg.close().catch(() => {})
        const r = await pg.restart(
          {mode: 'fast', timeoutMs: config.postgresql.pg_ctl_timeout * 1000},
          {cmdline: params.cmdline, timeoutMs: startTimeoutS * 1000, signal},
        )
        this.state.memory = {...this.state.memory, pgState: r.outcome === 'started' ? 'running' : 'starting'}
        if (r.outcome === 'started') {
          log.info('PostgreSQL restarted')
          this.fireCallback('on_restart', this.publishedRole())
        }
        settle(r.outcome === 'started' ? {ok: true, message: 'restarted successfully'} : {ok: null, message: 'postgres is still starting'})
      } catch (e) {
        log.error(`restart failed: ${errText(e)}`)
        settle({ok: false, message: 'restart failed'})
        throw e
      }
    })
    if (!started) return {ok: false, message: this.busyText()}
    this.state.memory = {...this.state.memory, recovering: true, startTimeoutS}
    return result
  }

  /**
   * A restart scheduled through POST /restart runs when due, in a cluster with a leader, not in
   * pause, with nothing else running (docs/ha-rules.md#scheduled-actions; patroni/ha.py
   * Ha.evaluate_scheduled_restart). It is dropped when the postmaster was restarted meanwhile, when
   * it is stale, or when its filters no longer match.
   */
  private async runScheduledRestart(obs: Observation): Promise<void> {
    const sr = this.state.scheduledRestart
    if (!sr || this.slot.busy || this.state.dynamic.pause || !obs.dcs.reachable || !obs.dcs.cluster.leader) return
    const {log, clock} = this.d
    const at = Date.parse(sr.schedule)
    const v = scheduleVerdict(at, clock.now(), this.state.dynamic.loop_wait)
    if (v.kind === 'wait') return
    this.state.scheduledRestart = null
    if (v.kind === 'stale') return log.warning(`dropping a stale scheduled restart (${v.lateSeconds}s late): ${sr.schedule}`)
    if (sr.postmaster_start_time && this.state.lastStatus && sr.postmaster_start_time !== this.state.lastStatus.postmasterStartTime) {
      return log.info('cancelling the scheduled restart: PostgreSQL was restarted since it was requested')
    }
    const version = sr.postgres_version !== undefined ? postgresVersionNum(sr.postgres_version) : undefined
    const why = this.restartMatches(sr.role, version, sr.restart_pending === true)
    if (why) return log.info(`not proceeding with the scheduled restart: ${why}`)
    if (v.sleepMs > 0) await clock.sleep(v.sleepMs)
    log.info(`running the restart scheduled at ${sr.schedule}`)
    void this.restartNow(sr.timeout ?? null)
  }

  /** POST /reinitialize: null when started, else Patroni's refusal text. */
  async reinitializeNow(force: boolean): Promise<string | null> {
    const cluster = await this.d.dcs.loadCluster({fresh: true})
    const leader = cluster.leader?.name
    if (!leader) return 'Cluster has no leader, can not reinitialize'
    if (leader === this.d.config.name) return 'I am the leader, can not reinitialize'
    const src = hostPortOf(getMember(cluster, leader)?.connUrl)
    if (!src) return `Cluster leader ${leader} has no usable conn_url, can not reinitialize`
    if (force) await this.slot.cancel('reinitialize forced')
    const started = this.slot.start('reinitialize', 'reinitialize', (signal) => this.reinitializeFrom(src, signal))
    if (!started) return this.busyText()
    this.d.log.info(`reinitializing from ${leader} on request`)
    return null
  }

  /**
   * SIGHUP / POST /reload with a freshly loaded local configuration: PostgreSQL files are
   * rewritten and reloaded (even when nothing seems to differ, like Patroni's SIGHUP).
   */
  async reloadLocal(next: LocalConfig): Promise<void> {
    this.d.config = next
    await this.applyPgConfigIfChanged(true)
  }

  /** The local configuration in force (replaced by reloadLocal). */
  get config(): LocalConfig {
    return this.d.config
  }

  memberState(): string {
    const t = this.slot.current
    if (t?.kind === 'bootstrap') return 'initializing new cluster'
    if (t?.kind === 'clone') return 'creating replica'
    const p = this.state.lastPg?.process
    if (p === 'running') return 'running'
    if (p === 'starting') return 'starting'
    if (this.state.memory.pgState === 'crashed') return 'crashed'
    if (p === 'unknown') return 'unknown'
    return 'stopped'
  }

  publishedRole(): string {
    const pg = this.state.lastPg
    let role: string = this.state.memory.role
    if (pg?.inRecovery === false) role = 'primary'
    else if (pg?.inRecovery === true && role === 'primary') role = 'replica'
    return role === 'primary' ? 'master' : role
  }

  /** Patroni's _failsafe_config: every member with an api_url, and me. */
  private failsafeTopology(cluster: ClusterView): Record<string, string> {
    const out: Record<string, string> = {}
    for (const m of cluster.members) if (m.apiUrl) out[m.name] = m.apiUrl
    out[this.d.config.name] ??= this.memberData().api_url as string
    return out
  }

  /**
   * The primary cannot reach etcd: ask every other member of `/failsafe` (as last read) to vouch
   * for it with `POST /failsafe` (2 s, one retry, in parallel). All must answer 200 `Accepted`.
   */
  private async failsafeProbe(obs: Observation): Promise<boolean> {
    const {config, log, clock} = this.d
    const view = obs.dcs.reachable ? obs.dcs.cluster : obs.dcs.lastCluster
    const topology = view?.failsafe
    if (!topology || !Object.hasOwn(topology, config.name)) return false
    const me = this.memberData()
    const slots: Record<string, number> = {}
    if (obs.pg.walPosition !== null) slots[slotNameFor(config.name)] = obs.pg.walPosition
    const body = {name: config.name, conn_url: me.conn_url, api_url: me.api_url, slots}
    const others = Object.entries(topology).filter(([name]) => name !== config.name)
    const answers = await Promise.all(
      others.map(async ([name, url]) => {
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            const r = await this.d.peers.postFailsafe(url, body, 2000)
            if (r.status === 200 && r.body === 'Accepted') return true
            log.warning(`failsafe: ${name} did not vouch for me: ${r.status} ${r.body}`)
            return false
          } catch (e) {
            if (attempt === 1) log.warning(`failsafe: POST ${url.replace(/\/patroni$/, '')}/failsafe to ${name} failed: ${errText(e)}`)
          }
        }
        return false
      }),
    )
    const ok = answers.every(Boolean)
    if (ok) this.state.failsafe.setActive(clock.now())
    return ok
  }

  memberData(): MemberData {
    const c = this.d.config
    const data: MemberData = {
      conn_url: `postgres://${hostPortText(c.postgresql.connect_address)}/${c.postgresql.database}`,
      api_url: `${c.restapi.certfile ? 'https' : 'http'}://${hostPortText(c.restapi.connect_address)}/patroni`,
      state: this.memberState(),
      role: this.publishedRole(),
      version: PATRONI_COMPAT_VERSION,
    }
    const pg = this.state.lastPg
    if (pg?.walPosition !== null && pg?.walPosition !== undefined) data.xlog_location = pg.walPosition
    if (pg?.timeline) data.timeline = pg.timeline
    const s = this.state.lastStatus
    if (s?.inRecovery) {
      if (s.receivedLsn !== undefined) data.receive_lsn = s.receivedLsn
      if (s.replayedLsn !== undefined) data.replay_lsn = s.replayedLsn
      data.replication_state = s.walReceiver?.status === 'streaming' ? 'streaming' : 'in archive recovery'
    }
    if (this.state.pendingRestart) {
      data.pending_restart = true
      if (this.state.pendingRestartReason) data.pending_restart_reason = structuredClone(this.state.pendingRestartReason)
    }
    if (this.state.scheduledRestart) data.scheduled_restart = {...this.state.scheduledRestart}
    if (Object.keys(c.tags).length > 0) data.tags = {...c.tags}
    if (this.state.dynamic.pause) data.pause = true
    return data
  }

  async publishMember(): Promise<void> {
    await this.d.dcs.touchMember(this.memberData())
  }
}

function fallbackOutcome(a: Action): StepOutcome {
  switch (a.type) {
    case 'acquire-lock':
    case 'update-lock':
    case 'initialize':
    case 'set-sync':
    case 'activate-watchdog':
    case 'failsafe-probe':
      return {type: a.type, ok: false}
    case 'check-rewind':
      return {type: 'check-rewind', state: 'failed'}
    case 'sleep':
      return {type: 'sleep'}
    default:
      return {type: 'fetch-peer-status'}
  }
}

async function fetchPeers(client: Peers, members: Array<{name: string; apiUrl: string}>, log?: Logger): Promise<Record<string, PeerStatus>> {
  const results = await Promise.all(
    members.map(async (m) => {
      try {
        const res = await getPeerStatus(m.apiUrl, 2000, client)
        if (res.status !== 200) log?.debug(`GET ${m.apiUrl}: status ${res.status}`)
        return [m.name, peerStatusFrom(res.status, res.body)] as const
      } catch (e) {
        log?.debug(`GET ${m.apiUrl}: ${errText(e)}${e instanceof Error && e.cause ? ` (${errText(e.cause)})` : ''}`)
        return [m.name, peerStatusFrom(0, undefined)] as const
      }
    }),
  )
  return Object.fromEntries(results)
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** `X.Y` / `X.Y.Z` to server_version_num (validated when the restart was scheduled). */
function postgresVersionNum(v: string): number | undefined {
  const n = v.split('.').map(Number)
  if (n.some((x) => !Number.isInteger(x))) return undefined
  return n.length === 2 ? n[0] * 10000 + n[1] : n[0] * 10000 + n[1] * 100 + (n[2] ?? 0)
}

/** Python's truth value of a YAML setting (Patroni tests method options with `if value`). */
function truthy(v: unknown): boolean {
  return !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0))
}

/** str() of a YAML value as Python prints it into `--key=value` (True, False, None). */
function pyStr(v: unknown): string {
  if (v === true) return 'True'
  if (v === false) return 'False'
  if (v === null || v === undefined) return 'None'
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}
