/**
 * The real watchdog adapter (src/adapters/watchdog/linux.ts): the port's contract on Patroni's
 * `testing` driver with a named pipe for the device, and the `default` driver's ioctl helper
 * (python3 with the open device as its stdin) on what it can be tried on without /dev/watchdog.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, test} from 'node:test'
import {IOCTL_HELPER, LinuxWatchdogDevice, linuxWatchdogs} from '../../../src/adapters/watchdog/linux'
import {WatchdogError} from '../../../src/ports/watchdog'
import {watchdogContract, type DeviceSeen} from '../../contract/watchdog-contract'
import {waitFor} from '../../harness/ports'
import {WatchdogFifo} from '../../harness/watchdog-fifo'

/** Polls what the fake device saw (a named pipe read by this process) every 10 ms, for 5 s at most. */
const until = <T>(what: string, f: () => T | undefined): Promise<T> => waitFor(what, f, {timeoutMs: 5000, intervalMs: 10})

describe('linux watchdog adapter, testing driver on a named pipe', () => {
  watchdogContract('linuxWatchdogs(testing)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-wd-'))
    const fifo = new WatchdogFifo(join(dir, 'watchdog.fifo'))
    const now = (): DeviceSeen => ({timeouts: fifo.timeouts, kicks: fifo.kicks.length, magicCloses: fifo.magicCloses})
    return {
      watchdogs: linuxWatchdogs(),
      working: {driver: 'testing', device: fifo.path},
      missing: {driver: 'testing', device: join(dir, 'absent')},
      seen: (pred) => until('the device to see the writes', () => (pred(now()) ? now() : undefined)),
      cleanup: async () => {
        fifo.close()
        rmSync(dir, {recursive: true, force: true})
      },
    }
  })
})

describe('linux watchdog adapter, default driver (ioctl helper)', () => {
  test('the helper computes the request numbers of linux/watchdog.h for this machine', () => {
    const out = execFileSync('python3', ['-c', IOCTL_HELPER, 'requests'], {encoding: 'utf8'}).trim().split(' ').map(Number)
    const arch = execFileSync('uname', ['-m'], {encoding: 'utf8'}).trim()
    if (['x86_64', 'aarch64', 'i686', 'armv7l', 's390x', 'riscv64'].includes(arch)) {
      // WDIOC_GETSUPPORT = _IOR('W', 0, struct watchdog_info), SETTIMEOUT = _IOWR('W', 6, int), GETTIMEOUT = _IOR('W', 7, int)
      assert.deepEqual(out, [0x80285700, 0xc0045706, 0x80045707])
    } else {
      assert.equal(out.length, 3)
    }
  })

  test('on a device that is not a watchdog the ioctls fail with the kernel error, the device stays open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-wd-'))
    const fifo = new WatchdogFifo(join(dir, 'not-a-watchdog'))
    try {
      const d = linuxWatchdogs().device({driver: 'default', device: fifo.path})!
      assert.ok(d instanceof LinuxWatchdogDevice)
      assert.equal(d.usable(), true)
      await d.open()
      await assert.rejects(d.support(), (e) => e instanceof WatchdogError && /^Could not get information about watchdog device: .*Inappropriate ioctl for device/.test(e.message))
      await assert.rejects(d.setDeviceTimeout(10), /: Could not set timeout on watchdog device: .*Inappropriate ioctl/)
      await assert.rejects(d.getTimeout(), /: Could not get timeout on watchdog device: .*Inappropriate ioctl/)
      assert.equal(d.isOpen, true)
      d.keepalive()
      d.close()
      await until('kick and magic close', () => (fifo.kicks.length === 1 && fifo.magicCloses === 1 ? true : undefined))
    } finally {
      fifo.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('without the helper interpreter the timeout cannot be set, and the message says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-wd-'))
    try {
      const dev = join(dir, 'dev')
      writeFileSync(dev, '')
      const d = new LinuxWatchdogDevice(dev, {python: join(dir, 'no-python3')})
      await d.open()
      await assert.rejects(d.setDeviceTimeout(10), (e) => e instanceof WatchdogError && e.message.includes('cannot run the ioctl helper') && e.message.includes('ENOENT'))
      d.close()
      await assert.rejects(d.support(), /Watchdog device is closed/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('a named pipe without a reader cannot be opened (no hang)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-wd-'))
    try {
      const p = join(dir, 'fifo')
      execFileSync('mkfifo', [p])
      const d = linuxWatchdogs().device({driver: 'default', device: p})!
      await assert.rejects(d.open(), /Can't open watchdog device: ENXIO/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
