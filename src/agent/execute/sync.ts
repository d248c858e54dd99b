/**
 * Handlers of synchronous replication (docs/ha-rules.md#synchronous-mode): claiming `/sync` for a
 * promotion, and the lock holder's upkeep of `/sync` and synchronous_standby_names. The choice
 * of standbys is core/sync.ts (pure); these carry it out in the order that keeps it safe.
 */
import type {Action, ActionType} from '../../core/actions'
import type {Observation} from '../../core/observation'
import {formatSsn, nextSyncStep, parseSsn, pickSyncStandbys, syncMemberInfo, syncStandbys} from '../../core/sync'
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
 * patroni/ha.py Ha._process_multisync_replication): core/sync.ts nextSyncStep decides each step
 * from what is seen now (the order is the safety: a standby leaves `/sync` before it leaves
 * synchronous_standby_names, and enters `/sync` only once named and proven synchronous); this
 * carries the step out, looks again, and asks for the next, until there is none.
 */
export const manageSync: Handler<Of<'manage-sync'>> = async (a, obs, x) => {
  await syncUpkeep(x, a.type, obs)
  return {}
}

/** Upper bound of steps in one upkeep round (a round needs at most six). */
const MAX_SYNC_STEPS = 10

async function syncUpkeep(x: AgentContext, type: ActionType, obs: Observation): Promise<void> {
  const {pg, dcs, log, clock} = x
  const st = x.state
  if (!obs.dcs.reachable) return
  const cluster = obs.dcs.cluster
  const me = x.config.name
  const key = {
    exists: cluster.sync.version !== null,
    leader: cluster.sync.leader,
    standbys: syncStandbys(cluster.sync.syncStandby),
    version: cluster.sync.version,
  }
  const compute = async (current: string[]) => {
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
    return {live, pick}
  }
  let waited = false
  for (let i = 0; i < MAX_SYNC_STEPS; i++) {
    const enabled = st.dynamic.synchronous_mode === true
    const primary = st.lastPg?.inRecovery === false
    const mine = (key.leader ?? '').toLowerCase() === me.toLowerCase()
    const seen = enabled && primary && mine ? await compute(key.standbys) : enabled && primary ? {live: '', pick: {picked: [], allowPromote: []}} : undefined
    const step = nextSyncStep({
      enabled,
      strict: st.dynamic.synchronous_mode_strict,
      me,
      primary,
      keyExists: key.exists,
      keyLeader: key.leader,
      keyStandbys: mine ? key.standbys : [],
      managed: st.ssn !== undefined,
      // What the agent asked for (a reload takes effect a moment later); PostgreSQL's own value when it asked nothing yet.
      liveSsn: st.ssn ?? seen?.live ?? '',
      ...(seen ? {pick: seen.pick} : {}),
      waited,
    })
    if (!step) return
    switch (step.type) {
      case 'delete-sync-key':
        if (!(await viaDcs(x, type, () => dcs.deleteSync(key.version ?? undefined)))) return
        log.info('synchronous mode off: removed /sync')
        Object.assign(key, {exists: false, leader: null, standbys: [], version: null})
        break
      case 'release-ssn':
        st.ssn = undefined
        await applyPgConfigIfChanged(x)
        break
      case 'claim-sync-key':
      case 'publish': {
        const names = step.type === 'publish' ? step.standbys : []
        const v = await viaDcs(x, type, () => dcs.setSync({leader: me, sync_standby: names.length ? [...names].sort().join(',') : null}, key.version ?? 0))
        if (v === false) return log.info('Synchronous replication key updated by someone else.')
        Object.assign(key, {exists: true, leader: me, standbys: names.map((n) => n.toLowerCase()), version: v})
        if (names.length) log.info(`synchronous standby for ${me}: ${names.join(', ')} (published in /sync)`)
        break
      }
      case 'set-ssn': {
        const value = formatSsn(step.names)
        st.ssn = value
        log.info(`assigning synchronous standby status to ${step.names.length ? step.names.join(', ') : 'nobody'} (synchronous_standby_names = '${value}')`)
        await applyPgConfigIfChanged(x)
        break
      }
      case 'wait':
        await clock.sleep(step.ms)
        waited = true
        break
    }
  }
  log.warning(`synchronous replication upkeep did not settle within ${MAX_SYNC_STEPS} steps; continuing next cycle`)
}
