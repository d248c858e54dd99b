/**
 * Typed errors, translated once at the adapter boundary
 * (docs/architecture.md#errors-are-translated-at-the-adapter-boundary).
 * A message states the rule, the value and the way out; `hints` add the way out
 * when it does not fit in one sentence.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'DCS_UNAVAILABLE'
  | 'DCS_AUTH'
  | 'DCS_LEASE_NOT_FOUND'
  | 'DCS_PROTOCOL'
  | 'USAGE'
  | 'PROCESS_SPAWN'
  | 'PG_UNAVAILABLE'
  | 'PG_COMMAND_FAILED'
  | 'PG_START_FAILED'
  | 'PG_STOP_FAILED'
  | 'PG_PRECONDITION'
  | 'INTERNAL'

export class HactlError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  readonly hints: string[]
  readonly recoverable: boolean

  constructor(
    code: ErrorCode,
    message: string,
    opts: {exitCode?: number; hints?: string[]; recoverable?: boolean; cause?: unknown} = {},
  ) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'HactlError'
    this.code = code
    this.exitCode = opts.exitCode ?? 1
    this.hints = opts.hints ?? []
    this.recoverable = opts.recoverable ?? false
  }
}

export function isHactlError(e: unknown, code?: ErrorCode): e is HactlError {
  return e instanceof HactlError && (code === undefined || e.code === code)
}

/** Message of any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}
