/**
 * The upkeep after the decisions of a cycle (docs/ha-rules.md#replication-slots): the primary's
 * pg_stat_replication for the REST API, physical replication slots for the members and the
 * permanent slots, and dropping slots nobody wants once unused for member_slots_ttl. Patroni's
 * patroni/postgresql/slots.py SlotsHandler.sync_replication_slots.
 */
import {type IgnoreSlot, slotCleanup, slotMembers} from '../core/slots'
import type {AgentContext} from './context'
import {errText, slotNameFor} from './helpers'
import {isLeader} from './state'
import {isStandbyClusterConfig} from '../core/standby'

/** Patroni 4's default member_slots_ttl: a member slot outlives its member by 30 minutes. */
const DEFAULT_MEMBER_SLOTS_TTL_S = 1800

/**
 * The lock holder keeps a physical slot for every other member (use_slots) and for every
 * permanent physical slot of the dynamic `slots` (not the one named after itself); every node
 * drops an inactive physical slot nobody wants once unused for member_slots_ttl (core/slots.ts).
 */
export async function primaryMaintenance(x: AgentContext): Promise<void> {
  const st = x.state
  st.replication = st.lastPg?.inRecovery === false ? await x.pg.replicationStats().catch(() => []) : []
  // A standby cluster's leader keeps its members' slots as a primary does: they stream from it.
  const standbyLeader = st.lastPg?.inRecovery === true && isLeader(st, x.config.name) && isStandbyClusterConfig(st.dynamic.standby_cluster)
  if (st.lastPg?.process === 'running' && st.lastPg.inRecovery === true && !x.slot.busy && !standbyLeader) {
    // A replica keeps only the permanent slots: an old primary that rejoined still has its
    // members' slots, and on a standby an inactive slot holds back WAL removal for ever.
    await dropUnusedSlots(x, new Set(Object.keys(st.dynamic.slots ?? {})))
    return
  }
  if (!isLeader(st, x.config.name) || !st.dynamic.postgresql.use_slots || (st.lastPg?.inRecovery !== false && !standbyLeader) || !st.lastCluster) return
  const mine = slotNameFor(x.config.name)
  const permanent = Object.entries(st.dynamic.slots ?? {}).filter(([name, spec]) => spec.type !== 'logical' && name !== mine).map(([name]) => name)
  // Members tagged nostream get none: they do not stream (core/slots.ts slotMembers).
  const members = slotMembers(st.lastCluster.members, x.config.name).map(slotNameFor)
  const want = [...new Set([...members, ...permanent])]
  for (const slot of want) {
    try {
      if (await x.pg.createPhysicalSlot(slot)) x.log.info(`created replication slot ${slot}`)
    } catch (e) {
      x.log.warning(`failed to create replication slot ${slot}: ${errText(e)}`)
    }
  }
  await dropUnusedSlots(x, new Set([...want, ...Object.keys(st.dynamic.slots ?? {})]))
}

async function dropUnusedSlots(x: AgentContext, wanted: Set<string>): Promise<void> {
  const {pg, log, clock} = x
  const st = x.state
  // In maintenance mode nothing is dropped: the operator may be moving members around.
  if (st.dynamic.pause) return
  const rows = await pg.replicationSlots().catch((e) => {
    log.warning(`could not list replication slots: ${errText(e)}`)
    return undefined
  })
  if (!rows) return
  const ttlS = st.dynamic.member_slots_ttl ?? DEFAULT_MEMBER_SLOTS_TTL_S
  const r = slotCleanup({
    now: clock.now(),
    slots: rows.map((y) => ({name: y.slotName, type: y.slotType, plugin: y.plugin, database: y.database, active: y.active})),
    wanted,
    ignore: (st.dynamic.ignore_slots ?? []) as IgnoreSlot[],
    ttlS,
    unusedSince: st.slotsUnusedSince,
  })
  for (const w of r.waiting) {
    if (st.slotsUnusedSince[w.name] === undefined) {
      log.warning(`replication slot ${w.name} is used by no member: dropping it in ${w.leftS}s (member_slots_ttl ${ttlS}s) unless a member uses it again or it is listed in slots or ignore_slots`)
    }
  }
  st.slotsUnusedSince = r.unusedSince
  for (const name of r.drop) {
    try {
      if (await pg.dropSlot(name)) log.info(`dropped unused replication slot ${name} (unused for member_slots_ttl ${ttlS}s)`)
    } catch (e) {
      log.warning(`failed to drop replication slot ${name}: ${errText(e)}`)
    }
  }
}
