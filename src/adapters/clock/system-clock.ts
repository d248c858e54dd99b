import {abortError, type Clock} from '../../ports/clock'

/**
 * Milliseconds since this module was loaded, from the monotonic clock: what performance.now()
 * gives (an origin near the process start), without loading perf_hooks into every agent.
 */
const origin = process.hrtime.bigint()
export const monotonicMs = (): number => Number(process.hrtime.bigint() - origin) / 1e6

/** The real clock: Date.now(), the monotonic clock and setTimeout. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now()
  }

  monotonic(): number {
    return monotonicMs()
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      const onAbort = () => {
        clearTimeout(timer)
        reject(abortError(signal))
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, Math.max(0, ms))
      signal?.addEventListener('abort', onAbort, {once: true})
    })
  }

  timer(ms: number, fn: () => void): () => void {
    const t = setTimeout(fn, Math.max(0, ms))
    return () => clearTimeout(t)
  }
}

export const systemClock: Clock = new SystemClock()
