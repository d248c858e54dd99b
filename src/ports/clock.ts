/**
 * Time as an input (docs/architecture.md#time-is-an-input). Only src/adapters/clock touches real
 * timers; unit tests drive a FakeClock (test/fakes/fake-clock.ts) instead.
 */
export interface Clock {
  /** Wall-clock time in ms since the epoch; for timestamps written out (ISO strings, logs). */
  now(): number
  /**
   * Monotonic ms with an arbitrary origin; for deadlines and durations, immune to wall-clock
   * steps (NTP, operator `date -s`). Never compare it with now().
   */
  monotonic(): number
  /**
   * Resolves after `ms` (at least 0). Rejects with an AbortError-like error (`name === 'AbortError'`)
   * as soon as `signal` aborts, so a caller can race a sleep against other events and cancel it.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  /**
   * Calls `fn` once after `ms` (at least 0) unless the returned function cancels it first. For
   * deadlines that are nearly always cancelled (a request answered, a query returned): a sleep
   * raced against the work costs an AbortController, a listener and an abort event each time.
   */
  timer(ms: number, fn: () => void): () => void
}

/**
 * The reason to abort a timer with once whatever it raced against has settled (a request answered,
 * a query returned). One shared AbortError: `abort()` without a reason builds a DOMException, and
 * sleep() rejecting builds an error, each capturing a stack trace, on every etcd request and status
 * query of every cycle; with this one sleep() rejects with it as it is.
 */
export const SETTLED: Error = Object.assign(new Error('settled'), {name: 'AbortError'})

/** The error sleep() rejects with when aborted. */
export function abortError(signal?: AbortSignal): Error {
  const reason = signal?.reason
  if (reason instanceof Error && reason.name === 'AbortError') return reason
  const e = new Error('the operation was aborted')
  e.name = 'AbortError'
  return e
}

export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError'
}
