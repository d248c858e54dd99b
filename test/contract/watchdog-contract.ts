/**
 * The Watchdog port's contract (src/ports/watchdog.ts), run on the real adapter (Patroni's
 * `testing` driver on a named pipe read by the test, as Patroni's features/environment.py
 * WatchdogMonitor does) and on FakeWatchdogs: the same assertions on what the device saw.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {WatchdogError, type WatchdogDriverSettings, type Watchdogs} from '../../src/ports/watchdog'

/** What the device saw so far. */
export interface DeviceSeen {
  timeouts: number[]
  kicks: number
  magicCloses: number
}

export interface WatchdogEnv {
  watchdogs: Watchdogs
  /** A device that works (settable timeout, magic close). */
  working: WatchdogDriverSettings
  /** A path that does not exist. */
  missing: WatchdogDriverSettings
  /** What the working device has seen, once `until` holds (a pipe delivers a little later); rejects after a deadline. */
  seen(until: (s: DeviceSeen) => boolean): Promise<DeviceSeen>
  cleanup(): Promise<void>
}

export function watchdogContract(label: string, make: () => Promise<WatchdogEnv>): void {
  test(`${label}: a missing device is not usable and cannot be opened; the error names the device`, async () => {
    const env = await make()
    try {
      const d = env.watchdogs.device(env.missing)
      assert.ok(d, 'the driver exists')
      assert.equal(d.usable(), false)
      await assert.rejects(d.open(), (e) => e instanceof WatchdogError && /Can't open watchdog device: .*ENOENT/.test(e.message) && e.message.includes(env.missing.device))
      assert.equal(d.isOpen, false)
      assert.doesNotThrow(() => d.close(), 'closing a device that is not open does nothing')
      assert.throws(() => d.keepalive(), (e) => e instanceof WatchdogError && /closed/.test(e.message))
    } finally {
      await env.cleanup()
    }
  })

  test(`${label}: an unknown driver is no watchdog`, async () => {
    const env = await make()
    try {
      assert.equal(env.watchdogs.device({...env.working, driver: 'no-such-driver'}), null)
    } finally {
      await env.cleanup()
    }
  })

  test(`${label}: open, set the timeout, kick, magic close: the device sees each, in order`, async () => {
    const env = await make()
    try {
      const d = env.watchdogs.device(env.working)!
      assert.equal(d.usable(), true)
      await d.open()
      assert.equal(d.isOpen, true)
      const s = await d.support()
      assert.equal(s.canSetTimeout, true)
      assert.equal(s.magicClose, true)
      await d.setDeviceTimeout(16)
      assert.equal(await d.getTimeout(), 16)
      await env.seen((x) => x.timeouts.length === 1)
      for (let i = 0; i < 3; i++) d.keepalive()
      const mid = await env.seen((x) => x.kicks === 3)
      assert.deepEqual(mid, {timeouts: [16], kicks: 3, magicCloses: 0})
      await d.setDeviceTimeout(15)
      d.keepalive()
      d.close()
      assert.equal(d.isOpen, false)
      const end = await env.seen((x) => x.magicCloses === 1)
      assert.deepEqual(end, {timeouts: [16, 15], kicks: 4, magicCloses: 1})
      assert.throws(() => d.keepalive(), WatchdogError, 'no keepalive after close')
      assert.doesNotThrow(() => d.close(), 'a second close does nothing')
    } finally {
      await env.cleanup()
    }
  })

  test(`${label}: a timeout out of 1..65534 is refused and not sent`, async () => {
    const env = await make()
    try {
      const d = env.watchdogs.device(env.working)!
      await d.open()
      await assert.rejects(d.setDeviceTimeout(0), /Invalid timeout 0. Supported values are between 1 and 65535/)
      await assert.rejects(d.setDeviceTimeout(70000), /Invalid timeout 70000/)
      d.close()
      assert.deepEqual(await env.seen((x) => x.magicCloses === 1), {timeouts: [], kicks: 0, magicCloses: 1})
    } finally {
      await env.cleanup()
    }
  })
}
