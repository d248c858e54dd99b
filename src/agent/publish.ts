/**
 * The member key `members/<name>` (docs/ha-rules.md#dcs-keys; patroni/ha.py Ha.touch_member):
 * the value built from the agent's state, and its role and state words as Patroni writes them.
 */
import {PATRONI_COMPAT_VERSION} from '../build-info'
import type {MemberData} from '../core/cluster'
import {clusterPrimaryRoleName} from '../core/role-name'
import {publishedTags} from '../core/tags'
import type {AgentContext} from './context'
import {hostPortText} from './helpers'
import type {AgentState} from './state'
import type {TaskInfo} from './task-slot'

/** Patroni's member `state` (running, starting, stopped, ...); `task` is the slot's running task. */
export function memberState(state: AgentState, task: TaskInfo | undefined): string {
  const t = task
  if (t?.kind === 'bootstrap') return 'initializing new cluster'
  if (t?.kind === 'clone') return 'creating replica'
  const p = state.lastPg?.process
  if (p === 'running') return 'running'
  if (p === 'starting') return 'starting'
  if (state.memory.pgState === 'crashed') return 'crashed'
  if (p === 'unknown') return 'unknown'
  return 'stopped'
}

/**
 * The member `role` as the cluster reads it: a primary is `primary` once every member reads that
 * spelling (Patroni >= 3.1, hactl), `master` while an older member is present (core/role-name.ts).
 */
export function publishedRole(state: AgentState): string {
  const pg = state.lastPg
  let role: string = state.memory.role
  if (pg?.inRecovery === false) role = 'primary'
  else if (pg?.inRecovery === true && role === 'primary') role = 'replica'
  return role === 'primary' ? clusterPrimaryRoleName(state.lastCluster) : role
}

export function memberData(x: AgentContext): MemberData {
  const c = x.config
  const st = x.state
  const data: MemberData = {
    conn_url: `postgres://${hostPortText(c.postgresql.connect_address)}/${c.postgresql.database}`,
    api_url: `${c.restapi.certfile ? 'https' : 'http'}://${hostPortText(c.restapi.connect_address)}/patroni`,
    state: memberState(st, x.slot.current),
    role: publishedRole(st),
    version: PATRONI_COMPAT_VERSION,
  }
  const pg = st.lastPg
  if (pg?.walPosition !== null && pg?.walPosition !== undefined) data.xlog_location = pg.walPosition
  if (pg?.timeline) data.timeline = pg.timeline
  const s = st.lastStatus
  if (s?.inRecovery) {
    if (s.receivedLsn !== undefined) data.receive_lsn = s.receivedLsn
    if (s.replayedLsn !== undefined) data.replay_lsn = s.replayedLsn
    data.replication_state = s.walReceiver?.status === 'streaming' ? 'streaming' : 'in archive recovery'
  }
  if (st.pendingRestart) {
    data.pending_restart = true
    if (st.pendingRestartReason) data.pending_restart_reason = structuredClone(st.pendingRestartReason)
  }
  if (st.scheduledRestart) data.scheduled_restart = {...st.scheduledRestart}
  // Unset boolean tags are left out, as Patroni's Tags._filter_tags does.
  const tags = publishedTags(c.tags)
  if (Object.keys(tags).length > 0) data.tags = tags
  if (st.dynamic.pause) data.pause = true
  return data
}

/** Writes `members/<name>`; throws what the DCS throws (callers decide whether that matters). */
export async function publishMember(x: AgentContext): Promise<void> {
  await x.dcs.touchMember(memberData(x))
}
