/**
 * The cluster as read from the DCS: typed, decoded, with each key's mod_revision kept as
 * `version` for compare-and-swap writes. Pure data and helpers (no I/O, no clock).
 *
 * Absent and unknown are different things here: a key that does not exist is `null`; a DCS
 * that could not be read never produces a ClusterView at all (the Dcs port throws instead).
 * Values that exist but cannot be decoded are reported in `warnings` and read the way Patroni
 * reads them (usually as empty), so one bad value never hides the rest of the cluster.
 */

/** etcd mod_revision of a key: the CAS token for its next conditional write. */
export type Version = number

/** Roles a member publishes. 3.x writes `master`, 4.x writes `primary`; both mean primary. */
export type MemberRole =
  | 'primary'
  | 'replica'
  | 'standby_leader'
  | 'demoted'
  | 'promoted'
  | 'uninitialized'

/**
 * The JSON object stored in `members/<name>` (docs/ha-rules.md#dcs-keys; patroni/ha.py
 * Ha.touch_member), as written.
 */
export interface MemberData {
  conn_url?: string
  api_url?: string
  state?: string
  role?: string
  version?: string
  proxy_url?: string
  checkpoint_after_promote?: boolean
  tags?: Record<string, unknown>
  pending_restart?: boolean
  pending_restart_reason?: Record<string, {old_value: string; new_value: string}>
  xlog_location?: number
  replication_state?: string
  timeline?: number
  scheduled_restart?: Record<string, unknown>
  pause?: boolean
  receive_lsn?: number
  replay_lsn?: number
  [field: string]: unknown
}

export interface Member {
  name: string
  /** mod_revision of `members/<name>`; -1 for the stub built when the leader has no member key. */
  version: Version
  /** etcd lease id (int64 as a decimal string) the key is attached to; null when none. */
  session: string | null
  /** The stored object, kept whole so unknown fields survive a read-modify-write. */
  data: MemberData
  /** `master` and `primary` folded to `primary`; null when missing or not a known role. */
  role: MemberRole | null
  /** PostgreSQL state string; `unknown` when missing, like Patroni. */
  state: string
  apiUrl: string | null
  connUrl: string | null
  /** `xlog_location` when it is an integer. */
  lsn: number | null
  timeline: number | null
  tags: Record<string, unknown>
  /** Patroni version as an int tuple, null if missing or unparseable. */
  patroniVersion: number[] | null
}

export interface Leader {
  name: string
  /** mod_revision of the `leader` key. */
  version: Version
  /** Lease the leader key is attached to (Patroni: `Leader.session`); null when none. */
  session: string | null
  /** The leader's member entry, or a stub (version -1, empty data) when it has none. */
  member: Member
}

export interface ClusterConfig {
  version: Version
  /** Version to detect changes with; 0 when the stored value is not a JSON object (invalid). */
  modifyVersion: Version
  /** Raw dynamic configuration; validated by src/config, not here. `{}` when invalid. */
  data: Record<string, unknown>
  /** False when the stored value is not a JSON object; readers keep their last good config. */
  valid: boolean
}

export interface Failover {
  version: Version
  leader: string | null
  /** The `member` field on the wire. */
  candidate: string | null
  /** `scheduled_at` as stored (ISO-8601 with offset). */
  scheduledAt: string | null
  /** `scheduled_at` parsed to epoch ms; null when absent or unparseable. */
  scheduledAtMs: number | null
}

export interface SyncState {
  /** mod_revision of `sync`; null when the key is absent. */
  version: Version | null
  leader: string | null
  /** Comma-separated names as stored, or null. */
  syncStandby: string | null
  quorum: number
}

export type HistoryLine = [timeline: number, lsn: number, reason: string, timestamp?: string, newLeader?: string]

export interface History {
  version: Version
  /** The stored text, needed to tell `[]` (timeline 1) from garbage (timeline 0). */
  raw: string
  /** Well-formed lines only; malformed ones are reported as warnings. */
  lines: HistoryLine[]
  /** False when the stored value is not a JSON array. */
  valid: boolean
}

export interface Status {
  /** Last known leader LSN (`optime`), 0 when unknown. */
  lastLsn: number
  /** Permanent slot LSNs; null when absent. Non-integer values read as 0. */
  slots: Record<string, number> | null
  /** [4.x] member slot names to retain. */
  retainSlots: string[]
}

export interface DecodeWarning {
  /** Key relative to the cluster prefix, e.g. `members/pg1`. */
  key: string
  message: string
}

export interface ClusterView {
  /** `initialize`: sysid, `''` while bootstrap runs, null when the key is absent. */
  initialize: string | null
  config: ClusterConfig | null
  leader: Leader | null
  status: Status
  members: Member[]
  failover: Failover | null
  sync: SyncState
  history: History | null
  failsafe: Record<string, string> | null
  /** Values that were present but malformed, each skipped or read as empty. */
  warnings: DecodeWarning[]
}

export const EMPTY_STATUS: Status = Object.freeze({lastLsn: 0, slots: null, retainSlots: []}) as Status

export function emptySync(version: Version | null = null): SyncState {
  return {version, leader: null, syncStandby: null, quorum: 0}
}

export function emptyCluster(): ClusterView {
  return {
    initialize: null,
    config: null,
    leader: null,
    status: {lastLsn: 0, slots: null, retainSlots: []},
    members: [],
    failover: null,
    sync: emptySync(),
    history: null,
    failsafe: null,
    warnings: [],
  }
}

/** `master` and `primary` are the same role on the wire. */
export function normalizeRole(role: unknown): MemberRole | null {
  switch (role) {
    case 'master':
    case 'primary':
      return 'primary'
    case 'replica':
    case 'standby_leader':
    case 'demoted':
    case 'promoted':
    case 'uninitialized':
      return role
    default:
      return null
  }
}

/** Cluster timeline from `history`: last line's timeline + 1; `[]` is 1; absent or garbage is 0. */
export function timelineFromHistory(history: History | null): number {
  if (!history) return 0
  const last = history.lines[history.lines.length - 1]
  if (last) return last[0] + 1
  return history.valid && history.raw.trim() === '[]' ? 1 : 0
}

/** No leader key, or one without a name. */
export function isUnlocked(c: ClusterView): boolean {
  return !c.leader?.name
}

export function leaderName(c: ClusterView): string | null {
  return c.leader?.name || null
}

export function getMember(c: ClusterView, name: string): Member | undefined {
  return c.members.find((m) => m.name === name)
}

/** A failover value with neither leader nor candidate means "no failover requested". */
export function hasFailover(f: Failover | null): f is Failover {
  return !!f && (!!f.leader || !!f.candidate)
}

/** Last known leader LSN (`status.optime`), 0 when unknown. */
export function lastLsn(c: ClusterView): number {
  return c.status.lastLsn
}

/** Slots from `status`, with every value an integer (garbage read as 0 at decode time). */
export function clusterSlots(c: ClusterView): Record<string, number> {
  return {...(c.status.slots ?? {})}
}

function splitNames(s: string | null): string[] {
  return (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)
}

/** A sync state without a leader counts as empty. */
export function isSyncEmpty(s: SyncState): boolean {
  return !s.leader
}

/** Sync standby names (empty when the state is empty). */
export function syncVoters(s: SyncState): string[] {
  return isSyncEmpty(s) ? [] : splitNames(s.syncStandby)
}

/** Case-insensitive membership in `sync_standby` (and the leader when `checkLeader`). */
export function syncMatches(s: SyncState, name: string | null | undefined, checkLeader = false): boolean {
  if (!name || isSyncEmpty(s)) return false
  const names = [...splitNames(s.syncStandby), ...(checkLeader ? [s.leader ?? ''] : [])]
  return names.some((n) => n.toLowerCase() === name.toLowerCase())
}

export function syncLeaderMatches(s: SyncState, name: string | null | undefined): boolean {
  return !!name && !isSyncEmpty(s) && name.toLowerCase() === (s.leader ?? '').toLowerCase()
}

/** Parses `X.Y.Z` into [X, Y, Z]; null when any part is not an integer. */
export function parseVersionTuple(v: unknown): number[] | null {
  if (typeof v !== 'string' || !v) return null
  const parts = v.split('.')
  if (!parts.every((p) => /^\d+$/.test(p))) return null
  return parts.map(Number)
}

/** Lexicographic tuple comparison, as Python compares version tuples. */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return -1
    if (i >= b.length) return 1
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return 0
}

/**
 * Leader's post-promote checkpoint is done: role primary and no `checkpoint_after_promote`.
 * null for Patroni <= 1.5.6, which never published the flag.
 */
export function checkpointAfterPromote(l: Leader): boolean | null {
  const v = l.member.patroniVersion
  if (!v || compareVersions(v, [1, 5, 6]) <= 0) return null
  return l.member.role === 'primary' && !('checkpoint_after_promote' in l.member.data)
}
