/**
 * The agent's state as the REST API reads it (GET /patroni, the health endpoints, /metrics): one
 * record built from the HA loop, so the API never reaches into the loop's fields itself.
 */
import type {NodeSnapshot, PostgresStatus} from '../api/types'
import type {HaLoop} from './ha-loop'

export async function snapshot(loop: HaLoop, name: string, scope: string, nextRunMs: number, dcsLastSeen: number, tags: Record<string, unknown>, now: number): Promise<NodeSnapshot> {
  const s = loop.lastStatus
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
      replication: loop.replication.map((r) => ({
        usename: r.userName,
        application_name: r.applicationName,
        client_addr: r.clientAddr,
        state: r.state,
        sync_state: r.syncState,
        sync_priority: r.syncPriority,
      })),
    }
  }
  const role = loop.publishedRole()
  return {
    name,
    scope,
    state: loop.memberState(),
    role: role === 'master' ? 'primary' : (role as NodeSnapshot['role']),
    postgres,
    sysid: loop.sysid,
    cluster: loop.lastCluster,
    globalConfig: loop.dynamic,
    isLeader: loop.leaseValid(now),
    paused: loop.dynamic.pause === true,
    failsafeActive: loop.dynamic.failsafe_mode === true && loop.failsafe.isActive(loop.dynamic.ttl),
    dcsLastSeen: Math.floor(dcsLastSeen / 1000),
    configuredTags: tags,
    effectiveTags: tags,
    pendingRestartReason: loop.pendingRestartReason,
    pendingRestart: loop.pendingRestart,
    scheduledRestart: loop.scheduledRestart,
    watchdogFailed: false,
    nextRunMs,
  }
}
