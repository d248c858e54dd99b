/**
 * `postgresql.callbacks` (docs/ha-rules.md#callbacks; patroni/postgresql/callback_executor.py):
 * on_start, on_stop, on_restart, on_reload and on_role_change run as
 * `<command...> <action> <role> <scope>`, fire-and-forget. A new callback ends a previous one that
 * still runs (its whole process group), except on_reload, which has its own slot, as in Patroni.
 */
import type {ProcessRunner} from '../ports/process-runner'
import type {Logger} from '../log/logger'
import {wireRoleName, type PrimaryRoleName} from '../core/role-name'

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
  /** The running on_* callback (one at a time) and the running on_reload, each abortable. */
  private main?: AbortController
  private reload?: AbortController

  constructor(
    private readonly d: {
      commands: () => Partial<Record<CallbackAction, string>> | undefined
      scope: () => string
      log: Logger
      /** Runs the callback; aborting its signal kills its whole process tree (ProcessRunner's contract). */
      runner: Pick<ProcessRunner, 'run'>
      /** The callback's environment (the agent's own, as Patroni passes it). */
      env: () => Record<string, string>
      /** How the cluster spells a primary (core/role-name.ts); `master` when not given. */
      primaryRoleName?: () => PrimaryRoleName
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
    const wire = wireRoleName(role, this.d.primaryRoleName?.() ?? 'master')
    const ac = new AbortController()
    if (action === 'on_reload') {
      this.reload?.abort()
      this.reload = ac
    } else {
      this.main?.abort()
      this.main = ac
    }
    this.d.log.info(`calling callback ${action} with role ${wire}`)
    this.d.runner.run(argv[0], [...argv.slice(1), action, wire, this.d.scope()], {env: this.d.env(), signal: ac.signal, maxOutputBytes: 4096}).then(
      (r) => {
        if (r.code !== 0 && !ac.signal.aborted) this.d.log.warning(`callback ${action} exited with ${r.code === null ? `signal ${r.signal}` : `code ${r.code}`}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-500)}` : ''}`)
      },
      (e: unknown) => {
        if (!ac.signal.aborted) this.d.log.warning(`callback ${action} failed to start: ${(e as Error).message}`)
      },
    )
    return true
  }
}
