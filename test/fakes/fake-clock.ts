import {abortError, type Clock} from '../../src/ports/clock'

interface Timer {
  at: number
  seq: number
  fire: () => void
}

/**
 * A clock that only moves when a test says so. now() and monotonic() share one timeline
 * (starting at `startMs`), so durations read either way agree. Timers fire in due order
 * during advance(), and advance() lets promise callbacks of each fired timer run before it
 * fires the next, so chains like "sleep, then do I/O, then sleep again" progress as they would
 * in real time.
 */
export class FakeClock implements Clock {
  private t: number
  private seq = 0
  private timers: Timer[] = []

  constructor(startMs = Date.UTC(2024, 0, 1)) {
    this.t = startMs
  }

  now(): number {
    return this.t
  }

  monotonic(): number {
    return this.t
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      // A zero sleep is a yield, as setTimeout(0) is: it needs no advance().
      if (ms <= 0) return void setImmediate(resolve)
      const timer: Timer = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer)
        reject(abortError(signal))
      }
      signal?.addEventListener('abort', onAbort, {once: true})
      this.timers.push(timer)
    })
  }

  timer(ms: number, fn: () => void): () => void {
    // A zero timer is a yield, as a zero sleep is.
    if (ms <= 0) {
      const i = setImmediate(fn)
      return () => clearImmediate(i)
    }
    const timer: Timer = {at: this.t + ms, seq: this.seq++, fire: fn}
    this.timers.push(timer)
    return () => {
      this.timers = this.timers.filter((x) => x !== timer)
    }
  }

  /** Number of sleeps and timers waiting; lets a test check that something is parked on the clock. */
  get pending(): number {
    return this.timers.length
  }

  /** Moves time forward by `ms`, firing due timers in order and settling promises in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (;;) {
      await settle()
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = this.timers[0]
      if (!next || next.at > end) break
      this.timers.shift()
      this.t = Math.max(this.t, next.at)
      next.fire()
    }
    this.t = end
    await settle()
  }
}

/** Lets queued promise callbacks (and I/O-free async chains) run to completion. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r))
}

/**
 * Awaits `p`, advancing `clock` in `stepMs` steps while it is pending (the fakes take their
 * latencies on the clock); fails after `maxMs` fake ms.
 */
export async function drive<T>(clock: FakeClock, p: Promise<T>, maxMs: number, stepMs = 10): Promise<T> {
  let done = false
  p.then(
    () => (done = true),
    () => (done = true),
  )
  await settle()
  const end = clock.monotonic() + maxMs
  while (!done) {
    if (clock.monotonic() >= end) throw new Error(`fake call did not settle within ${maxMs} fake ms`)
    await clock.advance(stepMs)
  }
  return p
}
