/**
 * Step 1 of a cycle (docs/ha-rules.md#cycle-and-timing): read the cluster from the DCS and
 * PostgreSQL side by side and build the Observation decide() looks at; keep the dynamic
 * configuration in force (the DCS config key, patroni.dynamic.json) up to date on the way.
 * Patroni's patroni/ha.py Ha.load_cluster_from_dcs and Ha._run_cycle.
 */
import {dynamicDocument, dynamicInForce, type DynamicConfig} from '../config/dynamic-schema'
import {type ConfigIssue, describeIssue} from '../config/issues'
import type {ClusterView} from '../core/cluster'
import {timelineFromHistory} from '../core/cluster'
import type {DcsObservation, Observation, PgObservation, TaskKind} from '../core/observation'
import {HactlError} from '../errors'
import type {Controldata, PgStatus} from '../ports/postgres'
import type {AgentContext} from './context'
import {replicationConn} from './execute-failover'
import {withFailsafeLeader} from './failsafe'
import {decideConfig, errText, taskName} from './helpers'
import {watchdogSettings} from './watchdog'

export async function observe(x: AgentContext): Promise<Observation> {
  const {clock, config} = x
  const st = x.state
  if (!st.cacheLoaded) await loadDynamicCache(x)
  // The DCS read and the PostgreSQL observation run side by side, the latter bounded by
  // retry_timeout/2 (Patroni's deadline for local queries): the lock renewal that follows then
  // starts at most retry_timeout after the cycle began, which ttl >= loop_wait + 2*retry_timeout
  // was chosen to allow. A query that does not answer in time is an unknown state, not a wait.
  const pgDeadline = clock.monotonic() + st.dynamic.retry_timeout * 500
  const [dcsObs, pg] = await Promise.all([observeDcs(x), observePg(x, pgDeadline)])
  st.lastPg = pg
  if (pg.process === 'running') st.memory = {...st.memory, pgState: 'running'}
  await saveDynamicCache(x)
  // The watchdog follows the settings in force (Patroni's Watchdog.reload_config); its health and
  // whether it is armed are observed facts, not beliefs.
  x.watchdog.configure(watchdogSettings(config, st.dynamic))
  if (st.memory.watchdogRunning !== x.watchdog.isRunning) st.memory = {...st.memory, watchdogRunning: x.watchdog.isRunning}
  const t = x.slot.current
  const now = clock.now()
  return {
    name: config.name,
    now,
    config: {...decideConfig(config, st.dynamic), watchdogRequired: x.watchdog.mode === 'required', watchdogHealthy: x.watchdog.isHealthy},
    dcs: dcsObs,
    dcsLastSeen: x.dcs.lastSeen,
    lastLockRenewal: st.lastLockRenewal,
    pg,
    task: t ? {kind: t.kind as TaskKind, name: taskName(t), startedAt: now - (clock.monotonic() - t.startedAt)} : null,
    memory: st.memory,
    outcomes: [],
  }
}

/**
 * Patroni's patroni.dynamic.json: read once before the first DCS read, so that an agent started
 * while etcd is down runs with the cluster's settings (pause above all) instead of defaults.
 */
async function loadDynamicCache(x: AgentContext): Promise<void> {
  x.state.cacheLoaded = true
  const cached = await x.pg.readDynamicCache().catch(() => undefined)
  if (cached === undefined) return
  const r = dynamicInForce(x.state.dynamic, cached, {strict: x.strict})
  applyDynamic(x, r.config)
  x.state.cachedJson = JSON.stringify(cacheDocument(r.config))
  x.log.info(`dynamic configuration loaded from patroni.dynamic.json${r.config.pause ? ' (the cluster is paused)' : ''}`)
  logDynamicIssues(x, 'patroni.dynamic.json', r.issues)
}

/**
 * What patroni.dynamic.json holds: the document in force as Patroni keeps it (the DCS value or
 * bootstrap.dcs, with its timing adjustments), else the typed configuration.
 */
function cacheDocument(config: DynamicConfig): Record<string, unknown> {
  return dynamicDocument(config) ?? (config as unknown as Record<string, unknown>)
}

/** Writes patroni.dynamic.json when the configuration in force changed (once there is data). */
async function saveDynamicCache(x: AgentContext): Promise<void> {
  const st = x.state
  if (st.memory.role === 'uninitialized' || st.lastPg?.dataDir.kind !== 'present') return
  // The configuration in force is replaced, never changed: the same object writes the same JSON.
  if (st.cachedFor === st.dynamic) return
  const dynamic = st.dynamic
  const doc = cacheDocument(dynamic)
  const json = JSON.stringify(doc)
  if (json === st.cachedJson) {
    st.cachedFor = dynamic
    return
  }
  try {
    await x.pg.writeDynamicCache(doc)
    st.cachedJson = json
    st.cachedFor = dynamic
  } catch (e) {
    if (!st.warnedForever.has('dynamic-cache')) x.log.warning(`could not write patroni.dynamic.json: ${errText(e)}`)
    st.warnedForever.add('dynamic-cache')
  }
}

async function observeDcs(x: AgentContext): Promise<DcsObservation> {
  const {dcs, clock} = x
  const st = x.state
  try {
    let cluster = await dcs.loadCluster()
    st.unreachableSince = null
    if (cluster.leader) st.lastLockedMembers = cluster.members
    if (!cluster.leader && st.dynamic.failsafe_mode) {
      // The lock expired, but the primary pinged us within the ttl: it runs and only lost etcd.
      const ping = st.failsafe.leader(st.dynamic.ttl)
      if (ping) cluster = withFailsafeLeader(cluster, ping)
    }
    st.lastCluster = cluster
    applyDcsConfig(x, cluster)
    return {reachable: true, cluster, lastLockedMembers: st.lastLockedMembers}
  } catch (e) {
    x.log.error(`failed to read the cluster from the DCS: ${errText(e)}`)
    st.unreachableSince ??= clock.now()
    return {reachable: false, unreachableSince: st.unreachableSince, lastCluster: st.lastCluster, store: 'etcd'}
  }
}

/**
 * The DCS `config` key in force: every usable key of it, and for an unusable one the value in
 * force before, with a warning naming it (once per version of the key). Never ignored whole
 * (docs/ha-rules.md#dynamic-configuration).
 */
function applyDcsConfig(x: AgentContext, cluster: ClusterView): void {
  const cfg = cluster.config
  if (!cfg) return
  const st = x.state
  const fresh = st.configSeen !== cfg.version
  st.configSeen = cfg.version
  if (!cfg.valid) {
    if (fresh) x.log.warning('the DCS config key is not a JSON mapping; the dynamic configuration in force is kept')
    return
  }
  // The same version gives the same result: parse only what changed.
  if (!fresh) return
  const r = dynamicInForce(st.dynamic, cfg.data, {strict: x.strict})
  applyDynamic(x, r.config)
  logDynamicIssues(x, 'DCS config key', r.issues)
}

/** One warning per issue; an error names a key that kept the value in force before. */
function logDynamicIssues(x: AgentContext, source: string, issues: readonly ConfigIssue[]): void {
  for (const i of issues) {
    const kept = i.severity === 'error' ? '; the value in force before is kept' : ''
    x.log.warning(`dynamic configuration (${source}): ${describeIssue(i)}${kept}`)
  }
}

function applyDynamic(x: AgentContext, next: DynamicConfig): void {
  const before = x.state.dynamic
  x.state.dynamic = next
  if (before.ttl !== next.ttl || before.loop_wait !== next.loop_wait || before.retry_timeout !== next.retry_timeout) {
    x.dcs.setTiming({ttl: next.ttl, loopWait: next.loop_wait, retryTimeout: next.retry_timeout})
  }
}

/**
 * A replica's timeline when no WAL receiver reports one (the upstream went away: exactly when
 * a failover looks at it): pg_control's lags a timeline switch until the next restartpoint, so,
 * as Patroni does, ask the server itself with IDENTIFY_SYSTEM over a local replication
 * connection, cached until the cluster's timeline changes (and seeded with the timeline the WAL
 * receiver last streamed). Falls back to pg_control's.
 */
async function replicaTimeline(x: AgentContext, fallback: number, deadline: number): Promise<number> {
  const st = x.state
  const key = timelineFromHistory(st.lastCluster?.history ?? null)
  if (st.replicaTl && st.replicaTl.key === key) return st.replicaTl.timeline
  const pgc = x.config.postgresql
  const host = pgc.listen.host === '*' || pgc.listen.host === '0.0.0.0' || pgc.listen.host === '' ? '127.0.0.1' : pgc.listen.host
  try {
    const id = await byDeadline(x, x.pg.identifySystem(replicationConn(x.config, {host, port: pgc.listen.port})), deadline, 'IDENTIFY_SYSTEM')
    st.replicaTl = {key, timeline: id.timeline}
    return id.timeline
  } catch (e) {
    x.log.debug(`IDENTIFY_SYSTEM on the local replica failed, using pg_control's timeline ${fallback}: ${errText(e)}`)
    return fallback
  }
}

/** `p`, or PG_UNAVAILABLE once the monotonic `deadline` passed. */
async function byDeadline<T>(x: AgentContext, p: Promise<T>, deadline: number, what: string): Promise<T> {
  const left = deadline - x.clock.monotonic()
  let cancel = (): void => {}
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        cancel = x.clock.timer(Math.max(0, left), () => reject(new HactlError('PG_UNAVAILABLE', `${what} did not answer within retry_timeout/2`, {recoverable: true})))
      }),
    ])
  } finally {
    cancel()
  }
}

async function observePg(x: AgentContext, deadline: number): Promise<PgObservation> {
  const {pg} = x
  const st = x.state
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
    const dd = await pg.dataDirState()
    if (dd === 'missing' || dd === 'empty') {
      out.dataDir = {kind: 'empty'}
      st.controlCache = null
    } else {
      let cd: Controldata | undefined
      if (postmaster !== null && st.controlCache?.postmaster === postmaster) cd = st.controlCache.cd
      else {
        cd = dd === 'initialized' ? await pg.controldata().catch(() => undefined) : undefined
        st.controlCache = cd && postmaster !== null ? {postmaster, cd} : null
      }
      out.dataDir = {kind: 'present', sysid: cd?.systemIdentifier ?? null}
      out.controlState = cd?.clusterState ?? null
      if (cd) {
        st.sysid = cd.systemIdentifier
        const canRewind = decideConfig(x.config, st.dynamic).usePgRewind && (cd.walLogHints || cd.dataChecksums)
        if (canRewind !== st.memory.canRewind) st.memory = {...st.memory, canRewind}
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
      status = await byDeadline(x, pg.status(), deadline, 'the status query')
    } catch (e) {
      queryError = e
    }
    const ready = status ? 'accepting' : await byDeadline(x, pg.readiness(), deadline, 'pg_isready').catch(() => 'unknown' as const)
    out.process = ready === 'accepting' ? 'running' : 'starting'
    if (status) {
      out.inRecovery = status.inRecovery
      out.timeline = status.timeline
      out.walPosition = status.walPosition
    } else if (out.process === 'running') {
      x.log.warning(`could not query PostgreSQL: ${errText(queryError)}`)
    }
  }
  const received = status?.inRecovery ? status.walReceiver?.receivedTimeline : undefined
  if (status?.inRecovery && received == null) {
    status = {...status, timeline: await replicaTimeline(x, status.timeline, deadline)}
    out.timeline = status.timeline
  } else if (received != null) {
    // What the WAL receiver streams is the replica's timeline until the cluster's changes: kept,
    // so that the cycle which finds the upstream gone (a failover) need not ask IDENTIFY_SYSTEM
    // over a new replication connection first (~40 ms of a switchover's write gap).
    st.replicaTl = {key: timelineFromHistory(st.lastCluster?.history ?? null), timeline: received}
  }
  st.lastStatus = status
  if (out.process === 'starting') st.startingSince ??= x.clock.now()
  else st.startingSince = null
  out.startingSince = st.startingSince
  return out
}
