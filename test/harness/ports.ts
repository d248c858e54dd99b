import {createServer} from 'node:net'

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now. Other processes may hold the
 * usual ports (2379, 5432, 8008), so tests never use fixed ones.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  {timeoutMs = 20_000, intervalMs = 50}: {timeoutMs?: number; intervalMs?: number} = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v
    } catch (e) {
      lastError = e
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: last error: ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/**
 * Runs `check` every `intervalMs` for `durationMs` (an invariant that must hold for a while, e.g.
 * "nobody else takes the lock"); a throwing check ends it with that error.
 */
export async function holdsFor(durationMs: number, check: () => Promise<void> | void, intervalMs = 500): Promise<number> {
  const until = Date.now() + durationMs
  let samples = 0
  while (Date.now() < until) {
    await check()
    samples++
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  return samples
}

/** Resolves with `p` or 'timeout' after `ms`; the timer is cleared so it never keeps a test process alive. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))])
  } finally {
    clearTimeout(t)
  }
}

/**
 * Runs `sample` every `everyMs` in the background (an observation over time, e.g. "who held the
 * lock"), not a wait for a condition; a sample returning false ends it, and `stop()` ends it and
 * waits for the last sample.
 */
export function sampleEvery(everyMs: number, sample: () => Promise<void | boolean> | void | boolean): {stop: () => Promise<void>} {
  let running = true
  const done = (async () => {
    while (running) {
      const t = Date.now()
      if ((await sample()) === false) return
      const wait = everyMs - (Date.now() - t)
      if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait))
    }
  })()
  return {
    stop: async () => {
      running = false
      await done
    },
  }
}
