/**
 * A watchdog device (docs/ha-rules.md#watchdog; Patroni's patroni/watchdog/base.py WatchdogBase).
 * Once opened, the device resets the machine unless it gets a keepalive within its timeout;
 * `close()` disarms it with the magic close character 'V' (on drivers that support it). The
 * policy (modes, timeout = ttl - safety_margin, when to arm, kick and disarm) is not the port's:
 * src/agent/watchdog.ts carries it out on this port, and the core decides when.
 *
 * Every method that fails throws a WatchdogError with a message fit for the log.
 */

/** What the driver reports about itself (WDIOC_GETSUPPORT). */
export interface WatchdogSupport {
  /** WDIOF_SETTIMEOUT: the timeout can be set. */
  canSetTimeout: boolean
  /** WDIOF_MAGICCLOSE: writing 'V' before closing disarms it; without it the device keeps running. */
  magicClose: boolean
  /** The board's identity string. */
  identity: string
  firmwareVersion: number
}

export interface WatchdogDevice {
  /** Human-readable name for log lines ("Linux watchdog device at /dev/watchdog0"). */
  describe(): string
  /** The device exists and this process may write to it (Patroni's is_healthy: open() is not known to fail). */
  usable(): boolean
  /** Open (and thereby arm) the device. */
  open(): Promise<void>
  /** The device is open. */
  readonly isOpen: boolean
  /** WDIOC_GETSUPPORT (the device must be open). */
  support(): Promise<WatchdogSupport>
  /** WDIOC_SETTIMEOUT in whole seconds (1..65534). */
  setDeviceTimeout(seconds: number): Promise<void>
  /** WDIOC_GETTIMEOUT in seconds. */
  getTimeout(): Promise<number>
  /** Reset the timer (a write to the open device). */
  keepalive(): void
  /** Magic close: write 'V', then close. Nothing to do when not open. */
  close(): void
}

export interface WatchdogDriverSettings {
  /** watchdog.driver: `default` (the Linux device) or `testing` (Patroni's named-pipe harness driver). */
  driver: string
  /** watchdog.device, /dev/watchdog by default. */
  device: string
}

export interface Watchdogs {
  /** The device for the settings; null when the driver is not supported here (Patroni's NullWatchdog). */
  device(settings: WatchdogDriverSettings): WatchdogDevice | null
}

export class WatchdogError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WatchdogError'
  }
}
