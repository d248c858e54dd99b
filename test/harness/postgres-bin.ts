import {spawn, type SpawnOptions} from 'node:child_process'
import {chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runAs} from './unprivileged'

/** Debian's PostgreSQL 15 server binaries (initdb, pg_ctl, postgres, pg_rewind, ...). */
export const PG_BIN_DIR = process.env.HACTL_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin'

export function pgBin(name: string): string {
  return join(PG_BIN_DIR, name)
}

/**
 * A clean environment for PostgreSQL-side tools. Inherited PG* and PATRONI_* variables would
 * silently override the generated configuration (Patroni reads PATRONI_* as config), so they are
 * dropped; a UTF-8 locale keeps initdb and Python's click happy.
 */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PYTHONUNBUFFERED: '1',
  }
  if (process.env.TZ) env.TZ = process.env.TZ
  return {...env, ...extra}
}

/** spawn() options that run the child as the unprivileged account when we are root. */
export function asUser(home: string, extra: Record<string, string> = {}): Pick<SpawnOptions, 'uid' | 'gid' | 'env'> {
  const who = runAs()
  return who ? {uid: who.uid, gid: who.gid, env: cleanEnv(home, extra)} : {env: cleanEnv(home, extra)}
}

/** mkdir -p, then hand the directory to the unprivileged account. */
export function ownedDir(path: string, mode = 0o700): string {
  mkdirSync(path, {recursive: true, mode})
  const who = runAs()
  if (who) chownSync(path, who.uid, who.gid)
  return path
}

/** Writes a file the unprivileged account can read (and PostgreSQL accepts: 0600 for secrets). */
export function writeOwnedFile(path: string, content: string, mode = 0o600): void {
  writeFileSync(path, content, {mode})
  const who = runAs()
  if (who) chownSync(path, who.uid, who.gid)
}

export interface CommandResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs a command to completion with no TTY (stdin is a pipe fed with `input`, then closed).
 * On timeout the child, and only that child, is killed by PID.
 */
export function runCommand(
  cmd: string,
  args: string[],
  opts: SpawnOptions & {input?: string; timeoutMs?: number} = {},
): Promise<CommandResult> {
  const {input, timeoutMs = 60_000, ...spawnOpts} = opts
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {...spawnOpts, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
    child.stdin!.on('error', () => {}) // the command may exit before reading its input
    child.stdin!.end(input ?? '')
  })
}

/** The postmaster PID from <dataDir>/postmaster.pid, or undefined when there is none. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid')
  if (!existsSync(file)) return undefined
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]?.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined // removed between the check and the read
  }
}

/**
 * True when `pid` is a live process (a zombie counts as dead: an orphaned postmaster is
 * re-parented to a PID 1 that may never reap it in a container).
 */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/**
 * True when `pid` is the postmaster of `dataDir`: the PID in postmaster.pid may be stale and
 * reused by an unrelated process, which we must never signal.
 */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return /postgres|postmaster/.test(argv[0] ?? '') && argv.includes(dataDir)
  } catch {
    return false
  }
}

/** Signals the postmaster of `dataDir` if it is alive and really is that postmaster. */
export function signalPostmaster(dataDir: string, signal: NodeJS.Signals): number | undefined {
  const pid = postmasterPid(dataDir)
  if (pid === undefined || !pidAlive(pid) || !isPostmasterOf(pid, dataDir)) return undefined
  try {
    process.kill(pid, signal)
    return pid
  } catch {
    return undefined
  }
}
