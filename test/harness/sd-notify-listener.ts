/**
 * A stand-in for systemd's notify socket: an AF_UNIX datagram socket (which Node cannot bind,
 * so a python3 child owns it) that reports every message with the sender's credentials as the
 * kernel attached them (SO_PASSCRED), the sender's parent PID read while the sender still waits
 * for its BARRIER=1 reply, and CLOCK_MONOTONIC at reception. File descriptors that come with a
 * message (systemd-notify's barrier pipe) are closed after that, which releases the sender just
 * as systemd does once it processed the message.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'

export interface NotifyMessage {
  fields: Record<string, string>
  /** The sender's PID as the kernel saw it. */
  pid: number
  /** The sender's parent PID at reception, or -1 when it was already gone. */
  ppid: number
  /** CLOCK_MONOTONIC in microseconds when the message arrived. */
  receivedUsec: number
}

const LISTENER = String.raw`
import array, json, os, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o666)
print(json.dumps({"listening": path}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    pid, fds = -1, []
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = array.array('i', payload[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array('i', payload[: len(payload) - len(payload) % 4]))
    ppid = -1
    try:
        with open('/proc/%d/stat' % pid) as f:
            st = f.read()
        ppid = int(st[st.rindex(')') + 2:].split()[1])
    except Exception:
        pass
    fields = dict(l.split('=', 1) for l in data.decode().split('\n') if '=' in l)
    print(json.dumps({"fields": fields, "pid": pid, "ppid": ppid, "receivedUsec": now}), flush=True)
    for fd in fds:
        os.close(fd)
`

export class NotifyListener {
  readonly messages: NotifyMessage[] = []
  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly proc: ChildProcess,
  ) {}

  static async start(): Promise<NotifyListener> {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-notify-'))
    // The agent runs unprivileged: it must reach the socket file.
    chmodSync(dir, 0o755)
    const path = join(dir, 'notify')
    const proc = spawn('python3', ['-c', LISTENER, path], {stdio: ['ignore', 'pipe', 'inherit']})
    const l = new NotifyListener(path, dir, proc)
    const lines = createInterface({input: proc.stdout!})
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject)
      proc.once('exit', (code) => reject(new Error(`notify listener exited with ${code}`)))
      lines.on('line', (line) => {
        const m = JSON.parse(line) as NotifyMessage | {listening: string}
        if ('listening' in m) resolve()
        else l.messages.push(m)
      })
    })
    return l
  }

  /** The notifications, without systemd-notify's BARRIER=1 synchronisation messages. */
  notifications(): NotifyMessage[] {
    return this.messages.filter((m) => !('BARRIER' in m.fields))
  }

  /** Messages that carry `key`, in order of arrival. */
  with(key: string): NotifyMessage[] {
    return this.messages.filter((m) => key in m.fields)
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((r) => this.proc.once('exit', () => r()))
      this.proc.kill('SIGTERM')
      await exited
    }
    rmSync(this.dir, {recursive: true, force: true})
  }
}
