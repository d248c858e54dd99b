/**
 * The watchdog as the agent runs it (docs/ha-rules.md#watchdog): Patroni's Watchdog facade
 * (patroni/watchdog/base.py) on the Watchdog port. The core decides when to arm, kick and disarm
 * (activate-watchdog, kick-watchdog, disable-watchdog); this carries each out with Patroni's
 * checks and log lines: the timeout is ttl - safety_margin (ttl // 2 when safety_margin is -1),
 * a device that cannot be opened or given a safe timeout fails activation (fatal for leadership
 * only in mode `required`), and a failed device is not tried again until its settings change.
 */
import type {DynamicConfig} from '../config/dynamic-schema'
import type {LocalConfig} from '../config/load'
import type {Logger} from '../log/logger'
import type {WatchdogDevice, Watchdogs, WatchdogSupport} from '../ports/watchdog'

export type WatchdogMode = 'off' | 'automatic' | 'required'

export interface WatchdogSettings {
  mode: WatchdogMode
  driver: string
  device: string
  /** seconds; -1 means ttl // 2 as the timeout. */
  safetyMargin: number
  ttl: number
  loopWait: number
  /** The local config has a watchdog section (an absent one is mode automatic, as in Patroni). */
  explicit: boolean
}

/** Patroni's WatchdogConfig from the local config in force and the dynamic ttl/loop_wait. */
export function watchdogSettings(local: LocalConfig, dyn: Pick<DynamicConfig, 'ttl' | 'loop_wait'>): WatchdogSettings {
  const w = (local as {watchdog?: {mode?: WatchdogMode; driver?: string; device?: string; safety_margin?: number}}).watchdog
  return {
    mode: w?.mode ?? 'automatic',
    driver: w?.driver ?? 'default',
    device: w?.device ?? '/dev/watchdog',
    safetyMargin: w?.safety_margin ?? 5,
    ttl: dyn.ttl,
    loopWait: dyn.loop_wait,
    explicit: w !== undefined,
  }
}

/** WatchdogConfig.timeout: the device's timeout, so that it fires before the leader key expires. */
export function watchdogTimeout(s: WatchdogSettings): number {
  return s.safetyMargin === -1 ? Math.floor(s.ttl / 2) : s.ttl - s.safetyMargin
}

/** WatchdogConfig.timing_slack: how late a keepalive may come after loop_wait. */
export function timingSlack(s: WatchdogSettings): number {
  return watchdogTimeout(s) - s.loopWait
}

const sameDevice = (a: WatchdogSettings, b: WatchdogSettings) => a.driver === b.driver && a.device === b.device
const sameSettings = (a: WatchdogSettings, b: WatchdogSettings) =>
  a.mode === b.mode && sameDevice(a, b) && a.safetyMargin === b.safetyMargin && a.ttl === b.ttl && a.loopWait === b.loopWait

/** NullWatchdog.get_timeout: big enough not to matter. */
const NULL_TIMEOUT = 1_000_000_000

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

export class WatchdogControl {
  private settings: WatchdogSettings
  private activeSettings: WatchdogSettings
  /** null: Patroni's NullWatchdog (off, unsupported, or failed until the settings change). */
  private impl: WatchdogDevice | null
  private supportInfo: WatchdogSupport | null = null
  private active = false
  private warnedAutomatic = false

  constructor(
    private readonly watchdogs: Watchdogs,
    private readonly log: Logger,
    settings: WatchdogSettings,
  ) {
    this.settings = settings
    this.activeSettings = settings
    this.impl = settings.mode === 'off' ? null : watchdogs.device(settings)
  }

  /**
   * Mode required on a platform or driver without a watchdog: Patroni refuses to start
   * ("Configuration requires a watchdog, but watchdog is not supported on this platform.").
   */
  get requiredButUnsupported(): boolean {
    return this.settings.mode === 'required' && this.impl === null
  }

  get mode(): WatchdogMode {
    return this.settings.mode
  }

  /** The device is open (armed) and must be kicked. */
  get isRunning(): boolean {
    return this.impl?.isOpen === true
  }

  /**
   * Patroni's Watchdog.is_healthy: always in modes off/automatic; in mode required the timing
   * slack is not negative and the device is known to open (exists, writable). False makes the
   * node skip the leader race ("Watchdog device is not usable") and say watchdog_failed.
   */
  get isHealthy(): boolean {
    if (this.settings.mode !== 'required') return true
    return timingSlack(this.settings) >= 0 && this.impl !== null && this.impl.usable()
  }

  /** Patroni's Watchdog.reload_config: new local settings or a new ttl/loop_wait. */
  configure(next: WatchdogSettings): void {
    const prev = this.settings
    this.settings = next
    if (next.mode === 'off') {
      if (this.active) this.disableImpl()
      this.activeSettings = next
      this.impl = null
    }
    // Not active: apply at once (warnings come early). Active: the next keepalive applies it, so
    // the new timeout starts with a renewed leader key.
    if (!this.active) {
      if (next.mode !== 'off' && (!sameDevice(next, this.activeSettings) || prev.mode === 'off')) {
        this.impl = this.watchdogs.device(next)
        this.supportInfo = null
      }
      this.activeSettings = next
    }
  }

  /** Arm the device before leading; false when mode required and no safe watchdog could be set up. */
  async activate(): Promise<boolean> {
    this.active = true
    const ok = await this.activateImpl()
    // Nothing is armed after a refusal: new settings (another device) apply at once, not at a
    // keepalive that a node refused leadership would never send.
    if (!ok) this.active = false
    return ok
  }

  private async activateImpl(): Promise<boolean> {
    const s = this.settings
    this.activeSettings = s
    const timeout = watchdogTimeout(s)
    const slack = timingSlack(s)
    const required = s.mode === 'required'
    if (slack < 0) {
      this.log.warning(`Watchdog not supported because leader TTL ${s.ttl} is less than 2x loop_wait ${s.loopWait}`)
      this.impl = null
    }
    let actual: number | null = NULL_TIMEOUT
    if (this.impl) {
      const impl = this.impl
      try {
        await impl.open()
        actual = await this.applyTimeout(impl)
      } catch (e) {
        const line = `Could not activate ${impl.describe()}: ${msg(e)}`
        if (required) this.log.warning(line)
        else if (s.explicit && !this.warnedAutomatic) {
          this.warnedAutomatic = true
          this.log.warning(`${line}; running without a watchdog (mode automatic)`)
        } else this.log.debug(line)
        // Patroni drops the device here; an open one is disarmed first, so it cannot fire unkicked.
        this.closeQuietly(impl)
        this.impl = null
        actual = NULL_TIMEOUT
      }
    }
    if (this.impl?.isOpen && this.supportInfo && !this.supportInfo.magicClose) {
      this.log.warning("Watchdog implementation can't be disabled. Watchdog will trigger after Patroni loses leader key.")
    }
    if (!this.isRunning || (actual !== null && actual > timeout)) {
      if (required) {
        if (this.impl === null) this.log.error('Configuration requires watchdog, but watchdog could not be configured.')
        else {
          this.log.error(`Configuration requires watchdog, but a safe watchdog timeout ${timeout} could not be configured. Watchdog timeout is ${actual}.`)
          // Not leading on it: disarm rather than leave an unkicked device armed.
          this.disableImpl()
        }
        return false
      }
      if (this.impl !== null) this.log.warning(`Watchdog timeout ${actual} seconds does not ensure safe termination within ${timeout} seconds`)
    }
    if (this.isRunning) {
      this.log.info(`${this.impl!.describe()} activated with ${actual} second timeout, timing slack ${slack} seconds`)
    } else if (required) {
      this.log.error('Configuration requires watchdog, but watchdog could not be activated')
      return false
    }
    return true
  }

  /** Patroni's _set_timeout: set ttl - safety_margin where the driver can; refuse a timeout below loop_wait. */
  private async applyTimeout(impl: WatchdogDevice): Promise<number | null> {
    this.supportInfo = await impl.support()
    if (this.supportInfo.canSetTimeout) await impl.setDeviceTimeout(watchdogTimeout(this.settings))
    const actual = await impl.getTimeout()
    if (impl.isOpen && actual < this.settings.loopWait) {
      this.log.error(`loop_wait of ${this.settings.loopWait} seconds is too long for watchdog ${actual} second timeout`)
      if (this.supportInfo.magicClose) {
        this.log.info('Disabling watchdog due to unsafe timeout.')
        impl.close()
        this.impl = null
        return null
      }
    }
    return actual
  }

  /** Disarm (magic close) on demotion, pause and shutdown. */
  disable(): void {
    this.disableImpl()
    this.active = false
  }

  private disableImpl(): void {
    const impl = this.impl
    if (!impl) return
    try {
      if (impl.isOpen && this.supportInfo && !this.supportInfo.magicClose) {
        // Give the operator some extra time to clean up.
        impl.keepalive()
        this.log.warning("Watchdog implementation can't be disabled. System will reboot after the watchdog times out.")
      }
      impl.close()
    } catch (e) {
      this.log.error(`Error while disabling watchdog: ${msg(e)}`)
    }
  }

  private closeQuietly(impl: WatchdogDevice): void {
    try {
      impl.close()
    } catch {
      // the activation error is the one reported
    }
  }

  /** Kick after a renewed leader key; settings changed meanwhile are applied now (Patroni's keepalive). */
  async keepalive(): Promise<void> {
    try {
      if (!this.active) return
      this.impl?.keepalive()
      const s = this.settings
      const a = this.activeSettings
      if (sameSettings(s, a)) return
      if (s.mode !== 'off' && a.mode === 'off') {
        this.impl = this.watchdogs.device(s)
        await this.activateImpl()
      }
      if (!sameDevice(s, a)) {
        this.disableImpl()
        this.impl = this.watchdogs.device(s)
        this.supportInfo = null
        await this.activateImpl()
      }
      if (watchdogTimeout(s) !== watchdogTimeout(a) && this.impl?.isOpen) {
        await this.impl.setDeviceTimeout(watchdogTimeout(s))
        this.log.info(`${this.impl.describe()} updated with ${await this.impl.getTimeout()} second timeout, timing slack ${timingSlack(s)} seconds`)
      }
      this.activeSettings = s
    } catch (e) {
      this.log.error(`Error while sending keepalive: ${msg(e)}`)
    }
  }
}
