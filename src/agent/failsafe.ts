/**
 * DCS failsafe mode (`failsafe_mode: true`, docs/ha-rules.md#failsafe-mode; patroni/ha.py
 * Failsafe), the parts around the pure decision: what a replica remembers of the primary's
 * `POST /failsafe` pings, the leader those pings stand for in a view whose lock expired, and the
 * primary's round of pings while etcd is unreachable.
 */
import type {ClusterView, Member} from '../core/cluster'
import {getMember} from '../core/cluster'

/** What the primary sends in `POST /failsafe` (Patroni: name, conn_url, api_url, slots). */
export interface FailsafePing {
  name: string
  connUrl: string
  apiUrl: string
  /** Slot positions of the primary; absent when it could not read them. */
  slots: Record<string, number> | null
}

/** The body of `POST /failsafe`, checked field by field; a string says which field is wrong. */
export function parseFailsafePing(body: Record<string, unknown>): FailsafePing | string {
  for (const k of ['name', 'conn_url', 'api_url'] as const) {
    if (typeof body[k] !== 'string' || !(body[k] as string)) return `${k}: must be a non-empty string`
  }
  let slots: Record<string, number> | null = null
  if (body['slots'] !== undefined && body['slots'] !== null) {
    const s = body['slots']
    if (typeof s !== 'object' || Array.isArray(s)) return 'slots: must be a mapping of slot name to LSN'
    slots = {}
    for (const [k, v] of Object.entries(s as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `slots.${k}: must be an LSN (a non-negative integer)`
      slots[k] = v
    }
  }
  return {name: body['name'] as string, connUrl: body['conn_url'] as string, apiUrl: body['api_url'] as string, slots}
}

/**
 * Patroni's Failsafe object. One timestamp serves both sides: on a replica the last ping from
 * the primary, on the primary the last round in which every member vouched for it. Active for
 * one ttl after that moment.
 */
export class FailsafeState {
  private lastUpdate = 0
  private ping: FailsafePing | null = null

  constructor(private readonly now: () => number) {}

  /** A replica got `POST /failsafe` from the primary. */
  update(ping: FailsafePing): void {
    this.lastUpdate = this.now()
    this.ping = ping
  }

  /** The primary: every member vouched at `at`; 0 resets (a normal cycle with the lock, a promotion). */
  setActive(at: number): void {
    this.lastUpdate = at
    if (!at) this.ping = null
  }

  isActive(ttlS: number): boolean {
    return this.lastUpdate + ttlS * 1000 > this.now()
  }

  /** The primary that pinged within the ttl, if any. */
  leader(ttlS: number): FailsafePing | null {
    return this.ping && this.isActive(ttlS) ? this.ping : null
  }
}

/**
 * The view with the pinging primary as its leader, as Patroni's update_cluster does for an
 * unlocked view: a replica then follows it instead of racing for a lock that only expired
 * because the primary cannot reach etcd. Its slots stand in for `/status` slots.
 */
export function withFailsafeLeader(view: ClusterView, ping: FailsafePing): ClusterView {
  const known = getMember(view, ping.name)
  const member: Member = known
    ? {...known, apiUrl: ping.apiUrl, connUrl: ping.connUrl}
    : {
        name: ping.name,
        version: -1,
        session: null,
        data: {api_url: ping.apiUrl, conn_url: ping.connUrl},
        role: 'primary',
        state: 'running',
        apiUrl: ping.apiUrl,
        connUrl: ping.connUrl,
        lsn: null,
        timeline: null,
        tags: {},
        patroniVersion: null,
      }
  return {
    ...view,
    leader: {name: ping.name, version: -1, session: null, member},
    status: ping.slots ? {...view.status, slots: ping.slots} : view.status,
  }
}
