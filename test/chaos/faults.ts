/**
 * The fault catalogue. A fault is drawn from a seeded PRNG (kind, target, timing), injected,
 * held for its duration, then healed; `explains` marks the faults under which two writable
 * primaries cannot be avoided without a watchdog: the leader's agent frozen (SIGSTOP) or dead
 * (SIGKILL, restarted later) past its ttl while its PostgreSQL goes on serving.
 */
import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {waitFor} from '../harness/ports'
import {ADDR, ETCDS, HOSTS, type Etcd, type Host, type Lab} from './lab'

/** mulberry32: small, seedable, good enough to pick faults. */
export class Rng {
  private s: number
  constructor(seed: number) {
    this.s = seed >>> 0 || 1
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!
  }
  chance(p: number): boolean {
    return this.next() < p
  }
}

export interface FaultCtx {
  lab: Lab
  rng: Rng
  ttlMs: number
  /** the current leader (GET /primary 200 and writable), if any */
  leader(): Host | undefined
  log(text: string): void
}

export interface Fault {
  kind: string
  target: string
  durationMs: number
  /** set when this fault makes a dual-writable window unavoidable without a watchdog: that host */
  explains?: Host
  inject(): Promise<void>
  heal(): Promise<void>
  /** filled in by the runner */
  startedAt?: number
  healedAt?: number
}

export const KINDS = [
  'isolate-host', 'leader-from-etcd', 'leader-from-replicas', 'etcd-minority', 'etcd-majority', 'asymmetric',
  'freeze-agent', 'freeze-etcd', 'freeze-postmaster', 'kill-agent', 'kill-postmaster', 'kill-both',
  'restart-agent', 'etcd-slow', 'etcd-leader-change', 'switchover', 'failover', 'refuse-agent', 'wal-full',
] as const
export type Kind = (typeof KINDS)[number]

function others(h: Host): Host[] {
  return HOSTS.filter((x) => x !== h)
}

/** Draws the next fault; `kinds` restricts the catalogue (e.g. the CI set). */
export function drawFault(ctx: FaultCtx, kinds: readonly Kind[] = KINDS): Fault {
  const {lab, rng, ttlMs} = ctx
  const kind = rng.pick(kinds)
  const fallback = rng.pick(HOSTS) // always drawn: the schedule must not depend on the cluster's state
  const leader = ctx.leader() ?? fallback
  const replica = rng.pick(others(leader))
  const anyHost = rng.pick(HOSTS)
  const longer = rng.chance(0.4)
  const dur = longer ? rng.int(ttlMs + 5000, ttlMs + 12_000) : rng.int(3000, Math.round(ttlMs * 0.6))
  const targetOf = () => (rng.chance(0.6) ? leader : anyHost)
  switch (kind) {
    case 'isolate-host': {
      const h = targetOf()
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: dur, inject: () => lab.linkDown(h), heal: () => lab.linkUp(h)}
    }
    case 'leader-from-etcd': {
      const pairs = ETCDS.flatMap((e) => [[leader, e], [e, leader]] as const)
      return {kind, target: leader, durationMs: dur,
        inject: async () => { for (const [a, b] of pairs) await lab.block(a, b) },
        heal: async () => { for (const [a, b] of pairs) await lab.unblock(a, b) }}
    }
    case 'leader-from-replicas': {
      const pairs = others(leader).flatMap((r) => [[leader, r], [r, leader]] as const)
      return {kind, target: leader, durationMs: dur,
        inject: async () => { for (const [a, b] of pairs) await lab.block(a, b) },
        heal: async () => { for (const [a, b] of pairs) await lab.unblock(a, b) }}
    }
    case 'etcd-minority': {
      const e = rng.pick(ETCDS)
      return {kind, target: e, durationMs: dur, inject: () => lab.linkDown(e), heal: () => lab.linkUp(e)}
    }
    case 'etcd-majority': {
      const keep = rng.pick(ETCDS)
      const down = ETCDS.filter((e) => e !== keep)
      return {kind, target: down.join('+'), durationMs: dur,
        inject: async () => { for (const e of down) await lab.linkDown(e) },
        heal: async () => { for (const e of down) await lab.linkUp(e) }}
    }
    case 'asymmetric': {
      // one direction only: what `a` sends to `b` is dropped, b -> a still arrives
      const choices: Array<[string, string]> = [
        [leader, rng.pick(ETCDS)], [rng.pick(ETCDS), leader], [leader, replica], [replica, leader], ['c', leader],
      ]
      const [a, b] = rng.pick(choices)
      return {kind, target: `${a}->${b}`, durationMs: dur, inject: () => lab.block(a, b), heal: () => lab.unblock(a, b)}
    }
    case 'freeze-agent': {
      const h = targetOf()
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: dur,
        explains: dur > ttlMs && h === leader ? h : undefined,
        inject: async () => void lab.agents.get(h)?.signal('SIGSTOP'),
        heal: async () => void lab.agents.get(h)?.signal('SIGCONT')}
    }
    case 'freeze-etcd': {
      const e: Etcd = rng.pick(ETCDS)
      return {kind, target: e, durationMs: dur,
        inject: async () => void lab.etcds.get(e)?.signal('SIGSTOP'),
        heal: async () => void lab.etcds.get(e)?.signal('SIGCONT')}
    }
    case 'freeze-postmaster': {
      const h = targetOf()
      let pid: number | undefined
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: dur,
        inject: async () => {
          pid = lab.postmaster(h)
          if (pid) process.kill(pid, 'SIGSTOP')
        },
        heal: async () => {
          try {
            if (pid) process.kill(pid, 'SIGCONT')
          } catch {
            // gone meanwhile
          }
        }}
    }
    case 'kill-agent':
    case 'kill-both':
    case 'restart-agent': {
      const h = targetOf()
      const d = kind === 'restart-agent' ? rng.int(1000, 5000) : dur
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: d,
        // the leader's agent dead past its ttl, its postmaster still serving: nothing demotes it
        explains: kind === 'kill-agent' && d > ttlMs && h === leader ? h : undefined,
        inject: async () => {
          const a = lab.agents.get(h)
          if (kind === 'restart-agent') await a?.kill('SIGTERM', 90_000)
          else {
            await a?.kill('SIGKILL')
            if (kind === 'kill-both') {
              const pid = lab.postmaster(h)
              if (pid) process.kill(pid, 'SIGKILL')
            }
          }
        },
        heal: async () => {
          if (!lab.agents.get(h)?.running) lab.startAgent(h)
        }}
    }
    case 'kill-postmaster': {
      const h = targetOf()
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: rng.int(1000, 4000),
        inject: async () => {
          const pid = lab.postmaster(h)
          if (pid) process.kill(pid, 'SIGKILL')
        },
        heal: async () => {}}
    }
    case 'etcd-slow': {
      const ms = rng.int(100, 800)
      const jitter = rng.int(0, 400)
      const hosts = rng.chance(0.5) ? [...HOSTS] : [leader]
      return {kind, target: `${hosts.join('+')} ${ms}±${jitter}ms`, durationMs: dur,
        inject: async () => { for (const h of hosts) await lab.hostHelpers.get(h)!.call({op: 'delay', ms, jitter}) },
        heal: async () => { for (const h of hosts) await lab.hostHelpers.get(h)!.call({op: 'delay', ms: 0, jitter: 0}) }}
    }
    case 'etcd-leader-change': {
      // drawn now, not at inject time, so that a seed draws the same schedule for every agent
      const pick = rng.next()
      return {kind, target: 'etcd', durationMs: rng.int(1000, 3000),
        inject: async () => {
          // simple output: "<endpoint>, <member id hex>, <version>, <db size>, <is leader>, ..." (the
          // JSON form carries member ids as numbers beyond 2^53)
          const rows = (await lab.etcdctl(['endpoint', 'status', '--cluster'])).trim().split('\n').map((l) => l.split(',').map((x) => x.trim()))
          const lead = rows.find((r) => r[4] === 'true')
          const other = rows.filter((r) => r !== lead)
          const to = other[Math.floor(pick * other.length)]
          if (!lead || !to) throw new Error(`etcd-leader-change: no leader or no other member in ${JSON.stringify(rows)}`)
          const toHex = to[1]!
          const endpoint = lead[0]!
          await lab.etcdctl([`--endpoints=${endpoint}`, 'move-leader', toHex])
        },
        heal: async () => {}}
    }
    case 'refuse-agent': {
      // PostgreSQL refuses the agent (superuser over 127.0.0.1 or the socket) and ends its sessions,
      // while clients (HAProxy -> the host's address) and replication go on being served
      const h = targetOf()
      const hbaPath = join(lab.dataDir(h), 'pg_hba.conf')
      const REJECT = '# chaos refuse-agent\nlocal all postgres reject\nhost all postgres 127.0.0.1/32 reject\n'
      let original: string | undefined
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: dur,
        inject: async () => {
          const pid = lab.postmaster(h)
          if (!pid || !existsSync(hbaPath)) return
          const helper = lab.hostHelpers.get(h)!
          const loadTime = async () => String(((await helper.call({op: 'sql', q: 'SELECT pg_conf_load_time()::text AS t'}, 15_000)) as Array<{t: string}>)[0]?.t)
          const before = await loadTime()
          original = readFileSync(hbaPath, 'utf8')
          writeFileSync(hbaPath, REJECT + original)
          process.kill(pid, 'SIGHUP')
          // pg_hba.conf is in force once a new session sees a later load time; then the agent's sessions go
          await waitFor('the postmaster to reload pg_hba.conf', async () => ((await loadTime()) !== before ? true : undefined), {timeoutMs: 15_000, intervalMs: 50})
          await helper.call({op: 'sql', q: "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = 'postgres' AND (client_addr IS NULL OR client_addr = '127.0.0.1') AND pid <> pg_backend_pid()"}, 15_000)
        },
        heal: async () => {
          if (original === undefined || !existsSync(hbaPath)) return
          const now = readFileSync(hbaPath, 'utf8')
          // the agent may have rewritten it meanwhile (a restart): then it is healed already
          if (now.startsWith(REJECT)) writeFileSync(hbaPath, now.slice(REJECT.length))
          const pid = lab.postmaster(h)
          if (pid) process.kill(pid, 'SIGHUP')
        }}
    }
    case 'wal-full': {
      // The host's filesystem (data directory and pg_wal) fills up, then WAL is made to need new
      // segments: a full filesystem alone changes nothing while PostgreSQL writes into segments it
      // already has (recycled ones included). The primary switches segments until one cannot be
      // created there (the target is the primary: its PostgreSQL panics) or until the target
      // replica has been sent more than it can keep. Space comes back at the heal.
      const h = targetOf()
      return {kind, target: `${h}${h === leader ? '(leader)' : ''}`, durationMs: dur,
        inject: async () => {
          const logsAt = logSizes(lab, h)
          lab.fillHostFs(h)
          const primary = ctx.leader()
          if (!primary) {
            ctx.log(`wal-full ${h}: no primary to write WAL; the filesystem is only full`)
            return
          }
          const helper = lab.hostHelpers.get(primary)!
          const lsn = async (host: Host, q: string) => String(((await lab.hostHelpers.get(host)!.call({op: 'sql', q: `SELECT (${q})::text AS l`}, 5000)) as Array<{l: string}>)[0]?.l)
          let switches = 0
          let stop = ''
          // At most 12 segments (192 MB): more than a replica keeps recycled, and what the primary's
          // own filesystem (HOST_FS_MB) holds even while a slot retains it for the full replica. No
          // relation is written (that fails first on a full disk): the statement's commit record
          // goes into the segment the switch has just opened.
          while (switches < WAL_FULL_SWITCHES && !stop) {
            try {
              await helper.call({op: 'sql', q: 'SELECT pg_current_xact_id()::text AS x, pg_switch_wal()::text AS l'}, 20_000)
              switches++
            } catch (e) {
              stop = (e as Error).message.split('\n')[0]!.slice(0, 160)
            }
          }
          const enospc = await waitFor(`${h}'s PostgreSQL to report ENOSPC`, async () => {
            const lines = noSpaceReported(lab, h, logsAt)
            return lines.length ? lines : undefined
          }, {timeoutMs: 10_000, intervalMs: 200}).catch((): string[] => [])
          const inLog = enospc.length > 0
          let outcome: string
          if (primary === h) {
            // the statement may hit ENOSPC itself, or lose its session to the panic of another
            // backend (the writer's, the WAL writer's) that hit it first
            const walFull = (l: string) => l.includes('No space left on device') && l.includes('pg_wal')
            outcome = walFull(stop) || enospc.some(walFull) ? 'pg_wal exhausted' : inLog ? 'the disk is full, pg_wal NOT exhausted' : 'pg_wal NOT exhausted'
          } else {
            // a replica that cannot store what it is sent falls behind the primary's WAL (in
            // synchronous mode the primary's commits wait for it: the switches stop early)
            const behind = await Promise.all([lsn(primary, 'pg_current_wal_lsn()'), lsn(h, 'pg_last_wal_receive_lsn()')]).then(
              ([p, r]) => `received ${r}, the primary at ${p}`,
              (e) => `lag unknown (${(e as Error).message.slice(0, 80)})`,
            )
            outcome = `${h} ${behind}`
          }
          const seen = inLog ? 'ENOSPC in its log' : 'no ENOSPC in its log (it may be on the full filesystem)'
          ctx.log(`wal-full ${h}: ${switches} WAL segment switches on ${primary}${stop ? ` until: ${stop}` : ''}; ${outcome}; ${seen}`)
        },
        heal: async () => lab.freeHostFs(h)}
    }
    case 'switchover':
    case 'failover': {
      const cand = replica
      return {kind, target: `${leader}->${cand}`, durationMs: rng.int(1000, 3000),
        inject: async () => {
          const body = kind === 'switchover' ? {leader, candidate: cand} : {candidate: cand}
          const r = await lab.client.call({op: 'http', method: 'POST', url: `http://${addrOf(leader)}:8008/${kind}`, body, timeoutMs: 60_000}, 70_000)
          ctx.log(`${kind} ${leader} -> ${cand}: ${r.status} ${String(r.body).slice(0, 200)}`)
        },
        heal: async () => {}}
    }
  }
}

/** WAL segments the wal-full fault makes the primary switch to, at most. */
const WAL_FULL_SWITCHES = 12

const hostLogs = (lab: Lab, h: Host) => [lab.logPath(`agent-${h}`), join(lab.dataDir(h), 'postmaster.log')]

function logSizes(lab: Lab, h: Host): number[] {
  return hostLogs(lab, h).map((f) => {
    try {
      return statSync(f).size
    } catch {
      return 0
    }
  })
}

/** The lines host h's PostgreSQL wrote with "No space left on device" (the agent's output or postmaster.log) since `from`. */
function noSpaceReported(lab: Lab, h: Host, from: number[]): string[] {
  return hostLogs(lab, h).flatMap((f, i) => {
    try {
      const b = readFileSync(f)
      return b.subarray(Math.min(from[i] ?? 0, b.length)).toString().split('\n').filter((l) => l.includes('No space left on device'))
    } catch {
      return [] // not there (yet)
    }
  })
}

function addrOf(h: Host): string {
  return ADDR[h]!
}
