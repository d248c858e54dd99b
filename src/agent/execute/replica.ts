/**
 * Handlers that make or repair a data directory (docs/ha-rules.md#data-directory-and-bootstrap,
 * #rewind-and-reinitialize): bootstrap, post_bootstrap, clone, the rewind check, pg_rewind and
 * reinitialization. The long ones start their task (tasks.ts) in the task slot.
 */
import type {Action} from '../../core/actions'
import type {RewindState} from '../../core/observation'
import {memberConn, startTask, type AgentContext} from '../context'
import {remoteText} from '../pg-config'
import {replicationConn, rewindConn} from '../execute-failover'
import {requestRewindCheck, type Handler} from './common'
import {bootstrapTask, cloneTask, postBootstrapTask, reinitializeFrom, rewindTask} from './tasks'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/** async: initdb, then start PostgreSQL (tasks.ts bootstrapTask). */
export const bootstrap: Handler<Of<'bootstrap'>> = async (_a, _obs, x) => {
  startTask(x, 'bootstrap', 'bootstrap', (signal) => bootstrapTask(x, signal))
  return {}
}

/** async: roles and the post_bootstrap script (tasks.ts postBootstrapTask). */
export const postBootstrap: Handler<Of<'post-bootstrap'>> = async (_a, _obs, x) => {
  startTask(x, 'post-bootstrap', 'post_bootstrap', () => postBootstrapTask(x))
  return {}
}

/** async: create a replica from `source` (or, null, with a no_leader method) and start it (tasks.ts cloneTask). */
export const clone: Handler<Of<'clone'>> = async (a, _obs, x) => {
  if (a.remote) {
    // The standby leader's bootstrap: clone from the standby_cluster's host/port.
    const sc = x.state.dynamic.standby_cluster
    const src = sc && (sc.host !== undefined || sc.port !== undefined) ? {host: sc.host ?? '', port: sc.port ?? 5432} : null
    startTask(x, 'clone', `clone from ${remoteText(x)}`, (signal) => cloneTask(x, src, signal))
    return {}
  }
  if (a.source === null) {
    startTask(x, 'clone', 'clone without a leader', (signal) => cloneTask(x, null, signal))
    return {}
  }
  const src = memberConn(x, a.source)
  if (!src) {
    x.log.error(`cannot clone: member ${a.source} has no usable conn_url`)
    return {}
  }
  const source = a.source
  startTask(x, 'clone', `clone from ${source}`, (signal) => cloneTask(x, src, signal))
  return {}
}

/** Move the rewind state to CHECK when a rewind or reinit on divergence is allowed. */
export const triggerRewindCheck: Handler<Of<'trigger-rewind-check'>> = async (_a, obs, x) => {
  requestRewindCheck(x, obs)
  return {}
}

/**
 * branching: compare our timeline and LSN with `leader`'s (patroni/postgresql/rewind.py
 * Rewind._check_timeline_and_lsn) and report need / not-need / undecided.
 */
export const checkRewind: Handler<Of<'check-rewind'>> = async (a, _obs, x) => {
  return {outcome: {type: 'check-rewind', state: await compareWithLeader(x, a.leader)}}
}

async function compareWithLeader(x: AgentContext, leader: string): Promise<RewindState> {
  const {pg, config, log} = x
  const st = x.state
  const src = memberConn(x, leader)
  if (!src) return st.memory.rewind
  const r = await pg.checkRewind(rewindConn(config, src), replicationConn(config, src))
  const state: RewindState = r.result === 'need-rewind' ? 'need' : r.result === 'not-needed' ? 'not-need' : 'check'
  if (r.result === 'need-rewind') log.info(`a rewind from ${leader} is needed: ${r.reason}`)
  else if (r.result === 'undecided') log.info(`cannot tell yet whether a rewind from ${leader} is needed: ${r.reason}`)
  st.memory = {...st.memory, rewind: state}
  return state
}

/** async: pg_rewind from `leader` (tasks.ts rewindTask). */
export const rewind: Handler<Of<'rewind'>> = async (a, _obs, x) => {
  const src = memberConn(x, a.leader)
  if (!src) {
    x.log.error(`cannot rewind: member ${a.leader} has no usable conn_url`)
    return {}
  }
  startTask(x, 'rewind', `pg_rewind from ${a.leader}`, (signal) => rewindTask(x, src, signal))
  return {}
}

/** async: stop, wipe and clone again from `source` (tasks.ts reinitializeFrom). */
export const reinitialize: Handler<Of<'reinitialize'>> = async (a, _obs, x) => {
  const src = memberConn(x, a.source)
  if (!src) {
    x.log.error(`cannot reinitialize: member ${a.source} has no usable conn_url`)
    return {}
  }
  startTask(x, 'reinitialize', `reinitialize from ${a.source}`, (signal) => reinitializeFrom(x, src, signal))
  return {}
}
