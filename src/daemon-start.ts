/**
 * The long-running processes (`hactl agent`, `hactl vip`, `hactl haproxy render --watch`) start
 * once more, in the same PID (systemd, pid files), with the runtime settings of a process that
 * lives for weeks at a few objects per second (docs/architecture.md#daemon-start):
 *
 * - Node's memory-saving V8 flags (`DAEMON_NODE_FLAGS`). The executable's embedded execArgv is
 *   empty, so the short commands run with V8's defaults: Node's built-in modules then load from
 *   the code cache compiled into the binary, which V8 rejects under other flags, and the chunks
 *   load from the code cache the build made (scripts/build.mjs). A daemon gets the flags back
 *   through the executable's `--node-options=` argument (the SEA's `execArgvExtension: cli`).
 * - glibc's malloc trim threshold fixed at its default 128 KB. glibc raises its mmap and trim
 *   thresholds each time a large block it had mapped is freed (up to 32 MB). V8 frees such blocks
 *   while it starts (its string table, compilation zones), so the agent's heap then keeps every
 *   freed page below a threshold of a few hundred KB: ~1.3 MB of private memory that an idle
 *   agent never uses again (bench/README.md). Setting the threshold once turns that adjustment
 *   off. GLIBC_TUNABLES is read only when a process starts, hence the second start.
 *
 * The children (PostgreSQL, pg_ctl, callbacks) must not inherit the malloc setting: their own
 * malloc keeps the adjusting thresholds. The second start restores the environment it was given.
 */
import * as sea from 'node:sea'

/** Carries the caller's GLIBC_TUNABLES into the second start: `unset` or `set:VALUE`. It also marks the second start. */
export const TUNABLES_MARK = 'HACTL_ORIGINAL_GLIBC_TUNABLES'
export const TRIM_TUNABLE = 'glibc.malloc.trim_threshold=131072'
/**
 * V8 flags of the daemons (bench/README.md has the figures):
 * - young generation semi-spaces of at most 1 MB: the default (up to 16 MB each) kept ~2 MB more
 *   private memory in every agent;
 * - `--lite-mode` (no compiling tiers above the interpreter, feedback allocated lazily) and
 *   `--single-threaded` (no GC and compiler worker threads, nor their malloc arenas): another
 *   ~5 MB off every idle agent, for CPU-bound JavaScript at ~1.4x; the agent runs a few ms of it
 *   per loop_wait.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--lite-mode', '--single-threaded']

export interface Reexec {
  readonly file: string
  readonly args: string[]
  readonly env: Record<string, string>
}

export interface ProcessFacts {
  readonly env: NodeJS.ProcessEnv
  readonly platform: string
  readonly execPath: string
  readonly argv0: string
  /** process.argv: [node, script, ...] or, in the executable, [exe, exe, ...]. */
  readonly argv: readonly string[]
  readonly execArgv: readonly string[]
  readonly isSea: boolean
}

/**
 * What to exec, or undefined when this process is already the second start, is not on Linux, or
 * needs neither setting: run by `node` (its flags are the caller's), and the caller set malloc's
 * thresholds themselves (their choice stands).
 */
export function daemonReexec(p: ProcessFacts): Reexec | undefined {
  if (p.platform !== 'linux' || TUNABLES_MARK in p.env) return undefined
  const given = p.env.GLIBC_TUNABLES
  const ownThresholds = given !== undefined && /glibc\.malloc\.(trim|mmap)_threshold=/.test(given)
  const flagsMissing = p.isSea && DAEMON_NODE_FLAGS.some((f) => !p.execArgv.includes(f))
  if (ownThresholds && !flagsMissing) return undefined
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(p.env)) if (v !== undefined) env[k] = v
  env[TUNABLES_MARK] = given === undefined ? 'unset' : `set:${given}`
  if (!ownThresholds) env.GLIBC_TUNABLES = given ? `${given}:${TRIM_TUNABLE}` : TRIM_TUNABLE
  // The executable: the flags, then Node options the caller gave with --node-options, which
  // Node took out of argv; `node dist/hactl.js`: the caller's node flags and the script.
  const nodeOptions = [...DAEMON_NODE_FLAGS, ...p.execArgv.filter((a) => !DAEMON_NODE_FLAGS.includes(a))]
  const args = p.isSea ? [p.argv0, `--node-options=${nodeOptions.join(' ')}`, ...p.argv.slice(2)] : [p.argv0, ...p.execArgv, ...p.argv.slice(1)]
  return {file: p.execPath, args, env}
}

/** In the second start: give the environment back as the caller had it (children inherit it). */
export function restoreTunables(env: NodeJS.ProcessEnv): void {
  const mark = env[TUNABLES_MARK]
  if (mark === undefined) return
  delete env[TUNABLES_MARK]
  if (mark.startsWith('set:')) env.GLIBC_TUNABLES = mark.slice(4)
  else delete env.GLIBC_TUNABLES
}

/** Starts the process again with the daemon's settings, or returns when it should run as it is. */
export function startAsDaemon(): void {
  if (TUNABLES_MARK in process.env) return restoreTunables(process.env)
  if (typeof process.execve !== 'function') return
  const plan = daemonReexec({
    env: process.env,
    platform: process.platform,
    execPath: process.execPath,
    argv0: process.argv0,
    argv: process.argv,
    execArgv: process.execArgv,
    isSea: sea.isSea(),
  })
  if (!plan) return
  try {
    process.execve(plan.file, plan.args, plan.env)
  } catch {
    // Not fatal: the process runs on with V8's default flags and glibc's adjusting thresholds.
  }
}
