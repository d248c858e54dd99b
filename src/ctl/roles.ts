/**
 * patronictl's role filter (get_all_members / get_any_member), on DCS data only. Pure.
 * `primary` and `master` mean the leader unless it runs a standby cluster; `standby-leader` the
 * leader unless its member key says primary; `replica`/`standby` everyone but the leader.
 */
import type {ClusterView, Member} from '../core/cluster'
import {HactlError} from '../errors'

export type RoleChoice = 'leader' | 'primary' | 'standby-leader' | 'replica' | 'standby' | 'any' | 'master'

function leaderRole(view: ClusterView): unknown {
  return view.leader?.member.data.role
}

export function membersWithRole(view: ClusterView, role: RoleChoice): Member[] {
  if (role === 'leader' || role === 'primary' || role === 'master' || role === 'standby-leader') {
    const l = view.leader
    if (!l || !l.name) return []
    const r = leaderRole(view)
    const isPrimary = r === 'master' || r === 'primary'
    if (role === 'leader') return [l.member]
    if (role === 'standby-leader') return isPrimary ? [] : [l.member]
    return r === 'standby_leader' ? [] : [l.member]
  }
  const leaderName = view.leader ? view.leader.member.name : null
  return view.members.filter((m) => role === 'any' || m.name !== leaderName)
}

/** The first member with the role, or the named member; role defaults to leader. */
export function anyMember(view: ClusterView, opts: {role?: RoleChoice; member?: string}): Member | undefined {
  if (opts.member !== undefined && opts.role !== undefined) {
    throw new HactlError('USAGE', '--role and --member are mutually exclusive options')
  }
  const role = opts.member !== undefined ? 'any' : (opts.role ?? 'leader')
  return membersWithRole(view, role).find((m) => opts.member === undefined || m.name === opts.member)
}
