/**
 * GET /metrics: Prometheus text exposition with Patroni 3.3.1's metric names, types, order and
 * labels (patroni/api.py do_GET_metrics), so existing dashboards and alerts keep working. Pure.
 *
 * One deliberate difference: 3.3.1 prints `patroni_postgres_server_version {labels} v` with a
 * stray space; hactl prints it without, as 4.x does.
 */
import {parseTimestamp, type StatusDocument} from './status'
import type {NodeSnapshot} from './types'

interface Metric {
  name: string
  type: 'gauge' | 'counter'
  help: string
  value: number | string
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Python prints a float that happens to be whole as `123.0`; keep that so values read the same. */
function pyFloat(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x)
}

function epoch(text: string | null | undefined): string | number {
  if (!text) return 0
  const t = parseTimestamp(text)?.epochSeconds
  return t === null || t === undefined ? 0 : pyFloat(t)
}

/** `3.3.1` -> `030301` (each part zero-padded to two digits). */
export function paddedVersion(version: string): string {
  return version
    .split('.')
    .map((p) => p.padStart(2, '0'))
    .join('')
}

const b = (v: unknown): number => (v ? 1 : 0)

export function renderMetrics(s: NodeSnapshot, doc: StatusDocument, patroniVersion: string): string {
  const xlog = (doc.xlog ?? {}) as Partial<Record<'location' | 'received_location' | 'replayed_location', number>> & {
    replayed_timestamp?: string | null
    paused?: boolean
  }
  const isPrimary = doc.role === 'master' || doc.role === 'primary'
  const metrics: Metric[] = [
    {name: 'patroni_version', type: 'gauge', help: 'Patroni version without periods, two digits per part.', value: paddedVersion(patroniVersion)},
    {name: 'patroni_postgres_running', type: 'gauge', help: '1 if PostgreSQL is running, else 0.', value: b(doc.state === 'running')},
    {name: 'patroni_postmaster_start_time', type: 'gauge', help: 'Epoch seconds when the postmaster started, 0 if unknown.', value: epoch(doc.postmaster_start_time)},
    // Patroni 4 no longer reports the legacy name: kept while the cluster still speaks `master`.
    ...(s.primaryRoleName === 'primary'
      ? []
      : [{name: 'patroni_master', type: 'gauge' as const, help: '1 if this node is the primary, else 0 (legacy name).', value: b(isPrimary)}]),
    {name: 'patroni_primary', type: 'gauge', help: '1 if this node is the primary, else 0.', value: b(isPrimary)},
    {name: 'patroni_xlog_location', type: 'counter', help: 'WAL flush position of the primary in bytes, 0 on other nodes.', value: xlog.location ?? 0},
    {name: 'patroni_standby_leader', type: 'gauge', help: '1 if this node is the standby leader, else 0.', value: b(doc.role === 'standby_leader')},
    {name: 'patroni_replica', type: 'gauge', help: '1 if this node is a replica, else 0.', value: b(doc.role === 'replica')},
    {name: 'patroni_sync_standby', type: 'gauge', help: '1 if this node is a synchronous standby, else 0.', value: b(doc.sync_standby)},
    // Patroni 4 adds this one; hactl shows it when quorum commit is configured, so 3.x scrapes stay alike.
    ...(s.globalConfig.synchronous_mode === 'quorum'
      ? [{name: 'patroni_quorum_standby', type: 'gauge' as const, help: '1 if this node is a quorum standby, else 0.', value: b(doc.quorum_standby)}]
      : []),
    {name: 'patroni_xlog_received_location', type: 'counter', help: 'WAL position received by this replica in bytes, 0 on other nodes.', value: xlog.received_location ?? 0},
    {name: 'patroni_xlog_replayed_location', type: 'counter', help: 'WAL position replayed by this replica in bytes, 0 on other nodes.', value: xlog.replayed_location ?? 0},
    {name: 'patroni_xlog_replayed_timestamp', type: 'gauge', help: 'Epoch seconds of the last replayed transaction, 0 if none.', value: epoch(xlog.replayed_timestamp)},
    {name: 'patroni_xlog_paused', type: 'gauge', help: '1 if WAL replay is paused, else 0.', value: b(xlog.paused === true)},
  ]
  if ((doc.server_version ?? 0) >= 90600) {
    metrics.push(
      {name: 'patroni_postgres_streaming', type: 'gauge', help: '1 if this replica streams WAL from its upstream, else 0.', value: b(doc.replication_state === 'streaming')},
      {name: 'patroni_postgres_in_archive_recovery', type: 'gauge', help: '1 if this replica replays WAL from the archive, else 0.', value: b(doc.replication_state === 'in archive recovery')},
    )
  }
  metrics.push(
    {name: 'patroni_postgres_server_version', type: 'gauge', help: 'PostgreSQL server_version_num if known, else 0.', value: doc.server_version ?? 0},
    {name: 'patroni_cluster_unlocked', type: 'gauge', help: '1 if no member holds the leader lock, else 0.', value: b(doc.cluster_unlocked)},
    {name: 'patroni_failsafe_mode_is_active', type: 'gauge', help: '1 if DCS failsafe mode is active, else 0.', value: b(doc.failsafe_mode_is_active)},
    {name: 'patroni_postgres_timeline', type: 'counter', help: 'PostgreSQL timeline of this node if known, else 0.', value: doc.timeline ?? 0},
    {name: 'patroni_dcs_last_seen', type: 'gauge', help: 'Epoch seconds of the last successful DCS round trip.', value: doc.dcs_last_seen},
    {name: 'patroni_pending_restart', type: 'gauge', help: '1 if PostgreSQL needs a restart to apply settings, else 0.', value: b(doc.pending_restart)},
    {name: 'patroni_is_paused', type: 'gauge', help: '1 if the cluster is paused (no automatic failover), else 0.', value: b(s.paused)},
  )
  const labels = `{scope="${labelValue(s.scope)}",name="${labelValue(s.name)}"}`
  const lines: string[] = []
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, `${m.name}${labels} ${m.value}`)
  }
  return lines.join('\n') + '\n'
}
