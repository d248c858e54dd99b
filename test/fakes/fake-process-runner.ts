/**
 * An in-memory ProcessRunner (src/ports/process-runner.ts) on a Clock, for unit tests.
 *
 * A test registers programs by name and the fake runs them as "processes" with pids, a parent,
 * signals, exit statuses and bounded output:
 *
 *   const runner = new FakeProcessRunner(clock)
 *   runner.program('pg_ctl', async (args, io) => {
 *     await io.elapse(500)            // virtual time; rejects (ends the program) when it is killed
 *     return {code: 0, stdout: 'server started\n'}
 *   })
 *
 * test/contract/process-runner-contract.ts runs the same checks on this fake
 * (test/unit/process/fake-process-runner-contract.test.ts) and on NodeProcessRunner with real
 * /bin/sh scripts (test/integration/process/process-runner-contract.test.ts).
 *
 * What it models, and how it differs from the kernel:
 * - A command resolves to the program registered under exactly that string, else under its
 *   basename (`/usr/lib/postgresql/15/bin/pg_ctl` finds `pg_ctl`). Nothing registered: PROCESS_SPAWN
 *   "not found"; registered with `{executable: false}`: PROCESS_SPAWN "not executable".
 * - A program's JavaScript cannot be stopped: when its process dies, `io.signal` aborts (so
 *   io.elapse rejects) and every later io call throws; whatever it returns afterwards is ignored.
 * - SIGKILL (and killTree) takes effect synchronously. Other signals sent with signal() are
 *   delivered on a microtask, as a kernel signal arrives "soon"; a program's signal to itself
 *   (io.raise) is delivered before raise returns, as kill(getpid()) is. A trap (io.onSignal)
 *   replaces the default action; without one a signal terminates the process, except the
 *   ignored/stop/continue ones, which the fake records and otherwise ignores (no stopped state).
 * - Children started with io.spawn share their parent's output and environment; when a parent
 *   dies they are reparented to pid 1, as orphans are.
 * - There is no real file system: `outputFile` of spawnDetached and io.writeFile/appendFile live
 *   in `files` (a Map), which tests read and write too.
 * - run() settles as soon as the direct child has exited (the real adapter may wait up to 500 ms
 *   for grandchildren holding its pipes). durationMs is measured on the clock.
 */
import {basename} from 'node:path'
import {HactlError} from '../../src/errors'
import {abortError, type Clock} from '../../src/ports/clock'
import type {
  DetachedOptions,
  DetachedProcess,
  ExitInfo,
  ProcessInfo,
  ProcessRunner,
  ProcessUser,
  RunOptions,
  RunResult,
} from '../../src/ports/process-runner'

/** The agent's own pid in the fake: the parent of whatever run() and spawnDetached() start. */
export const FAKE_AGENT_PID = 4242
const FIRST_PID = 10_000
const DEFAULT_MAX_OUTPUT = 1024 * 1024
/** Default action "ignore", "stop" or "continue": the fake does not terminate on these. */
const NOT_FATAL = new Set<string>(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'])
const UNCATCHABLE = new Set<string>(['SIGKILL', 'SIGSTOP'])
/** Exit code of a program whose handler threw (sysexits EX_SOFTWARE). */
export const PROGRAM_CRASHED = 70

export interface ProgramResult {
  /** Default 0. */
  code?: number
  /** Appended to what the program already wrote with io.stdout / io.stderr. */
  stdout?: string
  stderr?: string
}

/** A registered program: what the process does, given its argv[1..] and its io. */
export type Program = (args: string[], io: ProgramIO) => Promise<ProgramResult | void> | ProgramResult | void

export type SignalTrap = (signal: NodeJS.Signals) => void | Promise<void>

export interface ProgramIO {
  readonly pid: number
  readonly cmd: string
  /** Exactly the environment given (a child of io.spawn inherits its parent's). */
  readonly env: Readonly<Record<string, string>>
  readonly cwd: string | undefined
  readonly user: ProcessUser | undefined
  /** Everything written to stdin ('' when none: stdin is a closed pipe). Detached: ''. */
  readonly input: string
  readonly detached: boolean
  readonly clock: Clock
  /** Aborts when this process dies (killed, a fatal signal, io.exit, or its program returned). */
  readonly signal: AbortSignal
  /** Virtual time passing for the program (clock.sleep on the fake clock); rejects with an AbortError when the process dies. */
  elapse(ms: number): Promise<void>
  stdout(text: string): void
  stderr(text: string): void
  /** Like sh `trap`: `signal` runs `trap` instead of its default action; null restores the default. */
  onSignal(signal: NodeJS.Signals, trap: SignalTrap | null): void
  /** Ends the process now with `code`; never returns (throws to unwind the program). */
  exit(code: number): never
  /** Sends `signal` to this process, delivered before raise returns (kill(getpid(), ...)). */
  raise(signal: NodeJS.Signals): void
  /** Starts a child process (a registered command, or a program given inline); returns its pid. */
  spawn(cmd: string | Program, args?: string[]): number
  readFile(path: string): string | undefined
  writeFile(path: string, text: string): void
  appendFile(path: string, text: string): void
}

export interface ProgramOptions {
  /** false: the file exists without execute permission (spawning it fails with EACCES). */
  executable?: boolean
}

/** One call of run() / spawnDetached() / io.spawn(), as the fake received it. */
export interface ProcessCall {
  kind: 'run' | 'detached' | 'child' | 'external'
  cmd: string
  args: string[]
  /** [cmd, ...args] */
  argv: string[]
  /** The child's complete environment: what was given, `{}` when nothing was. */
  env: Record<string, string>
  cwd?: string
  user?: ProcessUser
  input?: string
  timeoutMs?: number
  maxOutputBytes?: number
  outputFile?: string
  /** clock.now() of the call. */
  atMs: number
  /** Absent when the process never started (see `error`). */
  pid?: number
  ppid?: number
  /** Why it never started / how run() rejected: `PROCESS_SPAWN: ...`, `AbortError`. */
  error?: string
  /** run(): the result it resolved with. */
  result?: RunResult
  /** Once the process exited. */
  exit?: ExitInfo
}

export interface SignalSent {
  pid: number
  signal: NodeJS.Signals
  atMs: number
  /** false: no such live process (signal() returned false). */
  delivered: boolean
}

/** Keeps the last `max` bytes written to it (the real adapter's rule). */
class TailBuffer {
  private buf = Buffer.alloc(0)
  truncated = false
  constructor(private readonly max: number) {}
  push(text: string): void {
    const next = Buffer.concat([this.buf, Buffer.from(text, 'utf8')])
    if (next.length > this.max) {
      this.truncated = true
      this.buf = next.subarray(next.length - this.max)
    } else {
      this.buf = next
    }
  }
  text(): string {
    return this.buf.toString('utf8')
  }
}

type Sink = (stream: 'stdout' | 'stderr', text: string) => void

interface Proc {
  pid: number
  ppid: number
  cmd: string
  args: string[]
  startTimeMs: number
  detached: boolean
  env: Record<string, string>
  cwd?: string
  user?: ProcessUser
  sink: Sink
  call: ProcessCall
  exit?: ExitInfo
  kill: AbortController
  traps: Map<string, SignalTrap>
  exited: Promise<ExitInfo>
  resolveExit: (e: ExitInfo) => void
}

/** Thrown by io.exit to unwind the program. */
class ProgramExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`)
  }
}

function spawnError(cmd: string, code: 'ENOENT' | 'EACCES'): HactlError {
  const e = Object.assign(new Error(`spawn ${cmd} ${code}`), {code})
  return new HactlError('PROCESS_SPAWN', `cannot run ${cmd}: ${code === 'ENOENT' ? 'not found' : 'not executable'}`, {
    cause: e,
    hints: code === 'ENOENT' ? ['check postgresql.bin_dir (or PATH) in the configuration'] : [],
  })
}

export class FakeProcessRunner implements ProcessRunner {
  private readonly programs = new Map<string, {fn: Program; executable: boolean}>()
  private readonly procs = new Map<number, Proc>()
  private nextPid = FIRST_PID
  /** Every run / spawnDetached / io.spawn, in call order. */
  readonly calls: ProcessCall[] = []
  /** Every signal() and killTree() signal, in order. */
  readonly signals: SignalSent[] = []
  /** The fake file system: spawnDetached's outputFile, io.writeFile / appendFile. */
  readonly files = new Map<string, string>()

  constructor(readonly clock: Clock) {}

  /** Registers (or replaces) the program run for `name` (a basename, or an exact path). */
  program(name: string, fn: Program, opts: ProgramOptions = {}): this {
    this.programs.set(name, {fn, executable: opts.executable ?? true})
    return this
  }

  /** Unregisters `name`: starting it fails with PROCESS_SPAWN "not found" from now on. */
  remove(name: string): this {
    this.programs.delete(name)
    return this
  }

  /** Calls whose command is `name` or ends in `/name`. */
  callsTo(name: string): ProcessCall[] {
    return this.calls.filter((c) => c.cmd === name || basename(c.cmd) === name)
  }

  /** Live processes (a snapshot). */
  live(): (ProcessInfo & {cmd: string; args: string[]})[] {
    return [...this.procs.values()].filter((p) => !p.exit).map((p) => ({...this.infoOf(p), cmd: p.cmd, args: [...p.args]}))
  }

  /**
   * A live process this agent did not start (a postmaster left by an earlier agent, a pid file's
   * process): parent pid 1, no `exited` for us. Runs `fn` (default: until killed). Returns the pid.
   */
  external(cmd: string, args: string[] = [], fn: Program = forever, opts: {env?: Record<string, string>} = {}): number {
    const call = this.record('external', cmd, args, {env: opts.env})
    return this.start(call, fn, {ppid: 1, detached: true, env: opts.env ?? {}, input: '', sink: () => {}}).pid
  }

  /** SIGKILLs every live process (test cleanup). */
  killAll(): void {
    for (const p of [...this.procs.values()]) if (!p.exit) this.deliver(p, 'SIGKILL')
  }

  readFile(path: string): string | undefined {
    return this.files.get(path)
  }

  writeFile(path: string, text: string): void {
    this.files.set(path, text)
  }

  // --- the port -------------------------------------------------------------------------------

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const call = this.record('run', cmd, args, opts)
    if (opts.signal?.aborted) {
      call.error = 'AbortError'
      throw abortError(opts.signal)
    }
    const fn = this.resolve(cmd, call)
    const started = this.clock.monotonic()
    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT
    const out = new TailBuffer(max)
    const err = new TailBuffer(max)
    let open = true
    const sink: Sink = (stream, text) => {
      if (open) (stream === 'stdout' ? out : err).push(text)
    }
    const proc = this.start(call, fn, {ppid: FAKE_AGENT_PID, detached: false, env: opts.env ?? {}, cwd: opts.cwd, user: opts.user, input: opts.input ?? '', sink})
    let timedOut = false
    let aborted = false
    const timer = new AbortController()
    if (opts.timeoutMs !== undefined) {
      this.clock.sleep(Math.max(0, opts.timeoutMs), timer.signal).then(
        () => {
          if (proc.exit) return
          timedOut = true
          this.killTree(proc.pid)
        },
        () => {},
      )
    }
    const onAbort = () => {
      if (proc.exit) return
      aborted = true
      this.killTree(proc.pid)
    }
    opts.signal?.addEventListener('abort', onAbort, {once: true})
    const exit = await proc.exited
    open = false
    timer.abort()
    opts.signal?.removeEventListener('abort', onAbort)
    if (aborted) {
      call.error = 'AbortError'
      throw abortError(opts.signal)
    }
    const result: RunResult = {
      code: exit.code,
      signal: exit.signal,
      stdout: out.text(),
      stderr: err.text(),
      timedOut,
      truncated: out.truncated || err.truncated,
      durationMs: this.clock.monotonic() - started,
    }
    call.result = result
    return result
  }

  async spawnDetached(cmd: string, args: string[], opts: DetachedOptions = {}): Promise<DetachedProcess> {
    const call = this.record('detached', cmd, args, opts)
    const file = opts.outputFile
    // The real adapter opens (creates) the file before it tries to start the program.
    if (file !== undefined && !this.files.has(file)) this.files.set(file, '')
    const fn = this.resolve(cmd, call)
    const sink: Sink = file === undefined ? () => {} : (_stream, text) => this.files.set(file, (this.files.get(file) ?? '') + text)
    const proc = this.start(call, fn, {ppid: FAKE_AGENT_PID, detached: true, env: opts.env ?? {}, cwd: opts.cwd, user: opts.user, input: '', sink})
    return {pid: proc.pid, exited: proc.exited, running: () => !proc.exit}
  }

  isAlive(pid: number): boolean {
    return this.info(pid) !== undefined
  }

  info(pid: number): ProcessInfo | undefined {
    const p = this.procs.get(pid)
    return p && !p.exit ? this.infoOf(p) : undefined
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    if (!Number.isInteger(pid) || pid <= 1) return false
    const p = this.procs.get(pid)
    const delivered = !!p && !p.exit
    this.signals.push({pid, signal, atMs: this.clock.now(), delivered})
    if (!delivered) return false
    if (signal === 'SIGKILL') this.deliver(p, signal)
    else queueMicrotask(() => this.deliver(p, signal))
    return true
  }

  killTree(pid: number): number[] {
    if (!Number.isInteger(pid) || pid <= 1 || pid === FAKE_AGENT_PID) return []
    const root = this.procs.get(pid)
    if (!root || root.exit) return []
    // Collect first (as the real adapter does with SIGSTOP), then kill: no reparenting midway.
    const tree = [root, ...this.descendants(pid)]
    for (const p of tree) {
      this.signals.push({pid: p.pid, signal: 'SIGKILL', atMs: this.clock.now(), delivered: true})
      this.deliver(p, 'SIGKILL')
    }
    return tree.map((p) => p.pid)
  }

  // --- internals ------------------------------------------------------------------------------

  private record(kind: ProcessCall['kind'], cmd: string, args: string[], o: RunOptions & DetachedOptions): ProcessCall {
    const call: ProcessCall = {kind, cmd, args: [...args], argv: [cmd, ...args], env: {...(o.env ?? {})}, atMs: this.clock.now()}
    if (o.cwd !== undefined) call.cwd = o.cwd
    if (o.user !== undefined) call.user = {...o.user}
    if (o.input !== undefined) call.input = o.input
    if (o.timeoutMs !== undefined) call.timeoutMs = o.timeoutMs
    if (o.maxOutputBytes !== undefined) call.maxOutputBytes = o.maxOutputBytes
    if (o.outputFile !== undefined) call.outputFile = o.outputFile
    this.calls.push(call)
    return call
  }

  private resolve(cmd: string, call: ProcessCall): Program {
    const entry = this.programs.get(cmd) ?? (cmd.includes('/') ? this.programs.get(basename(cmd)) : undefined)
    const problem = !entry ? 'ENOENT' : entry.executable ? undefined : 'EACCES'
    if (problem) {
      const e = spawnError(cmd, problem)
      call.error = `PROCESS_SPAWN: ${e.message}`
      throw e
    }
    return entry!.fn
  }

  private infoOf(p: Proc): ProcessInfo {
    // comm is the executable's basename, cut to TASK_COMM_LEN - 1 as the kernel does.
    return {pid: p.pid, ppid: p.ppid, comm: basename(p.cmd).slice(0, 15), startTimeMs: p.startTimeMs, state: 'S'}
  }

  private descendants(pid: number): Proc[] {
    const out: Proc[] = []
    const queue = [pid]
    while (queue.length) {
      const parent = queue.shift()!
      for (const p of this.procs.values()) {
        if (p.exit || p.ppid !== parent || out.includes(p)) continue
        out.push(p)
        queue.push(p.pid)
      }
    }
    return out
  }

  private start(
    call: ProcessCall,
    fn: Program,
    o: {ppid: number; detached: boolean; env: Record<string, string>; cwd?: string; user?: ProcessUser; input: string; sink: Sink},
  ): Proc {
    let resolveExit!: (e: ExitInfo) => void
    const exited = new Promise<ExitInfo>((r) => (resolveExit = r))
    const proc: Proc = {
      pid: this.nextPid++,
      ppid: o.ppid,
      cmd: call.cmd,
      args: [...call.args],
      startTimeMs: this.clock.now(),
      detached: o.detached,
      env: {...o.env},
      cwd: o.cwd,
      user: o.user,
      sink: o.sink,
      call,
      kill: new AbortController(),
      traps: new Map(),
      exited,
      resolveExit,
    }
    call.pid = proc.pid
    call.ppid = proc.ppid
    this.procs.set(proc.pid, proc)
    const io = this.io(proc, o.input)
    // A process starts running after the spawn call returned (microtask), as a forked child does.
    Promise.resolve()
      .then(() => fn([...proc.args], io))
      .then(
        (r) => {
          if (proc.exit) return
          if (r?.stdout) proc.sink('stdout', r.stdout)
          if (r?.stderr) proc.sink('stderr', r.stderr)
          this.terminate(proc, {code: r?.code ?? 0, signal: null})
        },
        (e: unknown) => this.crashed(proc, e),
      )
    return proc
  }

  /** A program (or its trap) threw while its process was alive: it exits with PROGRAM_CRASHED. */
  private crashed(proc: Proc, e: unknown): void {
    if (proc.exit || e instanceof ProgramExit) return
    proc.sink('stderr', `${basename(proc.cmd)}: ${e instanceof Error ? e.message : String(e)}\n`)
    this.terminate(proc, {code: PROGRAM_CRASHED, signal: null})
  }

  private terminate(proc: Proc, exit: ExitInfo): void {
    if (proc.exit) return
    proc.exit = exit
    proc.call.exit = exit
    proc.kill.abort()
    for (const p of this.procs.values()) if (!p.exit && p.ppid === proc.pid) p.ppid = 1
    proc.resolveExit(exit)
  }

  private deliver(proc: Proc, signal: NodeJS.Signals): void {
    if (proc.exit) return
    if (signal === 'SIGKILL') return this.terminate(proc, {code: null, signal})
    const trap = UNCATCHABLE.has(signal) ? undefined : proc.traps.get(signal)
    if (trap) {
      try {
        const r = trap(signal)
        if (r instanceof Promise) r.catch((e: unknown) => this.crashed(proc, e))
      } catch (e) {
        this.crashed(proc, e)
      }
      return
    }
    if (NOT_FATAL.has(signal)) return
    this.terminate(proc, {code: null, signal})
  }

  private io(proc: Proc, input: string): ProgramIO {
    const alive = () => {
      if (proc.exit) throw abortError(proc.kill.signal)
    }
    return {
      pid: proc.pid,
      cmd: proc.cmd,
      env: proc.env,
      cwd: proc.cwd,
      user: proc.user,
      input,
      detached: proc.detached,
      clock: this.clock,
      signal: proc.kill.signal,
      elapse: (ms) => this.clock.sleep(ms, proc.kill.signal),
      stdout: (text) => {
        alive()
        proc.sink('stdout', text)
      },
      stderr: (text) => {
        alive()
        proc.sink('stderr', text)
      },
      onSignal: (signal, trap) => {
        if (UNCATCHABLE.has(signal)) throw new Error(`${signal} cannot be caught`)
        if (trap) proc.traps.set(signal, trap)
        else proc.traps.delete(signal)
      },
      exit: (code) => {
        alive()
        this.terminate(proc, {code, signal: null})
        throw new ProgramExit(code)
      },
      raise: (signal) => {
        alive()
        this.signals.push({pid: proc.pid, signal, atMs: this.clock.now(), delivered: true})
        this.deliver(proc, signal)
      },
      spawn: (cmd, args = []) => {
        alive()
        const name = typeof cmd === 'string' ? cmd : `${basename(proc.cmd)}-child`
        const call = this.record('child', name, args, {env: proc.env, cwd: proc.cwd})
        if (proc.user) call.user = {...proc.user}
        const fn = typeof cmd === 'string' ? this.resolve(cmd, call) : cmd
        return this.start(call, fn, {ppid: proc.pid, detached: false, env: proc.env, cwd: proc.cwd, user: proc.user, input: '', sink: proc.sink}).pid
      },
      readFile: (path) => this.files.get(path),
      writeFile: (path, text) => {
        alive()
        this.files.set(path, text)
      },
      appendFile: (path, text) => {
        alive()
        this.files.set(path, (this.files.get(path) ?? '') + text)
      },
    }
  }
}

/** A program that runs until it is killed. */
export const forever: Program = async (_args, io) => {
  for (;;) await io.elapse(3_600_000)
}
