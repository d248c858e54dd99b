import {HactlError} from '../errors'
import {MASK, isCredentialContainer, isSecretKey, isSecretPath, redactText} from './redact'

export type Severity = 'error' | 'warning'

/**
 * One problem found in a configuration. `path` is the dotted key path
 * (`postgresql.authentication.replication.username`, list items as `hosts[1]`); `value` is the
 * offending value already rendered for display, masked when the key is a secret; `source` says
 * where the value came from when that is not the main file (`PATRONI_RESTAPI_LISTEN`,
 * `conf.d/10-base.yml:3:7`).
 */
export interface ConfigIssue {
  severity: Severity
  path: string
  message: string
  value?: string
  source?: string
}

/** Collects every issue of one validation run; validators never throw on bad input. */
export class IssueCollector {
  readonly issues: ConfigIssue[] = []

  /**
   * requireKeys false: required keys may be missing (patronictl reads partial configs, e.g. only
   * `scope`). strict (`hactl agent --strict`): dynamic values Patroni adjusts or ignores with a
   * warning are errors instead (src/config/dynamic-schema.ts).
   */
  constructor(
    readonly requireKeys = true,
    readonly strict = false,
  ) {}

  error(path: string, message: string, ...value: [unknown?]): void {
    this.add('error', path, message, value)
  }

  warn(path: string, message: string, ...value: [unknown?]): void {
    this.add('warning', path, message, value)
  }

  get errors(): ConfigIssue[] {
    return this.issues.filter((i) => i.severity === 'error')
  }

  get warnings(): ConfigIssue[] {
    return this.issues.filter((i) => i.severity === 'warning')
  }

  hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error')
  }

  private add(severity: Severity, path: string, message: string, value: [unknown?]): void {
    const issue: ConfigIssue = {severity, path, message}
    if (value.length > 0) issue.value = displayValue(value[0], isSecretPath(path))
    this.issues.push(issue)
  }
}

/** Short, single-line rendering of a config value for messages; secrets come out masked. */
export function displayValue(value: unknown, secret = false): string {
  if (secret && value !== null && value !== undefined && value !== '') return MASK
  if (value === undefined) return 'nothing'
  if (value === null) return 'null (empty value)'
  if (typeof value === 'string') return truncate(JSON.stringify(redactText(value)))
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return truncate(JSON.stringify(maskDeep(value)) ?? String(value))
}

function maskDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskDeep)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      out[k] = (isSecretKey(k) || isCredentialContainer(k)) && (typeof v !== 'object' || v === null) ? MASK : maskDeep(v)
    }
    return out
  }
  if (typeof value === 'string') return redactText(value)
  return value
}

function truncate(s: string, max = 80): string {
  return s.length <= max ? s : s.slice(0, max - 3) + '...'
}

/** One line per issue: `path: message (got VALUE) [from SOURCE]`. Warnings carry a `warning:` prefix. */
export function formatIssue(issue: ConfigIssue): string {
  const line = describeIssue(issue)
  return issue.severity === 'warning' ? `warning: ${line}` : line
}

/** `path: message (got VALUE) [from SOURCE]`, without a severity prefix (for log lines that carry a level). */
export function describeIssue(issue: ConfigIssue): string {
  const where = issue.path === '' ? '(top level)' : issue.path
  let line = `${where}: ${issue.message}`
  if (issue.value !== undefined) line += ` (got ${issue.value})`
  if (issue.source !== undefined) line += ` [from ${issue.source}]`
  return line
}

/** Errors first, then warnings, one per line, no trailing newline. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  const errors = issues.filter((i) => i.severity === 'error')
  const warnings = issues.filter((i) => i.severity === 'warning')
  return [...errors, ...warnings].map(formatIssue).join('\n')
}

/** Thrown when a configuration has errors; carries every issue found (warnings included). */
export class ConfigError extends HactlError {
  readonly issues: ConfigIssue[]

  constructor(issues: ConfigIssue[], what = 'configuration') {
    const errors = issues.filter((i) => i.severity === 'error')
    const first = errors[0] === undefined ? '' : `: ${formatIssue(errors[0])}`
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''
    super('CONFIG_INVALID', `invalid ${what}${first}${more}`, {
      exitCode: 1,
      hints: errors.slice(1).map(formatIssue),
    })
    this.name = 'ConfigError'
    this.issues = issues
  }
}
