/**
 * The long-running processes (`hactl agent`, `hactl vip`, `hactl haproxy render --watch`) start
 * once more, in the same PID, with glibc's malloc trim threshold fixed at its default 128 KB
 * (docs/architecture.md#malloc-tuning).
 *
 * glibc raises its mmap and trim thresholds each time a large block it had mapped is freed (up to
 * 32 MB). V8 frees such blocks while it starts (its string table, compilation zones), so the
 * agent's heap then keeps every freed page below a threshold of a few hundred KB: ~1.3 MB of
 * private memory that an idle agent never uses again (bench/README.md). Setting the threshold
 * once turns that adjustment off; the value is glibc's own default. GLIBC_TUNABLES is read only
 * when a process starts, hence the second start, which keeps the PID (systemd, pid files).
 *
 * The children (PostgreSQL, pg_ctl, callbacks) must not inherit the setting: their own malloc
 * keeps the adjusting thresholds. The second start restores the environment it was given.
 */
import * as sea from 'node:sea'

/** Carries the caller's GLIBC_TUNABLES into the second start: `unset` or `set:VALUE`. */
export const TUNABLES_MARK = 'HACTL_ORIGINAL_GLIBC_TUNABLES'
export const TRIM_TUNABLE = 'glibc.malloc.trim_threshold=131072'

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
 * the caller set malloc's thresholds themselves (their choice stands).
 */
export function mallocReexec(p: ProcessFacts): Reexec | undefined {
  if (p.platform !== 'linux' || TUNABLES_MARK in p.env) return undefined
  const given = p.env.GLIBC_TUNABLES
  if (given !== undefined && /glibc\.malloc\.(trim|mmap)_threshold=/.test(given)) return undefined
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(p.env)) if (v !== undefined) env[k] = v
  env[TUNABLES_MARK] = given === undefined ? 'unset' : `set:${given}`
  env.GLIBC_TUNABLES = given ? `${given}:${TRIM_TUNABLE}` : TRIM_TUNABLE
  // The executable re-applies its embedded execArgv; `node dist/hactl.js` needs them and the script.
  const args = p.isSea ? [p.argv0, ...p.argv.slice(2)] : [p.argv0, ...p.execArgv, ...p.argv.slice(1)]
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

/** Starts the process again with the tuned malloc, or returns when it should run as it is. */
export function tuneMalloc(): void {
  if (TUNABLES_MARK in process.env) return restoreTunables(process.env)
  if (typeof process.execve !== 'function') return
  const plan = mallocReexec({
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
    // Not fatal: the process runs on with glibc's adjusting thresholds.
  }
}
