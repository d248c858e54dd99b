/**
 * In-memory watchdog devices for unit tests and the simulator (src/ports/watchdog.ts). Each
 * device path has a record of what the device saw (the timeouts set, the keepalives, the magic
 * close); test/contract/watchdog-contract.ts holds it to the same checks as the real adapter.
 */
import {WatchdogError, type WatchdogDevice, type WatchdogDriverSettings, type Watchdogs, type WatchdogSupport} from '../../src/ports/watchdog'

export interface FakeDeviceSpec {
  /** open() fails (device busy, not a watchdog, ...). */
  openError?: string
  /** The driver cannot set its timeout; getTimeout() returns this fixed one. */
  fixedTimeout?: number
  /** No magic close: the device keeps running after close(). */
  noMagicClose?: boolean
}

export interface FakeDeviceLog {
  opens: number
  timeouts: number[]
  kicks: number
  magicCloses: number
  /** The device is armed (open, or closed without magic close). */
  armed: boolean
}

export class FakeWatchdogs implements Watchdogs {
  /** Device path -> its behaviour; a path not here does not exist. */
  readonly specs = new Map<string, FakeDeviceSpec>()
  readonly logs = new Map<string, FakeDeviceLog>()
  /** Drivers that exist (Patroni's default and testing). */
  drivers = new Set(['default', 'testing'])

  addDevice(path: string, spec: FakeDeviceSpec = {}): this {
    this.specs.set(path, spec)
    return this
  }

  log(path: string): FakeDeviceLog {
    let l = this.logs.get(path)
    if (!l) {
      l = {opens: 0, timeouts: [], kicks: 0, magicCloses: 0, armed: false}
      this.logs.set(path, l)
    }
    return l
  }

  device(s: WatchdogDriverSettings): WatchdogDevice | null {
    if (!this.drivers.has(s.driver)) return null
    return new FakeDevice(this, s.device)
  }
}

class FakeDevice implements WatchdogDevice {
  private open_ = false
  private timeout: number

  constructor(
    private readonly owner: FakeWatchdogs,
    private readonly path: string,
  ) {
    this.timeout = owner.specs.get(path)?.fixedTimeout ?? 60
  }

  describe(): string {
    return `fake watchdog at ${this.path}`
  }

  usable(): boolean {
    return this.owner.specs.has(this.path)
  }

  get isOpen(): boolean {
    return this.open_
  }

  async open(): Promise<void> {
    if (this.open_) return
    const spec = this.owner.specs.get(this.path)
    if (!spec) throw new WatchdogError(`Can't open watchdog device: ENOENT: no such file or directory, open '${this.path}'`)
    if (spec.openError) throw new WatchdogError(`Can't open watchdog device: ${spec.openError}`)
    this.open_ = true
    const l = this.owner.log(this.path)
    l.opens++
    l.armed = true
  }

  async support(): Promise<WatchdogSupport> {
    if (!this.open_) throw new WatchdogError('Could not get information about watchdog device: Watchdog device is closed')
    const spec = this.owner.specs.get(this.path) ?? {}
    return {canSetTimeout: spec.fixedTimeout === undefined, magicClose: !spec.noMagicClose, identity: 'fake watchdog', firmwareVersion: 0}
  }

  async setDeviceTimeout(seconds: number): Promise<void> {
    const t = Math.trunc(seconds)
    if (!(t > 0 && t < 0xffff)) throw new WatchdogError(`Invalid timeout ${t}. Supported values are between 1 and 65535`)
    if (!this.open_) throw new WatchdogError('Could not set timeout on watchdog device: Watchdog device is closed')
    if (this.owner.specs.get(this.path)?.fixedTimeout !== undefined) {
      throw new WatchdogError('Could not set timeout on watchdog device: Invalid argument')
    }
    this.timeout = t
    this.owner.log(this.path).timeouts.push(t)
  }

  async getTimeout(): Promise<number> {
    if (!this.open_) throw new WatchdogError('Could not get timeout on watchdog device: Watchdog device is closed')
    return this.timeout
  }

  keepalive(): void {
    if (!this.open_) throw new WatchdogError('Watchdog device is closed')
    this.owner.log(this.path).kicks++
  }

  close(): void {
    if (!this.open_) return
    this.open_ = false
    const l = this.owner.log(this.path)
    l.magicCloses++
    l.armed = this.owner.specs.get(this.path)?.noMagicClose === true
  }
}
