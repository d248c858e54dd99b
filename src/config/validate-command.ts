/**
 * `hactl agent --validate-config [--strict] [PATH]`: load and validate, print every problem, exit
 * 0 valid, 1 invalid, 2 when the path is missing or unreadable. Without --strict the dynamic values
 * Patroni adjusts (timing, slots it skips) are warnings; with it they are errors. Output never holds secrets:
 * issue values are masked at the source and lines pass through redactText as a last guard.
 */
import {isHactlError} from '../errors'
import {type Env} from './env'
import {ConfigError, formatIssue} from './issues'
import {loadConfig} from './load'
import {collectSecrets, redactText} from './redact'

export interface Io {
  out(s: string): void
  err(s: string): void
}

export function runValidateConfig(path: string | undefined, env: Env, io: Io, opts: {strict?: boolean} = {}): number {
  // Secrets known from the env are masked verbatim even if some message quoted them.
  const envSecrets = collectSecrets(Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('PATRONI'))))
  const say = (s: string) => io.err(redactText(s, envSecrets) + '\n')
  const what = path ?? 'configuration from the environment'
  try {
    const loaded = loadConfig(path, env, opts)
    const secrets = [...envSecrets, ...collectSecrets(loaded.raw)]
    for (const w of loaded.warnings) io.err(redactText(formatIssue(w), secrets) + '\n')
    const c = loaded.config
    const n = loaded.warnings.length
    io.out(
      redactText(`configuration OK: ${what} (scope ${c.scope}, member ${c.name}${n > 0 ? `, ${n} warning${n === 1 ? '' : 's'}` : ''})`, secrets) +
        '\n',
    )
    return 0
  } catch (e) {
    if (e instanceof ConfigError) {
      const errors = e.issues.filter((i) => i.severity === 'error')
      say(`${what}: ${errors.length} error${errors.length === 1 ? '' : 's'}`)
      for (const i of errors) say(formatIssue(i))
      for (const i of e.issues.filter((x) => x.severity === 'warning')) say(formatIssue(i))
      return 1
    }
    if (isHactlError(e, 'CONFIG_NOT_FOUND')) {
      say(`Error: ${e.message}`)
      for (const h of e.hints) say(`  hint: ${h}`)
      return 2
    }
    throw e
  }
}
