/**
 * Handlers of synchronous replication (docs/ha-rules.md#synchronous-mode): claiming `/sync` for a
 * promotion, and the lock holder's upkeep of `/sync` and synchronous_standby_names. The choice
 * of standbys is core/sync.ts (pure); these carry it out in the order that keeps it safe.
 */
import type {Action, ActionType} from '../../core/actions'
import type {Observation} from '../../core/observation'
import {formatSsn, parseSsn, pickSyncStandbys, sameSet, syncMemberInfo, syncStandbys} from '../../core/sync'
import type {AgentContext} from '../context'
import {applyPgConfigIfChanged} from '../pg-config'
import {viaDcs, type Handler} from './common'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/**
 * branching: `/sync` = {leader, sync_standby: null} with CAS, then synchronous_standby_names for
 * the promotion (patroni/ha.py Ha.process_sync_replication_prepromote).
 */
export const setSync: Handler<Of<'set-sync'>> = async (a, _obs, x) => {
  const v = await viaDcs(x, a.type, () => x.dcs.setSync({leader: a.leader, sync_standby: null}, a.expectedVersion ?? 0))
  if (v === false) return {outcome: {type: 'set-sync', ok: false}}
  // Until a standby is proven synchronous, commits on the new primary either wait (strict) or
  // do not wait at all; never for a standby that /sync does not name.
  x.state.ssn = a.strict ? '*' : ''
  await applyPgConfigIfChanged(x)
  return {outcome: {type: 'set-sync', ok: true}}
}

/**
 * The lock holder's synchronous replication upkeep (docs/ha-rules.md#synchronous-mode;
 * patroni/ha.py Ha._process_multisync_replication). Order is the safety: a standby leaves `/sync`
 * before it leaves synchronous_standby_names, and enters `/sync` only after
 * synchronous_standby_names names it and it reports `sync` at or past the barrier.
 */
export const manageSync: Handler<Of<'manage-sync'>> = async (a, obs, x) => {
  await syncUpkeep(x, a.type, obs)
  return {}
}

async function syncUpkeep(x: AgentContext, type: ActionType, obs: Observation): Promise<void> {
  const {pg, dcs, log, clock} = x
  const st = x.state
  if (!obs.dcs.reachable) return
  const cluster = obs.dcs.cluster
  const me = x.config.name
  if (st.dynamic.synchronous_mode !== true) {
    if (cluster.sync.version !== null) {
      if (!(await viaDcs(x, type, () => dcs.deleteSync(cluster.sync.version!)))) return
      log.info('synchronous mode off: removed /sync')
    }
    if (st.ssn !== undefined) {
      st.ssn = undefined
      await applyPgConfigIfChanged(x)
    }
    return
  }
  if (st.lastPg?.inRecovery !== false) return
  let version = cluster.sync.version
  let current = cluster.sync.leader === me ? syncStandbys(cluster.sync.syncStandby) : []
  if (cluster.sync.leader !== me) {
    const v = await viaDcs(x, type, () => dcs.setSync({leader: me, sync_standby: null}, version ?? 0))
    if (v === false) {
      log.info('Synchronous replication key updated by someone else.')
      return
    }
    version = v
  }
  const compute = async () => {
    const rows = await pg.settings(['synchronous_standby_names', 'synchronous_commit'])
    const live = rows.find((r) => r.name === 'synchronous_standby_names')?.setting ?? ''
    const commit = rows.find((r) => r.name === 'synchronous_commit')?.setting ?? 'on'
    const status = await pg.status()
    if (live !== st.ssnSeen) {
      // A new list: a standby counts as caught up only once it reaches what the primary had then.
      st.ssnSeen = live
      st.syncBarrier = status.walPosition
      st.syncReady = new Set()
    }
    const reps = await pg.replicationStats()
    const lsnOf = (r: (typeof reps)[number]) => (commit === 'remote_apply' ? r.replayLsn : commit === 'remote_write' ? r.writeLsn : r.flushLsn) ?? 0
    const pick = pickSyncStandbys({
      rows: reps.map((r) => ({pid: r.pid, applicationName: r.applicationName, state: r.state, syncState: r.syncState, lsn: lsnOf(r)})),
      members: cluster.members.filter((m) => m.name.toLowerCase() !== me.toLowerCase()).map(syncMemberInfo),
      current,
      ssn: parseSsn(live),
      ready: st.syncReady,
      barrier: st.syncBarrier,
      primaryLsn: status.walPosition,
      nodeCount: st.dynamic.synchronous_node_count,
      maxLagOnSyncnode: st.dynamic.maximum_lag_on_syncnode,
    })
    st.syncReady = pick.ready
    return pick
  }
  const publish = async (names: string[]) => {
    const v = await viaDcs(x, type, () => dcs.setSync({leader: me, sync_standby: names.length ? [...names].sort().join(',') : null}, version ?? 0))
    if (v === false) {
      log.info('Synchronous replication key updated by someone else.')
      return false
    }
    version = v
    current = names.map((n) => n.toLowerCase())
    return true
  }
  let {picked, allowPromote} = await compute()
  if (sameSet(picked, current)) {
    if (!sameSet(allowPromote, current)) await publish(allowPromote)
    return
  }
  const common = allowPromote.filter((n) => current.includes(n.toLowerCase()))
  if (!sameSet(common, current) && !(await publish(common))) return
  const want = picked.length === 0 && st.dynamic.synchronous_mode_strict ? ['*'] : picked
  const value = formatSsn(want)
  if (value !== st.ssn) {
    st.ssn = value
    log.info(`assigning synchronous standby status to ${want.length ? want.join(', ') : 'nobody'} (synchronous_standby_names = '${value}')`)
    await applyPgConfigIfChanged(x)
  }
  if (want.length && !want.includes('*') && !sameSet(allowPromote, want)) {
    await clock.sleep(2000)
    ;({allowPromote} = await compute())
  }
  if (allowPromote.length && !sameSet(allowPromote, common)) {
    if (await publish(allowPromote)) log.info(`synchronous standby for ${me}: ${allowPromote.join(', ')} (published in /sync)`)
  }
}
