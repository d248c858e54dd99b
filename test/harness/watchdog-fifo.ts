/**
 * A watchdog device emulated by a named pipe, as Patroni's features/environment.py
 * WatchdogMonitor does: the agent (driver `testing`) writes `Ctimeout=N\n` for the timeout, '1'
 * for a keepalive and 'V' for the magic close; this reader records each with its arrival time
 * and can say whether the device would have fired (a gap between keepalives longer than the
 * timeout in force). The pipe is held open read-write, so the agent's non-blocking open always
 * finds a reader and a writer's close is no end of file.
 */
import {execFileSync} from 'node:child_process'
import {constants, openSync, rmSync} from 'node:fs'
import {Socket} from 'node:net'

export interface WatchdogEvent {
  at: number
  kind: 'timeout' | 'kick' | 'magic-close' | 'unknown'
  value?: number
}

export class WatchdogFifo {
  readonly events: WatchdogEvent[] = []
  private readonly sock: Socket
  private buf = ''

  constructor(readonly path: string) {
    rmSync(path, {force: true})
    execFileSync('mkfifo', ['-m', '0666', path])
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
    this.sock = new Socket({fd, readable: true, writable: false})
    this.sock.on('data', (d: Buffer) => this.feed(d.toString('latin1')))
    this.sock.on('error', () => {})
  }

  private feed(text: string): void {
    this.buf += text
    while (this.buf.length) {
      const c = this.buf[0]!
      const at = Date.now()
      if (c === 'C') {
        const nl = this.buf.indexOf('\n')
        if (nl < 0) return
        const m = /^timeout=(\d+)$/.exec(this.buf.slice(1, nl))
        this.events.push(m ? {at, kind: 'timeout', value: Number(m[1])} : {at, kind: 'unknown'})
        this.buf = this.buf.slice(nl + 1)
        continue
      }
      this.events.push({at, kind: c === '1' ? 'kick' : c === 'V' ? 'magic-close' : 'unknown'})
      this.buf = this.buf.slice(1)
    }
  }

  get timeouts(): number[] {
    return this.events.filter((e) => e.kind === 'timeout').map((e) => e.value!)
  }

  get kicks(): WatchdogEvent[] {
    return this.events.filter((e) => e.kind === 'kick')
  }

  get magicCloses(): number {
    return this.events.filter((e) => e.kind === 'magic-close').length
  }

  /** The timeout in force (the last one set), null when none was. */
  get timeout(): number | null {
    const t = this.timeouts
    return t.length ? t[t.length - 1]! : null
  }

  clear(): void {
    this.events.length = 0
  }

  close(): void {
    this.sock.destroy()
    rmSync(this.path, {force: true})
  }
}

