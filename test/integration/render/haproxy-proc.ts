/**
 * A real HAProxy for render tests: started as our child on loopback ports, with an admin stats
 * socket added by a second `-f` file (the rendered file stays exactly what hactl wrote), stopped
 * by PID.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {waitFor, within} from '../../harness/ports'

export const HAPROXY_BIN = process.env.HACTL_TEST_HAPROXY ?? 'haproxy'

export interface StatRow {
  pxname: string
  svname: string
  status: string
  check_status: string
  [column: string]: string
}

/** One command on a HAProxy stats socket; the answer ends when HAProxy closes the connection. */
export async function statsCommand(socket: string, command: string, timeoutMs = 5000): Promise<string> {
  const c = connect(socket)
  const answer = new Promise<string>((resolve, reject) => {
    let out = ''
    c.setEncoding('utf8')
    c.on('connect', () => c.write(`${command}\n`))
    c.on('data', (d) => (out += d))
    c.on('error', reject)
    c.on('close', (hadError) => {
      if (!hadError) resolve(out)
    })
  })
  const r = await within(answer, timeoutMs)
  if (r !== 'timeout') return r
  c.destroy()
  throw new Error(`stats socket ${socket}: no answer to ${command} within ${timeoutMs} ms`)
}

/** `show stat` as rows keyed by the CSV header. */
export async function showStat(socket: string): Promise<StatRow[]> {
  const text = await statsCommand(socket, 'show stat')
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '')
  if (!header?.startsWith('# ')) throw new Error(`show stat: unexpected answer ${JSON.stringify(text.slice(0, 200))}`)
  const cols = header.slice(2).split(',')
  return rows.map((r) => {
    const cells = r.split(',')
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? ''])) as StatRow
  })
}

export class HaproxyProcess {
  private output = ''

  private constructor(
    readonly proc: ChildProcess,
    readonly socket: string,
  ) {
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-64 * 1024))
    proc.stdout!.on('data', keep)
    proc.stderr!.on('data', keep)
  }

  get log(): string {
    return this.output
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null
  }

  /** Starts `haproxy -db` on `config` plus a global section with the admin socket in `dir`. */
  static async start(config: string, dir: string): Promise<HaproxyProcess> {
    const socket = join(dir, 'admin.sock')
    const extra = join(dir, 'stats-socket.cfg')
    writeFileSync(extra, `global\n    stats socket ${socket} mode 600 level admin\n`)
    const proc = spawn(HAPROXY_BIN, ['-db', '-f', config, '-f', extra], {stdio: ['ignore', 'pipe', 'pipe']})
    const h = new HaproxyProcess(proc, socket)
    try {
      await waitFor('HAProxy to answer on its stats socket', async () => {
        if (!h.running) throw new Error(`haproxy exited (${proc.exitCode ?? proc.signalCode}): ${h.output}`)
        return (await showStat(socket)).length > 0
      }, {timeoutMs: 10_000})
    } catch (e) {
      await h.stop()
      throw e
    }
    return h
  }

  stat(): Promise<StatRow[]> {
    return showStat(this.socket)
  }

  /** Status (UP, DOWN, ...) of every server of one listener, by server name. */
  async servers(listener: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    for (const r of await this.stat()) {
      if (r.pxname === listener && r.svname !== 'FRONTEND' && r.svname !== 'BACKEND') out[r.svname] = r.status
    }
    return out
  }

  async stop(): Promise<void> {
    if (!this.running) return
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()))
    this.proc.kill('SIGTERM')
    // HAProxy ends at once on SIGTERM; SIGKILL only if it has not within 5 s.
    if ((await within(exited, 5000)) === 'timeout') {
      this.proc.kill('SIGKILL')
      await exited
    }
  }
}
