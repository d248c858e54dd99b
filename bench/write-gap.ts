/**
 * Write unavailability during a leader change, hactl side by side with Debian's Patroni 3.0.2:
 * a client writes every 20 ms to whichever member is the writable primary; the gap is the time
 * between the last write acknowledged by the old primary and the first one acknowledged by the
 * new primary. Three events per agent: a patronictl switchover, a graceful stop of the leader's
 * agent (SIGTERM), and the death of the leader's agent and postmaster (SIGKILL; bounded by the
 * ttl). Same etcd, ttl 20, loop_wait 2, retry_timeout 4 for both.
 * Run: node --import tsx bench/write-gap.ts  (HACTL_TEST_BIN=dist/hactl for the executable)
 */
import pg from 'pg'
import {EtcdServer} from '../test/harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../test/harness/patroni'

const ROUNDS = Number(process.env.ROUNDS ?? 2)

class Writer {
  private stop = false
  private done: Promise<void>
  acks: Array<{at: number; node: string}> = []

  constructor(private readonly cluster: PatroniCluster) {
    this.done = this.loop()
  }

  private async loop(): Promise<void> {
    const clients = new Map<string, pg.Client>()
    const get = async (name: string) => {
      let c = clients.get(name)
      if (!c) {
        const n = this.cluster.node(name)
        c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 500, statement_timeout: 1000})
        c.on('error', () => {})
        await c.connect()
        await c.query('create table if not exists gap_probe (at bigint)').catch(() => {})
        clients.set(name, c)
      }
      return c
    }
    while (!this.stop) {
      for (const n of this.cluster.nodes) {
        if (this.stop) break
        try {
          const c = await get(n.name)
          await c.query('insert into gap_probe values ($1)', [Date.now()])
          this.acks.push({at: Date.now(), node: n.name})
        } catch {
          const c = clients.get(n.name)
          clients.delete(n.name)
          await c?.end().catch(() => {})
        }
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const c of clients.values()) await c.end().catch(() => {})
  }

  async close(): Promise<void> {
    this.stop = true
    await this.done
  }

  /** Gap around `t0`: last ack from `from` before the first ack from another node after t0. */
  gap(t0: number, from: string): number | undefined {
    const next = this.acks.find((a) => a.at >= t0 && a.node !== from)
    if (!next) return undefined
    const last = [...this.acks].reverse().find((a) => a.node === from && a.at <= next.at)
    return next.at - (last?.at ?? t0)
  }
}

async function waitUntil(what: string, fn: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out: ${what}`)
}

/** gap: last ack on the old primary to first on the new one; took: from the event to that first ack. */
async function event(c: PatroniCluster, w: Writer, kind: 'switchover' | 'sigterm' | 'sigkill'): Promise<{gap: number; took: number} | undefined> {
  await c.waitForReplicasStreaming(2, {timeoutMs: 120_000})
  const leader = await c.waitForLeader()
  await waitUntil('writes on the leader', () => w.acks.some((a) => a.node === leader && a.at > Date.now() - 500), 30_000)
  const t0 = Date.now()
  if (kind === 'switchover') {
    const cand = c.nodes.find((n) => n.name !== leader)!.name
    const r = await c.patronictl(['switchover', '--leader', leader, '--candidate', cand, '--force'])
    if (r.code !== 0) throw new Error(r.stdout + r.stderr)
  } else {
    await c.stopNode(leader, kind === 'sigterm' ? {signal: 'SIGTERM'} : {signal: 'SIGKILL', killPostmaster: true})
  }
  await waitUntil('a write on a new primary', () => w.acks.some((a) => a.at >= t0 && a.node !== leader), 90_000)
  const g = w.gap(t0, leader)
  const first = w.acks.find((a) => a.at >= t0 && a.node !== leader)!
  if (kind !== 'switchover') await c.startNode(leader)
  return g === undefined ? undefined : {gap: g, took: first.at - t0}
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start()
  const rows: string[] = []
  try {
    const impls = (process.env.IMPLS ?? 'hactl,patroni').split(',') as Array<'hactl' | 'patroni'>
    for (const impl of impls) {
      const label = impl === 'hactl' ? `hactl${process.env.HACTL_TEST_BIN ? ' (SEA)' : ' (tsx)'}` : 'patroni 3.0.2'
      const started = Date.now()
      // bootstrap: three agents started at once until a leader and two streaming replicas
      const c = await PatroniCluster.start({etcd, scope: `gap-${impl}`, nodes: 3, namePrefix: impl[0], impl, ttl: 20, loopWait: 2, retryTimeout: 4, startTimeoutMs: 180_000})
      rows.push(`${label.padEnd(14)} ${'bootstrap'.padEnd(11)} ${Date.now() - started} ms to a leader and 2 streaming replicas`)
      const w = new Writer(c)
      try {
        for (const kind of ['switchover', 'sigterm', 'sigkill'] as const) {
          const gaps: number[] = []
          const tooks: number[] = []
          for (let i = 0; i < ROUNDS; i++) {
            const g = await event(c, w, kind)
            if (g !== undefined) {
              gaps.push(g.gap)
              tooks.push(g.took)
            }
          }
          rows.push(`${label.padEnd(14)} ${kind.padEnd(11)} gap ${gaps.map((g) => String(g).padStart(6)).join(' ')}   median ${median(gaps)} ms; to the first write on the new primary ${tooks.join(' ')}   median ${median(tooks)} ms`)
        }
      } finally {
        await w.close()
        await c.destroy()
      }
    }
  } finally {
    await etcd.destroy()
  }
  console.log(`write gap (ms) per leader change, ${ROUNDS} round(s) each, ttl 20, loop_wait 2, retry_timeout 4 (IMPLS=hactl for hactl alone)`)
  for (const r of rows) console.log(r)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)] : NaN
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
