import {mkdirSync, readFileSync, unlinkSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** Ports this process handed out: never handed out twice, even after they are free again. */
const handedOut = new Set<number>()

/**
 * Ports handed out by every test process on this machine, one file per port naming its owner
 * (PID and start time). A port stays this process's until it exits, even while nothing listens
 * on it (a member killed and started again on its ports): another test process running at the
 * same time must not take it in between.
 */
const REGISTRY = join(tmpdir(), 'hactl-test-ports')

/**
 * `pid`'s start time (field 22 of /proc/PID/stat), or undefined when no such process runs: with
 * the PID it names one process for the life of the system.
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return st.slice(st.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

const me = `${process.pid} ${startTimeOf(process.pid) ?? ''}`
const reserved: string[] = []
process.on('exit', () => {
  for (const f of reserved) {
    try {
      unlinkSync(f)
    } catch {
      // already gone
    }
  }
})

/** Takes `port` in the registry (freePort does); false when a live process holds it. An owner that is gone loses it. */
export function reservePort(port: number): boolean {
  mkdirSync(REGISTRY, {recursive: true, mode: 0o1777})
  const file = join(REGISTRY, String(port))
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${me}\n`, {flag: 'wx'})
      reserved.push(file)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return false
    }
    let owner: string
    try {
      owner = readFileSync(file, 'utf8').trim()
    } catch {
      continue // released meanwhile: try again
    }
    const [pid, started] = owner.split(' ')
    if (startTimeOf(Number(pid)) === started) return false
    try {
      unlinkSync(file)
    } catch {
      // another process reclaimed it first; the next write decides
    }
  }
  return false
}

/** The kernel's ephemeral range (net.ipv4.ip_local_port_range), where connect() takes local ports. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (lo > 0 && hi >= lo) return [lo, hi]
  } catch {
    // not Linux, or no /proc: Linux's default
  }
  return [32768, 60999]
}

/** Whether a listener can bind `port` on every address right now (0.0.0.0 conflicts with any holder). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => resolve(false))
    srv.listen({port, host: '0.0.0.0', exclusive: true}, () => srv.close(() => resolve(true)))
  })
}

/**
 * A TCP port nothing listens on right now, for a server a test starts next. Other processes may
 * hold the usual ports (2379, 5432, 8008), so tests never use fixed ones.
 *
 * The port is picked at random below the kernel's ephemeral range. A port the kernel chose
 * (listen on port 0) comes from that range, where every outgoing connection of every process
 * also takes its local port: between the pick and the server's bind, a client connection could
 * take it, and PostgreSQL then fails with "could not create any TCP/IP sockets". Below the range
 * only another listener can, and this process never hands out the same port twice.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange()
  const low = 10_000
  const high = ephemeralLow - 1
  if (high - low >= 1000) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const port = low + Math.floor(Math.random() * (high - low + 1))
      if (handedOut.has(port)) continue
      handedOut.add(port)
      if (reservePort(port) && (await canBind(port))) return port
    }
  }
  // No room below the range (an unusual ip_local_port_range): the kernel's choice.
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.unref()
      srv.on('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address()
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0))
      })
    })
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
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

/**
 * Resolves at the wall-clock time `ms` (Date.now() scale), at once when it has passed: for
 * schedules that act at chosen moments (a fault's injection and heal, a delayed packet), not
 * for waiting on a condition, which is waitFor's.
 */
export function at(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((r) => {
    if (signal?.aborted) return r()
    // An abort (a fake server closing) resolves at once and clears the timer, so that a pending
    // moment never keeps a test process alive; the caller checks signal.aborted.
    const onAbort = () => (clearTimeout(t), r())
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), r()), Math.max(0, ms - Date.now()))
    signal?.addEventListener('abort', onAbort, {once: true})
  })
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
