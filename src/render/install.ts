/**
 * The confd-style change pipeline for a rendered file: stage it beside the target, let
 * `haproxy -c` judge the staged file, rename it over the target (atomic on one file system),
 * then run the reload command. A file whose content did not change is never touched.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {HactlError, errorMessage} from '../errors'

export interface CommandResult {
  code: number | null
  signal: string | null
  output: string
  /** spawn failed (ENOENT...): the command never ran. */
  spawnError?: string
}

/** Runs argv (no shell) or, with `shell`, `/bin/sh -c cmd`; output is stdout+stderr interleaved. */
export function runCommand(file: string, args: string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = ''
    let settled = false
    const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe']})
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-64 * 1024)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({code: null, signal: null, output, spawnError: errorMessage(e)})
    })
    child.on('close', (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve({code, signal, output})
    })
  })
}

/** The file's text, or null when it does not exist. */
export function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new HactlError('USAGE', `--output ${JSON.stringify(path)}: cannot read the current file: ${errorMessage(e)}`, {exitCode: 1})
  }
}

/**
 * Writes `text` to a new hidden file in `dir` (the target's directory, so that rename() stays on
 * one file system), flushed to disk, with the target's mode when it exists (0644 otherwise).
 */
export function stageFile(dir: string, target: string | null, text: string): string {
  const staged = join(dir, `.${target ? basename(target) : 'haproxy.cfg'}.hactl-${randomBytes(6).toString('hex')}`)
  let mode = 0o644
  if (target) {
    try {
      mode = statSync(target).mode & 0o7777
    } catch {
      // new file: 0644
    }
  }
  try {
    writeFileSync(staged, text, {mode, flag: 'wx'})
    const fd = openSync(staged, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    removeQuietly(staged)
    throw new HactlError('USAGE', `cannot write a staging file in ${JSON.stringify(dir)}: ${errorMessage(e)}`, {exitCode: 1})
  }
  return staged
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone
  }
}

/** rename() over the target, then fsync the directory so the new name survives a crash. */
export function installStaged(staged: string, target: string): void {
  try {
    renameSync(staged, target)
  } catch (e) {
    removeQuietly(staged)
    throw new HactlError('USAGE', `--output ${JSON.stringify(target)}: cannot replace the file: ${errorMessage(e)}`, {exitCode: 1})
  }
  try {
    const fd = openSync(dirname(target), 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
  }
}

/** HAProxy's ALERT lines (its [NOTICE] banner lines are noise here). */
export function alertLines(output: string): string[] {
  return output.split('\n').filter((l) => /\[(ALERT|WARNING)\]/.test(l)).map((l) => l.replace(/^\[(ALERT|WARNING)\]\s*\(\d+\)\s*:\s*/, '$1: '))
}

/**
 * `haproxy -c -f <file>`; throws with HAProxy's ALERT lines when it refuses the file, or when
 * HAProxy cannot be run at all.
 */
export async function haproxyCheck(haproxyBin: string, file: string, timeoutMs = 30_000): Promise<void> {
  const r = await runCommand(haproxyBin, ['-c', '-f', file], timeoutMs)
  if (r.spawnError !== undefined) {
    throw new HactlError('PROCESS_SPAWN', `--check: cannot run ${JSON.stringify(haproxyBin)}: ${r.spawnError}`, {
      hints: ['install haproxy, point --haproxy-bin at it, or drop --check'],
    })
  }
  if (r.code !== 0) {
    const alerts = alertLines(r.output)
    throw new HactlError('CONFIG_INVALID', `haproxy -c refused the rendered configuration (exit ${r.code ?? r.signal}); nothing was installed`, {
      hints: alerts.length ? alerts : [r.output.trim() || '(haproxy printed nothing)'],
    })
  }
}

/** Checks text that is not going to be installed (no --output): staged in the temp directory. */
export async function haproxyCheckText(haproxyBin: string, text: string): Promise<void> {
  const staged = stageFile(tmpdir(), null, text)
  try {
    await haproxyCheck(haproxyBin, staged)
  } finally {
    removeQuietly(staged)
  }
}

export async function runReload(cmd: string, timeoutMs = 120_000): Promise<CommandResult> {
  return runCommand('/bin/sh', ['-c', cmd], timeoutMs)
}
