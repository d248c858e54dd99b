/**
 * The agent's state as the REST API reads it (GET /patroni, the health endpoints, /metrics): one
 * record built from the agent's state record (state.ts) and the task slot's running task, so the
 * API never reaches into the loop itself.
 */
import type {NodeSnapshot, PostgresStatus} from '../api/types'
import type {PgStatus, ReplicationRow} from '../ports/postgres'
import type {HaLoop} from './ha-loop'
import {memberState, publishedRole} from './publish'
import {leaseValid} from './state'
import {clusterPrimaryRoleName} from '../core/role-name'

export async function snapshot(loop: HaLoop, name: string, scope: string, nextRunMs: number, dcsLastSeen: number, tags: Record<string, unknown>, now: number, live?: PgStatus | null, liveReplication?: ReplicationRow[]): Promise<NodeSnapshot> {
  const st = loop.state
  const task = loop.slot.current
  // `live`: PostgreSQL asked at the request (GET /patroni, /metrics), as Patroni's
  // get_postgresql_status does; the last cycle's status otherwise.
  const s = st.lastStatus ? (live ?? st.lastStatus) : null
  let postgres: PostgresStatus | null = null
  if (s) {
    postgres = {
      postmasterStartTime: s.postmasterStartTime,
      serverVersion: s.serverVersion,
      wal: s.inRecovery
        ? {kind: 'replica', receivedLocation: s.receivedLsn ?? null, replayedLocation: s.replayedLsn ?? s.walPosition, replayedTimestamp: null, paused: s.replayPaused}
        : {kind: 'primary', location: s.walPosition},
      timeline: s.timeline,
      replicationState: s.inRecovery ? (s.walReceiver?.status === 'streaming' ? 'streaming' : 'in archive recovery') : null,
      replication: (live && liveReplication ? liveReplication : st.replication).map((r) => ({
        usename: r.userName,
        application_name: r.applicationName,
        client_addr: r.clientAddr,
        state: r.state,
        sync_state: r.syncState,
        sync_priority: r.syncPriority,
      })),
    }
  }
  const role = publishedRole(st)
  return {
    name,
    scope,
    state: memberState(st, task),
    role: role === 'master' ? 'primary' : (role as NodeSnapshot['role']),
    primaryRoleName: clusterPrimaryRoleName(st.lastCluster),
    postgres,
    sysid: st.sysid,
    cluster: st.lastCluster,
    globalConfig: st.dynamic,
    isLeader: leaseValid(st, loop.config.name, task, now),
    paused: st.dynamic.pause === true,
    failsafeActive: st.dynamic.failsafe_mode === true && st.failsafe.isActive(st.dynamic.ttl),
    dcsLastSeen: Math.floor(dcsLastSeen / 1000),
    configuredTags: tags,
    effectiveTags: tags,
    pendingRestartReason: st.pendingRestartReason,
    pendingRestart: st.pendingRestart,
    scheduledRestart: st.scheduledRestart,
    watchdogFailed: !loop.watchdog.isHealthy,
    nextRunMs,
  }
}
