/**
 * In-memory VipControl and LeaderSource for unit tests of the follower. FakeVipControl passes
 * the same contract suite as the iproute2 adapter (vip-control-contract.ts, run for real in
 * test/integration/vip/iproute2.test.ts).
 */
import {isIP} from 'node:net'
import {canonicalAddress} from '../../../src/adapters/vip/iproute2'
import type {ControlResult, InterfaceInfo, Leadership, LeaderSource, Presence, VipControl} from '../../../src/ports/vip'

export class FakeVipControl implements VipControl {
  readonly cidr: string
  /** Addresses on the fake interface as `addr/prefix` strings. */
  readonly addresses = new Set<string>()
  up = true
  exists = true
  /** Next presence() answers unknown with this text, when set. */
  failPresence?: string
  failChange?: string
  readonly calls: string[] = []
  announcements = 0

  constructor(readonly address: string, readonly prefix: number, readonly interfaceName = 'eth0') {
    this.cidr = `${address}/${prefix}`
  }

  private key(addr: string, prefix: number): string {
    return `${canonicalAddress(addr)}/${prefix}`
  }

  async inspect(): Promise<InterfaceInfo> {
    if (!this.exists) throw Object.assign(new Error(`interface "${this.interfaceName}" does not exist`), {code: 'CONFIG_INVALID'})
    return {name: this.interfaceName, up: this.up, lowerUp: this.up, mac: '02:00:00:00:00:01', linkType: 'ether'}
  }

  async presence(): Promise<Presence> {
    this.calls.push('presence')
    if (this.failPresence) return {unknown: this.failPresence}
    return this.addresses.has(this.key(this.address, this.prefix)) ? 'present' : 'absent'
  }

  async add(): Promise<ControlResult> {
    this.calls.push('add')
    if (this.failChange) return {ok: false, error: this.failChange}
    const k = this.key(this.address, this.prefix)
    if (this.addresses.has(k)) return {ok: false, error: `Error: ipv${isIP(this.address)}: Address already assigned.`}
    this.addresses.add(k)
    return {ok: true}
  }

  async remove(): Promise<ControlResult> {
    this.calls.push('remove')
    if (this.failChange) return {ok: false, error: this.failChange}
    if (!this.addresses.delete(this.key(this.address, this.prefix))) return {ok: false, error: `Error: ipv${isIP(this.address)}: Address not found.`}
    return {ok: true}
  }

  async announce(): Promise<string[]> {
    this.calls.push('announce')
    this.announcements++
    return []
  }

  /** Out-of-band changes (an operator's `ip addr`), for the contract suite. */
  addForeign(cidr: string): void {
    const [a, p] = cidr.split('/')
    this.addresses.add(this.key(a!, Number(p)))
  }
  removeForeign(cidr: string): void {
    const [a, p] = cidr.split('/')
    this.addresses.delete(this.key(a!, Number(p)))
  }
}

export class FakeLeaderSource implements LeaderSource {
  private sink?: (s: Leadership) => void
  started = false
  stopped = false
  start(report: (s: Leadership) => void): void {
    this.started = true
    this.sink = report
  }
  async stop(): Promise<void> {
    this.stopped = true
    this.sink = undefined
  }
  emit(s: Leadership): void {
    this.sink?.(s)
  }
}
