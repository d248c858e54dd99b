/**
 * The two effects `hactl vip` needs: knowing whether this node should hold the virtual IP
 * (LeaderSource) and putting the address on or off an interface (VipControl).
 *
 * "Unknown is not healthy" (docs/architecture.md#unknown-is-not-healthy): both ports keep "I could
 * not find out" apart from a definite answer, and the reconciler (src/vip/reconcile.ts) releases
 * the address on unknown leadership.
 */

/** The levels LeaderSource implementations log at (the logger's method names). */
export type VipLogLevel = 'debug' | 'info' | 'warning' | 'error'

/** What the DCS (or the local agent's REST API) says about this node right now. */
export type Leadership =
  | {kind: 'leader'; detail: string}
  | {kind: 'not-leader'; detail: string}
  /** DCS error, timeout, lost watch not yet re-read: treated as not leader. */
  | {kind: 'unknown'; detail: string}

/**
 * Reports leadership changes. Contract:
 * - start() reports the first answer as soon as it has one (a read, not a watch event), and
 *   afterwards every change; it may repeat an unchanged state (the follower ignores repeats).
 * - Every DCS read is bounded in time; a read that fails or times out is reported as unknown,
 *   never as the previous state.
 * - After a lost or cancelled watch the source re-reads before it reports anything else.
 * - stop() ends every timer, request and watch; no report arrives after it resolved.
 */
export interface LeaderSource {
  start(report: (state: Leadership) => void): void
  stop(): Promise<void>
}

/** Whether the VIP (exact address and prefix) is on the interface. */
export type Presence = 'present' | 'absent' | {unknown: string}

export interface InterfaceInfo {
  name: string
  /** Administratively up (IFF_UP). */
  up: boolean
  /** Carrier (operstate); a veth whose peer is down has none. */
  lowerUp: boolean
  mac: string
  linkType: string
}

export type ControlResult = {ok: true} | {ok: false; error: string}

/**
 * Address control on one interface for one address. Contract:
 * - presence() compares parsed address and prefix exactly (10.0.2.12/32 is not 10.0.2.123/32,
 *   nor 10.0.2.12/24); a failed query is {unknown}, never absent.
 * - add()/remove() do one attempt each and never throw for a refused change: the outcome is
 *   data. Adding a present address or removing an absent one is a failure the caller logs.
 * - announce() tells the neighbours (gratuitous ARP for IPv4); it never throws and returns the
 *   warnings to log. It may take about a second; callers must not wait on it to react.
 * - inspect() describes the interface, or throws HactlError CONFIG_INVALID naming it when it
 *   does not exist.
 */
export interface VipControl {
  /** `<address>/<prefix>`, for log lines. */
  readonly cidr: string
  readonly interfaceName: string
  inspect(): Promise<InterfaceInfo>
  presence(): Promise<Presence>
  add(): Promise<ControlResult>
  remove(): Promise<ControlResult>
  announce(): Promise<string[]>
}
