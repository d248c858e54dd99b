/**
 * Small pure translations between the wire/config shapes and what the agent needs.
 */
import type {LocalConfig} from '../config/load'
import type {DynamicConfig} from '../config/dynamic-schema'
import type {AgentMemory, DecideConfig, PeerStatus, TaskKind} from '../core/observation'
import {isStandbyClusterConfig} from '../core/standby'
import type {Peers} from '../ports/peers'

/** Patroni's slot_name_from_member_name, in the pure core. */
export {slotNameFor} from '../core/slots'

/** host/port of a `postgres://host:port/db` conn_url; undefined when unparsable. */
export function hostPortOf(connUrl: string | null | undefined): {host: string; port: number} | undefined {
  if (!connUrl) return undefined
  // A replica asks for its leader's address every HA cycle; the URL hardly ever changes.
  if (connUrl === lastHostPort.url) return lastHostPort.value && {...lastHostPort.value}
  let value: {host: string; port: number} | undefined
  try {
    const u = new URL(connUrl)
    const host = u.hostname.replace(/^\[|\]$/g, '')
    value = host ? {host, port: u.port ? Number(u.port) : 5432} : undefined
  } catch {
    value = undefined
  }
  lastHostPort = {url: connUrl, value}
  return value && {...value}
}
let lastHostPort: {url: string; value: {host: string; port: number} | undefined} = {url: '', value: undefined}

export function hostPortText(h: {host: string; port: number}): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`
}

export function initialMemory(): AgentMemory {
  return {
    role: 'uninitialized',
    pgState: 'stopped',
    bootstrapping: false,
    recovering: false,
    crashRecoveryStartedAt: null,
    prePromoteFailedAt: null,
    lastTask: null,
    startTimeoutS: null,
    rewind: 'initial',
    canRewind: false,
    watchdogRunning: false,
    callbackFired: false,
  }
}

export function decideConfig(local: LocalConfig, dyn: DynamicConfig): DecideConfig {
  const t = local.tags as Record<string, unknown>
  const prio = typeof t['failover_priority'] === 'number' ? (t['failover_priority'] as number) : 1
  const nofailover = t['nofailover'] !== undefined ? t['nofailover'] === true : prio <= 0
  const standbyCluster = isStandbyClusterConfig(dyn.standby_cluster)
  // A standby cluster's members create replicas with standby_cluster.create_replica_methods
  // (patroni/ha.py Ha.bootstrap; patroni/postgresql/bootstrap.py Bootstrap.create_replica).
  const methods = standbyCluster ? standbyReplicaMethods(dyn) : local.postgresql.create_replica_methods
  const pgSection = local.postgresql as Record<string, unknown>
  const cloneWithoutLeader = methods.some((m) => {
    const s = pgSection[m] as Record<string, unknown> | undefined | null
    return m !== 'basebackup' && !!s && s['no_leader'] !== undefined && s['no_leader'] !== false
  })
  const watchdogMode = (local as {watchdog?: {mode?: string}}).watchdog?.mode
  return {
    ttl: dyn.ttl,
    loopWait: dyn.loop_wait,
    retryTimeout: dyn.retry_timeout,
    maximumLagOnFailover: dyn.maximum_lag_on_failover,
    primaryStartTimeout: dyn.primary_start_timeout,
    synchronousMode: dyn.synchronous_mode !== false,
    synchronousModeStrict: dyn.synchronous_mode_strict,
    quorumCommit: dyn.synchronous_mode === 'quorum',
    checkTimeline: dyn.check_timeline,
    paused: dyn.pause === true,
    failsafeMode: dyn.failsafe_mode,
    tags: {
      nofailover,
      // nofailover: true means priority 0 (patroni/tags.py Tags._priority_tag)
      failoverPriority: t['nofailover'] === true ? 0 : prio,
      clonefrom: t['clonefrom'] === true,
      replicatefrom: typeof t['replicatefrom'] === 'string' ? (t['replicatefrom'] as string) : null,
      nostream: t['nostream'] === true,
    },
    usePgRewind: dyn.postgresql.use_pg_rewind ?? local.postgresql.use_pg_rewind ?? false,
    removeDataDirectoryOnRewindFailure: local.postgresql.remove_data_directory_on_rewind_failure,
    removeDataDirectoryOnDivergedTimelines: local.postgresql.remove_data_directory_on_diverged_timelines,
    canBootstrap: local.bootstrap !== undefined,
    cloneWithoutLeader,
    // The device's health is the watchdog's own (observe.ts sets it from src/agent/watchdog.ts).
    watchdogRequired: watchdogMode === 'required',
    watchdogHealthy: true,
    standbyCluster,
  }
}

/** The replica methods of a standby cluster: standby_cluster.create_replica_methods, else basebackup. */
export function standbyReplicaMethods(dyn: DynamicConfig): string[] {
  const m = dyn.standby_cluster?.create_replica_methods
  return m && m.length ? [...m] : ['basebackup']
}

/** A peer's `GET /patroni` body reduced to what the race reads; unreachable on anything odd. */
export function peerStatusFrom(status: number, body: unknown): PeerStatus {
  const unreachable: PeerStatus = {reachable: false, inRecovery: true, walPosition: null, timeline: null, nofailover: false, failoverPriority: 1, watchdogFailed: false}
  if (status !== 200 || !body || typeof body !== 'object') return unreachable
  const b = body as Record<string, unknown>
  const xlog = b['xlog'] as Record<string, unknown> | undefined
  if (!xlog || typeof xlog !== 'object') return unreachable
  const role = b['role']
  const primary = role === 'master' || role === 'primary' || typeof xlog['location'] === 'number'
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  const wal = primary ? 0 : Math.max(num(xlog['received_location']) ?? 0, num(xlog['replayed_location']) ?? 0)
  const tags = (b['tags'] ?? {}) as Record<string, unknown>
  const prio = typeof tags['failover_priority'] === 'number' ? (tags['failover_priority'] as number) : 1
  return {
    reachable: true,
    inRecovery: !primary,
    walPosition: wal,
    timeline: num(b['timeline']),
    nofailover: tags['nofailover'] === true || (tags['nofailover'] === undefined && prio <= 0),
    failoverPriority: tags['nofailover'] === true ? 0 : prio,
    watchdogFailed: b['watchdog_failed'] === true,
  }
}

/** GET a peer's `/patroni` (2 s, no retry) through `peers`; the body parsed as JSON when it is JSON. */
export async function getPeerStatus(apiUrl: string, timeoutMs = 2000, peers: Peers): Promise<{status: number; body: unknown}> {
  const r = await peers.status(apiUrl, timeoutMs)
  let body: unknown
  try {
    body = JSON.parse(r.body)
  } catch {
    body = undefined
  }
  return {status: r.status, body}
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** The long tasks as Patroni names them in `<x> already in progress` and in the observation. */
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
  'demote-cluster': 'demoting to a standby cluster',
  'copy-logical-slots': 'copy_logical_slots',
}

/** A running task's name: Patroni's for the known kinds, else its description. */
export function taskName(t: {kind: string; description: string}): string {
  return TASK_NAMES[t.kind as TaskKind] ?? t.description
}
