/**
 * Running external programs: PostgreSQL's binaries, callbacks, custom bootstrap and replica
 * scripts. Everything the agent executes goes through this port so that ownership (uid/gid),
 * environment, time limits and cancellation are handled the same way everywhere.
 *
 * Contract:
 * - run() never rejects because of the exit status: a non-zero code, a signal or a timeout are
 *   data in RunResult. It rejects only when the program cannot be started at all (ENOENT,
 *   EACCES: a HactlError PROCESS_SPAWN naming the program) or when `signal` aborts (an
 *   AbortError, after the process tree was killed).
 * - On timeout or abort the whole process tree that run() started is killed with SIGKILL, by
 *   PID, and run() settles only after the direct child has exited: no orphan keeps writing
 *   into a data directory we are about to reuse.
 * - Output is bounded: only the last `maxOutputBytes` of stdout and of stderr are kept
 *   (errors are printed last), `truncated` says when bytes were dropped.
 * - spawnDetached() starts a long-lived process (the postmaster) in its own session, with no
 *   pipe to us: it survives the agent's exit, a restart of the agent and a SIGINT to the agent's
 *   terminal, as Patroni's postmaster does under systemd's KillMode=process.
 */

/** The account a child runs as. Absent: the agent's own account. */
export interface ProcessUser {
  uid: number
  gid: number
}

export interface RunOptions {
  /** The complete environment of the child (nothing is inherited implicitly). */
  env?: Record<string, string>
  cwd?: string
  user?: ProcessUser
  /** Kill the tree after this long; `undefined` = no limit. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Written to stdin, which is then closed. stdin is always a closed pipe, never a TTY. */
  input?: string
  /** Per stream; default 1 MiB. */
  maxOutputBytes?: number
}

export interface RunResult {
  /** Exit code, or null when the process died from a signal. */
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  timedOut: boolean
  truncated: boolean
  durationMs: number
}

export interface DetachedOptions {
  env?: Record<string, string>
  cwd?: string
  user?: ProcessUser
  /** stdout and stderr are appended to this file (created with mode 0600, owned by `user`); absent: discarded. */
  outputFile?: string
}

export interface ExitInfo {
  code: number | null
  signal: string | null
}

export interface DetachedProcess {
  readonly pid: number
  /**
   * Resolves when the process exits, as long as this agent process is its parent. After an
   * agent restart the process is someone else's child: use ProcessRunner.isAlive(pid).
   */
  readonly exited: Promise<ExitInfo>
  /** True until `exited` has resolved. */
  running(): boolean
}

export interface ProcessInfo {
  pid: number
  ppid: number
  /** The executable's short name (`comm`), e.g. `postgres`. */
  comm: string
  /** Process start in ms since the epoch (accurate to the kernel clock tick). */
  startTimeMs: number
  /** Zombies and dead processes are reported as absent, never as alive. */
  state: string
}

export interface ProcessRunner {
  run(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>
  /** Resolves once the process is running (rejects with PROCESS_SPAWN when it cannot start). */
  spawnDetached(cmd: string, args: string[], opts?: DetachedOptions): Promise<DetachedProcess>
  /** Live (not zombie) process? */
  isAlive(pid: number): boolean
  /** What the kernel says about `pid`, or undefined when it does not exist or is a zombie. */
  info(pid: number): ProcessInfo | undefined
  /**
   * Sends `signal` to `pid` only. Returns false when the process does not exist.
   * Never used with a PID we did not obtain from a process we started or a pid file we validated.
   */
  signal(pid: number, signal: NodeJS.Signals): boolean
  /**
   * SIGKILLs `pid` and every descendant (stopped first so that it cannot fork new ones while
   * we collect them). Returns the PIDs signalled.
   */
  killTree(pid: number): number[]
}
