/**
 * Patroni's DCS values (docs/ha-rules.md#dcs-keys), both ways. Reading follows Patroni's own
 * parsers, legacy formats included; anything else present but malformed is read the way
 * Patroni reads it (mostly as empty) and reported as a DecodeWarning naming the key, so a
 * hand-edited or corrupt value never crashes the reader nor hides the rest of the cluster.
 * Writing produces Python's `json.dumps(separators=(',',':'))` bytes: compact, insertion
 * order, non-ASCII escaped as \uXXXX.
 */
import {
  emptySync,
  normalizeRole,
  parseVersionTuple,
  type ClusterConfig,
  type ClusterView,
  type DecodeWarning,
  type Failover,
  type History,
  type HistoryLine,
  type Leader,
  type Member,
  type MemberData,
  type Status,
  type SyncState,
} from '../../core/cluster'
import {KEY, memberNameOf} from '../../core/keys'
import type {FailoverValue, StatusValue, SyncValue} from '../../ports/dcs'

/** One key under the cluster prefix, key relative to it. */
export interface RawNode {
  key: string
  value: string
  modRevision: number
  lease?: string | null
}

/** Python's json.dumps(obj, separators=(',', ':')) with its default ensure_ascii. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

function show(value: string): string {
  const s = value.length > 80 ? value.slice(0, 77) + '...' : value
  return JSON.stringify(s)
}

function parseJson(value: string): {ok: true; value: unknown} | {ok: false} {
  try {
    return {ok: true, value: JSON.parse(value)}
  } catch {
    return {ok: false}
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Python's int() on what Patroni stores: integers, and digit strings from older writers. */
function parseIntLike(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v)
  return null
}

// --- members ---------------------------------------------------------------------------------

/** Governor's legacy member value: a postgres URL whose application_name holds the api_url. */
function parseLegacyConnectionString(value: string): MemberData {
  try {
    const u = new URL(value)
    const apiUrl = u.searchParams.get('application_name')
    u.search = ''
    return {conn_url: u.toString(), api_url: apiUrl ?? undefined}
  } catch {
    const [conn] = value.split('?')
    return {conn_url: conn}
  }
}

export function decodeMember(node: RawNode, name: string, warnings: DecodeWarning[]): Member {
  let data: MemberData
  if (node.value.startsWith('postgres')) {
    data = parseLegacyConnectionString(node.value)
  } else {
    const p = parseJson(node.value)
    if (p.ok && isObject(p.value)) {
      data = p.value as MemberData
    } else {
      warnings.push({key: node.key, message: `member value is not a JSON object, read as {}: ${show(node.value)}`})
      data = {}
    }
  }
  return memberFromData(name, node.modRevision, node.lease ?? null, data, node.key, warnings)
}

function memberFromData(
  name: string,
  version: number,
  session: string | null,
  data: MemberData,
  key: string,
  warnings: DecodeWarning[],
): Member {
  const str = (field: string): string | null => {
    const v = data[field]
    if (v === undefined || v === null) return null
    if (typeof v === 'string') return v
    warnings.push({key, message: `field ${field} must be a string, got ${show(JSON.stringify(v))}; ignored`})
    return null
  }
  const int = (field: string): number | null => {
    const v = data[field]
    if (v === undefined || v === null) return null
    const n = parseIntLike(v)
    if (n === null) warnings.push({key, message: `field ${field} must be an integer, got ${show(JSON.stringify(v))}; ignored`})
    return n
  }
  const roleText = str('role')
  const role = normalizeRole(roleText)
  if (roleText !== null && role === null) warnings.push({key, message: `unknown role ${show(roleText)}`})
  let tags: Record<string, unknown> = {}
  if (data.tags !== undefined && data.tags !== null) {
    if (isObject(data.tags)) tags = data.tags
    else warnings.push({key, message: `field tags must be an object, got ${show(JSON.stringify(data.tags))}; ignored`})
  }
  return {
    name,
    version,
    session,
    data,
    role,
    state: str('state') ?? 'unknown',
    apiUrl: str('api_url'),
    connUrl: str('conn_url'),
    lsn: int('xlog_location'),
    timeline: int('timeline'),
    tags,
    patroniVersion: parseVersionTuple(data.version),
  }
}

export function stubMember(name: string): Member {
  return memberFromData(name, -1, null, {}, '', [])
}

// --- other keys ------------------------------------------------------------------------------

export function decodeConfig(node: RawNode, warnings: DecodeWarning[]): ClusterConfig {
  const p = parseJson(node.value)
  if (p.ok && isObject(p.value)) {
    return {version: node.modRevision, modifyVersion: node.modRevision, data: p.value, valid: node.modRevision !== 0}
  }
  warnings.push({key: node.key, message: `config is not a JSON object, keeping the last valid one: ${show(node.value)}`})
  return {version: node.modRevision, modifyVersion: 0, data: {}, valid: false}
}

export function decodeFailover(node: RawNode, warnings: DecodeWarning[]): Failover {
  const out: Failover = {version: node.modRevision, leader: null, candidate: null, scheduledAt: null, scheduledAtMs: null}
  if (!node.value) return out
  const p = parseJson(node.value)
  if (!p.ok) {
    // Legacy `leader:candidate` text.
    const [leader, candidate] = node.value.split(':').map((s) => s.trim())
    return {...out, leader: leader || null, candidate: candidate || null}
  }
  if (!isObject(p.value)) {
    warnings.push({key: node.key, message: `failover is not a JSON object, read as no failover: ${show(node.value)}`})
    return out
  }
  const v = p.value
  const text = (field: string): string | null => {
    const x = v[field]
    if (x === undefined || x === null || x === '') return null
    if (typeof x === 'string') return x
    warnings.push({key: node.key, message: `field ${field} must be a string, got ${show(JSON.stringify(x))}; ignored`})
    return null
  }
  out.leader = text('leader')
  out.candidate = text('member')
  out.scheduledAt = text('scheduled_at')
  if (out.scheduledAt !== null) {
    const ms = Date.parse(out.scheduledAt)
    if (Number.isNaN(ms)) warnings.push({key: node.key, message: `scheduled_at is not an ISO-8601 time: ${show(out.scheduledAt)}`})
    else out.scheduledAtMs = ms
  }
  return out
}

export function decodeSync(node: RawNode | undefined, warnings: DecodeWarning[]): SyncState {
  if (!node) return emptySync(null)
  const p = parseJson(node.value)
  if (!p.ok || !isObject(p.value)) {
    warnings.push({key: node.key, message: `sync is not a JSON object, read as empty: ${show(node.value)}`})
    return emptySync(node.modRevision)
  }
  const v = p.value
  const leader = typeof v.leader === 'string' && v.leader ? v.leader : null
  const standby = typeof v.sync_standby === 'string' ? v.sync_standby : null
  const quorum = parseIntLike(v.quorum)
  return {version: node.modRevision, leader, syncStandby: standby, quorum: leader && quorum ? quorum : 0}
}

export function decodeHistory(node: RawNode, warnings: DecodeWarning[]): History {
  const p = parseJson(node.value)
  if (!p.ok || !Array.isArray(p.value)) {
    warnings.push({key: node.key, message: `history is not a JSON array, cluster timeline unknown (0): ${show(node.value)}`})
    return {version: node.modRevision, raw: node.value, lines: [], valid: false}
  }
  const lines: HistoryLine[] = []
  for (const [i, line] of p.value.entries()) {
    const tl = Array.isArray(line) ? parseIntLike(line[0]) : null
    const lsn = Array.isArray(line) ? parseIntLike(line[1]) : null
    if (!Array.isArray(line) || tl === null || lsn === null) {
      warnings.push({key: node.key, message: `history line ${i} is not [timeline, lsn, reason, ...]: ${show(JSON.stringify(line))}; skipped`})
      continue
    }
    const rest = line.slice(2, 5).map((x) => (typeof x === 'string' ? x : x === undefined || x === null ? undefined : String(x)))
    lines.push([tl, lsn, rest[0] ?? '', ...(rest.slice(1).filter((x) => x !== undefined) as string[])] as HistoryLine)
  }
  return {version: node.modRevision, raw: node.value, lines, valid: true}
}

export function decodeStatus(node: RawNode | undefined, warnings: DecodeWarning[]): Status {
  const empty: Status = {lastLsn: 0, slots: null, retainSlots: []}
  if (!node) return empty
  const p = parseJson(node.value)
  if (!p.ok) {
    warnings.push({key: node.key, message: `status is not JSON, read as empty: ${show(node.value)}`})
    return empty
  }
  if (typeof p.value === 'number' && Number.isInteger(p.value)) return {...empty, lastLsn: p.value}
  if (!isObject(p.value)) {
    warnings.push({key: node.key, message: `status is not a JSON object, read as empty: ${show(node.value)}`})
    return empty
  }
  const v = p.value
  const lastLsn = parseIntLike(v.optime) ?? 0
  let slots: unknown = v.slots
  if (typeof slots === 'string') {
    const s = parseJson(slots)
    slots = s.ok ? s.value : null
  }
  let outSlots: Record<string, number> | null = null
  if (isObject(slots)) {
    outSlots = {}
    for (const [k, x] of Object.entries(slots)) outSlots[k] = parseIntLike(x) ?? 0
  }
  let retain: unknown = v.retain_slots
  if (typeof retain === 'string') {
    const r = parseJson(retain)
    retain = r.ok ? r.value : []
  }
  const retainSlots = Array.isArray(retain) ? retain.filter((x): x is string => typeof x === 'string') : []
  return {lastLsn, slots: outSlots, retainSlots}
}

export function decodeFailsafe(node: RawNode | undefined, warnings: DecodeWarning[]): Record<string, string> | null {
  if (!node) return null
  const p = parseJson(node.value)
  if (!p.ok || !isObject(p.value)) {
    warnings.push({key: node.key, message: `failsafe is not a JSON object, read as absent: ${show(node.value)}`})
    return null
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(p.value)) {
    if (typeof v === 'string') out[k] = v
    else warnings.push({key: node.key, message: `failsafe entry ${k} must be an api_url string; skipped`})
  }
  return out
}

/**
 * The cluster from the keys under one prefix (Patroni's `_cluster_from_nodes`). `nodes` maps
 * relative keys to their values; keys not in the layout are ignored.
 */
export function decodeCluster(nodes: Map<string, RawNode>): ClusterView {
  const warnings: DecodeWarning[] = []
  const init = nodes.get(KEY.initialize)
  const configNode = nodes.get(KEY.config)
  const historyNode = nodes.get(KEY.history)
  const members: Member[] = []
  for (const [k, n] of nodes) {
    const name = memberNameOf(k)
    if (name !== undefined) members.push(decodeMember(n, name, warnings))
  }
  const leaderNode = nodes.get(KEY.leader)
  let leader: Leader | null = null
  if (leaderNode) {
    const member = members.find((m) => m.name === leaderNode.value) ?? stubMember(leaderNode.value)
    leader = {name: leaderNode.value, version: leaderNode.modRevision, session: leaderNode.lease ?? null, member}
  }
  const failoverNode = nodes.get(KEY.failover)
  return {
    initialize: init ? init.value : null,
    config: configNode ? decodeConfig(configNode, warnings) : null,
    leader,
    status: decodeStatus(nodes.get(KEY.status) ?? nodes.get(KEY.optime), warnings),
    members,
    failover: failoverNode ? decodeFailover(failoverNode, warnings) : null,
    sync: decodeSync(nodes.get(KEY.sync), warnings),
    history: historyNode ? decodeHistory(historyNode, warnings) : null,
    failsafe: decodeFailsafe(nodes.get(KEY.failsafe), warnings),
    warnings,
  }
}

// --- writing ---------------------------------------------------------------------------------

/** Only non-empty fields, in Patroni's order; `{}` clears a request. */
export function encodeFailover(v: FailoverValue): string {
  const out: Record<string, string> = {}
  if (v.leader) out.leader = v.leader
  if (v.member) out.member = v.member
  if (v.scheduled_at) out.scheduled_at = v.scheduled_at
  return compactJson(out)
}

export function encodeSync(v: SyncValue): string {
  return v.quorum === undefined
    ? compactJson({leader: v.leader, sync_standby: v.sync_standby})
    : compactJson({leader: v.leader, quorum: v.quorum, sync_standby: v.sync_standby})
}

/** `slots` and `retain_slots` are left out when empty, as Patroni does. */
export function encodeStatus(v: StatusValue): string {
  const out: Record<string, unknown> = {optime: v.optime}
  if (v.slots && Object.keys(v.slots).length) out.slots = v.slots
  if (v.retain_slots && v.retain_slots.length) out.retain_slots = v.retain_slots
  return compactJson(out)
}

export function encodeHistory(lines: HistoryLine[]): string {
  return compactJson(lines)
}
