/**
 * One chaos run: a lab (see lab.ts) with one agent kind, a writer keeping a ledger of acknowledged
 * commits through HAProxy, samplers on every host, and a seeded sequence of faults (faults.ts),
 * sometimes a second one injected before the first is healed. After every fault the cluster must
 * come back: a primary within STUCK bound, every member streaming within STREAM bound. At the end:
 * every acknowledged commit on the final primary (synchronous mode: none lost; asynchronous: the
 * loss reported and bounded by maximum_lag_on_failover), and every moment two servers were
 * writable / two agents answered GET /primary with 200, explained only by an agent frozen past its
 * ttl (no watchdog here).
 */
import {at, waitFor} from '../harness/ports'
import {drawFault, KINDS, Rng, type Fault, type Kind} from './faults'
import {ADDR, HOSTS, Lab, type AgentKind, type Host} from './lab'

export interface RunOptions {
  agent: AgentKind
  seed: number
  faults: number
  sync: boolean
  kinds?: readonly Kind[]
  /** chance that a second fault hits before the first is healed */
  overlap?: number
  log?: (line: string) => void
}

export interface Window {
  from: number
  to: number
  hosts: string[]
  explained?: string
}

export interface RunResult {
  agent: AgentKind
  seed: number
  mode: 'sync' | 'async'
  faultsRun: number
  kinds: Record<string, number>
  acked: number
  lost: number
  lostIds: number[]
  dualWritable: Window[]
  dualPrimary: Window[]
  maxNoPrimaryMs: number
  maxRecoveryMs: number
  streamingAtEnd: number
  failures: string[]
  replay: string
  timeline: string[]
  dir?: string
}

/** Timing used for all three agents: Patroni >= 3.1 and hactl raise ttl < 20 to 20, so 20 for all. */
export const TIMING = {ttl: 20, loopWait: 2, retryTimeout: 5}
export const MAX_LAG = 1048576
/** After a fault is healed, a cluster that is not paused and has a healthy candidate has a primary within this. */
export const STUCK_MS = 2 * TIMING.ttl * 1000 + 30_000
/** ...and every member is back and streaming within this. */
export const STREAM_MS = 240_000


interface Sample {
  t: number
  t2: number
  w: boolean | null
  p: boolean | null
}

export function replayCommand(o: {agent: AgentKind; seed: number; faults: number; sync: boolean}): string {
  return `npm run chaos -- --agent ${o.agent} --seed ${o.seed} --faults ${o.faults} --mode ${o.sync ? 'sync' : 'async'}`
}

export async function runSeed(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => process.stdout.write(`${l}\n`))
  const t0 = Date.now()
  const rel = (t: number) => `${((t - t0) / 1000).toFixed(1)}s`
  const timeline: string[] = []
  const note = (text: string) => {
    const line = `${rel(Date.now())} ${text}`
    timeline.push(line)
    log(`  [${opts.agent} seed ${opts.seed}] ${line}`)
    lab?.mark(text)
  }
  const samples = new Map<Host, Sample[]>(HOSTS.map((h) => [h, []]))
  const acked: number[] = []
  let lastAckAt = 0
  const onEvent = (ev: any) => {
    if (ev.ev === 'sample') samples.get(ev.host)?.push({t: ev.t, t2: ev.t2, w: ev.w, p: ev.p})
    else if (ev.ev === 'ack') {
      for (const id of ev.ids) acked.push(id)
      lastAckAt = ev.t
    } else if (ev.ev === 'write-error') lab?.mark(`writer: ${ev.error}`)
  }
  const result: RunResult = {
    agent: opts.agent, seed: opts.seed, mode: opts.sync ? 'sync' : 'async', faultsRun: 0, kinds: {},
    acked: 0, lost: 0, lostIds: [], dualWritable: [], dualPrimary: [], maxNoPrimaryMs: 0, maxRecoveryMs: 0,
    streamingAtEnd: 0, failures: [], replay: replayCommand(opts), timeline,
  }
  let lab: Lab | undefined
  const leaderNow = (): Host | undefined => {
    const now = Date.now()
    for (const h of HOSTS) {
      const s = samples.get(h)!.at(-1)
      if (s && now - s.t2 < 1500 && s.p === true && s.w === true) return h
    }
    return undefined
  }
  const streaming = async (leader: Host): Promise<string[]> => {
    const r = await lab!.client.call({op: 'http', method: 'GET', url: `http://${ADDR[leader]}:8008/patroni`, timeoutMs: 3000})
    if (r.status !== 200) return []
    const j = JSON.parse(r.body)
    return (j.replication ?? []).filter((x: any) => x.state === 'streaming').map((x: any) => x.application_name)
  }
  /** Waits for a primary (bounded by STUCK_MS) and then for all members streaming (STREAM_MS). */
  const recover = async (since: number, what: string): Promise<boolean> => {
    let leader: Host | undefined = await waitFor('a primary', () => leaderNow(), {timeoutMs: Math.max(0, since + STUCK_MS - Date.now()), intervalMs: 250}).catch(() => undefined)
    if (!leader) {
      result.failures.push(`stuck: no primary ${STUCK_MS / 1000}s after ${what} was healed`)
      note(`STUCK: no primary after ${what}`)
      return false
    }
    const primaryAfter = Date.now() - since
    result.maxRecoveryMs = Math.max(result.maxRecoveryMs, primaryAfter)
    let names: string[] = []
    const back = await waitFor(
      'every member streaming and a write acknowledged',
      async () => {
        leader = leaderNow()
        names = leader ? await streaming(leader).catch(() => []) : []
        return leader && names.length >= HOSTS.length - 1 && lastAckAt > since ? true : undefined
      },
      {timeoutMs: Math.max(0, since + STREAM_MS - Date.now()), intervalMs: 1000},
    ).catch(() => false)
    if (back) {
      note(`recovered: primary ${leader} after ${(primaryAfter / 1000).toFixed(1)}s, all streaming and writes acknowledged after ${((Date.now() - since) / 1000).toFixed(1)}s`)
      return true
    }
    result.failures.push(`members not back: after ${what}, ${STREAM_MS / 1000}s: leader ${leader ?? 'none'}, streaming [${names.join(',')}], last ack ${lastAckAt > since ? 'after' : 'before'} the heal`)
    note(`NOT RECOVERED after ${what}`)
    return false
  }

  try {
    lab = await Lab.create({agent: opts.agent, sync: opts.sync, timing: TIMING, maxLag: MAX_LAG}, onEvent)
    result.dir = lab.root
    note(`lab ${lab.id} up (${opts.agent}, ${result.mode}); waiting for the cluster`)
    const bootAt = Date.now()
    await lab.client.call({op: 'start'})
    const booted = await waitFor(
      'a leader, 2 streaming replicas and a first write',
      async () => {
        const leader = leaderNow()
        return leader && lastAckAt > 0 && (await streaming(leader).catch(() => [])).length >= 2 ? true : undefined
      },
      {timeoutMs: 240_000, intervalMs: 500},
    ).catch(() => false)
    if (!booted) throw new Error('the cluster did not bootstrap (leader, 2 streaming replicas, a first write) within 240 s')
    note(`bootstrapped in ${((Date.now() - bootAt) / 1000).toFixed(1)}s, leader ${leaderNow()}`)
    const runStart = Date.now()

    const rng = new Rng(opts.seed)
    const ctx = {lab, rng, ttlMs: TIMING.ttl * 1000, leader: leaderNow, log: note}
    const faults: Fault[] = []
    let n = 0
    while (n < opts.faults) {
      const first = drawFault(ctx, opts.kinds ?? KINDS)
      const active: Fault[] = [first]
      n++
      const inject = async (f: Fault) => {
        f.startedAt = Date.now()
        note(`inject ${f.kind} ${f.target} for ${(f.durationMs / 1000).toFixed(1)}s`)
        try {
          await f.inject()
        } catch (e) {
          note(`inject ${f.kind} failed: ${(e as Error).message}`)
        }
        faults.push(f)
        result.kinds[f.kind] = (result.kinds[f.kind] ?? 0) + 1
      }
      await inject(first)
      let second: Fault | undefined
      let secondAt = Infinity
      if (n < opts.faults && rng.chance(opts.overlap ?? 0.25)) {
        secondAt = first.startedAt! + rng.int(500, Math.max(600, first.durationMs))
      }
      const healOf = (f: Fault) => f.startedAt! + f.durationMs
      for (;;) {
        const now = Date.now()
        if (!second && now >= secondAt) {
          second = drawFault(ctx, opts.kinds ?? KINDS)
          n++
          active.push(second)
          note('second fault before the first has healed:')
          await inject(second)
        }
        for (const f of [...active]) {
          if (Date.now() >= healOf(f)) {
            await f.heal().catch((e) => note(`heal ${f.kind} failed: ${(e as Error).message}`))
            f.healedAt = Date.now()
            note(`healed ${f.kind} ${f.target}`)
            active.splice(active.indexOf(f), 1)
          }
        }
        // secondAt lies within the first fault's duration, so it is injected before the first heals
        if (!active.length) break
        // The schedule's next moment: the second fault's injection or the earliest heal.
        await at(Math.min(...(second ? [] : [secondAt]), ...active.map(healOf)))
      }
      // belt and braces: whatever a fault left behind
      await lab.healNetwork()
      const healedAt = Date.now()
      const ok = await recover(healedAt, (second ? [first, second] : [first]).map((f) => `${f.kind} ${f.target}`).join(' + '))
      if (!ok) break
      // A pause of the schedule between faults.
      await at(Date.now() + rng.int(1000, 3000))
    }
    result.faultsRun = faults.length

    // final checks
    const total = await lab.client.call({op: 'stop'}, 60_000)
    const leader = await waitFor('a primary at the end', () => leaderNow(), {timeoutMs: 2000, intervalMs: 100}).catch(() => undefined)
    if (!leader) result.failures.push('no primary at the end')
    else {
      const names = await streaming(leader).catch(() => [])
      result.streamingAtEnd = names.length
      if (names.length < 2) result.failures.push(`only ${names.length} of 2 replicas streaming at the end`)
      const rows = await lab.client.call({op: 'sql', host: ADDR[leader], port: 5432, q: 'SELECT coalesce(json_agg(id), \'[]\') AS ids FROM ledger', timeoutMs: 30_000}, 60_000)
      const present = new Set<number>((rows[0].ids as Array<number | string>).map(Number))
      const lost = acked.filter((id) => !present.has(id))
      result.acked = acked.length
      result.lost = lost.length
      result.lostIds = lost.slice(0, 50)
      note(`final: primary ${leader}, ${acked.length} of ${total} writes acknowledged, ${present.size} rows, ${lost.length} acknowledged lost`)
      if (opts.sync && lost.length) result.failures.push(`synchronous mode lost ${lost.length} acknowledged commits (first ids ${lost.slice(0, 10).join(',')})`)
      // one ledger row is < 100 bytes of WAL: a loss beyond maximum_lag_on_failover / 100 rows is out of bounds
      if (!opts.sync && lost.length > MAX_LAG / 100) result.failures.push(`asynchronous mode lost ${lost.length} acknowledged commits, more than maximum_lag_on_failover allows`)
    }

    const end = Date.now()
    const loopMs = TIMING.loopWait * 1000
    const explain = (w: Window): string | undefined => {
      for (const f of faults) {
        if (!f.explains || !w.hosts.includes(f.explains)) continue
        if (w.from <= (f.healedAt ?? end) + 2 * loopMs + 10_000 && w.to >= f.startedAt!) return `${f.kind} ${f.target} ${(f.durationMs / 1000).toFixed(1)}s > ttl ${TIMING.ttl}s`
      }
      return undefined
    }
    result.dualWritable = overlaps(samples, 'w').map((w) => ({...w, explained: explain(w)}))
    result.dualPrimary = overlaps(samples, 'p').map((w) => ({...w, explained: explain(w)}))
    for (const [name, ws] of [['writable', result.dualWritable], ['GET /primary 200', result.dualPrimary]] as const) {
      for (const w of ws) {
        note(`two ${name}: ${w.hosts.join('+')} ${rel(w.from)}..${rel(w.to)} (${w.to - w.from} ms)${w.explained ? ` explained: ${w.explained}` : ' UNEXPLAINED'}`)
        if (!w.explained) result.failures.push(`two ${name} servers (${w.hosts.join('+')}) for ${w.to - w.from} ms at ${rel(w.from)}, unexplained`)
      }
    }
    result.maxNoPrimaryMs = maxGap(samples, runStart, end)
  } catch (e) {
    result.failures.push(`run error: ${(e as Error).message}`)
    note(`run error: ${(e as Error).stack}`)
  } finally {
    if (lab) {
      if (result.failures.length) {
        lab.keep = true
        for (const h of HOSTS) note(`----- ${h} agent log tail -----\n${lab.logTail(`agent-${h}`, 3000)}`)
      }
      await lab.destroy().catch(() => {})
    }
  }
  return result
}

/** Runs of consecutive `true` observations per host: [answer of the first, asking of the last] = surely true. */
function runsOf(list: Sample[], key: 'w' | 'p'): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let start: Sample | undefined
  let last: Sample | undefined
  for (const s of list) {
    if (s[key] === true) {
      start ??= s
      last = s
    } else {
      if (start && last) out.push([start.t2, last.t])
      start = last = undefined
    }
  }
  if (start && last) out.push([start.t2, last.t])
  return out.filter(([a, b]) => b > a)
}

/** Every stretch during which two hosts were surely both `key` at once. */
export function overlaps(samples: Map<Host, Sample[]>, key: 'w' | 'p'): Window[] {
  const out: Window[] = []
  const hs = [...samples.keys()]
  for (let i = 0; i < hs.length; i++) {
    for (let j = i + 1; j < hs.length; j++) {
      const a = runsOf(samples.get(hs[i]!)!, key)
      const b = runsOf(samples.get(hs[j]!)!, key)
      for (const [a0, a1] of a) {
        for (const [b0, b1] of b) {
          const from = Math.max(a0, b0)
          const to = Math.min(a1, b1)
          if (to > from) out.push({from, to, hosts: [hs[i]!, hs[j]!]})
        }
      }
    }
  }
  return out.sort((x, y) => x.from - y.from)
}

/** Longest stretch in [from, to] with no host writable and answering GET /primary with 200 (observed span). */
export function maxGap(samples: Map<Host, Sample[]>, from: number, to: number): number {
  const spans: Array<[number, number]> = []
  for (const list of samples.values()) {
    let start: Sample | undefined
    let last: Sample | undefined
    for (const s of list) {
      if (s.w === true && s.p === true) {
        start ??= s
        last = s
      } else {
        if (start && last) spans.push([start.t, last.t2])
        start = last = undefined
      }
    }
    if (start && last) spans.push([start.t, last.t2])
  }
  spans.sort((a, b) => a[0] - b[0])
  let cursor = from
  let max = 0
  for (const [a, b] of spans) {
    if (b < cursor) continue
    if (a > cursor) max = Math.max(max, Math.min(a, to) - cursor)
    cursor = Math.max(cursor, b)
    if (cursor >= to) break
  }
  if (cursor < to) max = Math.max(max, to - cursor)
  return max
}
