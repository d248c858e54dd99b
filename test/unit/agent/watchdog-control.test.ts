/**
 * The watchdog as the agent runs it (src/agent/watchdog.ts, Patroni's patroni/watchdog/base.py
 * Watchdog) on FakeWatchdogs: the timeout it sets, when activation fails, the health it reports,
 * settings applied at the next keepalive, and Patroni's log lines.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {WatchdogControl, watchdogTimeout, timingSlack, type WatchdogSettings} from '../../../src/agent/watchdog'
import {DEFAULT_LOG_SETTINGS, Logger} from '../../../src/log/logger'
import {FakeWatchdogs} from '../../fakes/fake-watchdog'

const DEV = '/dev/watchdog'
const base: WatchdogSettings = {mode: 'required', driver: 'default', device: DEV, safetyMargin: 5, ttl: 30, loopWait: 10, explicit: true}

function make(s: Partial<WatchdogSettings> = {}, wd = new FakeWatchdogs().addDevice(DEV)) {
  const lines: string[] = []
  const log = new Logger({...DEFAULT_LOG_SETTINGS, level: 'DEBUG', format: '%(levelname)s: %(message)s'}, {write: (l) => void lines.push(l), close() {}}, 'hactl', () => new Date(0))
  return {c: new WatchdogControl(wd, log, {...base, ...s}), wd, lines, dev: () => wd.log(DEV)}
}

describe('WatchdogControl', () => {
  test('timeout is ttl - safety_margin, ttl // 2 with -1; slack is timeout - loop_wait', () => {
    assert.equal(watchdogTimeout(base), 25)
    assert.equal(watchdogTimeout({...base, safetyMargin: -1, ttl: 21}), 10)
    assert.equal(timingSlack({...base, ttl: 21, safetyMargin: 5}), 6)
  })

  test('activation opens the device and sets ttl - safety_margin', async () => {
    const {c, dev, lines} = make({ttl: 21})
    assert.equal(await c.activate(), true)
    assert.equal(c.isRunning, true)
    assert.deepEqual(dev().timeouts, [16])
    assert.ok(lines.includes('INFO: fake watchdog at /dev/watchdog activated with 16 second timeout, timing slack 6 seconds'))
  })

  test('mode off never opens the device and is always healthy', async () => {
    const {c, dev} = make({mode: 'off'})
    assert.equal(c.isHealthy, true)
    assert.equal(await c.activate(), true)
    assert.equal(c.isRunning, false)
    assert.equal(dev().opens, 0)
  })

  test('ttl below 2x loop_wait + margin: not supported; required fails, and the node is unhealthy', async () => {
    const {c, dev, lines} = make({ttl: 12, loopWait: 10})
    assert.equal(c.isHealthy, false, 'timing slack -3')
    assert.equal(await c.activate(), false)
    assert.equal(dev().opens, 0)
    assert.ok(lines.includes('WARNING: Watchdog not supported because leader TTL 12 is less than 2x loop_wait 10'))
  })

  test('a driver with a fixed timeout longer than ttl - safety_margin: required refuses and disarms; automatic warns and keeps it', async () => {
    const wd = new FakeWatchdogs().addDevice(DEV, {fixedTimeout: 60})
    const r = make({}, wd)
    assert.equal(await r.c.activate(), false)
    assert.ok(r.lines.includes('ERROR: Configuration requires watchdog, but a safe watchdog timeout 25 could not be configured. Watchdog timeout is 60.'), r.lines.join('\n'))
    assert.equal(r.c.isRunning, false)
    assert.equal(wd.log(DEV).armed, false, 'magic-closed, not left armed unkicked')
    const a = make({mode: 'automatic'}, new FakeWatchdogs().addDevice(DEV, {fixedTimeout: 60}))
    assert.equal(await a.c.activate(), true)
    assert.equal(a.c.isRunning, true)
    assert.ok(a.lines.includes('WARNING: Watchdog timeout 60 seconds does not ensure safe termination within 25 seconds'))
  })

  test('a fixed timeout below loop_wait is unsafe: disabled again', async () => {
    const {c, lines, wd} = make({mode: 'automatic'}, new FakeWatchdogs().addDevice(DEV, {fixedTimeout: 5}))
    assert.equal(await c.activate(), true)
    assert.equal(c.isRunning, false)
    assert.equal(wd.log(DEV).magicCloses, 1)
    assert.ok(lines.includes('ERROR: loop_wait of 10 seconds is too long for watchdog 5 second timeout'))
  })

  test('a device that fails to open: required fails and is unhealthy until the settings change; no retry before', async () => {
    const wd = new FakeWatchdogs().addDevice(DEV, {openError: 'EBUSY: resource busy or locked'})
    const {c, lines} = make({}, wd)
    assert.equal(c.isHealthy, true, 'exists and is writable: not known to fail yet')
    assert.equal(await c.activate(), false)
    assert.ok(lines.includes("WARNING: Could not activate fake watchdog at /dev/watchdog: Can't open watchdog device: EBUSY: resource busy or locked"))
    assert.equal(c.isHealthy, false)
    wd.specs.set(DEV, {})
    assert.equal(await c.activate(), false, 'not tried again')
    wd.addDevice('/dev/watchdog1')
    c.configure({...base, device: '/dev/watchdog1'})
    assert.equal(c.isHealthy, true)
    assert.equal(await c.activate(), true)
  })

  test('a new ttl is applied at the next keepalive, with Patroni\'s line', async () => {
    const {c, dev, lines} = make({ttl: 21})
    await c.activate()
    c.configure({...base, ttl: 20})
    assert.deepEqual(dev().timeouts, [16], 'not while the old renewal is in force')
    await c.keepalive()
    assert.deepEqual(dev().timeouts, [16, 15])
    assert.equal(dev().kicks, 1)
    assert.ok(lines.includes('INFO: fake watchdog at /dev/watchdog updated with 15 second timeout, timing slack 5 seconds'))
  })

  test('disable is a magic close; keepalive after it does nothing; mode off while armed disarms at once', async () => {
    const {c, dev} = make()
    await c.activate()
    c.disable()
    await c.keepalive()
    assert.deepEqual({kicks: dev().kicks, closes: dev().magicCloses, armed: dev().armed}, {kicks: 0, closes: 1, armed: false})
    await c.activate()
    c.configure({...base, mode: 'off'})
    assert.equal(dev().magicCloses, 2)
    assert.equal(c.isRunning, false)
  })

  test('a device without magic close is kicked once more and reported as not disabled', async () => {
    const {c, lines, wd} = make({}, new FakeWatchdogs().addDevice(DEV, {noMagicClose: true}))
    await c.activate()
    assert.ok(lines.includes("WARNING: Watchdog implementation can't be disabled. Watchdog will trigger after Patroni loses leader key."))
    c.disable()
    assert.equal(wd.log(DEV).kicks, 1)
    assert.equal(wd.log(DEV).armed, true)
  })

  test('mode required with a driver that does not exist here is refused at start', () => {
    const wd = new FakeWatchdogs()
    wd.drivers.clear()
    assert.equal(make({}, wd).c.requiredButUnsupported, true)
    assert.equal(make({mode: 'automatic'}, wd).c.requiredButUnsupported, false)
  })
})
