/**
 * Handlers of the DCS key actions (docs/ha-rules.md#leader-lock, #dcs-keys): the leader lock,
 * `initialize`, `config`, `failover`, `history` and the member key. Each carries out its action
 * through the Dcs port; a failed call is DcsFailed (common.ts viaDcs).
 */
import {dynamicDocument} from '../../config/dynamic-schema'
import type {Action, ActionType} from '../../core/actions'
import type {ClusterView, HistoryLine} from '../../core/cluster'
import type {Observation} from '../../core/observation'
import type {AgentContext} from '../context'
import {historyLinesFrom, replicationConn} from '../execute-failover'
import {restartSlotRetention, retainedSlots} from '../maintenance'
import {errText} from '../helpers'
import {memberData, publishMember} from '../publish'
import {DcsFailed, viaDcs, type Handler} from './common'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/** Patroni's attempt_to_acquire_leader (patroni/dcs/etcd3.py Etcd3.attempt_to_acquire_leader). */
export const acquireLock: Handler<Of<'acquire-lock'>> = async (a, _obs, x) => {
  // The lease counts from before the call: it cannot have been granted later than that.
  const at = x.clock.now()
  const ok = await viaDcs(x, a.type, () => x.dcs.attemptToAcquireLeader())
  if (ok) x.state.lastLockRenewal = at
  if (ok) restartSlotRetention(x)
  return {outcome: {type: 'acquire-lock', ok}}
}

/**
 * Patroni's update_lock (patroni/ha.py Ha.update_lock): renew the lock, with the optime in
 * `/status` when asked, and the failsafe topology in failsafe_mode.
 */
export const updateLock: Handler<Of<'update-lock'>> = async (a, obs, x) => {
  const cluster = obs.dcs.reachable ? obs.dcs.cluster : x.state.lastCluster
  if (!cluster) throw new DcsFailed('no cluster view')
  const lsn = a.status && obs.pg.walPosition !== null ? obs.pg.walPosition : undefined
  const failsafe = x.state.dynamic.failsafe_mode ? failsafeTopology(x, cluster) : undefined
  // With the optime go the slot positions (patroni/ha.py Ha.update_lock), which replicas advance their slots to.
  const slots = lsn !== undefined ? x.state.slotPositions : null
  // And `retain_slots` (Patroni 4): member slots kept for member_slots_ttl after their member's key is gone.
  const retain = lsn !== undefined ? retainedSlots(x, cluster, slots) : null
  const extras = lsn !== undefined || failsafe ? {...(lsn !== undefined ? {lastLsn: lsn, ...(slots ? {slots} : {}), ...(retain ? {retainSlots: retain} : {})} : {}), ...(failsafe ? {failsafe} : {})} : undefined
  const at = x.clock.now()
  const ok = await viaDcs(x, a.type, () => x.dcs.updateLeader(cluster, extras))
  if (ok) {
    x.state.lastLockRenewal = at
    x.state.failsafe.setActive(0)
  }
  return {outcome: {type: 'update-lock', ok}}
}

/** Patroni's _failsafe_config (patroni/ha.py Ha._failsafe_config): every member with an api_url, and me. */
function failsafeTopology(x: AgentContext, cluster: ClusterView): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of cluster.members) if (m.apiUrl) out[m.name] = m.apiUrl
  out[x.config.name] ??= memberData(x).api_url as string
  return out
}

/** Delete `leader` if it is mine (patroni/ha.py Ha.release_leader_key_voluntarily); the lease is no longer believed at once. */
export const releaseLock: Handler<Of<'release-lock'>> = async (a, _obs, x) => {
  x.state.lastLockRenewal = null
  await viaDcs(x, a.type, () => x.dcs.deleteLeader(a.lastLsn))
  return {}
}

/** Unconditional `leader` write right after bootstrap (patroni/dcs/etcd3.py Etcd3.take_leader). */
export const takeLeader: Handler<Of<'take-leader'>> = async (a, _obs, x) => {
  const at = x.clock.now()
  await viaDcs(x, a.type, () => x.dcs.takeLeader())
  x.state.lastLockRenewal = at
  return {}
}

/** `initialize`: the bootstrap race when create (patroni/dcs/etcd3.py Etcd3.initialize). */
export const initialize: Handler<Of<'initialize'>> = async (a, _obs, x) => {
  const ok = await viaDcs(x, a.type, () => x.dcs.initialize(a.create, a.sysid))
  return {outcome: {type: 'initialize', ok}}
}

/**
 * A failed bootstrap (patroni/ha.py Ha.cancel_initialization): delete `initialize`, stop
 * PostgreSQL, move the data directory aside.
 */
export const cancelInitialization: Handler<Of<'cancel-initialization'>> = async (a, _obs, x) => {
  await viaDcs(x, a.type, () => x.dcs.cancelInitialization())
  await x.pg.stop({mode: 'immediate', timeoutMs: 30_000}).catch((e) => x.log.error(`stop after failed bootstrap: ${errText(e)}`))
  await moveDataDirAside(x)
  return {}
}

async function moveDataDirAside(x: AgentContext): Promise<void> {
  const suffix = new Date(x.clock.now()).toISOString().replace(/[-:]/g, '').replace(/\..*/, '')
  try {
    const aside = await x.pg.moveDataDirAside(suffix)
    x.log.info(`moved data directory aside to ${aside}`)
  } catch (e) {
    x.log.error(`could not move ${x.pg.dataDir} aside: ${errText(e)}`)
  }
}

/**
 * This node's dynamic configuration into an empty `/config` (docs/ha-rules.md#dynamic-configuration):
 * the document in force as Patroni keeps it (bootstrap.dcs or the last DCS value, with Patroni's
 * timing adjustments written in; patroni/ha.py Ha.post_bootstrap and _run_cycle write
 * Config.dynamic_configuration), else, when that document is empty, the typed configuration with
 * its defaults (an empty `/config` would be restored again every cycle).
 */
export const restoreConfig: Handler<Of<'restore-config'>> = async (a, _obs, x) => {
  const doc = dynamicDocument(x.state.dynamic)
  const value = doc !== undefined && Object.keys(doc).length > 0 ? doc : (x.state.dynamic as unknown as Record<string, unknown>)
  await viaDcs(x, a.type, () => x.dcs.setConfig(value))
  return {}
}

/**
 * `members/<me>` now. Patroni's touch_member (patroni/ha.py Ha.touch_member) swallows DCS
 * errors: a member key we could not write is not a reason to demote (the lock renewal that
 * follows decides that).
 */
export const touchMember: Handler<Of<'touch-member'>> = async (_a, _obs, x) => {
  await publishMember(x).catch((e) => x.log.warning(`failed to update member key: ${errText(e)}`))
  return {}
}

/** Write `/failover` (a CAS with expectedVersion). */
export const setFailover: Handler<Of<'set-failover'>> = async (a, _obs, x) => {
  await viaDcs(x, a.type, () => x.dcs.setFailover(a.value, a.expectedVersion))
  return {}
}

/** Clear `/failover` (a CAS with expectedVersion). */
export const clearFailover: Handler<Of<'clear-failover'>> = async (a, _obs, x) => {
  await viaDcs(x, a.type, () => x.dcs.setFailover({}, a.expectedVersion))
  return {}
}

/**
 * `/history` from the local timeline history file, keeping stamps already stored (patroni/ha.py
 * Ha.update_cluster_history).
 */
export const writeHistory: Handler<Of<'write-history'>> = async (a, obs, x) => {
  await updateHistory(x, a.type, obs)
  return {}
}

async function updateHistory(x: AgentContext, type: ActionType, obs: Observation): Promise<void> {
  const {pg, dcs, config, clock, log} = x
  const tl = obs.pg.timeline
  if (!tl) return
  let lines: HistoryLine[] = []
  if (tl > 1) {
    let file = await pg.localTimelineHistory(tl)
    if (!file) {
      try {
        file = {text: await pg.timelineHistory(replicationConn(config, config.postgresql.connect_address), tl), mtimeMs: clock.now()}
      } catch (e) {
        log.warning(`cannot read the history of timeline ${tl}: ${errText(e)}`)
        return
      }
    }
    const existing = (obs.dcs.reachable ? obs.dcs.cluster : x.state.lastCluster)?.history?.lines ?? []
    lines = historyLinesFrom(file.text, existing, config.name, file.mtimeMs, x.state.dynamic.max_timelines_history)
  }
  await viaDcs(x, type, () => dcs.setHistory(lines))
  log.info(`updated /history for timeline ${tl} (${lines.length} entries)`)
}
