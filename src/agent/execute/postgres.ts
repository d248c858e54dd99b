/**
 * Handlers that start, stop, promote, demote or repoint the local PostgreSQL
 * (docs/ha-rules.md#starting-postgresql, #promotion, #demotion, #following). The long ones start
 * their task (tasks.ts) in the task slot and return at once.
 */
import type {Action, DemoteMode} from '../../core/actions'
import type {Observation} from '../../core/observation'
import {isStandbyClusterConfig} from '../../core/standby'
import {fireCallback, startTask, type AgentContext} from '../context'
import {errText} from '../helpers'
import {clearPendingRestart, recoveryFor, remoteText, writeConfig} from '../pg-config'
import {isLeader, stoppingPostgres} from '../state'
import {noteWatchdog, requestRewindCheck, type Handler} from './common'
import {gracefulDemoteTask, promoteTask, startPg} from './tasks'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/** async: start PostgreSQL as primary or replica (docs/ha-rules.md#starting-postgresql). */
export const start: Handler<Of<'start'>> = async (a, _obs, x) => {
  // Patroni's Postgresql.start waits pg_ctl_timeout when given no timeout or 0 (primary_start_timeout 0).
  const timeoutMs = (a.timeoutS || x.config.postgresql.pg_ctl_timeout) * 1000
  const upstream = a.as === 'replica' ? a.upstream : null
  const remote = a.as === 'replica' && a.remote === true
  startTask(x, a.task, `start as ${a.as}`, (signal) => startPg(x, a.as, upstream, timeoutMs, signal, remote))
  return {}
}

/** Stop PostgreSQL now (empty or inaccessible data directory). */
export const stop: Handler<Of<'stop'>> = async (a, _obs, x) => {
  await x.pg.stop({mode: a.mode, timeoutMs: x.config.postgresql.pg_ctl_timeout * 1000})
  x.state.memory = {...x.state.memory, pgState: 'stopped'}
  return {}
}

/** async: pre_promote, the promotion, CHECKPOINT (tasks.ts promoteTask). */
export const promote: Handler<Of<'promote'>> = async (_a, _obs, x) => {
  startTask(x, 'promote', 'promote', (signal) => promoteTask(x, signal))
  return {}
}

/**
 * Stop PostgreSQL for demotion (docs/ha-rules.md#demotion; patroni/ha.py Ha.demote). The restart
 * as a replica is the core's next decision (recover/follow), after the rewind check this
 * triggers. `graceful` runs in the task slot; the other modes stop at once.
 */
export const demote: Handler<Of<'demote'>> = async (a, obs, x) => {
  await stopForDemotion(x, a.mode, obs)
  return {}
}

async function stopForDemotion(x: AgentContext, mode: DemoteMode, obs: Observation): Promise<void> {
  const {pg, dcs, config, log} = x
  // A fast stop waits for the shutdown checkpoint however long it takes (the candidate needs
  // that WAL); only primary_stop_timeout in synchronous mode turns it into an immediate stop,
  // as Patroni's stop_timeout does. An immediate stop gets pg_ctl_timeout before SIGKILL.
  const fastTimeout = primaryStopTimeoutMs(x)
  const timeoutMs = mode === 'immediate' || mode === 'immediate-nolock' ? config.postgresql.pg_ctl_timeout * 1000 : fastTimeout
  const mine = isLeader(x.state, config.name)
  x.state.lastLockRenewal = null
  stoppingPostgres(x.state)
  requestRewindCheck(x, obs)
  // A standby cluster's leader is stopped as the standby leader it is.
  const stopRole = x.state.memory.role === 'standby_leader' ? 'standby_leader' : 'primary'
  const stopped = () => {
    // PostgreSQL is down: the watchdog is disarmed now, not before (Patroni's on_safepoint).
    if (x.watchdog.isRunning) {
      x.watchdog.disable()
      noteWatchdog(x)
    }
    fireCallback(x, 'on_stop', stopRole)
    x.state.memory = {...x.state.memory, pgState: 'stopped', role: 'demoted'}
  }
  if (mode === 'graceful') {
    startTask(x, 'switchover-demote', 'demote', (signal) => gracefulDemoteTask(x, mine, timeoutMs, stopped, signal))
    return
  }
  if (mode === 'demote-cluster') {
    // patroni/ha.py Ha.demote('demote-cluster'): a fast stop that writes the shutdown checkpoint;
    // the lock is kept and the next cycle starts PG as the standby leader.
    startTask(x, 'demote-cluster', 'demoting to a standby cluster', async () => {
      await pg.close().catch(() => {})
      await pg.stop({mode: 'fast', checkpoint: true, ...(timeoutMs !== undefined ? {timeoutMs} : {})})
      stopped()
      log.info('demoted to a standby cluster: PostgreSQL stopped, the leader key kept')
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

/**
 * Patroni's primary_stop_timeout() (patroni/ha.py Ha.primary_stop_timeout): honoured only in
 * synchronous mode, which a standby cluster never is; undefined = no limit.
 */
function primaryStopTimeoutMs(x: AgentContext): number | undefined {
  const d = x.state.dynamic
  const t = d.primary_stop_timeout
  return d.synchronous_mode !== false && !isStandbyClusterConfig(d.standby_cluster) && t > 0 ? t * 1000 : undefined
}

/**
 * Point PostgreSQL at `leader` (docs/ha-rules.md#following): a running primary restarts as a
 * replica; a replica's recovery settings are rewritten and reloaded when they changed (restarted
 * up to PostgreSQL 12).
 */
export const follow: Handler<Of<'follow'>> = async (a, obs, x) => {
  await followLeader(x, a.leader, obs, a.remote === true)
  return {}
}

async function followLeader(x: AgentContext, member: string | null, obs: Observation, remote: boolean): Promise<void> {
  const {pg, log} = x
  const st = x.state
  const version = await pg.binaryVersion()
  const recovery = recoveryFor(x, version, member, remote)
  const key = JSON.stringify(recovery)
  const leader = remote ? remoteText(x) : member
  st.upstream = member
  st.upstreamRemote = remote
  if (obs.pg.inRecovery === false) {
    const params = await writeConfig(x, version, recovery)
    st.followKey = key
    clearPendingRestart(x, params.cmdline)
    startTask(x, 'follow-restart', 'restart to follow', (signal) =>
      pg.restart({mode: 'fast', timeoutMs: x.config.postgresql.pg_ctl_timeout * 1000}, {cmdline: params.cmdline, signal}))
    return
  }
  // Taking over as a standby cluster's leader (patroni/ha.py Ha.follow calls on_role_change).
  const lockHolder = remote && (isLeader(st, x.config.name) || (obs.outcomes ?? []).some((o) => o.type === 'acquire-lock' && o.ok))
  if (lockHolder && st.memory.role !== 'standby_leader' && obs.pg.inRecovery === true) {
    fireCallback(x, 'on_role_change', 'standby_leader')
  }
  if (key === st.followKey) return
  const params = await writeConfig(x, version, recovery)
  st.followKey = key
  // A new upstream may be behind us (an asynchronous replica ahead of the member that won):
  // check for divergence before streaming from it, as Patroni does after changing
  // primary_conninfo (the next cycle asks check-rewind, and rewinds when needed).
  if (member) requestRewindCheck(x, obs)
  if (obs.pg.process === 'running' && version < 130000) {
    // Up to PostgreSQL 12 the recovery settings (recovery.conf) take effect only at a start.
    clearPendingRestart(x, params.cmdline)
    startTask(x, 'follow-restart', 'restart to follow', (signal) =>
      pg.restart({mode: 'fast', timeoutMs: x.config.postgresql.pg_ctl_timeout * 1000}, {cmdline: params.cmdline, signal}))
    log.info(leader ? `following ${leader}: recovery settings updated, restarting (PostgreSQL ${Math.floor(version / 10000)} reads them only at start)` : 'running without an upstream: restarting')
    return
  }
  if (obs.pg.process === 'running') await pg.reload()
  log.info(leader ? `following ${leader}: recovery settings updated` : 'running without an upstream')
}

/** async: single-user crash recovery so pg_control ends in a clean shutdown. */
export const crashRecovery: Handler<Of<'crash-recovery'>> = async (_a, _obs, x) => {
  const {pg, config} = x
  startTask(x, 'crash-recovery', 'crash recovery', (signal) => pg.crashRecovery({timeoutMs: config.postgresql.pg_ctl_timeout * 1000, signal}).then(() => undefined))
  return {}
}
