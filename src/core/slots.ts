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

/** Patroni's ignore_slots match: every attribute the entry names must be equal. */
export function ignored(slot: SlotState, ignore: readonly IgnoreSlot[]): boolean {
  return ignore.some(
    (i) =>
      (i.name === undefined || i.name === slot.name) &&
      (i.type === undefined || i.type === slot.type) &&
      (i.database === undefined || i.database === slot.database) &&
      (i.plugin === undefined || i.plugin === slot.plugin),
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
