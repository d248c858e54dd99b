import {spawn} from 'node:child_process'
import {closeSync, fchownSync, openSync} from 'node:fs'
import {abortError} from '../../ports/clock'
import type {
  DetachedOptions,
  DetachedProcess,
  ExitInfo,
  ProcessInfo,
  ProcessRunner,
  RunOptions,
  RunResult,
} from '../../ports/process-runner'
import {HactlError} from '../../errors'
import {descendants, procInfo} from './proc-fs'

const DEFAULT_MAX_OUTPUT = 1024 * 1024
/** After the child exited, how long a grandchild that inherited our pipes may keep them open. */
const STREAM_GRACE_MS = 500

/** Keeps the last `max` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = []
  private size = 0
  truncated = false
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    while (this.size > this.max && this.chunks.length) {
      const over = this.size - this.max
      const first = this.chunks[0]
      this.truncated = true
      if (first.length <= over) {
        this.chunks.shift()
        this.size -= first.length
      } else {
        this.chunks[0] = first.subarray(over)
        this.size -= over
      }
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

function spawnError(cmd: string, e: unknown): HactlError {
  const code = (e as NodeJS.ErrnoException)?.code
  const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : (e as Error)?.message ?? String(e)
  return new HactlError('PROCESS_SPAWN', `cannot run ${cmd}: ${why}`, {
    cause: e,
    hints: code === 'ENOENT' ? ['check postgresql.bin_dir (or PATH) in the configuration'] : [],
  })
}

export class NodeProcessRunner implements ProcessRunner {
  run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const started = Date.now()
    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal))
    return new Promise<RunResult>((resolve, reject) => {
      const child = spawn(cmd, args, {
        env: opts.env ?? {},
        cwd: opts.cwd,
        uid: opts.user?.uid,
        gid: opts.user?.gid,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
      const out = new TailBuffer(max)
      const err = new TailBuffer(max)
      let timedOut = false
      let aborted = false
      let exit: ExitInfo | undefined
      let settled = false
      let graceTimer: NodeJS.Timeout | undefined
      child.stdout!.on('data', (c: Buffer) => out.push(c))
      child.stderr!.on('data', (c: Buffer) => err.push(c))
      child.stdin!.on('error', () => {}) // the program may exit without reading its input
      child.stdin!.end(opts.input ?? '')

      const killAll = () => {
        if (child.pid !== undefined && exit === undefined) this.killTree(child.pid)
      }
      const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
        timedOut = true
        killAll()
      }, Math.max(0, opts.timeoutMs))
      const onAbort = () => {
        aborted = true
        killAll()
      }
      opts.signal?.addEventListener('abort', onAbort, {once: true})

      const finish = () => {
        if (settled) return
        settled = true
        if (timer) clearTimeout(timer)
        if (graceTimer) clearTimeout(graceTimer)
        opts.signal?.removeEventListener('abort', onAbort)
        child.stdout!.destroy()
        child.stderr!.destroy()
        if (aborted) return reject(abortError(opts.signal))
        resolve({
          code: exit?.code ?? null,
          signal: exit?.signal ?? null,
          stdout: out.text(),
          stderr: err.text(),
          timedOut,
          truncated: out.truncated || err.truncated,
          durationMs: Date.now() - started,
        })
      }
      child.on('error', (e) => {
        if (settled) return
        settled = true
        if (timer) clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        reject(spawnError(cmd, e))
      })
      child.on('exit', (code, signal) => {
        exit = {code, signal}
        // A background grandchild may hold our pipes open forever; do not wait for it.
        graceTimer = setTimeout(finish, STREAM_GRACE_MS)
      })
      child.on('close', () => {
        if (exit) finish()
      })
    })
  }

  spawnDetached(cmd: string, args: string[], opts: DetachedOptions = {}): Promise<DetachedProcess> {
    let fd: number | undefined
    if (opts.outputFile) {
      fd = openSync(opts.outputFile, 'a', 0o600)
      if (opts.user) fchownSync(fd, opts.user.uid, opts.user.gid)
    }
    return new Promise<DetachedProcess>((resolve, reject) => {
      let child
      try {
        child = spawn(cmd, args, {
          env: opts.env ?? {},
          cwd: opts.cwd,
          uid: opts.user?.uid,
          gid: opts.user?.gid,
          // setsid(): own session and process group, so signals aimed at the agent's group
          // (terminal SIGINT, a supervisor killing the agent's group) never reach it.
          detached: true,
          stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
        })
      } finally {
        if (fd !== undefined) closeSync(fd) // the child holds its own copy
      }
      let running = true
      const exited = new Promise<ExitInfo>((res) => {
        child.once('exit', (code, signal) => {
          running = false
          res({code, signal})
        })
      })
      child.once('error', (e) => reject(spawnError(cmd, e)))
      child.once('spawn', () => {
        // Do not keep the agent's event loop alive for the postmaster's sake.
        child.unref()
        resolve({pid: child.pid!, exited, running: () => running})
      })
    })
  }

  isAlive(pid: number): boolean {
    return procInfo(pid) !== undefined
  }

  info(pid: number): ProcessInfo | undefined {
    return procInfo(pid)
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    if (!Number.isInteger(pid) || pid <= 1) return false
    try {
      process.kill(pid, signal)
      return true
    } catch {
      return false
    }
  }

  killTree(pid: number): number[] {
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return []
    const killed: number[] = []
    // Freeze the root so that it cannot fork while its descendants are collected.
    if (this.signal(pid, 'SIGSTOP')) killed.push(pid)
    const tree = descendants(pid)
    for (const p of tree) this.signal(p, 'SIGSTOP')
    for (const p of [pid, ...tree]) {
      if (this.signal(p, 'SIGKILL') && !killed.includes(p)) killed.push(p)
    }
    return killed
  }
}
