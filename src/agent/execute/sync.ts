/**
 * Handlers of synchronous replication (docs/ha-rules.md#synchronous-mode): claiming `/sync` for a
 * promotion, and the lock holder's upkeep of `/sync` and synchronous_standby_names. The choice
 * of standbys is core/sync.ts (pure); these carry it out in the order that keeps it safe.
 */
import type {Action, ActionType} from '../../core/actions'
import type {Observation} from '../../core/observation'
import {quorumPrepromoteSsn, quorumUpkeepSteps} from '../../core/quorum'
import {formatQuorumSsn, formatSsn, nextSyncStep, parseSsn, pickQuorumStandbys, pickSyncStandbys, syncMemberInfo, syncStandbys} from '../../core/sync'
import type {AgentContext} from '../context'
import {applyPgConfigIfChanged} from '../pg-config'
import {viaDcs, type Handler} from './common'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/**
 * branching: `/sync` = {leader, sync_standby: null} with CAS, then synchronous_standby_names for
 * the promotion (patroni/ha.py Ha.process_sync_replication_prepromote).
 */
export const setSync: Handler<Of<'set-sync'>> = async (a, obs, x) => {
  if (x.state.dynamic.synchronous_mode === 'quorum') {
    // Quorum commit writes nothing before promotion (patroni/ha.py _process_quorum_prepromote):
    // the `/sync` in force keeps the former leader's quorum until the upkeep after promotion
    // moves it, in safe steps, to this node; synchronous_standby_names meanwhile keeps its invariant.
    const sync = obs.dcs.reachable ? obs.dcs.cluster.sync : null
    const voters = (sync?.syncStandby ?? '').split(',').map((n) => n.trim()).filter(Boolean)
    const want = quorumPrepromoteSsn(a.leader, {leader: sync?.leader ?? null, quorum: sync?.quorum ?? 0, voters}, a.strict)
    x.state.ssn = formatQuorumSsn(want.num, want.names)
    await applyPgConfigIfChanged(x)
    return {outcome: {type: 'set-sync', ok: true}}
  }
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
  if (x.state.dynamic.synchronous_mode === 'quorum') await quorumUpkeep(x, a.type, obs)
  else await syncUpkeep(x, a.type, obs)
  return {}
}

/** Members of which the strict-mode warning was already logged (Patroni logs it once). */
const strictWarned = new WeakSet<object>()

/**
 * The lock holder's quorum commit upkeep (docs/ha-rules.md#quorum-commit; patroni/ha.py
 * _process_quorum_replication): core/quorum.ts quorumUpkeepSteps turns one look at the world into
 * the ordered steps (every `/sync` write a compare-and-set); this carries them out. After a
 * `restart` step (a standby was just listed) it looks again a second later, while the round
 * stays within loop_wait, so that `/sync` can follow without waiting for the next cycle.
 */
async function quorumUpkeep(x: AgentContext, type: ActionType, obs: Observation): Promise<void> {
  const {pg, dcs, log, clock} = x
  const st = x.state
  if (!obs.dcs.reachable || st.lastPg?.inRecovery !== false) return
  const me = x.config.name
  const c = obs.dcs.cluster.sync
  const key = {
    leader: c.leader,
    quorum: c.leader ? c.quorum : 0,
    voters: c.leader ? (c.syncStandby ?? '').split(',').map((n) => n.trim()).filter(Boolean) : [],
    version: c.version,
  }
  const started = clock.monotonic()
  const budgetMs = st.dynamic.loop_wait * 1000
  for (let round = 0; round < MAX_SYNC_STEPS; round++) {
    const rows = await pg.settings(['synchronous_standby_names', 'synchronous_commit'])
    const live = st.ssn ?? rows.find((r) => r.name === 'synchronous_standby_names')?.setting ?? ''
    const commit = rows.find((r) => r.name === 'synchronous_commit')?.setting ?? 'on'
    const status = await pg.status()
    const ssn = parseSsn(live)
    if (live !== st.ssnSeen) {
      // A new list: a newly listed standby counts as confirmed once it reaches what the primary
      // has now; those still listed stay confirmed (patroni/postgresql/sync.py).
      st.ssnSeen = live
      st.syncBarrier = status.walPosition
    }
    const reps = await pg.replicationStats()
    const lsnOf = (r: (typeof reps)[number]) => (commit === 'remote_apply' ? r.replayLsn : commit === 'remote_write' ? r.writeLsn : r.flushLsn) ?? 0
    const pick = pickQuorumStandbys({
      rows: reps.map((r) => ({pid: r.pid, applicationName: r.applicationName, state: r.state, syncState: r.syncState, lsn: lsnOf(r)})),
      members: obs.dcs.cluster.members.filter((m) => m.name.toLowerCase() !== me.toLowerCase()).map(syncMemberInfo),
      ssn,
      ready: st.syncReady,
      barrier: st.syncBarrier,
      primaryLsn: status.walPosition,
      nodeCount: st.dynamic.synchronous_node_count,
      maxLagOnSyncnode: st.dynamic.maximum_lag_on_syncnode,
    })
    st.syncReady = pick.ready
    const steps = quorumUpkeepSteps({
      me,
      keyLeader: key.leader,
      keyQuorum: key.quorum,
      keyVoters: key.voters,
      live: ssn,
      active: pick.active,
      confirmed: pick.confirmed,
      nodeCount: st.dynamic.synchronous_node_count,
      strict: st.dynamic.synchronous_mode_strict,
    })
    if (!steps.some((s) => s.type === 'strict-hold')) strictWarned.delete(st)
    let again = false
    for (const step of steps) {
      if (step.type !== 'enable-sync' && clock.monotonic() - started >= budgetMs) return
      switch (step.type) {
        case 'enable-sync': {
          const v = await viaDcs(x, type, () => dcs.setSync({leader: me, sync_standby: null, quorum: 0}, key.version ?? 0))
          if (v === false) return log.warning('Updating sync state failed')
          log.info('Enabled synchronous replication')
          Object.assign(key, {leader: me, quorum: 0, voters: [], version: v})
          again = true
          break
        }
        case 'write-sync': {
          const voters = [...step.voters].sort()
          log.info(`Setting leader to ${step.leader}, quorum to ${step.quorum} of (${voters.join(', ')})`)
          const v = await viaDcs(x, type, () =>
            dcs.setSync({leader: step.leader, sync_standby: voters.length ? voters.join(',') : null, quorum: step.quorum}, key.version ?? 0),
          )
          if (v === false) return log.info('Synchronous replication key updated by someone else.')
          Object.assign(key, {leader: step.leader, quorum: step.quorum, voters, version: v})
          break
        }
        case 'set-ssn': {
          const value = formatQuorumSsn(step.num, step.names)
          if (value !== (st.ssn ?? live)) log.info(`Assigning synchronous_standby_names to '${value}'`)
          st.ssn = value
          await applyPgConfigIfChanged(x)
          break
        }
        case 'strict-hold':
          if (!strictWarned.has(st)) {
            strictWarned.add(st)
            log.warning(
              'No active replication connections from Patroni members and synchronous_mode_strict is requested. ' +
                (step.names.length ? `Continue using old value of synchronous_standby_names="${st.ssn ?? live}". ` : '') +
                'Commits will be delayed.',
            )
          }
          return
        case 'error':
          return log.warning(`quorum commit: ${step.message}`)
        case 'restart':
          if (clock.monotonic() - started + 1000 >= budgetMs) return
          await clock.sleep(1000)
          again = true
          break
      }
      if (again) break
    }
    if (!again) return
  }
  log.warning(`quorum commit upkeep did not settle within ${MAX_SYNC_STEPS} rounds; continuing next cycle`)
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
