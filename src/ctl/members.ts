/**
 * What `list` and `topology` print (patronictl's output_members, 3.3.1): rows built from the
 * same transform as GET /cluster, the column set, the title and the footer lines. Pure.
 *
 * Patroni 4.1 replaced `Lag in MB` by `Receive LSN | Lag | Replay LSN | Lag` (in json, yaml and
 * tsv: `Receive LSN`, `Receive Lag`, `Replay LSN`, `Replay Lag`). hactl prints what the Patroni
 * version it reports prints (3.3.1, so `Lag in MB`, byte for byte) unless asked for the 4.1
 * columns (`lsnColumns`, `hactl list --lsn`).
 */
import {clusterJson, type ClusterMemberJson} from '../api/cluster'
import {PATRONI_COMPAT_VERSION} from '../build-info'
import type {ClusterView, Member} from '../core/cluster'
import {type OutputFormat, printOutput} from './print-output'
import {type PyValue, pyRound, pyTitle, pyTruthy} from './py-format'

/** Patroni's Member.conn_kwargs(): `conn_kwargs` from the member key, else parsed from conn_url. */
export function connKwargs(m: Pick<Member, 'data' | 'connUrl'>): {host: string | null; port: unknown} | null {
  const ck = m.data['conn_kwargs']
  if (ck && typeof ck === 'object' && !Array.isArray(ck) && Object.keys(ck).length > 0) {
    const o = ck as Record<string, unknown>
    return {host: typeof o['host'] === 'string' ? o['host'] : null, port: o['port'] ?? null}
  }
  if (!m.connUrl) return null
  let u: URL
  try {
    u = new URL(m.connUrl)
  } catch {
    return null
  }
  // Python's urlparse: hostname lower-cased, brackets of an IPv6 literal removed, port 5432 when absent.
  const host = decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return {host: host || null, port: u.port ? Number(u.port) : 5432}
}

interface Row {
  json: ClusterMemberJson
  name: string
  host: string
  port: unknown
}

const EXTENDED_COLUMNS = ['Pending restart', 'Pending restart reason', 'Scheduled restart', 'Tags'] as const
const EXTENDED_KEYS: Record<(typeof EXTENDED_COLUMNS)[number], keyof ClusterMemberJson> = {
  'Pending restart': 'pending_restart',
  'Pending restart reason': 'pending_restart_reason',
  'Scheduled restart': 'scheduled_restart',
  Tags: 'tags',
}

/**
 * Topology order: the leader, then each replica under the member named by its `replicatefrom`
 * tag when that is another replica, else under the leader; names get `+ ` indented by depth.
 * Members in a replicatefrom cycle have no path from the leader and are not shown (as in patronictl).
 */
export function topologySort<T extends {name: string; role: string; tags?: unknown}>(members: T[]): Array<T & {name: string}> {
  const isLeader = (m: T) => m.role.endsWith('leader')
  const leader = members.find(isLeader)
  const replicas = new Set(members.filter((m) => !isLeader(m)).map((m) => m.name))
  const children = new Map<string | null, T[]>()
  for (const m of members) {
    if (isLeader(m)) continue
    const tags = m.tags && typeof m.tags === 'object' ? (m.tags as Record<string, unknown>) : {}
    const from = tags['replicatefrom']
    const parent = typeof from === 'string' && from && from !== m.name && replicas.has(from) ? from : (leader?.name ?? null)
    children.set(parent, [...(children.get(parent) ?? []), m])
  }
  const out: Array<T & {name: string}> = []
  const walk = (level: number, m: T | null, key: string | null) => {
    if (m) out.push(level > 0 ? {...m, name: `${' '.repeat((level - 1) * 2)}+ ${m.name}`} : m)
    for (const c of children.get(key) ?? []) walk(level + 1, c, c.name)
  }
  walk(0, leader ?? null, leader?.name ?? null)
  return out
}

function restartReason(reason: unknown, hideLong: boolean): string {
  if (!reason || typeof reason !== 'object') return ''
  return Object.entries(reason as Record<string, unknown>)
    .map(([param, v]) => {
      const o = (v ?? {}) as Record<string, unknown>
      const full = `${param}: ${String(o['old_value'] ?? '')}->${String(o['new_value'] ?? '')}`
      return hideLong && full.length > 50 ? `${param}: [hidden - too long]` : full
    })
    .join('\n')
}

/** The title written over the first border. hactl follows 3.3.1 (3.0.2 left out the sysid). */
export function clusterTitle(name: string, view: ClusterView): string {
  const init = view.initialize === null ? 'uninitialized' : view.initialize === '' ? 'initializing' : view.initialize
  return ` Cluster: ${name} (${init}) `
}

/** ` Maintenance mode: on` and the scheduled switchover lines (pretty and topology only). */
export function serviceInfo(json: ReturnType<typeof clusterJson>): string[] {
  const info: string[] = []
  if (json.pause) info.push('Maintenance mode: on')
  const sw = json.scheduled_switchover
  if (sw) {
    let s = `Switchover scheduled at: ${sw.at}`
    if (sw.from !== undefined) s += `\n${'from'.padStart(24)}: ${sw.from}`
    if (sw.to !== undefined) s += `\n${'to'.padStart(24)}: ${sw.to}`
    info.push(s)
  }
  return info
}

/** Whether patronictl of the reported Patroni version prints the LSN columns (4.1.0 and later). */
export const LSN_COLUMNS_BY_DEFAULT = ((): boolean => {
  const [major = 0, minor = 0] = PATRONI_COMPAT_VERSION.split('.').map(Number)
  return major > 4 || (major === 4 && minor >= 1)
})()

const MB = (lag: unknown): PyValue => (typeof lag === 'number' ? pyRound(lag / 1024 / 1024) : lag === 'unknown' ? '' : ((lag ?? '') as PyValue))

/** patronictl 4.1 output_members: the four LSN cells of one member. */
function lsnCells(j: ClusterMemberJson): Record<'Receive LSN' | 'Receive Lag' | 'Replay LSN' | 'Replay Lag', PyValue> {
  let receiveLag: unknown = j.receive_lag ?? ''
  let replayLag: unknown = j.replay_lag ?? ''
  let receiveLsn: unknown = j.receive_lsn ?? ''
  let replayLsn: unknown = j.replay_lsn ?? ''
  const lsn = j.lsn ?? ''
  // A member that published only xlog_location (Patroni < 4.1): its position goes to the column
  // its state names.
  if (receiveLsn === 'unknown' && replayLsn === 'unknown' && lsn && lsn !== 'unknown') {
    if (j.state === 'streaming') [receiveLag, receiveLsn] = [j.lag ?? '', lsn]
    else [replayLag, replayLsn] = [j.lag ?? '', lsn]
  }
  return {'Receive LSN': receiveLsn as PyValue, 'Receive Lag': MB(receiveLag), 'Replay LSN': replayLsn as PyValue, 'Replay Lag': MB(replayLag)}
}

export interface MembersTable {
  columns: string[]
  rows: PyValue[][]
  title: string
  footer: string[]
}

export interface MembersOptions {
  extended: boolean
  fmt: OutputFormat
  /** Patroni 4.1's LSN columns instead of `Lag in MB`; default: as the reported version prints. */
  lsnColumns?: boolean
}

export function membersTable(view: ClusterView, name: string, opts: MembersOptions): MembersTable {
  const json = clusterJson(view, name)
  const byName = new Map(view.members.map((m) => [m.name, m]))
  const rows: Row[] = json.members.map((j) => {
    const m = byName.get(j.name)
    const ck = m ? connKwargs(m) : null
    return {json: j, name: j.name, host: ck?.host ?? '', port: ck?.host ? ck.port : undefined}
  })
  const withHost = rows.filter((r) => r.host !== '')
  const lsnColumns = opts.lsnColumns ?? LSN_COLUMNS_BY_DEFAULT
  const columns = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', ...(lsnColumns ? ['Receive LSN', 'Receive Lag', 'Replay LSN', 'Replay Lag'] : ['Lag in MB'])]
  for (const c of EXTENDED_COLUMNS) {
    if (opts.extended || withHost.some((r) => pyTruthy(r.json[EXTENDED_KEYS[c]] as PyValue | undefined))) columns.push(c)
  }
  // host:port for everyone when someone is not on 5432 or two members share a host
  const appendPort =
    withHost.some((r) => r.port !== null && r.port !== undefined && Number(r.port) !== 5432) || new Set(withHost.map((r) => r.host)).size < withHost.length
  const ordered = opts.fmt === 'topology' ? topologySort(rows.map((r) => ({...r, role: r.json.role, tags: r.json.tags}))) : rows
  const hideLong = opts.fmt === 'pretty' || opts.fmt === 'topology'
  const out: PyValue[][] = []
  for (const r of ordered) {
    const j = r.json
    const lag = j.lag
    let host = r.host
    if (appendPort && host && pyTruthy(r.port as PyValue)) host = `${host}:${String(r.port)}`
    let scheduled: PyValue = ''
    if (j.scheduled_restart !== undefined) {
      const sr = (j.scheduled_restart ?? {}) as Record<string, unknown>
      scheduled = String(sr['schedule'] ?? '')
      if ('postgres_version' in sr) scheduled += ` if version < ${String(sr['postgres_version'])}`
    }
    const cells: Record<string, PyValue> = {
      Cluster: name,
      Member: r.name,
      Host: host,
      Role: pyTitle(j.role.replace(/_/g, ' ')),
      State: j.state,
      TL: j.timeline === undefined ? '' : (j.timeline as PyValue),
      'Lag in MB': typeof lag === 'number' ? pyRound(lag / 1024 / 1024) : (lag ?? ''),
      ...(lsnColumns ? lsnCells(j) : {}),
      'Pending restart': pyTruthy(j.pending_restart as PyValue | undefined) ? '*' : '',
      'Pending restart reason': restartReason(j.pending_restart_reason, hideLong),
      'Scheduled restart': scheduled,
      Tags: j.tags === undefined ? '' : (j.tags as PyValue),
    }
    out.push(columns.map((c) => cells[c] ?? ''))
  }
  return {columns, rows: out, title: clusterTitle(name, view), footer: serviceInfo(json)}
}

/** The full text `list`/`topology` prints for one cluster. */
export function renderMembers(view: ClusterView, name: string, opts: MembersOptions): string {
  const t = membersTable(view, name, opts)
  const pretty = opts.fmt === 'pretty' || opts.fmt === 'topology'
  // 4.1 heads both lag columns `Lag` in the tables people read.
  const columns = pretty ? t.columns.map((c) => (c === 'Receive Lag' || c === 'Replay Lag' ? 'Lag' : c)) : t.columns
  const align = {Group: 'r', 'Lag in MB': 'r', 'Receive LSN': 'r', 'Replay LSN': 'r', Lag: 'r', TL: 'r'} as const
  let text = printOutput(columns, t.rows, {fmt: opts.fmt, align, header: t.title})
  if ((opts.fmt === 'pretty' || opts.fmt === 'topology') && t.footer.length > 0) text += ' ' + t.footer.join('\n ') + '\n'
  return text
}
