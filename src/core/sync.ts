/**
 * Synchronous replication, the pure part (ha-loop.md 4.2-4.3): reading and writing
 * synchronous_standby_names, and choosing which replicas to name in it and which of them may be
 * published in `/sync` (and so be allowed to promote). The executor owns the I/O and the order
 * of writes that keeps the invariant: a node appears in `/sync` only after the primary's
 * synchronous_standby_names names it and it has caught up.
 */

export interface ParsedSsn {
  kind: 'off' | 'priority' | 'any' | 'star'
  /** How many standbys must confirm. */
  num: number
  /** Names as listed, lower-cased (application_name matching is case-insensitive). */
  members: string[]
}

/** Patroni-compatible parse of synchronous_standby_names; anything unparsable reads as off. */
export function parseSsn(value: string | null | undefined): ParsedSsn {
  const off: ParsedSsn = {kind: 'off', num: 0, members: []}
  const text = (value ?? '').trim()
  if (text === '') return off
  let kind: ParsedSsn['kind'] = 'priority'
  let num = 1
  let list = text
  const m = /^(?:(FIRST|ANY)\s+)?(\d+)\s*\((.*)\)$/is.exec(text)
  if (m) {
    kind = m[1]?.toUpperCase() === 'ANY' ? 'any' : 'priority'
    num = Number(m[2])
    list = m[3]
  } else if (/^(FIRST|ANY)\b/i.test(text) || text.includes('(')) {
    return off
  }
  const names = splitNames(list)
  if (names === null || names.length === 0) return off
  if (names.includes('*')) return {kind: 'star', num, members: ['*']}
  return {kind, num, members: names}
}

function splitNames(list: string): string[] | null {
  const out: string[] = []
  let i = 0
  const s = list.trim()
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === '\t') i++
    let name = ''
    if (s[i] === '"') {
      i++
      while (i < s.length) {
        if (s[i] === '"' && s[i + 1] === '"') {
          name += '"'
          i += 2
        } else if (s[i] === '"') {
          i++
          break
        } else name += s[i++]
      }
    } else {
      while (i < s.length && s[i] !== ',') name += s[i++]
      name = name.trim().toLowerCase()
      if (name === '' || /\s/.test(name)) return null
    }
    out.push(name)
    while (s[i] === ' ' || s[i] === '\t') i++
    if (i < s.length) {
      if (s[i] !== ',') return null
      i++
    }
  }
  return out
}

/** Identifiers PostgreSQL would fold or refuse are double-quoted. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`
}

/** The value to write for `picked` (sorted): one name, `N (a,b)` for several, `*`, or empty. */
export function formatSsn(picked: readonly string[]): string {
  if (picked.length === 0) return ''
  if (picked.includes('*')) return '*'
  const names = [...picked].sort().map(quoteIdent)
  return names.length === 1 ? names[0] : `${names.length} (${names.join(',')})`
}

export interface SyncReplicaRow {
  pid: number
  applicationName: string
  state: string
  syncState: string
  /** The LSN that counts for synchronous_commit (replay / write / flush). */
  lsn: number
}

export interface SyncMemberInfo {
  name: string
  running: boolean
  nosync: boolean
  nofailover: boolean
}

export interface SyncPickInput {
  rows: readonly SyncReplicaRow[]
  members: readonly SyncMemberInfo[]
  /** Names now in `/sync` (lower-cased). */
  current: readonly string[]
  /** Names in the running synchronous_standby_names (parsed). */
  ssn: ParsedSsn
  /** Walsender pids already proven caught up (kept by the executor between cycles). */
  ready: ReadonlySet<number>
  /** The primary's flush LSN when synchronous_standby_names last changed. */
  barrier: number
  primaryLsn: number
  nodeCount: number
  /** Bytes; <= 0 disables the check. */
  maxLagOnSyncnode: number
}

export interface SyncPick {
  /** Member names wanted in synchronous_standby_names. */
  picked: string[]
  /** Members that are synchronous now and caught up: may be published in `/sync`. */
  allowPromote: string[]
  /** Walsender pids proven ready (to remember). */
  ready: Set<number>
}

const STATE_ORDER: Record<string, number> = {sync: 3, quorum: 2, potential: 1, async: 0}

/** 4.2: candidates from pg_stat_replication joined with the member keys. */
export function pickSyncStandbys(i: SyncPickInput): SyncPick {
  const byName = new Map(i.members.map((m) => [m.name.toLowerCase(), m]))
  const listed = new Set(i.ssn.members)
  const current = new Set(i.current.map((n) => n.toLowerCase()))
  const ready = new Set<number>()
  const rows: Array<SyncReplicaRow & {member: SyncMemberInfo}> = []
  for (const r of i.rows) {
    const m = byName.get(r.applicationName.toLowerCase())
    if (r.state !== 'streaming' || !m || !m.running || m.nosync) continue
    rows.push({...r, member: m})
    const name = m.name.toLowerCase()
    const inSsn = listed.has(name) || listed.has('*')
    if (inSsn && (i.ready.has(r.pid) || current.has(name) || (r.syncState === 'sync' && r.lsn >= i.barrier))) ready.add(r.pid)
  }
  rows.sort((a, b) => (STATE_ORDER[b.syncState] ?? 0) - (STATE_ORDER[a.syncState] ?? 0) || b.lsn - a.lsn)
  const ordered = [...rows.filter((r) => !r.member.nofailover), ...rows.filter((r) => r.member.nofailover)]
  const maxLsn = rows.length >= 2 ? Math.max(...rows.map((r) => r.lsn)) : i.primaryLsn
  const picked: string[] = []
  const allowPromote: string[] = []
  for (const r of ordered) {
    if (i.maxLagOnSyncnode > 0 && maxLsn - r.lsn > i.maxLagOnSyncnode) continue
    picked.push(r.member.name)
    if (r.syncState === 'sync' && ready.has(r.pid)) allowPromote.push(r.member.name)
    if (picked.length >= i.nodeCount) break
  }
  return {picked, allowPromote, ready}
}

/** Names in `/sync`'s sync_standby, lower-cased. */
export function syncStandbys(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a.map((s) => s.toLowerCase()))
  const y = new Set(b.map((s) => s.toLowerCase()))
  return x.size === y.size && [...x].every((s) => y.has(s))
}
