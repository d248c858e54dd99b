/**
 * Synchronous replication, the pure part (docs/ha-rules.md#synchronous-mode;
 * patroni/postgresql/sync.py): reading and writing synchronous_standby_names, and choosing which
 * replicas to name in it and which of them may be published in `/sync` (and so be allowed to
 * promote). The executor owns the I/O and the order of writes that keeps the invariant: a node
 * appears in `/sync` only after the primary's synchronous_standby_names names it and it has caught
 * up.
 */

export interface ParsedSsn {
  kind: 'off' | 'priority' | 'any'
  /** How many standbys must confirm. */
  num: number
  /**
   * The standbys named in the list: unquoted names lower-cased, quoted ones as written. `*` is
   * not a name and is never listed here (see hasStar). PostgreSQL matches application_name
   * case-insensitively, so compare these the same way.
   */
  members: string[]
  /**
   * The list contains `*` (any standby may be synchronous). Like Patroni's has_star, this only
   * records the fact: a star names nobody, so it never makes a standby count as a named, proven
   * synchronous standby that may be published in `/sync`.
   */
  hasStar: boolean
}

/** Patroni-compatible parse of synchronous_standby_names; anything unparsable reads as off. */
export function parseSsn(value: string | null | undefined): ParsedSsn {
  const off: ParsedSsn = {kind: 'off', num: 0, members: [], hasStar: false}
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
  // PostgreSQL treats a `*` entry (quoted or not) as matching any standby.
  const hasStar = names.includes('*')
  return {kind, num, members: names.filter((n) => n !== '*'), hasStar}
}

/** The comma-separated names; null for an empty entry, a trailing comma or an unclosed quote. */
function splitNames(list: string): string[] | null {
  const out: string[] = []
  const s = list.trim()
  const space = (c: string | undefined) => c !== undefined && /\s/.test(c)
  let i = 0
  for (;;) {
    while (space(s[i])) i++
    let name = ''
    if (s[i] === '"') {
      i++
      let closed = false
      while (i < s.length) {
        if (s[i] === '"' && s[i + 1] === '"') {
          name += '"'
          i += 2
        } else if (s[i] === '"') {
          i++
          closed = true
          break
        } else name += s[i++]
      }
      if (!closed) return null
    } else {
      while (i < s.length && s[i] !== ',') name += s[i++]
      name = name.trim().toLowerCase()
      if (name === '' || /\s/.test(name)) return null
    }
    out.push(name)
    while (space(s[i])) i++
    if (i >= s.length) return out
    if (s[i] !== ',') return null
    i++
  }
}

/**
 * Names that are not a plain lower-case identifier are double-quoted, and so are `first` and
 * `any`: unquoted, those are keywords of the synchronous_standby_names grammar and PostgreSQL
 * would refuse the value (Patroni's quote_standby_name quotes them too).
 */
export function quoteIdent(name: string): string {
  const plain = /^[a-z_][a-z0-9_$]*$/.test(name) && name !== 'first' && name !== 'any'
  return plain ? name : `"${name.replace(/"/g, '""')}"`
}

/** The value to write for `picked` (sorted): one name, `N (a,b)` for several, `*`, or empty. */
export function formatSsn(picked: readonly string[]): string {
  if (picked.length === 0) return ''
  if (picked.includes('*')) return '*'
  const names = [...picked].sort().map(quoteIdent)
  return names.length === 1 ? names[0] : `${names.length} (${names.join(',')})`
}

/** Patroni's stand-in name that no standby has: commits wait while nobody can confirm them. */
export const STRICT_PLACEHOLDER = '__patroni_strict_sync_replica_placeholder__'

/**
 * synchronous_standby_names in quorum commit mode (patroni/postgresql/sync.py
 * set_synchronous_standby_names): `ANY num (a,b)` with the names sorted and quoted; no names and
 * num >= 1 (strict mode) names the placeholder; no names and num 0 is empty.
 */
export function formatQuorumSsn(num: number, names: readonly string[]): string {
  if (names.length === 0 || names.includes('*')) return num >= 1 || names.includes('*') ? `ANY 1 (${STRICT_PLACEHOLDER})` : ''
  return `ANY ${num} (${[...names].sort().map(quoteIdent).join(',')})`
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
  /** Effective: the nosync tag, or sync_priority <= 0 when nosync is not set. Never picked. */
  nosync: boolean
  /**
   * Effective: the nofailover tag, or failover_priority <= 0 when nofailover is not set. Such a
   * member is picked only after every promotable one (as in Patroni, it is not excluded).
   */
  nofailover: boolean
  /** The sync_priority tag (Patroni's Member.sync_priority): higher is picked first. Default 1. */
  syncPriority?: number
  /** The replicatefrom tag: the member this one should stream from instead of the primary. */
  replicatefrom?: string | null
}

/**
 * A member key's tags read the way Patroni reads them for choosing synchronous standbys
 * (patroni/tags.py): the boolean tag wins when set; otherwise a priority tag <= 0 means the same
 * as the boolean being true. The caller passes every member except itself.
 */
export function syncMemberInfo(m: {name: string; state: string; tags: Readonly<Record<string, unknown>>}): SyncMemberInfo {
  const t = m.tags
  const prio = (key: string): number => {
    const v = t[key]
    return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 1
  }
  const set = (key: string) => t[key] !== undefined && t[key] !== null
  const nosync = set('nosync') ? t['nosync'] === true : prio('sync_priority') <= 0
  const nofailover = set('nofailover') ? t['nofailover'] === true : prio('failover_priority') <= 0
  return {
    name: m.name,
    running: m.state === 'running',
    nosync,
    nofailover,
    syncPriority: t['nosync'] === true ? 0 : prio('sync_priority'),
    replicatefrom: typeof t['replicatefrom'] === 'string' && t['replicatefrom'] !== '' ? t['replicatefrom'] : null,
  }
}

export interface SyncPickInput {
  rows: readonly SyncReplicaRow[]
  members: readonly SyncMemberInfo[]
  /** Names now in `/sync` (lower-cased). */
  current: readonly string[]
  /** The running synchronous_standby_names (parsed). */
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

type Candidate = SyncReplicaRow & {member: SyncMemberInfo}

/**
 * Candidates from pg_stat_replication joined with the member keys (Patroni's _ReplicaList
 * and SyncHandler.current_state, priority mode).
 *
 * - A candidate is a streaming walsender of a running member without nosync (one per member),
 *   unless the member should cascade from another standby that already streams from us.
 * - Order: higher sync_priority, then sync_state (sync, quorum, potential, async), then LSN;
 *   members that cannot be promoted (nofailover) after all others, and picked only when not
 *   enough promotable ones qualify. Patroni publishes such a member in `/sync` too once it is
 *   proven synchronous: it never promotes itself, so while it is the only synchronous standby no
 *   automatic failover happens, but no acknowledged commit is lost either.
 * - A walsender is proven ready when its member is named in the running
 *   synchronous_standby_names (a `*` names nobody) and it is already in `/sync`, was proven
 *   before, or reports sync at or past the barrier. Only picked, `sync`, ready members go into
 *   allowPromote.
 */
export function pickSyncStandbys(i: SyncPickInput): SyncPick {
  const current = new Set(i.current.map((n) => n.toLowerCase()))
  const {rows, ordered, ready} = candidates(i, (r, name) => i.ready.has(r.pid) || current.has(name) || (r.syncState === 'sync' && r.lsn >= i.barrier))
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

export interface QuorumPick {
  /** Standbys that may be listed in synchronous_standby_names (the resolver's `active`). */
  active: string[]
  /** Those of them listed and proven to have reached the primary's position since (`sync_confirmed`). */
  confirmed: string[]
  /** Walsender pids proven ready (to remember). */
  ready: Set<number>
}

/**
 * The quorum commit counterpart of pickSyncStandbys (patroni/postgresql/sync.py current_state
 * with is_quorum_commit_mode): every candidate within maximum_lag_on_syncnode is active, in the
 * same order; a nofailover member only while fewer than synchronous_node_count are active (it
 * cannot promote, so counting it would lower availability). A listed walsender is proven ready
 * once PostgreSQL reports it as a `quorum` standby at or past the barrier (`/sync` proves nothing
 * here: its voters are written when only some of them caught up).
 */
export function pickQuorumStandbys(i: Omit<SyncPickInput, 'current'>): QuorumPick {
  const {rows, ordered, ready} = candidates(i, (r) => i.ready.has(r.pid) || (r.syncState === 'quorum' && r.lsn >= i.barrier))
  const maxLsn = rows.length >= 2 ? Math.max(...rows.map((r) => r.lsn)) : i.primaryLsn
  const active: string[] = []
  const confirmed: string[] = []
  for (const r of ordered) {
    if (i.maxLagOnSyncnode > 0 && maxLsn - r.lsn > i.maxLagOnSyncnode) continue
    if (r.member.nofailover && active.length >= i.nodeCount) continue
    active.push(r.member.name)
    if (ready.has(r.pid)) confirmed.push(r.member.name)
  }
  return {active, confirmed, ready}
}

/** The candidate walsenders, one a member, best first (see pickSyncStandbys). */
function candidates(
  i: Omit<SyncPickInput, 'current'>,
  proven: (r: SyncReplicaRow, lowerName: string) => boolean,
): {rows: Candidate[]; ordered: Candidate[]; ready: Set<number>} {
  const eligible = new Map<string, SyncMemberInfo>()
  for (const m of i.members) if (m.running && !m.nosync) eligible.set(m.name.toLowerCase(), m)
  const listed = new Set(i.ssn.members.map((n) => n.toLowerCase()))
  const ready = new Set<number>()
  const streaming: Candidate[] = []
  for (const r of i.rows) {
    const m = eligible.get(r.applicationName.toLowerCase())
    if (r.state !== 'streaming' || !m) continue
    streaming.push({...r, member: m})
    const name = m.name.toLowerCase()
    if (listed.has(name) && proven(r, name)) ready.add(r.pid)
  }
  const fromPrimary = new Set(streaming.map((r) => r.member.name.toLowerCase()))
  const rank = (r: Candidate) => [r.member.syncPriority ?? 1, STATE_ORDER[r.syncState] ?? 0, r.lsn]
  const better = (a: Candidate, b: Candidate) => {
    const x = rank(a)
    const y = rank(b)
    for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return y[k] - x[k]
    return 0
  }
  // One walsender per member (a reconnecting standby may briefly have two): keep its best row.
  const seen = new Set<string>()
  const rows: Candidate[] = []
  for (const r of [...streaming].sort(better)) {
    const name = r.member.name.toLowerCase()
    if (seen.has(name) || shouldCascade(eligible, fromPrimary, r.member)) continue
    seen.add(name)
    rows.push(r)
  }
  const ordered = [...rows.filter((r) => !r.member.nofailover), ...rows.filter((r) => r.member.nofailover)]
  return {rows, ordered, ready}
}

/**
 * Patroni's _should_cascade: a member whose replicatefrom chain leads to an eligible member that
 * streams from the primary is meant to move to that standby, so it is not a candidate here. A
 * chain that loops back on itself is treated as no chain.
 */
function shouldCascade(eligible: ReadonlyMap<string, SyncMemberInfo>, fromPrimary: ReadonlySet<string>, member: SyncMemberInfo): boolean {
  const visited = new Set([member.name.toLowerCase()])
  let m = member
  for (;;) {
    const up = m.replicatefrom?.toLowerCase()
    if (!up) return false
    const next = eligible.get(up)
    if (!next || visited.has(up)) return false
    if (!next.replicatefrom) return fromPrimary.has(up)
    visited.add(up)
    m = next
  }
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

/**
 * One step of the lock holder's synchronous replication upkeep (Patroni's ha.py
 * process_sync_replication / _process_multisync_replication), computed from what it sees now;
 * the executor applies it, looks again and asks for the next, until null. The order is the
 * safety (docs/ha-rules.md, synchronous mode):
 * - a standby leaves `/sync` before it leaves synchronous_standby_names, and enters `/sync` only
 *   once synchronous_standby_names names it and it is proven synchronous (`allowPromote`);
 * - every `/sync` write is a compare-and-set by the executor (a lost one ends the upkeep);
 * - after naming new standbys, one short wait lets PostgreSQL report them synchronous, so that
 *   `/sync` can follow in the same cycle (Patroni waits 2 s too).
 */
export type SyncStep =
  /** synchronous_mode is off: remove `/sync`. */
  | {type: 'delete-sync-key'}
  /** synchronous_mode is off: stop managing synchronous_standby_names (the user's value applies). */
  | {type: 'release-ssn'}
  /** `/sync` names another leader: take it over, with no standby. */
  | {type: 'claim-sync-key'}
  /** Write `/sync` with exactly these standbys. */
  | {type: 'publish'; standbys: string[]}
  /** Set synchronous_standby_names to these names (`*` = any standby, strict mode with nobody). */
  | {type: 'set-ssn'; names: string[]}
  /** Wait this long, then look again (PostgreSQL applies a reload asynchronously). */
  | {type: 'wait'; ms: number}

export interface SyncView {
  /** synchronous_mode is on. */
  enabled: boolean
  strict: boolean
  me: string
  /** PostgreSQL answers as a primary. */
  primary: boolean
  /** `/sync` exists (any content). */
  keyExists: boolean
  /** `/sync`'s leader and standbys. */
  keyLeader: string | null
  keyStandbys: readonly string[]
  /** synchronous_standby_names is managed by the agent (undefined: the user's value). */
  managed: boolean
  /** The value PostgreSQL runs with now. */
  liveSsn: string
  /** pickSyncStandbys' answer for the current rows (absent when not primary or not enabled). */
  pick?: {picked: readonly string[]; allowPromote: readonly string[]}
  /** A `wait` step was already taken in this upkeep round. */
  waited: boolean
}

export function nextSyncStep(v: SyncView): SyncStep | null {
  if (!v.enabled) {
    if (v.keyExists) return {type: 'delete-sync-key'}
    return v.managed ? {type: 'release-ssn'} : null
  }
  if (!v.primary || !v.pick) return null
  if ((v.keyLeader ?? '').toLowerCase() !== v.me.toLowerCase()) return {type: 'claim-sync-key'}
  const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase())
  const current = lower(v.keyStandbys)
  const allow = v.pick.allowPromote
  const common = allow.filter((n) => current.includes(n.toLowerCase()))
  if (!sameSet(common, current)) return {type: 'publish', standbys: common}
  const want = v.pick.picked.length === 0 && v.strict ? ['*'] : [...v.pick.picked]
  const live = parseSsn(v.liveSsn)
  const liveNames = live.hasStar ? ['*', ...live.members] : live.members
  // A quorum list (`ANY n`, left by synchronous_mode: quorum) is rewritten in priority form even
  // with the same names: its standbys report `quorum`, never `sync` (patroni/ha.py: ANY -> FIRST).
  const anyList = live.kind === 'any' && want.length > 0 && !want.includes('*')
  if (!v.managed || !sameSet(liveNames, want) || anyList) return {type: 'set-ssn', names: want}
  if (want.length && !want.includes('*') && !sameSet(allow, want) && !v.waited) return {type: 'wait', ms: 2000}
  if (allow.length && !sameSet(allow, current)) return {type: 'publish', standbys: [...allow]}
  return null
}
