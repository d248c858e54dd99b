/**
 * What a restart "that changes nothing" must leave unchanged (docs/ha-rules.md#hand-over), for
 * the hand-over tests: a writer that commits through the leader for the whole scenario and
 * counts what failed, the leader key watched for any moment without it or with another holder,
 * and the facts compared before and after (leader, create revision of the leader key, every
 * member's postmaster PID and pg_postmaster_start_time(), timeline).
 */
import pg from 'pg'
import {b64, type EtcdServer} from './etcd'
import {PATRONI_TEST_AUTH, type PatroniCluster, type PatroniNode} from './patroni'
import {sampleEvery} from './ports'

export function connect(n: PatroniNode): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: n.pgPort,
    user: PATRONI_TEST_AUTH.superuser.username,
    password: PATRONI_TEST_AUTH.superuser.password,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
  })
  c.on('error', () => {})
  return c
}

/** One query as the superuser over TCP; rows as arrays. */
export async function sql(n: PatroniNode, text: string, values: unknown[] = []): Promise<unknown[][]> {
  const c = connect(n)
  await c.connect()
  try {
    return (await c.query({text, values, rowMode: 'array'})).rows as unknown[][]
  } finally {
    await c.end().catch(() => {})
  }
}

export interface Writer {
  /** Rows committed (acknowledged), in order. */
  readonly acked: number[]
  /** Statements that failed, with the error. */
  readonly failures: string[]
  /** Reconnections the writer had to make (a postmaster restart or a switch of primary shows here). */
  readonly reconnects: number
  stop(): Promise<void>
}

/**
 * Inserts 1, 2, 3, ... into `table` on one connection to the leader, one autocommit INSERT every
 * `everyMs`. A failed INSERT is counted, then the writer reconnects to whoever the leader key
 * names and goes on: nothing in a hand-over may fail a write or drop the connection.
 */
export async function startWriter(cluster: PatroniCluster, table: string, everyMs = 20): Promise<Writer> {
  const leaderOf = async () => cluster.node((await cluster.leaderName()) ?? cluster.nodes[0]!.name)
  await sql(await leaderOf(), `create table if not exists ${table} (v bigint primary key, at timestamptz default now())`)
  const acked: number[] = []
  const failures: string[] = []
  let reconnects = 0
  let running = true
  let client: pg.Client | null = null
  const done = (async () => {
    let next = 1
    while (running) {
      try {
        if (!client) {
          const c = connect(await leaderOf())
          await c.connect()
          client = c
        }
        await client.query(`insert into ${table} (v) values ($1)`, [next])
        acked.push(next++)
      } catch (e) {
        failures.push(`row ${next}: ${(e as Error).message}`)
        next++
        await client?.end().catch(() => {})
        client = null
        reconnects++
      }
      await new Promise((r) => setTimeout(r, everyMs))
    }
    await client?.end().catch(() => {})
  })()
  return {
    acked,
    failures,
    get reconnects() {
      return reconnects
    },
    async stop() {
      running = false
      await done
    },
  }
}

/** The raw leader key: value, lease and create revision (a delete and re-create changes it). */
export async function leaderKey(etcd: EtcdServer, prefix: string): Promise<{value: string; lease: string; createRevision: string} | undefined> {
  const r = await etcd.call('/kv/range', {key: b64(`${prefix}leader`)})
  const kv = r.kvs?.[0]
  return kv ? {value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'), lease: String(kv.lease ?? '0'), createRevision: String(kv.create_revision ?? '0')} : undefined
}

/** Samples the leader key every 50 ms: every value seen ('(none)' when absent) and every create revision. */
export function watchLeaderKey(etcd: EtcdServer, prefix: string): {holders: Set<string>; revisions: Set<string>; leases: Set<string>; samples: () => number; stop: () => Promise<void>} {
  const holders = new Set<string>()
  const revisions = new Set<string>()
  const leases = new Set<string>()
  let n = 0
  const s = sampleEvery(50, async () => {
    const k = await leaderKey(etcd, prefix).catch(() => null)
    if (k === null) return
    n++
    holders.add(k?.value ?? '(none)')
    if (k) {
      revisions.add(k.createRevision)
      leases.add(k.lease)
    }
  })
  return {holders, revisions, leases, samples: () => n, stop: s.stop}
}

export interface Facts {
  leader: string | undefined
  createRevision: string | undefined
  /** Per member: postmaster PID (postmaster.pid, alive) and pg_postmaster_start_time(). */
  postmasters: Record<string, {pid: number | undefined; started: string}>
  timeline: number
}

export async function facts(etcd: EtcdServer, cluster: PatroniCluster): Promise<Facts> {
  const k = await leaderKey(etcd, cluster.prefix)
  const postmasters: Record<string, {pid: number | undefined; started: string}> = {}
  for (const n of cluster.nodes) {
    const started = (await sql(n, "select to_char(pg_postmaster_start_time() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"))[0]![0] as string
    postmasters[n.name] = {pid: n.postmasterPid, started}
  }
  const leader = k ? cluster.node(k.value) : undefined
  const timeline = leader ? Number.parseInt(String((await sql(leader, 'select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)'))[0]![0]), 16) : 0
  return {leader: k?.value, createRevision: k?.createRevision, postmasters, timeline}
}
