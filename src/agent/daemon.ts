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
import type {PostgresControl} from '../ports/postgres'
import type {Watchdogs} from '../ports/watchdog'
import {errText, HaLoop} from './ha-loop'
import {createRestActions} from './rest-actions'
import {runCycles, shutdownAgent} from './runtime'
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
}

export async function runAgent(
  ports: AgentPorts,
  configPath: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  opts: {strict?: boolean} = {},
): Promise<number> {
  const strict = opts.strict === true
  const {config, warnings} = loadConfig(configPath, env, {strict})
  const log = Logger.fromSettings(logSettings(config))
  for (const w of warnings) log.warning(`configuration: ${describeIssue(w)}`)
  const {clock, peers} = ports
  const boot = config.bootstrap?.dcs
  const timing = timingOf(boot ?? {ttl: 30, loop_wait: 10, retry_timeout: 10})
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
  // Programs the agent runs get its own environment, as Patroni's do.
  const childEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'))
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
    snapshot: () => snapshot(loop, config.name, config.scope, nextRunMs, dcs.lastSeen, publishedTags(loop.config.tags), clock.now()),
    readCluster: () => dcs.loadCluster({fresh: true}),
  }
  let api: RestApi | undefined
  /**
   * SIGHUP and POST /reload: read the configuration again; a broken file is reported and the
   * running configuration stays (nothing half-applied). Logger, REST API and PostgreSQL follow.
   */
  async function reload(): Promise<void> {
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
  const onSignal = () => requestExit(0)
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  const onHup = () => void reload().catch((e) => log.error(`reload failed: ${errText(e)}`))
  process.on('SIGHUP', onHup)

  const runtime = {loop, dcs, pg, clock, log}
  try {
    await runCycles(runtime, stopper.signal, (ms) => (nextRunMs = ms))
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.off('SIGHUP', onHup)
    log.info('shutting down')
    await shutdownAgent(runtime, exitCause)
    await api.close().catch(() => {})
    await dcs.close().catch(() => {})
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

