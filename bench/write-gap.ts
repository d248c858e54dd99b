/**
 * Write unavailability during a leader change, hactl side by side with Debian's Patroni 3.0.2:
 * a client tries a write on every member every 10 ms, each on its own session; the gap is the time
 * between the last write acknowledged by the old primary and the first one acknowledged by the
 * new primary. Three events per agent: a patronictl switchover, a graceful stop of the leader's
 * agent (SIGTERM), and the death of the leader's agent and postmaster (SIGKILL; bounded by the
 * ttl). Same etcd, ttl 20, loop_wait 2, retry_timeout 4 for both.
 * Run: node --import tsx bench/write-gap.ts  (HACTL_TEST_BIN=dist/hactl for the executable; IMPLS=hactl,
 * KINDS=switchover and ROUNDS=N narrow it)
 */
import {EtcdServer} from '../test/harness/etcd'
import {PatroniCluster} from '../test/harness/patroni'
import {leaderChange as event, median, Writer} from './lib'

const ROUNDS = Number(process.env.ROUNDS ?? 2)
/** KINDS=switchover,sigterm runs only those leader changes. */
const KINDS = (process.env.KINDS ?? 'switchover,sigterm,sigkill').split(',') as Array<'switchover' | 'sigterm' | 'sigkill'>

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
        for (const kind of KINDS) {
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

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
