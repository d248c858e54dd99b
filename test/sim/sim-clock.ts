/**
 * The simulator's clock: virtual time that moves only in runUntil(), one timer at a time, with
 * every promise chain the fired timer started run to completion before the next fires. Nothing
 * in a simulation does real I/O, so one macrotask turn (setImmediate) after each timer drains
 * all the microtasks it caused; runs are therefore exactly reproducible.
 */
import {abortError, type Clock} from '../../src/ports/clock'

interface Timer {
  at: number
  seq: number
  fire: () => void
  dead: boolean
}

export class SimClock implements Clock {
  private t: number
  private seq = 0
  private heap: Timer[] = []
  /** Timers fired so far (the work a run did). */
  fired = 0

  constructor(startMs = Date.UTC(2026, 0, 1)) {
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
      const timer: Timer = {at: this.t + Math.max(0, ms), seq: this.seq++, dead: false, fire: () => {}}
      const onAbort = () => {
        timer.dead = true
        reject(abortError(signal))
      }
      timer.fire = () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      signal?.addEventListener('abort', onAbort, {once: true})
      this.push(timer)
    })
  }

  timer(ms: number, fn: () => void): () => void {
    const timer: Timer = {at: this.t + Math.max(0, ms), seq: this.seq++, dead: false, fire: fn}
    this.push(timer)
    return () => {
      timer.dead = true
    }
  }

  /** Moves time to `end`, firing due timers in order and draining promise chains after each. */
  async runUntil(end: number): Promise<void> {
    let sameInstant = 0
    let last = -1
    for (;;) {
      await drain()
      const next = this.peek()
      if (!next || next.at > end) break
      this.pop()
      if (next.at === last) {
        if (++sameInstant > 100_000) throw new Error(`simulation livelock: more than 100000 timers at ${new Date(next.at).toISOString()}`)
      } else {
        sameInstant = 0
        last = next.at
      }
      this.t = Math.max(this.t, next.at)
      this.fired++
      next.fire()
    }
    this.t = Math.max(this.t, end)
    await drain()
  }

  private peek(): Timer | undefined {
    while (this.heap.length && this.heap[0].dead) this.pop()
    return this.heap[0]
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }

  private push(x: Timer): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length && last) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.less(h[l], h[m])) m = l
        if (r < h.length && this.less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

/** Lets every queued promise callback run (one macrotask turn drains the microtask queue). */
export function drain(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}

/**
 * A process's freedom to run: `run`, `frozen` (SIGSTOP: nothing it awaits resumes until thawed)
 * or `dead` (kill -9: nothing it awaits ever resumes).
 */
export class Gate {
  state: 'run' | 'frozen' | 'dead' = 'run'
  private waiters: Array<() => void> = []

  pass(): Promise<void> | void {
    if (this.state === 'run') return
    if (this.state === 'dead') return new Promise<void>(() => {})
    return new Promise<void>((r) => this.waiters.push(r)).then(() => this.pass())
  }

  freeze(): void {
    if (this.state === 'run') this.state = 'frozen'
  }

  thaw(): void {
    if (this.state !== 'frozen') return
    this.state = 'run'
    for (const w of this.waiters.splice(0)) w()
  }

  kill(): void {
    this.state = 'dead'
    this.waiters = []
  }
}

/** The clock as a process behind `gate` sees it: its sleeps end only while it may run. */
export function gatedClock(clock: Clock, gate: Gate): Clock {
  return {
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    sleep: async (ms, signal) => {
      await clock.sleep(ms, signal)
      await gate.pass()
    },
    // The callback runs only while the process may run, and not at all once cancelled.
    timer: (ms, fn) => {
      let live = true
      const cancel = clock.timer(ms, () => void Promise.resolve(gate.pass()).then(() => live && fn()))
      return () => {
        live = false
        cancel()
      }
    },
  }
}

/**
 * `obj` as a process behind `gate` calls it: a promise it gets back settles only while the
 * process may run (a frozen process learns the answer when it is thawed, a dead one never).
 */
export function gated<T extends object>(obj: T, gate: Gate): T {
  return new Proxy(obj, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver)
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args)
        if (!(r instanceof Promise)) return r
        return r.then(
          async (x) => {
            await gate.pass()
            return x
          },
          async (e) => {
            await gate.pass()
            throw e
          },
        )
      }
    },
  })
}
