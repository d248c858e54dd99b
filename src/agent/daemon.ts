/**
 * `hactl agent CONFIG`: load the configuration, start the REST API and the DCS client, then run
 * the HA loop every loop_wait (earlier when the DCS or a finished task says so) until SIGTERM or
 * SIGINT, then shut down as core/shutdown.ts plans it (agent/runtime.ts): in pause PostgreSQL
 * keeps running and the leader keeps its key; otherwise a fast stop, and the key is given back
 * only once PostgreSQL is down.
 */
import {startRestApi, type RestApi} from '../api/server'
import type {AgentStateSource} from '../api/types'
import {describeIssue} from '../config/issues'
import {loadConfig, type LocalConfig} from '../config/load'
import {Logger} from '../log/logger'
import type {ShutdownCause} from '../core/shutdown'
import {publishedTags} from '../core/tags'
import type {Clock} from '../ports/clock'
import type {Dcs, DcsTiming} from '../ports/dcs'
import type {ProcessRunner} from '../ports/process-runner'
import type {Files} from '../ports/files'
import type {Peers} from '../ports/peers'
import type {PgStatus, PostgresControl, ReplicationRow} from '../ports/postgres'
import type {Watchdogs} from '../ports/watchdog'
import {NOTIFY_SOCKET_ENV, noServiceManager, type ServiceManager} from '../ports/service-manager'
import {errText, HaLoop} from './ha-loop'
import {createRestActions} from './rest-actions'
import {runCycles, shutdownAgent} from './runtime'
import {AgentSignals} from './signals'
import {logSettings, timingOf} from './settings'
import {snapshot} from './snapshot'

/** What the agent runs on; src/wiring/agent.ts builds the real ones. */
export interface AgentPorts {
  clock: Clock
  /** The other members' REST APIs (unique-name check, leader race, failsafe, REST switchover checks). */
  peers: Peers
  /** This node's DCS (lease, watch-backed cache) from the configuration. */
  createDcs(config: LocalConfig, timing: DcsTiming, log: Logger, clock: Clock): Dcs
  /** The local PostgreSQL from the configuration. */
  createPostgres(config: LocalConfig, log: Logger): PostgresControl
  /** External programs the agent runs (callbacks, post_bootstrap, replica methods, pre_promote). */
  processes: ProcessRunner
  /** Private files for those programs. */
  files: Files
  /** The watchdog devices (docs/ha-rules.md#watchdog). */
  watchdogs: Watchdogs
  /** systemd's notify socket, when the unit is Type=notify; none by default. */
  createServiceManager?(log: Logger): ServiceManager
}

/** How long GET /patroni waits for PostgreSQL before it answers with the last cycle's status. */
const LIVE_STATUS_TIMEOUT_MS = 1000

export async function runAgent(
  ports: AgentPorts,
  configPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  opts: {strict?: boolean; signals?: AgentSignals} = {},
): Promise<number> {
  const strict = opts.strict === true
  // Normally installed by the caller before the configuration is even read (agent-main.ts).
  const signals = opts.signals ?? new AgentSignals()
  try {
    return await runAgentWith(ports, configPath, env, strict, signals)
  } finally {
    signals.dispose()
  }
}

async function runAgentWith(ports: AgentPorts, configPath: string | undefined, env: NodeJS.ProcessEnv, strict: boolean, signals: AgentSignals): Promise<number> {
  const {config, warnings} = loadConfig(configPath, env, {strict})
  const log = Logger.fromSettings(logSettings(config))
  for (const w of warnings) log.warning(`configuration: ${describeIssue(w)}`)
  const {clock, peers} = ports
  const boot = config.bootstrap?.dcs
  const timing = timingOf(boot ?? {ttl: 30, loop_wait: 10, retry_timeout: 10})
  const service = ports.createServiceManager?.(log) ?? noServiceManager
  const dcs = ports.createDcs(config, timing, log, clock)
  if (await anotherNodeRunsAs(config.name, dcs, log, peers)) {
    log.critical(`Can't start; there is already a node named '${config.name}' running`)
    await dcs.close().catch(() => {})
    log.close()
    return 1
  }
  const pg = ports.createPostgres(config, log)
  let exitCode: number | null = null
  let exitCause: ShutdownCause = 'signal'
  const stopper = new AbortController()
  const requestExit = (code: number, cause: ShutdownCause = 'signal') => {
    if (exitCode === null) {
      exitCode = code
      exitCause = cause
    }
    stopper.abort()
  }
  // Programs the agent runs get its own environment, as Patroni's do, except systemd's notify
  // socket: a callback (or a PostgreSQL it starts) must not tell systemd it is ready or stopping.
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && e[0] !== NOTIFY_SOCKET_ENV))
  const loop = new HaLoop({config, dcs, pg, clock, log, peers, requestExit, processes: ports.processes, childEnv, files: ports.files, strict, watchdogs: ports.watchdogs})
  if (loop.watchdog.requiredButUnsupported) {
    // Patroni exits at start-up here (patroni/watchdog/base.py Watchdog.__init__).
    log.error('Configuration requires a watchdog, but watchdog is not supported on this platform.')
    await dcs.close().catch(() => {})
    log.close()
    return 1
  }
  let nextRunMs = clock.now()

  const source: AgentStateSource = {
    snapshot: async (req) => {
      const live = (req.live ?? req.retry) ? await livePgStatus() : null
      return snapshot(loop, config.name, config.scope, nextRunMs, dcs.lastSeen, publishedTags(loop.config.tags), clock.now(), live?.status ?? null, live?.replication)
    },
    readCluster: () => dcs.loadCluster({fresh: true}),
  }
  /**
   * GET /patroni asks PostgreSQL at the request, as Patroni's get_postgresql_status does: a peer
   * deciding a leader race must see this member's WAL position now, not at its last cycle (a
   * switchover candidate that received the old primary's shutdown checkpoint a moment ago would
   * otherwise look behind the others, and they would race it). Only while the last cycle saw
   * PostgreSQL running; a slow or failing query leaves the cycle's status. A primary's
   * pg_stat_replication rows are asked at the request too (Patroni's `replication`), so a replica
   * that started streaming since the last cycle shows at once.
   */
  async function livePgStatus(): Promise<{status: PgStatus; replication?: ReplicationRow[]} | null> {
    if (!loop.state.lastStatus) return null
    const ask = async () => {
      const status = await pg.status()
      if (status.inRecovery !== false) return {status}
      return {status, replication: await pg.replicationStats().catch(() => undefined)}
    }
    let cancel = (): void => {}
    try {
      return await Promise.race([ask(), new Promise<null>((r) => (cancel = clock.timer(LIVE_STATUS_TIMEOUT_MS, () => r(null))))])
    } catch {
      return null
    } finally {
      cancel()
    }
  }
  let api: RestApi | undefined
  let ready = false
  /**
   * SIGHUP and POST /reload: read the configuration again; a broken file is reported and the
   * running configuration stays (nothing half-applied). Logger, REST API and PostgreSQL follow.
   * Once the agent told systemd it is ready, a reload is framed by RELOADING=1 and READY=1 (as
   * Patroni's sighup_handler and run loop do).
   */
  async function reload(): Promise<void> {
    const notify = ready
    if (notify) service.reloading()
    try {
      await reloadConfig()
    } finally {
      if (notify) service.ready()
    }
  }
  async function reloadConfig(): Promise<void> {
    let next: ReturnType<typeof loadConfig>
    try {
      next = loadConfig(configPath, env, {strict})
    } catch (e) {
      log.error(`reload: the configuration was not changed: ${errText(e)}`)
      return
    }
    for (const w of next.warnings) log.warning(`configuration: ${describeIssue(w)}`)
    for (const k of ['scope', 'name'] as const) {
      if (next.config[k] !== loop.config[k]) {
        log.error(`reload: ${k} cannot change while the agent runs (got ${JSON.stringify(next.config[k])}, running as ${JSON.stringify(loop.config[k])}); the configuration was not changed`)
        return
      }
    }
    log.reconfigure(logSettings(next.config))
    await api?.reconfigure(next.config.restapi).catch((e) => log.error(`reload: REST API settings not applied: ${errText(e)}`))
    await loop.reloadLocal(next.config)
    log.info('configuration reloaded')
  }
  try {
    const handlers = createRestActions({loop, dcs, clock, log, peers, reload: () => reload(), strict})
    api = await startRestApi({settings: config.restapi, source, handlers, log, now: () => clock.now()})
  } catch (e) {
    log.critical(`cannot start the REST API on ${config.restapi.listen.host}:${config.restapi.listen.port}: ${errText(e)}`)
    await dcs.close()
    log.close()
    return 1
  }
  let stopping = false
  // A SIGHUP that came before this point is applied now; one during the shutdown is ignored.
  signals.attach({
    exit: (kind) => requestExit(0, kind === 'handover' ? 'handover' : 'signal'),
    reload: () => {
      if (!stopping) void reload().catch((e) => log.error(`reload failed: ${errText(e)}`))
    },
  })

  const runtime = {loop, dcs, pg, clock, log}
  let cycles = 0
  try {
    await runCycles(
      runtime,
      stopper.signal,
      (ms) => (nextRunMs = ms),
      () => {
        // The REST API serves and the first HA cycle ran: systemd may start what depends on us.
        if (cycles++ === 0 && !stopper.signal.aborted) {
          ready = true
          service.ready()
        }
      },
    )
  } finally {
    stopping = true
    service.stopping()
    log.info('shutting down')
    if (cycles > 0) await shutdownAgent(runtime, exitCause)
    else {
      // Stopped before the first cycle decided anything: like Patroni stopped in its
      // constructor, PostgreSQL is left as it is, and with it any leader key (it expires).
      log.info('stopped before the first HA cycle: PostgreSQL is left as it is')
      await pg.close().catch(() => {})
    }
    await api.close().catch(() => {})
    await dcs.close().catch(() => {})
    await service.flush(6000)
    log.close()
  }
  return exitCode ?? 0
}

/**
 * Patroni's unique-name check: when `members/<name>` exists and its REST API answers `/liveness`
 * within 3 s (any status), another agent runs under this name, and two agents with one name would
 * fight over one member key and one slot. An unreachable DCS or a silent API lets the start go on.
 */
export async function anotherNodeRunsAs(name: string, dcs: Pick<Dcs, 'loadCluster'>, log: Logger, peers: Peers): Promise<boolean> {
  let apiUrl: string | null | undefined
  try {
    apiUrl = (await dcs.loadCluster({fresh: true})).members.find((m) => m.name === name)?.apiUrl
  } catch (e) {
    log.warning(`could not check whether another node named '${name}' runs: ${errText(e)}`)
    return false
  }
  if (!apiUrl) return false
  try {
    await peers.liveness(apiUrl, 3000)
    return true
  } catch (e) {
    log.debug(`no other node named '${name}' answers on ${apiUrl}: ${errText(e)}`)
    return false
  }
}

