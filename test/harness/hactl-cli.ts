/**
 * Runs hactl's command line as a user would, for the ctl tests: the sources through tsx (so a
 * stale build cannot be tested by mistake), or the built executable when `bin` says so. The
 * variables that would point hactl at another cluster or answer its questions are removed from
 * the environment first. Never throws on a non-zero exit; a run past `timeoutMs` is killed and
 * rejects with what it printed so far.
 */
import {spawn} from 'node:child_process'
import {join, resolve} from 'node:path'

const REPO = join(import.meta.dirname, '..', '..')
const LEAKY_ENV = ['PATRONICTL_CONFIG_FILE', 'DCS_URL', 'PGPASSWORD', 'PGUSER', 'EDITOR', 'HACTL_PROMPT_TIMEOUT']

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  /** wall clock of the whole run */
  ms: number
}

export interface CliOptions {
  /** written to stdin, which is then closed unless `openStdin` */
  input?: string
  /** keep stdin open after `input` (a pipe that never carries the next line) */
  openStdin?: boolean
  env?: Record<string, string>
  timeoutMs?: number
  /** the built executable (e.g. HACTL_TEST_BIN) instead of the sources */
  bin?: string
}

export function runHactl(args: string[], {input = '', openStdin = false, env = {}, timeoutMs = 90_000, bin}: CliOptions = {}): Promise<CliRun> {
  return new Promise((done, reject) => {
    const base = {...process.env}
    for (const k of LEAKY_ENV) delete base[k]
    const [cmd, pre] = bin ? [resolve(bin), []] : [process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli.ts')]]
    const t0 = Date.now()
    const child = spawn(cmd, [...pre, ...args], {cwd: REPO, env: {...base, ...env}, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`hactl ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      done({code, stdout, stderr, ms: Date.now() - t0})
    })
    child.stdin.on('error', () => {})
    if (openStdin) child.stdin.write(input)
    else child.stdin.end(input)
  })
}
