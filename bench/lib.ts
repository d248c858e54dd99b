/**
 * Pieces the bench scripts share: a writer that follows the writable primary, one leader change
 * measured under it, and process figures read from /proc.
 */
import {readFileSync} from 'node:fs'
import pg from 'pg'
import {PATRONI_TEST_AUTH, type PatroniCluster} from '../test/harness/patroni'

export class Writer {
  private stop = false
  private done: Promise<void>
  acks: Array<{at: number; node: string}> = []

  /**
   * One writer per member, each on its own session, trying an INSERT every 10 ms: the gap is then
   * measured to within ~10 ms on both sides. A member that refuses writes because it is a replica
   * keeps its session (once promoted, the next transaction on it may write); any other error drops
   * the session and the next try connects again.
   */
  constructor(private readonly cluster: PatroniCluster) {
    this.done = Promise.all(cluster.nodes.map((n) => this.loop(n.name))).then(() => {})
  }

  private async loop(name: string): Promise<void> {
    let c: pg.Client | undefined
    while (!this.stop) {
      try {
        if (!c) {
          const n = this.cluster.node(name)
          const fresh = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 500, statement_timeout: 1000})
          fresh.on('error', () => {})
          c = fresh
          await fresh.connect()
          await fresh.query('create table if not exists gap_probe (at bigint)').catch(() => {})
        }
        await c.query('insert into gap_probe values ($1)', [Date.now()])
        this.acks.push({at: Date.now(), node: name})
      } catch (e) {
        // 25006: read_only_sql_transaction (a replica); 42P01: the table is not there yet.
        const code = (e as {code?: string}).code
        if (code === '42P01') await c?.query('create table if not exists gap_probe (at bigint)').catch(() => {})
        else if (code !== '25006') {
          const old = c
          c = undefined
          await old?.end().catch(() => {})
        }
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    await c?.end().catch(() => {})
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

export async function waitUntil(what: string, fn: () => Promise<boolean> | boolean, ms: number, everyMs = 100): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out: ${what}`)
}

export type LeaderChange = 'switchover' | 'sigterm' | 'sigkill'

export interface ChangeResult {
  /** Last ack on the old primary to the first on the new one. */
  gap: number
  /** From the event to the first ack on the new primary. */
  took: number
  /** sigkill: from the moment the leader key was seen gone (lease expired) to the first ack on the new primary. */
  expiryToWritable?: number
}

/**
 * One leader change under the writer. For sigkill the leader key is polled every 20 ms from the
 * kill on, so the expiry of its lease is known within ~20 ms (plus one etcd read).
 */
export async function leaderChange(c: PatroniCluster, w: Writer, kind: LeaderChange): Promise<ChangeResult | undefined> {
  await c.waitForReplicasStreaming(2, {timeoutMs: 120_000})
  const leader = await c.waitForLeader()
  await waitUntil('writes on the leader', () => w.acks.some((a) => a.node === leader && a.at > Date.now() - 500), 30_000)
  const t0 = Date.now()
  let expiredAt: number | undefined
  if (kind === 'switchover') {
    const cand = c.nodes.find((n) => n.name !== leader)!.name
    const r = await c.patronictl(['switchover', '--leader', leader, '--candidate', cand, '--force'])
    if (r.code !== 0) throw new Error(r.stdout + r.stderr)
  } else {
    await c.stopNode(leader, kind === 'sigterm' ? {signal: 'SIGTERM'} : {signal: 'SIGKILL', killPostmaster: true})
    if (kind === 'sigkill') {
      const key = `${c.prefix}leader`
      await waitUntil('the leader key to expire', async () => {
        const v = await c.etcd.get(key).catch(() => leader)
        if (v !== leader) expiredAt = Date.now()
        return v !== leader
      }, 90_000, 20)
    }
  }
  await waitUntil('a write on a new primary', () => w.acks.some((a) => a.at >= t0 && a.node !== leader), 90_000)
  const g = w.gap(t0, leader)
  const first = w.acks.find((a) => a.at >= t0 && a.node !== leader)!
  if (kind !== 'switchover') await c.startNode(leader)
  if (g === undefined) return undefined
  return {gap: g, took: first.at - t0, ...(expiredAt !== undefined ? {expiryToWritable: first.at - expiredAt} : {})}
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)] : NaN
}

/** kB figures of /proc/<pid>/status and smaps_rollup. */
export function memKb(pid: number): {rss: number; anon: number; pss: number; privateKb: number} {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (text: string, k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN)
  return {rss: kb(s, 'VmRSS'), anon: kb(s, 'RssAnon'), pss: kb(r, 'Pss'), privateKb: kb(r, 'Private_Clean') + kb(r, 'Private_Dirty')}
}

/** utime + stime in clock ticks (USER_HZ = 100). */
export function cpuTicks(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}
