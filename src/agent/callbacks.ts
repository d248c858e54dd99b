/**
 * `postgresql.callbacks` (docs/ha-rules.md#callbacks; patroni/postgresql/callback_executor.py):
 * on_start, on_stop, on_restart, on_reload and on_role_change run as
 * `<command...> <action> <role> <scope>`, fire-and-forget. A new callback ends a previous one that
 * still runs (its whole process group), except on_reload, which has its own slot, as in Patroni.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import type {Logger} from '../log/logger'

export type CallbackAction = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change'

/**
 * POSIX-shell-like word splitting (Python's shlex.split): quotes group, backslash escapes
 * outside single quotes. Undefined for an unterminated quote.
 */
export function shellSplit(text: string): string[] | undefined {
  const words: string[] = []
  let cur = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote === "'") {
      if (c === "'") quote = null
      else cur += c
    } else if (quote === '"') {
      if (c === '"') quote = null
      else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) cur += text[++i]
      else cur += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === '\\') {
      if (i + 1 < text.length) cur += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (quote) return undefined
  if (inWord) words.push(cur)
  return words
}

export class Callbacks {
  private main?: ChildProcess
  private reload?: ChildProcess

  constructor(
    private readonly d: {
      commands: () => Partial<Record<CallbackAction, string>> | undefined
      scope: () => string
      log: Logger
    },
  ) {}

  /** Starts the configured command for `action`, if any. True when something was started. */
  fire(action: CallbackAction, role: string): boolean {
    const cmd = this.d.commands()?.[action]
    if (!cmd) return false
    const argv = shellSplit(cmd)
    if (!argv || argv.length === 0) {
      this.d.log.warning(`postgresql.callbacks.${action}: cannot split the command line (unbalanced quotes?): not run`)
      return false
    }
    const wire = role === 'primary' || role === 'promoted' ? 'master' : role
    const previous = action === 'on_reload' ? this.reload : this.main
    if (previous && previous.exitCode === null && previous.signalCode === null) killGroup(previous)
    try {
      const child = spawn(argv[0], [...argv.slice(1), action, wire, this.d.scope()], {detached: true, stdio: 'ignore'})
      child.on('error', (e) => this.d.log.warning(`callback ${action} failed to start: ${e.message}`))
      child.unref()
      if (action === 'on_reload') this.reload = child
      else this.main = child
      this.d.log.info(`calling callback ${action} with role ${wire}`)
      return true
    } catch (e) {
      this.d.log.warning(`callback ${action} failed to start: ${(e as Error).message}`)
      return false
    }
  }
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
}
