/**
 * GET /metrics: Prometheus text exposition with Patroni's metric names, order and labels
 * (patroni/api.py do_GET_metrics), so existing dashboards and alerts keep working. Pure.
 *
 * The 3.3.1 set plus what Patroni 4.x adds, since an extra series breaks no 3.x scrape:
 * `patroni_quorum_standby` (4.0, on every node) and `patroni_postgres_state` (4.1, with its
 * `# Values:` comment line). `patroni_master`, which 4.0 dropped, stays while the cluster still
 * spells the role `master` (docs/ha-rules.md#role-spelling). Differences from 3.3.1 taken from
 * 4.x: no stray space in `patroni_postgres_server_version {labels} v`, and
 * `patroni_postgres_timeline` is a gauge (4.1.4; a counter before).
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

/** Patroni 4.1's PostgresqlState (patroni/postgresql/misc.py): state text, name, fixed index. */
const POSTGRES_STATES: ReadonlyArray<readonly [text: string, name: string]> = [
  ['initializing new cluster', 'initdb'],
  ['initdb failed', 'initdb_failed'],
  ['running custom bootstrap script', 'custom_bootstrap'],
  ['custom bootstrap failed', 'custom_bootstrap_failed'],
  ['creating replica', 'creating_replica'],
  ['running', 'running'],
  ['starting', 'starting'],
  ['starting after custom bootstrap', 'bootstrap_starting'],
  ['start failed', 'start_failed'],
  ['restarting', 'restarting'],
  ['restart failed', 'restart_failed'],
  ['stopping', 'stopping'],
  ['stopped', 'stopped'],
  ['stop failed', 'stop_failed'],
  ['crashed', 'crashed'],
]

/** `patroni_postgres_state`: the state's index, -1 for a state Patroni does not list. */
export function postgresStateIndex(state: unknown): number {
  return POSTGRES_STATES.findIndex(([text]) => text === state)
}

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
    {name: 'patroni_quorum_standby', type: 'gauge', help: '1 if this node is a quorum standby, else 0.', value: b(doc.quorum_standby)},
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
    {name: 'patroni_postgres_timeline', type: 'gauge', help: 'PostgreSQL timeline of this node if known, else 0.', value: doc.timeline ?? 0},
    {name: 'patroni_dcs_last_seen', type: 'gauge', help: 'Epoch seconds of the last successful DCS round trip.', value: doc.dcs_last_seen},
    {name: 'patroni_pending_restart', type: 'gauge', help: '1 if PostgreSQL needs a restart to apply settings, else 0.', value: b(doc.pending_restart)},
    {name: 'patroni_is_paused', type: 'gauge', help: '1 if the cluster is paused (no automatic failover), else 0.', value: b(s.paused)},
  )
  const labels = `{scope="${labelValue(s.scope)}",name="${labelValue(s.name)}"}`
  const lines: string[] = []
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, `${m.name}${labels} ${m.value}`)
  }
  lines.push(
    '# HELP patroni_postgres_state PostgreSQL state as a number.',
    `# Values: ${POSTGRES_STATES.map(([, name], i) => `${i}=${name}`).join(', ')}`,
    '# TYPE patroni_postgres_state gauge',
    `patroni_postgres_state${labels} ${postgresStateIndex(doc.state)}`,
  )
  return lines.join('\n') + '\n'
}
