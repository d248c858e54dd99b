/**
 * The upkeep after the decisions of a cycle (docs/ha-rules.md#replication-slots): the primary's
 * pg_stat_replication for the REST API, and the replication slots as Patroni's
 * patroni/postgresql/slots.py SlotsHandler.sync_replication_slots keeps them: member and
 * permanent physical slots, permanent logical slots created on the primary and copied to and
 * advanced on the replicas, the positions the leader publishes in `/status`, and dropping slots
 * nobody wants once unused for member_slots_ttl. The plan itself is pure: core/slots.ts slotPlan.
 */
import {type ClusterView, getMember} from '../core/cluster'
import {enforceHotStandbyFeedback, type IgnoreSlot, type PlannedSlot, retainSlots, slotCleanup, type SlotPlanInput, slotPlan, type SlotRole} from '../core/slots'
import {formatLsn} from '../core/lsn'
import {isStandbyClusterConfig} from '../core/standby'
import {isHactlError} from '../errors'
import type {SlotRow} from '../ports/postgres'
import type {AgentContext} from './context'
import {rewindConn} from './execute-failover'
import {errText, hostPortOf, slotNameFor} from './helpers'
import {clearPendingRestart, recoveryFor, writeConfig} from './pg-config'
import {isLeader} from './state'

/** Patroni 4's default member_slots_ttl: a member slot outlives its member by 30 minutes. */
const DEFAULT_MEMBER_SLOTS_TTL_S = 1800

/** The slot plan input for this node in the cluster last read (role as PostgreSQL runs now). */
export function slotPlanInput(x: AgentContext, role: SlotRole): SlotPlanInput | undefined {
  const st = x.state
  const c = st.lastCluster
  if (!c) return undefined
  const members = c.members.map((m) => ({name: m.name, tags: m.tags, lsn: m.lsn}))
  if (!members.some((m) => m.name === x.config.name)) members.push({name: x.config.name, tags: x.config.tags ?? {}, lsn: null})
  return {
    self: x.config.name,
    selfTags: x.config.tags ?? {},
    role,
    leader: c.leader?.name ?? null,
    members,
    useSlots: st.dynamic.postgresql.use_slots !== false,
    memberSlotsTtlS: st.dynamic.member_slots_ttl ?? DEFAULT_MEMBER_SLOTS_TTL_S,
    pgVersion: st.lastStatus?.serverVersion ?? 0,
    standbyCluster: isStandbyClusterConfig(st.dynamic.standby_cluster),
    permanent: st.dynamic.slots ?? {},
    statusSlots: c.status.slots ?? {},
    leaderVersion: c.leader?.member.patroniVersion ?? null,
  }
}

export async function primaryMaintenance(x: AgentContext): Promise<void> {
  const st = x.state
  st.replication = st.lastPg?.inRecovery === false ? await x.pg.replicationStats().catch(() => []) : []
  st.slotPositions = null
  if (st.lastPg?.process !== 'running' || !st.lastCluster) return
  // A standby cluster's leader keeps its members' slots as a primary does: they stream from it.
  const leader = isLeader(st, x.config.name)
  const standbyLeader = st.lastPg.inRecovery === true && leader && isStandbyClusterConfig(st.dynamic.standby_cluster)
  const role: SlotRole = st.lastPg.inRecovery === false ? 'primary' : standbyLeader ? 'standby_leader' : 'replica'
  const input = slotPlanInput(x, role)!
  // Patroni forces hot_standby_feedback on where logical slots are kept (or fed): applied by pg-config.ts.
  st.enforceHotStandbyFeedback = enforceHotStandbyFeedback({...input, role: 'replica'})
  if (role === 'primary' && !leader) return
  if (x.slot.busy && role !== 'primary') return
  const plan = slotPlan(input)
  for (const e of plan.errors) warnOnce(x, e)
  const rows = await x.pg.replicationSlots().catch((e) => {
    x.log.warning(`could not list replication slots: ${errText(e)}`)
    return undefined
  })
  if (!rows) return
  let wanted = plan.slots
  if (role === 'replica') {
    // hactl keeps on a replica only the member slots a member streams from here (cascading) and
    // the permanent ones; Patroni 4 keeps them all there (docs/ha-rules.md#replication-slots).
    wanted = Object.fromEntries(Object.entries(plan.slots).filter(([name, s]) => s.type === 'logical' || s.expectedActive !== false || name in (st.dynamic.slots ?? {})))
  }
  const existing = new Map(rows.map((r) => [r.slotName, r]))
  await dropMismatched(x, wanted, existing)
  // Whether this cycle created, dropped or advanced a slot: only then are `rows` stale for the
  // positions published below (an idle primary otherwise read pg_replication_slots twice a cycle).
  let changed = existing.size !== rows.length
  const canAdvance = input.pgVersion >= 110000
  // Patroni cleans inactive physical slots with xmin only with a leader that is not a replica of itself.
  const cleanXmin = role === 'primary' || (input.leader !== null && input.leader !== x.config.name)
  for (const [name, s] of Object.entries(wanted)) {
    if (s.type !== 'physical') continue
    const row = existing.get(name)
    if (!row) {
      changed = true
      try {
        if (await x.pg.createPhysicalSlot(name)) x.log.info(`created replication slot ${name}`)
      } catch (e) {
        x.log.warning(`failed to create replication slot ${name}: ${errText(e)}`)
      }
      continue
    }
    if (!canAdvance || row.slotType !== 'physical' || s.expectedActive === true || row.active) continue
    if (row.xmin !== null) {
      // Nothing streams from it here, so its xmin would hold back vacuum for ever.
      if (cleanXmin && s.expectedActive === false) changed = (await dropSlot(x, name, `dropping physical replication slot ${name} because of its xmin value ${row.xmin}`)) || changed
      continue
    }
    if (row.restartLsn === null) {
      changed = (await dropSlot(x, name, `dropping physical replication slot ${name} because it has no restart_lsn (probably not created by hactl); it is created again`)) || changed
      continue
    }
    // Advanced to the position its member or the leader published, so it does not hold WAL.
    if (s.lsn && s.lsn > row.restartLsn) {
      changed = true
      await advance(x, name, s.lsn)
    }
  }
  if (role === 'primary') {
    if (Object.entries(wanted).some(([name, s]) => s.type === 'logical' && !existing.has(name))) changed = true
    await ensureLogicalOnPrimary(x, wanted, existing)
    st.slotPositions = publishedPositions(x, input, changed ? await x.pg.replicationSlots().catch(() => rows) : rows)
  } else if (role === 'replica') {
    await ensureLogicalOnReplica(x, wanted, existing)
  }
  const keep = new Set([...Object.keys(wanted), ...Object.keys(st.dynamic.slots ?? {})])
  await dropUnusedSlots(x, rows, keep)
}

function warnOnce(x: AgentContext, text: string): void {
  if (x.state.warnedForever.has(text)) return
  x.state.warnedForever.add(text)
  x.log.error(text)
}

async function dropSlot(x: AgentContext, name: string, why: string): Promise<boolean> {
  x.log.warning(why)
  try {
    return await x.pg.dropSlot(name)
  } catch (e) {
    x.log.warning(`failed to drop replication slot ${name}: ${errText(e)}`)
    return false
  }
}

/** False when the slot's WAL is gone or it was invalidated (Patroni then copies a logical slot again). */
async function advance(x: AgentContext, name: string, lsn: number, database?: string): Promise<boolean> {
  try {
    await x.pg.advanceSlot(name, lsn, database)
    return true
  } catch (e) {
    x.log.error(`failed to advance replication slot ${name}: ${errText(e)}`)
    return !isHactlError(e, 'PG_PRECONDITION')
  }
}

/** Patroni's compare_slots: the type, and for a logical slot database and plugin, must match. */
function matches(want: PlannedSlot, row: SlotRow): boolean {
  return want.type === row.slotType && (want.type === 'physical' || (want.database === row.database && want.plugin === row.plugin))
}

/** A slot of a wanted name whose type, database or plugin differ is dropped (and then created anew), as Patroni does. */
async function dropMismatched(x: AgentContext, wanted: Record<string, PlannedSlot>, existing: Map<string, SlotRow>): Promise<void> {
  if (x.state.dynamic.pause) return
  for (const [name, s] of Object.entries(wanted)) {
    const row = existing.get(name)
    if (!row || matches(s, row) || row.active) continue
    const was = row.slotType === 'logical' ? `logical (database ${row.database}, plugin ${row.plugin})` : 'physical'
    const now = s.type === 'logical' ? `logical (database ${s.database}, plugin ${s.plugin})` : 'physical'
    if (await dropSlot(x, name, `dropping replication slot ${name}: it is ${was}, the configuration wants it ${now}`)) existing.delete(name)
  }
}

/** Patroni's _ensure_logical_slots_primary: create the missing permanent logical slots, in their database. */
async function ensureLogicalOnPrimary(x: AgentContext, wanted: Record<string, PlannedSlot>, existing: Map<string, SlotRow>): Promise<void> {
  for (const [name, s] of Object.entries(wanted)) {
    if (s.type !== 'logical' || existing.has(name)) continue
    try {
      if (await x.pg.createLogicalSlot(name, s.plugin!, s.database!)) x.log.info(`created logical replication slot ${name} (database ${s.database}, plugin ${s.plugin})`)
    } catch (e) {
      x.log.error(`failed to create logical replication slot ${name} plugin=${s.plugin}: ${errText(e)}`)
    }
  }
}

/**
 * Patroni's _ensure_logical_slots_replica: an existing permanent logical slot is advanced to the
 * position the primary published, never past what this replica has replayed; a missing one
 * whose position is published is copied from the primary (copyLogicalSlots).
 */
async function ensureLogicalOnReplica(x: AgentContext, wanted: Record<string, PlannedSlot>, existing: Map<string, SlotRow>): Promise<void> {
  const replay = x.state.lastStatus?.replayedLsn ?? null
  const copy: string[] = []
  for (const [name, s] of Object.entries(wanted)) {
    if (s.type !== 'logical') continue
    const row = existing.get(name)
    if (row && matches(s, row)) {
      if (s.lsn === undefined || replay === null) continue
      const target = Math.min(s.lsn, replay)
      if ((row.confirmedFlushLsn ?? 0) < target && !(await advance(x, name, target, s.database))) copy.push(name)
    } else if (!row && s.lsn !== undefined) {
      copy.push(name)
    }
  }
  if (copy.length) copyLogicalSlots(x, copy)
}

/**
 * Patroni's copy_logical_slots: a logical slot cannot be created on a replica, so its state file
 * is read from the primary (pg_read_binary_file, with the rewind credentials) and written into
 * pg_replslot while PostgreSQL is stopped; then PostgreSQL starts again and the slot is advanced
 * from there. Runs in the task slot, as Patroni's async executor does.
 */
function copyLogicalSlots(x: AgentContext, names: string[]): void {
  const st = x.state
  const leader = st.lastCluster?.leader?.name
  const target = leader ? hostPortOf(getMember(st.lastCluster!, leader)?.connUrl) : undefined
  if (!target) return
  const started = x.slot.start('copy-logical-slots', `copying logical slots ${names.join(', ')} from the primary`, async (signal) => {
    const {pg, config, log} = x
    let slots
    try {
      slots = await pg.remoteLogicalSlots(rewindConn(config, target), names)
    } catch (e) {
      log.error(`failed to copy logical slots from the ${leader} via postgresql connection: ${errText(e)}`)
      return
    }
    const plan = slotPlan({...slotPlanInput(x, 'replica')!}).slots
    let copy = slots.filter((r) => {
      const want = plan[r.slotName]
      if (!want || want.type !== 'logical' || r.slotType !== 'logical' || want.database !== r.database || want.plugin !== r.plugin) {
        log.warning(`will not copy the logical slot ${r.slotName} due to the configuration mismatch: the primary has database ${r.database}, plugin ${r.plugin}`)
        return false
      }
      // The same state again would fail the same way: wait until the primary's slot has moved on
      // (hactl's guard against restarting PostgreSQL every cycle).
      if (st.copiedSlotStates[r.slotName] === r.state.toString('base64')) {
        log.warning(`not copying the logical slot ${r.slotName} again: it has not moved on the primary since the last copy`)
        return false
      }
      return true
    })
    // A copy is only usable if this replica still has the WAL the slot needs (Patroni copies it
    // anyway and then fails to advance it): wait until the slot has moved on, on the primary,
    // past this replica's last restartpoint.
    const redo = copy.length ? (await pg.controldata().catch(() => undefined))?.redoLsn : undefined
    copy = copy.filter((r) => {
      if (redo === undefined || r.restartLsn === null || r.restartLsn >= redo) return true
      log.info(`not copying the logical slot ${r.slotName} yet: on the primary it needs WAL from ${formatLsn(r.restartLsn)}, older than this replica keeps (${formatLsn(redo)}); it is copied once its consumer moved it on`)
      return false
    })
    if (!copy.length) return
    log.info(`copying logical slots ${copy.map((r) => r.slotName).join(', ')} from the primary: restarting PostgreSQL`)
    const version = await pg.binaryVersion()
    const params = await writeConfig(x, version, recoveryFor(x, version, st.upstream, st.upstreamRemote))
    clearPendingRestart(x, params.cmdline)
    await pg.close().catch(() => {})
    await pg.stop({mode: 'fast', timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
    for (const r of copy) {
      await pg.installSlotState(r.slotName, r.state)
      st.copiedSlotStates[r.slotName] = r.state.toString('base64')
    }
    const s = await pg.start({cmdline: params.cmdline, timeoutMs: st.dynamic.primary_start_timeout * 1000, signal})
    st.memory = {...st.memory, pgState: s.outcome === 'started' ? 'running' : 'starting'}
    log.info(`copied logical slots ${copy.map((r) => r.slotName).join(', ')} from the primary`)
  })
  if (started) x.log.info(`Copying logical slots ${JSON.stringify(names)} from the primary`)
}

/**
 * What the leader publishes in `/status` `slots` (Patroni's Postgresql.slots with
 * Cluster.maybe_filter_permanent_slots): every slot it keeps, physical at restart_lsn and logical
 * at confirmed_flush_lsn, and its own slot name at its WAL position; with member_slots_ttl 0 only
 * the permanent ones.
 */
function publishedPositions(x: AgentContext, input: SlotPlanInput, rows: SlotRow[]): Record<string, number> | null {
  if (input.pgVersion < 110000) return null
  const plan = slotPlan(input).slots
  const out: Record<string, number> = {}
  for (const r of rows) {
    const want = plan[r.slotName]
    if (!want || !matches(want, r)) continue
    const lsn = r.slotType === 'logical' ? r.confirmedFlushLsn : r.restartLsn
    if (lsn !== null) out[r.slotName] = lsn
  }
  const pos = x.state.lastPg?.walPosition
  if (pos !== null && pos !== undefined) out[slotNameFor(x.config.name)] = pos
  if (input.memberSlotsTtlS > 0) return out
  // Patroni's maybe_filter_permanent_slots: permanent physical slots, and logical ones not named like a member.
  const memberNames = new Set(input.members.map((m) => slotNameFor(m.name)))
  const perm = input.permanent
  return Object.fromEntries(Object.entries(out).filter(([n]) => perm[n] !== undefined && (perm[n].type === 'physical' || !memberNames.has(n))))
}

/**
 * `retain_slots` for the `/status` written with this renewal (Patroni 4's update_leader with
 * _build_retain_slots): the member slots published now or within member_slots_ttl.
 */
export function retainedSlots(x: AgentContext, cluster: ClusterView, slots: Record<string, number> | null): string[] | null {
  const st = x.state
  const permanent = st.dynamic.slots ?? {}
  const r = retainSlots({
    now: x.clock.now(),
    self: x.config.name,
    members: cluster.members,
    slots,
    permanentPhysical: new Set(Object.keys(permanent).filter((n) => permanent[n]!.type === 'physical' && permanent[n]!.cluster_type !== (isStandbyClusterConfig(st.dynamic.standby_cluster) ? 'primary' : 'standby'))),
    ttlS: st.dynamic.member_slots_ttl ?? DEFAULT_MEMBER_SLOTS_TTL_S,
    seen: st.retainSlotsSeen,
  })
  st.retainSlotsSeen = r.seen
  return r.names
}

/** On taking the lock, Patroni 4 (acquire_leader_lock) restarts the retention of every slot the last `/status` lists. */
export function restartSlotRetention(x: AgentContext): void {
  const now = x.clock.now()
  x.state.retainSlotsSeen = Object.fromEntries((x.state.lastCluster?.status.retainSlots ?? []).map((n) => [n, now]))
}

async function dropUnusedSlots(x: AgentContext, rows: SlotRow[], wanted: Set<string>): Promise<void> {
  const {pg, log, clock} = x
  const st = x.state
  // In maintenance mode nothing is dropped: the operator may be moving members around.
  if (st.dynamic.pause) return
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
