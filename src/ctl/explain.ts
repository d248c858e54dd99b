/**
 * Why a switchover or failover cannot happen, per candidate, with the numbers: what patronictl
 * leaves unsaid when an agent answers `Switchover failed` or `no good candidates have been
 * found`, or when its own checks refuse. Worked out from the cluster as etcd shows it (the same
 * data the agents decide on) plus, when given, what each candidate's REST API answered. Pure.
 */
import {parseDynamicConfig} from '../config/dynamic-schema'
import type {ClusterView, Member} from '../core/cluster'
import {syncCandidateOk} from '../core/preconditions'
import {formatLsn} from '../core/lsn'

/** What GET /patroni on a candidate gave: its state, or why there was no answer. */
export type Probe = {ok: true; state?: string; role?: string} | {ok: false; error: string}

export interface ExplainInput {
  view: ClusterView
  action: 'switchover' | 'failover'
  leader: string | null
  /** The candidate asked for; null or '' means any member. */
  candidate: string | null
  probes?: ReadonlyMap<string, Probe>
}

export interface CandidateVerdict {
  name: string
  /** Empty when nothing in the DCS or the probe stands in the way. */
  obstacles: string[]
  /** Shown when there is no obstacle: what was checked, with the numbers. */
  checked: string
}

export interface Explanation {
  /** Cluster-wide reasons (paused, no leader, no candidate left). */
  cluster: string[]
  candidates: CandidateVerdict[]
  maximumLag: number
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`
}

function position(lsn: number): string {
  return Number.isSafeInteger(lsn) && lsn >= 0 ? formatLsn(lsn) : String(lsn)
}

/** nofailover wins; otherwise failover_priority <= 0 means the same (as the agents read tags). */
function noFailoverTag(m: Member): string | null {
  const t = m.tags
  if (t['nofailover'] !== undefined && t['nofailover'] !== null) return t['nofailover'] === true ? 'tagged nofailover' : null
  const p = t['failover_priority']
  return typeof p === 'number' && p <= 0 ? `failover_priority ${p}: never promoted` : null
}

/** The newest leader position etcd knows: the `status` optime or the leader's own xlog_location. */
export function leaderPosition(view: ClusterView): number | null {
  const fromStatus = view.status.lastLsn > 0 ? view.status.lastLsn : null
  const fromMember = view.leader?.member.lsn ?? null
  if (fromStatus === null) return fromMember
  return fromMember === null ? fromStatus : Math.max(fromStatus, fromMember)
}

export function explainRefusal(input: ExplainInput): Explanation {
  const {view, action} = input
  const dyn = parseDynamicConfig(view.config?.valid ? view.config.data : {}).config
  const maximumLag = dyn.maximum_lag_on_failover
  const paused = dyn.pause === true
  const syncOn = dyn.synchronous_mode === true || dyn.synchronous_mode === 'quorum'
  const leaderName = view.leader?.name || null
  const leaderPos = leaderPosition(view)
  const leaderTl = view.leader?.member.timeline ?? null
  const candidate = input.candidate || null
  const cluster: string[] = []

  if (paused && !candidate) cluster.push(`cluster management is paused: a ${action} needs a named candidate (--candidate)`)
  if (action === 'switchover' && !leaderName) cluster.push('the cluster has no leader: use failover --candidate NAME')
  if (input.leader && leaderName && input.leader !== leaderName) cluster.push(`${input.leader} is not the leader; ${leaderName} holds the leader key`)

  let names: string[]
  if (candidate) names = [candidate]
  else names = view.members.map((m) => m.name).filter((n) => n !== leaderName && n !== input.leader).sort()
  if (names.length === 0) cluster.push(`the cluster has no member other than the leader ${leaderName ?? ''}`.trimEnd())

  const candidates = names.map((name): CandidateVerdict => {
    const m = view.members.find((x) => x.name === name)
    if (!m) {
      const known = view.members.map((x) => x.name).sort().join(', ')
      return {name, obstacles: [`not a member of the cluster (members: ${known || 'none'})`], checked: ''}
    }
    const obstacles: string[] = []
    if (name === leaderName) obstacles.push('already the leader')
    const tag = noFailoverTag(m)
    if (tag) obstacles.push(tag)
    if (m.state !== 'running') obstacles.push(`not running (state ${m.state})`)
    if (!m.apiUrl) obstacles.push('publishes no api_url, so no agent can ask it')
    const probe = input.probes?.get(name)
    if (probe && !probe.ok) obstacles.push(`its REST API does not answer (${probe.error})`)
    else if (probe && probe.ok && probe.state !== undefined && probe.state !== 'running' && m.state === 'running') {
      obstacles.push(`its REST API reports state ${probe.state}`)
    }
    let lagText = ''
    if (m.lsn === null) obstacles.push('publishes no WAL position (xlog_location)')
    else if (leaderPos !== null) {
      const lag = Math.max(0, leaderPos - m.lsn)
      lagText = `${lag} bytes behind the leader`
      if (lag > maximumLag) {
        obstacles.push(
          `${mb(lag)} behind the leader (${lag} bytes: leader at ${position(leaderPos)}, ${name} at ${position(m.lsn)}), ` +
            `more than maximum_lag_on_failover ${maximumLag} bytes (${mb(maximumLag)})`,
        )
      }
    }
    if (syncOn && leaderName && !syncCandidateOk(true, view.sync, leaderName, name)) {
      obstacles.push(`not in the synchronous standby set (synchronous_mode is on; /sync lists ${view.sync.syncStandby || 'no standby'})`)
    }
    if (dyn.check_timeline && m.timeline !== null && leaderTl !== null && m.timeline < leaderTl) {
      obstacles.push(`on timeline ${m.timeline}, behind the leader's ${leaderTl} (check_timeline is on)`)
    }
    const checked = ['running', lagText && `${lagText} (maximum_lag_on_failover ${maximumLag})`, syncOn ? 'in /sync' : ''].filter(Boolean).join(', ')
    return {name, obstacles, checked}
  })
  return {cluster, candidates, maximumLag}
}

/** The lines printed under patronictl's own message, indented by two blanks. */
export function explanationLines(e: Explanation): string[] {
  const out = e.cluster.map((c) => `  ${c}`)
  for (const c of e.candidates) {
    out.push(c.obstacles.length > 0 ? `  ${c.name}: ${c.obstacles.join('; ')}` : `  ${c.name}: nothing in etcd stands in the way (${c.checked})`)
  }
  return out
}
