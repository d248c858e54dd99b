/**
 * Restart and reinitialize on request (POST /restart, POST /reinitialize: src/agent/rest-actions.ts
 * through HaLoop) and the scheduled restart the cycle runs when due
 * (docs/ha-rules.md#scheduled-actions). Patroni's patroni/ha.py Ha.restart, Ha.restart_matches,
 * Ha.restart_scheduled / Ha.evaluate_scheduled_restart and Ha.reinitialize.
 */
import type {Observation} from '../core/observation'
import {getMember} from '../core/cluster'
import {scheduleVerdict} from '../core/timing'
import {fireCallback, type AgentContext} from './context'
import {reinitializeFrom} from './execute/tasks'
import {errText, hostPortOf, taskName} from './helpers'
import {clearPendingRestart, recoveryFor, writeConfig} from './pg-config'
import {publishedRole} from './publish'

/** The running task's name as Patroni words it in `<x> already in progress`. */
function busyText(x: AgentContext): string {
  const t = x.slot.current
  return `${t ? taskName(t) : 'another action'} already in progress`
}

/** Patroni's restart_matches: the filters of POST /restart and scheduled restarts; null when they match. */
export function restartMatches(x: AgentContext, role: string | undefined, postgresVersion: number | undefined, pendingOnly: boolean): string | null {
  const mine = publishedRole(x.state)
  const norm = (r: string) => (r === 'primary' ? 'master' : r)
  if (role && norm(role) !== norm(mine)) return 'host role mismatch'
  const running = x.state.lastStatus?.serverVersion
  if (postgresVersion !== undefined && running !== undefined && postgresVersion <= running) return 'postgres version mismatch'
  if (pendingOnly && !x.state.pendingRestart) return 'pending restart flag is not set'
  return null
}

/**
 * POST /restart (immediate): a fast stop and a start with the same role, run in the task slot
 * and awaited. ok true = accepting connections again, null = still starting at the timeout.
 */
export async function restartNow(x: AgentContext, timeoutS: number | null): Promise<{ok: boolean | null; message: string}> {
  const {pg, config, log} = x
  const st = x.state
  let settle!: (r: {ok: boolean | null; message: string}) => void
  const result = new Promise<{ok: boolean | null; message: string}>((r) => (settle = r))
  const startTimeoutS = timeoutS ?? st.dynamic.primary_start_timeout
  const started = x.slot.start('restart', 'restart', async (signal) => {
    try {
      const version = await pg.binaryVersion()
      const recovery = st.lastPg?.inRecovery === false ? null : recoveryFor(x, version, st.upstream, st.upstreamRemote)
      const params = await writeConfig(x, version, recovery)
      clearPendingRestart(x, params.cmdline)
      await pg.close().catch(() => {})
      const r = await pg.restart(
        {mode: 'fast', timeoutMs: config.postgresql.pg_ctl_timeout * 1000},
        {cmdline: params.cmdline, timeoutMs: startTimeoutS * 1000, signal},
      )
      st.memory = {...st.memory, pgState: r.outcome === 'started' ? 'running' : 'starting'}
      if (r.outcome === 'started') {
        // GET /patroni answers from the last cycle's status; Patroni asks PostgreSQL there, so a
        // client that restarted a member sees the new postmaster start time at once: refresh it.
        const now = await pg.status().catch(() => undefined)
        if (now && st.lastStatus) st.lastStatus = {...st.lastStatus, postmasterStartTime: now.postmasterStartTime, serverVersion: now.serverVersion}
        log.info('PostgreSQL restarted')
        fireCallback(x, 'on_restart', publishedRole(st))
      }
      settle(r.outcome === 'started' ? {ok: true, message: 'restarted successfully'} : {ok: null, message: 'postgres is still starting'})
    } catch (e) {
      log.error(`restart failed: ${errText(e)}`)
      settle({ok: false, message: 'restart failed'})
      throw e
    }
  })
  if (!started) return {ok: false, message: busyText(x)}
  st.memory = {...st.memory, recovering: true, startTimeoutS}
  return result
}

/**
 * A restart scheduled through POST /restart runs when due, in a cluster with a leader, not in
 * pause, with nothing else running (docs/ha-rules.md#scheduled-actions). It is dropped when the
 * postmaster was restarted meanwhile, when it is stale, or when its filters no longer match.
 */
export async function runScheduledRestart(x: AgentContext, obs: Observation): Promise<void> {
  const st = x.state
  const sr = st.scheduledRestart
  if (!sr || x.slot.busy || st.dynamic.pause || !obs.dcs.reachable || !obs.dcs.cluster.leader) return
  const {log, clock} = x
  const at = Date.parse(sr.schedule)
  const v = scheduleVerdict(at, clock.now(), st.dynamic.loop_wait)
  if (v.kind === 'wait') return
  st.scheduledRestart = null
  if (v.kind === 'stale') return log.warning(`dropping a stale scheduled restart (${v.lateSeconds}s late): ${sr.schedule}`)
  if (sr.postmaster_start_time && st.lastStatus && sr.postmaster_start_time !== st.lastStatus.postmasterStartTime) {
    return log.info('cancelling the scheduled restart: PostgreSQL was restarted since it was requested')
  }
  const version = sr.postgres_version !== undefined ? postgresVersionNum(sr.postgres_version) : undefined
  const why = restartMatches(x, sr.role, version, sr.restart_pending === true)
  if (why) return log.info(`not proceeding with the scheduled restart: ${why}`)
  if (v.sleepMs > 0) await clock.sleep(v.sleepMs)
  log.info(`running the restart scheduled at ${sr.schedule}`)
  void restartNow(x, sr.timeout ?? null)
}

/** POST /reinitialize: null when started, else Patroni's refusal text. */
/**
 * `fromLeader` (Patroni 4.1's `from_leader`, patroni/ha.py _do_reinitialize and
 * patroni/postgresql/bootstrap.py create_replica): clone from the leader with pg_basebackup only,
 * skipping the configured create_replica_methods. hactl clones a reinitialized member from the
 * leader either way.
 */
export async function reinitializeNow(x: AgentContext, force: boolean, fromLeader = false): Promise<string | null> {
  const cluster = await x.dcs.loadCluster({fresh: true})
  const leader = cluster.leader?.name
  if (!leader) return 'Cluster has no leader, can not reinitialize'
  if (leader === x.config.name) return 'I am the leader, can not reinitialize'
  const src = hostPortOf(getMember(cluster, leader)?.connUrl)
  if (!src) return `Cluster leader ${leader} has no usable conn_url, can not reinitialize`
  if (force) await x.slot.cancel('reinitialize forced')
  const started = x.slot.start('reinitialize', 'reinitialize', (signal) => reinitializeFrom(x, src, signal, {basebackupOnly: fromLeader}))
  if (!started) return busyText(x)
  x.log.info(`reinitializing from ${leader} on request${fromLeader ? ' (from_leader: pg_basebackup only)' : ''}`)
  return null
}

/** `X.Y` / `X.Y.Z` to server_version_num (validated when the restart was scheduled). */
function postgresVersionNum(v: string): number | undefined {
  const n = v.split('.').map(Number)
  if (n.some((y) => !Number.isInteger(y))) return undefined
  return n.length === 2 ? n[0] * 10000 + n[1] : n[0] * 10000 + n[1] * 100 + (n[2] ?? 0)
}
