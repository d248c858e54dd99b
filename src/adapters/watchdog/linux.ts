/**
 * The Linux watchdog device (Patroni's patroni/watchdog/linux.py LinuxWatchdogDevice), and
 * Patroni's `testing` driver (TestingWatchdogDevice: the timeout travels as a `Ctimeout=N\n`
 * write, so a named pipe can stand in for the device).
 *
 * The device is opened, kicked and closed in this process: open(2) write-only arms it, each
 * keepalive writes one byte ('1', as Patroni does), and close() writes the magic character 'V'
 * before close(2), which disarms a driver that supports magic close. Node has no ioctl(2), and
 * WDIOC_GETSUPPORT/SETTIMEOUT/GETTIMEOUT must be issued on the open file: a watchdog device can be
 * opened only once at a time (a second open gets EBUSY), so a tool that opens the device itself
 * (util-linux `wdctl --settimeout`) cannot reach it while hactl holds it. The ioctls are therefore
 * run by a short python3 helper that inherits the open file as its standard input (the same open
 * file description, so the ioctl acts on hactl's open device, armed throughout) and prints the
 * result. Without python3 the timeout cannot be set: activation fails (automatic mode runs without
 * a watchdog, required mode does not lead). docs/ha-rules.md#watchdog explains the choice.
 */
import {spawn} from 'node:child_process'
import {accessSync, closeSync, constants, openSync, writeSync} from 'node:fs'
import {WatchdogError, type WatchdogDevice, type WatchdogDriverSettings, type Watchdogs, type WatchdogSupport} from '../../ports/watchdog'

export const DEFAULT_DEVICE = '/dev/watchdog'

/**
 * The ioctl helper, run as `python3 -c HELPER op [arg]` with the device as fd 0. The request
 * numbers are linux/ioctl.h's _IOR/_IOWR('W', nr, size), with the few architectures whose
 * encoding differs (as patroni/watchdog/linux.py has them).
 */
export const IOCTL_HELPER = `
import fcntl, platform, struct, sys
m = platform.machine()
SB, DB, NONE, W, R = 14, 2, 0, 1, 2
if m in ('mips', 'sparc', 'powerpc', 'ppc64', 'ppc64le'):
    SB, DB, NONE, W = 13, 3, 1, 4
elif m == 'parisc':
    W, R = 2, 1
def ioc(d, nr, size):
    return (d << (16 + SB)) | (ord('W') << 8) | nr | (size << 16)
op = sys.argv[1]
try:
    if op == 'requests':
        print(ioc(R, 0, 40), ioc(R | W, 6, 4), ioc(R, 7, 4))
    elif op == 'support':
        b = fcntl.ioctl(0, ioc(R, 0, 40), bytes(40))
        o, v = struct.unpack('II', b[:8])
        print(o, v, b[8:].split(b'\\0')[0].decode('utf-8', 'replace'))
    elif op == 'set':
        print(struct.unpack('i', fcntl.ioctl(0, ioc(R | W, 6, 4), struct.pack('i', int(sys.argv[2]))))[0])
    elif op == 'get':
        print(struct.unpack('i', fcntl.ioctl(0, ioc(R, 7, 4), bytes(4)))[0])
except OSError as e:
    sys.stderr.write(str(e))
    sys.exit(1)
`

const WDIOF_SETTIMEOUT = 0x0080
const WDIOF_MAGICCLOSE = 0x0100

export interface LinuxWatchdogOptions {
  /** The python interpreter that runs the ioctl helper (python3 on PATH). */
  python?: string
  /** How long a helper run may take. */
  helperTimeoutMs?: number
}

/** Runs the helper on `fd`; its stdout, or a WatchdogError with its complaint. */
function runHelper(python: string, fd: number, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    let settled = false
    const fail = (m: string) => {
      if (!settled) reject(new WatchdogError(m))
      settled = true
    }
    let child
    try {
      child = spawn(python, ['-c', IOCTL_HELPER, ...args], {stdio: [fd, 'pipe', 'pipe'], timeout: timeoutMs})
    } catch (e) {
      fail(`cannot run the ioctl helper ${python}: ${(e as Error).message}`)
      return
    }
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', (e) => fail(`cannot run the ioctl helper ${python}: ${e.message}`))
    child.on('close', (code, signal) => {
      if (settled) return
      if (code === 0) {
        settled = true
        resolve(out.trim())
      } else fail(err.trim() || `the ioctl helper ${python} ended with ${signal ?? `exit code ${code}`}`)
    })
  })
}

abstract class FileWatchdog implements WatchdogDevice {
  protected fd: number | null = null

  constructor(readonly device: string) {}

  abstract describe(): string
  abstract support(): Promise<WatchdogSupport>
  abstract setDeviceTimeout(seconds: number): Promise<void>
  abstract getTimeout(): Promise<number>

  get isOpen(): boolean {
    return this.fd !== null
  }

  usable(): boolean {
    try {
      accessSync(this.device, constants.W_OK)
      return true
    } catch {
      return false
    }
  }

  async open(): Promise<void> {
    if (this.fd !== null) return
    try {
      // Non-blocking, so a named pipe without a reader fails instead of hanging the agent.
      this.fd = openSync(this.device, constants.O_WRONLY | constants.O_NONBLOCK)
    } catch (e) {
      throw new WatchdogError(`Can't open watchdog device: ${(e as Error).message}`)
    }
  }

  keepalive(): void {
    if (this.fd === null) throw new WatchdogError('Watchdog device is closed')
    try {
      writeSync(this.fd, '1')
    } catch (e) {
      throw new WatchdogError(`Could not send watchdog keepalive: ${(e as Error).message}`)
    }
  }

  close(): void {
    if (this.fd === null) return
    const fd = this.fd
    this.fd = null
    try {
      writeSync(fd, 'V')
    } catch (e) {
      try {
        closeSync(fd)
      } catch {
        // the write error is the one to report
      }
      throw new WatchdogError(`Error while closing ${this.describe()}: ${(e as Error).message}`)
    }
    try {
      closeSync(fd)
    } catch (e) {
      throw new WatchdogError(`Error while closing ${this.describe()}: ${(e as Error).message}`)
    }
  }

  protected checkRange(seconds: number): number {
    const t = Math.trunc(seconds)
    if (!(t > 0 && t < 0xffff)) throw new WatchdogError(`Invalid timeout ${t}. Supported values are between 1 and 65535`)
    return t
  }
}

/** /dev/watchdog (or watchdog.device) through the ioctl helper. */
export class LinuxWatchdogDevice extends FileWatchdog {
  private supportCache: WatchdogSupport | null = null
  private readonly python: string
  private readonly timeoutMs: number

  constructor(device: string, opts: LinuxWatchdogOptions = {}) {
    super(device)
    this.python = opts.python ?? 'python3'
    this.timeoutMs = opts.helperTimeoutMs ?? 5000
  }

  describe(): string {
    const at = this.device !== DEFAULT_DEVICE ? ` at ${this.device}` : ''
    const s = this.supportCache
    const ver = s && s.firmwareVersion ? ` (firmware ${s.firmwareVersion})` : ''
    return `${s?.identity || 'Linux watchdog device'}${ver}${at}`
  }

  private async ioctl(what: string, args: string[]): Promise<string> {
    if (this.fd === null) throw new WatchdogError(`${what}: Watchdog device is closed`)
    try {
      return await runHelper(this.python, this.fd, args, this.timeoutMs)
    } catch (e) {
      throw new WatchdogError(`${what}: ${(e as Error).message}`)
    }
  }

  async support(): Promise<WatchdogSupport> {
    if (this.supportCache) return this.supportCache
    const out = await this.ioctl('Could not get information about watchdog device', ['support'])
    const m = /^(\d+) (\d+) ?(.*)$/s.exec(out)
    if (!m) throw new WatchdogError(`Could not get information about watchdog device: unexpected helper output ${JSON.stringify(out)}`)
    const options = Number(m[1])
    this.supportCache = {
      canSetTimeout: (options & WDIOF_SETTIMEOUT) !== 0,
      magicClose: (options & WDIOF_MAGICCLOSE) !== 0,
      identity: m[3]!,
      firmwareVersion: Number(m[2]),
    }
    return this.supportCache
  }

  async setDeviceTimeout(seconds: number): Promise<void> {
    const t = this.checkRange(seconds)
    await this.ioctl('Could not set timeout on watchdog device', ['set', String(t)])
  }

  async getTimeout(): Promise<number> {
    const out = await this.ioctl('Could not get timeout on watchdog device', ['get'])
    const n = Number(out)
    if (!Number.isInteger(n)) throw new WatchdogError(`Could not get timeout on watchdog device: unexpected helper output ${JSON.stringify(out)}`)
    return n
  }

  override close(): void {
    super.close()
    this.supportCache = null
  }
}

/**
 * Patroni's `driver: testing` (TestingWatchdogDevice): magic close and a settable timeout, the
 * timeout written to the device as `Ctimeout=N\n`; meant for a named pipe read by a test harness.
 */
export class TestingWatchdogDevice extends FileWatchdog {
  private timeout = 60

  describe(): string {
    return `Watchdog test harness${this.device !== DEFAULT_DEVICE ? ` at ${this.device}` : ''}`
  }

  async support(): Promise<WatchdogSupport> {
    if (this.fd === null) throw new WatchdogError('Could not get information about watchdog device: Watchdog device is closed')
    return {canSetTimeout: true, magicClose: true, identity: 'Watchdog test harness', firmwareVersion: 0}
  }

  async setDeviceTimeout(seconds: number): Promise<void> {
    const t = this.checkRange(seconds)
    if (this.fd === null) throw new WatchdogError('Watchdog device is closed')
    try {
      writeSync(this.fd, `Ctimeout=${t}\n`)
    } catch (e) {
      throw new WatchdogError(`Could not set timeout on watchdog device: ${(e as Error).message}`)
    }
    this.timeout = t
  }

  async getTimeout(): Promise<number> {
    return this.timeout
  }
}

/** The drivers Patroni has on Linux: `default` and `testing`; anything else is no watchdog. */
export function linuxWatchdogs(opts: LinuxWatchdogOptions = {}): Watchdogs {
  return {
    device(s: WatchdogDriverSettings) {
      if (process.platform !== 'linux') return null
      if (s.driver === 'testing') return new TestingWatchdogDevice(s.device)
      if (s.driver === 'default') return new LinuxWatchdogDevice(s.device, opts)
      return null
    },
  }
}
