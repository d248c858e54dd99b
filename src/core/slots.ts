import {tagIsTrue} from './tags'

/**
 * Which replication slots the primary drops (docs/ha-rules.md#replication-slots, with Patroni 4's
 * member_slots_ttl): an inactive physical slot that no member uses, that is not a permanent slot of
 * the dynamic `slots` and matches no `ignore_slots` entry, once it has been unused for
 * member_slots_ttl (a member that left, or whose key expired for a while). Logical slots are never
 * dropped here. Pure: the caller keeps `unusedSince` between cycles and does the dropping.
 */
export interface SlotState {
  name: string
  type: 'physical' | 'logical'
  plugin: string | null
  database: string | null
  active: boolean
}

export interface IgnoreSlot {
  name?: string
  type?: string
  database?: string
  plugin?: string
}

export interface SlotCleanupInput {
  now: number
  slots: readonly SlotState[]
  /** Slot names the primary keeps: one per member, and the permanent ones. */
  wanted: ReadonlySet<string>
  ignore: readonly IgnoreSlot[]
  /** member_slots_ttl in seconds; 0 drops at once (Patroni 3.x). */
  ttlS: number
  /** From the previous call: since when each candidate slot has been unused. */
  unusedSince: Readonly<Record<string, number>>
}

export interface SlotCleanup {
  drop: string[]
  /** Candidates still within the ttl, with the seconds left. */
  waiting: Array<{name: string; leftS: number}>
  unusedSince: Record<string, number>
}

/** Patroni's ignore_slots_matchers: every attribute the entry names (not empty) must be equal. */
export function ignored(slot: SlotState, ignore: readonly IgnoreSlot[]): boolean {
  return ignore.some(
    (i) =>
      (i.name === undefined || i.name === slot.name) &&
      (!i.type || i.type === slot.type) &&
      (!i.database || i.database === slot.database) &&
      (!i.plugin || i.plugin === slot.plugin),
  )
}

export function slotCleanup(input: SlotCleanupInput): SlotCleanup {
  const out: SlotCleanup = {drop: [], waiting: [], unusedSince: {}}
  for (const s of input.slots) {
    if (s.type !== 'physical' || s.active || input.wanted.has(s.name) || ignored(s, input.ignore)) continue
    const since = input.unusedSince[s.name] ?? input.now
    const leftS = input.ttlS - (input.now - since) / 1000
    if (leftS <= 0) out.drop.push(s.name)
    else {
      out.unusedSince[s.name] = since
      out.waiting.push({name: s.name, leftS: Math.ceil(leftS)})
    }
  }
  return out
}

/**
 * The members whose physical replication slot the leader keeps (patroni/dcs/__init__.py
 * Cluster._get_members_slots): every other member but those tagged `nostream`, which never use
 * the replication protocol (they replay from the WAL archive) and so would only make the slot
 * hold back WAL for ever.
 */
export function slotMembers(members: ReadonlyArray<{name: string; tags: Record<string, unknown>}>, self: string): string[] {
  return members.filter((m) => m.name !== self && !tagIsTrue(m.tags['nostream'])).map((m) => m.name)
}

/**
 * Patroni's slot_name_from_member_name (patroni/dcs/__init__.py): lower case; `-` and `.` become
 * `_`, any other character outside [a-z0-9_] becomes `u` + its code point in 4+ decimal digits;
 * cut to 63 characters. Mixed clusters depend on both sides naming a member's slot alike.
 */
export function slotNameFor(member: string): string {
  return member
    .toLowerCase()
    .replace(/[^a-z0-9_]/gu, (c) => (c === '-' || c === '.' ? '_' : `u${String(c.codePointAt(0)).padStart(4, '0')}`))
    .slice(0, 63)
}

/** A permanent slot of the dynamic `slots` as src/config/dynamic-schema.ts reads it. */
export interface PermanentSlot {
  type: 'physical' | 'logical'
  database?: string
  plugin?: string
  cluster_type?: 'primary' | 'standby'
}

export interface PlanMember {
  name: string
  tags: Readonly<Record<string, unknown>>
  /** xlog_location of its member key. */
  lsn: number | null
}

/** One slot a node should have, as Patroni's Cluster.get_replication_slots describes it. */
export interface PlannedSlot {
  type: 'physical' | 'logical'
  database?: string
  plugin?: string
  /** Where the slot should be: from `/status` (or the cascading member's own position). */
  lsn?: number
  /** Physical slots: whether a member is expected to stream from it here (then it is never advanced). */
  expectedActive?: boolean
}

export type SlotRole = 'primary' | 'standby_leader' | 'replica'

export interface SlotPlanInput {
  self: string
  selfTags: Readonly<Record<string, unknown>>
  role: SlotRole
  leader: string | null
  members: readonly PlanMember[]
  useSlots: boolean
  /** member_slots_ttl in seconds. */
  memberSlotsTtlS: number
  /** server_version_num; pg_replication_slot_advance (and so permanent logical slots) needs 11. */
  pgVersion: number
  standbyCluster: boolean
  permanent: Readonly<Record<string, PermanentSlot>>
  /** `slots` of the `/status` key: the leader's slot positions. */
  statusSlots: Readonly<Record<string, number>>
  /** The leader's Patroni version (its member key); before 4.0 member slots follow the members' own positions. */
  leaderVersion?: readonly number[] | null
}

export interface SlotPlan {
  slots: Record<string, PlannedSlot>
  /** Errors Patroni logs on the way (conflicting names). */
  errors: string[]
}

const canAdvance = (v: number) => v >= 110000

/**
 * The slot on the primary that carries this node's WAL (Patroni's Cluster.get_slot_name_on_primary):
 * its own, or with `replicatefrom` the one of the member that connects the chain to the primary;
 * null for a `nostream` node (or one cascading from it) and for a loop.
 */
export function slotNameOnPrimary(name: string, tags: Readonly<Record<string, unknown>>, members: readonly PlanMember[]): string | null {
  const seen = new Set<string>()
  for (;;) {
    seen.add(name)
    if (tagIsTrue(tags['nostream'])) return null
    const rf = typeof tags['replicatefrom'] === 'string' && tags['replicatefrom'] !== name ? tags['replicatefrom'] : undefined
    const up = rf === undefined ? undefined : members.find((m) => m.name === rf)
    if (!up) return slotNameFor(name)
    if (seen.has(up.name)) return null
    name = up.name
    tags = up.tags
  }
}

const replicatefromOf = (m: {tags: Readonly<Record<string, unknown>>}): string | null =>
  typeof m.tags['replicatefrom'] === 'string' && m.tags['replicatefrom'] !== '' ? m.tags['replicatefrom'] : null

/** Whether a permanent slot of this type belongs in this kind of cluster (`cluster_type`, Patroni 4.1, physical only). */
function inThisCluster(s: PermanentSlot, standbyCluster: boolean): boolean {
  if (s.type !== 'physical') return true
  return standbyCluster ? s.cluster_type !== 'primary' : s.cluster_type !== 'standby'
}

/**
 * Patroni's Cluster.__permanent_slots / permanent_physical_slots / _get_permanent_slots: the
 * permanent slots this node keeps, with the position the leader published. None with use_slots
 * off or for a `nofailover` node; only physical ones in a standby cluster and on a node that does
 * not stream from the primary (nostream), since a logical slot there would get no feedback.
 */
function permanentFor(i: SlotPlanInput, name: string, tags: Readonly<Record<string, unknown>>): Record<string, PlannedSlot> {
  if (!i.useSlots || tagIsTrue(tags['nofailover'])) return {}
  const cascading = new Map(i.members.filter((m) => replicatefromOf(m) !== null).map((m) => [slotNameFor(m.name), m.lsn ?? 0]))
  const physicalOnly = i.standbyCluster || slotNameOnPrimary(name, tags, i.members) === null
  // Before PostgreSQL 11 (no pg_replication_slot_advance) only a leader keeps them, and no logical ones.
  if (!canAdvance(i.pgVersion) && i.role !== (physicalOnly ? 'standby_leader' : 'primary')) return {}
  const out: Record<string, PlannedSlot> = {}
  for (const [slot, spec] of Object.entries(i.permanent)) {
    if (!inThisCluster(spec, i.standbyCluster)) continue
    if (spec.type === 'logical' && (physicalOnly || !canAdvance(i.pgVersion))) continue
    const lsn = Math.max(spec.type === 'physical' ? (cascading.get(slot) ?? 0) : 0, i.statusSlots[slot] ?? 0)
    out[slot] = {type: spec.type, ...(spec.database !== undefined ? {database: spec.database} : {}), ...(spec.plugin !== undefined ? {plugin: spec.plugin} : {}), ...(lsn ? {lsn} : {})}
  }
  return out
}

/**
 * Patroni's Cluster._get_members_slots: a physical slot for every other member but `nostream`
 * ones. With member_slots_ttl > 0 (PostgreSQL 11+) every node keeps them all (a `nofailover`
 * node only those cascading from it), the ones no member streams from here advanced to the
 * position published in `/status` or, for a cascading member, its own; otherwise a primary keeps
 * slots for the members that stream from it and a replica for those cascading from it.
 */
function memberSlots(i: SlotPlanInput, errors: string[]): Record<string, PlannedSlot> {
  if (!i.useSlots) return {}
  const name = i.self
  let members = i.members.filter((m) => m.name !== name && !tagIsTrue(m.tags['nostream']))
  const leaderRole = i.role === 'primary' || i.role === 'standby_leader'
  const expectedActive = (m: PlanMember) => {
    const rf = replicatefromOf(m)
    return leaderRole ? rf === null || rf === name || !i.members.some((x) => x.name === rf) : rf === name && m.name !== i.leader
  }
  if (canAdvance(i.pgVersion) && i.memberSlotsTtlS > 0) {
    members = members.filter((m) => !tagIsTrue(i.selfTags['nofailover']) || replicatefromOf(m) === name)
  } else {
    members = members.filter(expectedActive)
  }
  const oldLeader = i.leaderVersion ? i.leaderVersion[0]! < 4 : false
  const out: Record<string, PlannedSlot> = {}
  const byName = new Map<string, string[]>()
  for (const m of members) {
    const slot = slotNameFor(m.name)
    byName.set(slot, [...(byName.get(slot) ?? []), m.name])
    let lsn = i.statusSlots[slot] ?? 0
    if (replicatefromOf(m) !== null || oldLeader) lsn = Math.max(m.lsn ?? 0, lsn)
    out[slot] = {type: 'physical', lsn, expectedActive: expectedActive(m)}
  }
  const shared = [...byName].filter(([, v]) => v.length > 1)
  if (shared.length) errors.push(`Following cluster members share a replication slot name: ${shared.map(([k, v]) => `${v.join(', ')} map to ${k}`).join('; ')}`)
  return out
}

/**
 * The slots a node should have (Patroni's Cluster.get_replication_slots with _merge_permanent_slots):
 * member slots, then the permanent ones. A permanent physical slot named like this node is not
 * created here; on a primary it is expected to be active unless a member of that name cascades
 * from another. A permanent logical slot named like a member slot is refused with an error.
 */
export function slotPlan(i: SlotPlanInput): SlotPlan {
  const errors: string[] = []
  const slots = memberSlots(i, errors)
  const mine = slotNameFor(i.self)
  const topology = new Map(i.members.map((m) => [slotNameFor(m.name), replicatefromOf(m)]))
  for (const [name, spec] of Object.entries(permanentFor(i, i.self, i.selfTags))) {
    if (spec.type === 'physical') {
      if (!(name in slots) && name !== mine) {
        slots[name] = {...spec, expectedActive: !topology.get(name) && (i.role === 'primary' || i.role === 'standby_leader')}
      }
    } else if (name in slots) {
      errors.push(`Permanent logical replication slot ${name} is conflicting with the physical replication slot for a cluster member`)
    } else {
      slots[name] = spec
    }
  }
  return {slots, errors}
}

/**
 * Patroni's Cluster.should_enforce_hot_standby_feedback (patroni/postgresql/__init__.py forces
 * hot_standby_feedback on then): a replica that keeps permanent logical slots, or that feeds a
 * cascading member that does, must send feedback so that the primary keeps the catalog rows
 * those slots need. Never in a standby cluster or before PostgreSQL 11.
 */
export function enforceHotStandbyFeedback(i: SlotPlanInput, name = i.self, tags = i.selfTags, seen = new Set<string>()): boolean {
  if (i.standbyCluster || !canAdvance(i.pgVersion) || seen.has(name)) return false
  seen.add(name)
  const asReplica: SlotPlanInput = {...i, self: name, selfTags: tags, role: 'replica'}
  if (Object.values(slotPlan(asReplica).slots).some((s) => s.type === 'logical')) return true
  if (!i.useSlots || slotNameOnPrimary(name, tags, i.members) === null) return false
  return i.members
    .filter((m) => replicatefromOf(m) === name && m.name !== i.leader)
    .some((m) => enforceHotStandbyFeedback(i, m.name, m.tags, seen))
}

export interface RetainSlotsInput {
  now: number
  self: string
  members: ReadonlyArray<{name: string; tags: Readonly<Record<string, unknown>>}>
  /** What the leader publishes in `/status` `slots` with this renewal; null when nothing (before PostgreSQL 11). */
  slots: Readonly<Record<string, number>> | null
  /** Names of the permanent physical slots: never member slots to retain. */
  permanentPhysical: ReadonlySet<string>
  /** member_slots_ttl in seconds. */
  ttlS: number
  /** From the previous renewal: when each member slot was last seen in `slots`. */
  seen: Readonly<Record<string, number>>
}

/**
 * Patroni 4's AbstractDCS._build_retain_slots (patroni/dcs/__init__.py): the member slots the
 * leader publishes are remembered with the time they were last seen, and listed in `/status`
 * `retain_slots` until member_slots_ttl has passed, so that a Patroni 4 member keeps (and, once
 * promoted, creates) the slot of a member whose key is gone for a while. Only slots named after a
 * member that streams (and this node), never a permanent physical one. Null when none is left.
 */
export function retainSlots(i: RetainSlotsInput): {names: string[] | null; seen: Record<string, number>} {
  const seen: Record<string, number> = {...i.seen}
  if (i.slots && Object.keys(i.slots).length) {
    const members = new Set(i.members.filter((m) => !tagIsTrue(m.tags['nostream'])).map((m) => slotNameFor(m.name)))
    // Our own key may be missing (then its tags are unknown): our name is listed, for a while.
    if (!i.members.some((m) => m.name === i.self)) members.add(slotNameFor(i.self))
    for (const name of Object.keys(i.slots)) if (members.has(name) && !i.permanentPhysical.has(name)) seen[name] = i.now
  }
  for (const [name, at] of Object.entries(seen)) if (at + i.ttlS * 1000 <= i.now) delete seen[name]
  const names = Object.keys(seen).sort()
  return {names: names.length ? names : null, seen}
}
