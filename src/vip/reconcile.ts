/**
 * The VIP decision: desired (from leadership) against observed (from `ip -j addr`) gives one
 * action. Pure: no I/O, no clock (the caller passes `now`), so it is tested as a decision
 * table over every combination (test/unit/vip/reconcile.test.ts).
 */
import type {Leadership, Presence} from '../ports/vip'

/** Leadership as the follower knows it: nothing yet since start, or the last report. */
export type Desired = {kind: 'pending'} | Leadership

export type Phase =
  /** Normal operation. */
  | 'running'
  /** Shutting down and the address must go (SIGINT; SIGTERM unless keep-on-term is set). */
  | 'stopping-release'
  /** Shutting down and the address stays where it is (upstream's SIGTERM behaviour). */
  | 'stopping-keep'

export interface ReconcileInput {
  desired: Desired
  observed: Presence
  phase: Phase
  /** Monotonic ms when the follower started, and now. */
  startedAt: number
  now: number
  /**
   * How long a present address is kept while no leadership answer has arrived yet. Past it,
   * pending counts as unknown (and unknown is not leader).
   */
  startupGraceMs: number
}

export type VipAction = 'add' | 'remove' | 'none'

export interface ReconcileDecision {
  action: VipAction
  /** Whether the address should be on this node according to this decision. */
  wantUp: boolean
  /** One sentence for the log: rule plus the facts it used. */
  reason: string
}

const observedWord = (o: Presence) => (o === 'present' ? 'up' : o === 'absent' ? 'down' : 'in an unknown state')

export function reconcile(i: ReconcileInput): ReconcileDecision {
  const obs = i.observed
  const unknownObs = typeof obs === 'object'

  if (i.phase === 'stopping-keep') {
    return {action: 'none', wantUp: obs === 'present', reason: 'shutting down; the address is left as it is (keep-on-term)'}
  }
  if (i.phase === 'stopping-release') {
    // An unknown state is removed too: a stale VIP left behind can later sit on two nodes.
    if (obs === 'absent') return {action: 'none', wantUp: false, reason: 'shutting down; the address is already down'}
    return {action: 'remove', wantUp: false, reason: `shutting down; the address is ${observedWord(obs)} and is released`}
  }

  let d = i.desired
  if (d.kind === 'pending') {
    const waited = i.now - i.startedAt
    if (waited < i.startupGraceMs) {
      // No blip on restart: a VIP already here stays until the DCS has answered (or the grace ends).
      return {action: 'none', wantUp: obs === 'present', reason: `waiting for the first DCS answer (${Math.round(waited)} ms of ${i.startupGraceMs} ms); the address is left ${observedWord(obs)}`}
    }
    d = {kind: 'unknown', detail: `no DCS answer within ${i.startupGraceMs} ms of start`}
  }

  if (d.kind === 'leader') {
    if (obs === 'present') return {action: 'none', wantUp: true, reason: `leader (${d.detail}); the address is up`}
    return {action: 'add', wantUp: true, reason: `leader (${d.detail}); the address is ${observedWord(obs)}${unknownObs ? ` (${obs.unknown})` : ''}`}
  }
  const why = d.kind === 'unknown' ? `leadership unknown, treated as not leader (${d.detail})` : `not leader (${d.detail})`
  if (obs === 'absent') return {action: 'none', wantUp: false, reason: `${why}; the address is down`}
  return {action: 'remove', wantUp: false, reason: `${why}; the address is ${observedWord(obs)}${unknownObs ? ` (${obs.unknown})` : ''}`}
}

/** vip-manager's loop line, kept recognisable for those who grep for it. */
export function stateLine(cidr: string, observed: Presence, wantUp: boolean): string {
  const is = observed === 'present' ? 'up' : observed === 'absent' ? 'down' : 'unknown'
  return `IP address ${cidr} is ${is}, must be ${wantUp ? 'up' : 'down'}`
}
