/**
 * Memory and idle CPU of the agent, side by side with Debian's Patroni 3.0.2: a 3-node cluster of
 * each on one etcd, both idle, measured from /proc. Run: node --import tsx bench/agent-memory.ts
 * Set HACTL_TEST_BIN=dist/hactl to measure the single executable (otherwise the sources via tsx,
 * which cost more memory than the executable).
 */
import {readFileSync} from 'node:fs'
import {EtcdServer} from '../test/harness/etcd'
import {PatroniCluster} from '../test/harness/patroni'

const IDLE_MS = Number(process.env.IDLE_MS ?? 20_000)
const TICK = 100 // USER_HZ on Linux

function mem(pid: number): {rssKb: number; anonKb: number} {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN)
  return {rssKb: kb('VmRSS'), anonKb: kb('RssAnon')}
}

function cpuTicks(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime
}

async function measure(label: string, cluster: PatroniCluster): Promise<string[]> {
  const pids = cluster.nodes.map((n) => n.pid!).filter(Boolean)
  const before = pids.map(cpuTicks)
  await new Promise((r) => setTimeout(r, IDLE_MS))
  const after = pids.map(cpuTicks)
  return pids.map((pid, i) => {
    const m = mem(pid)
    const cpu = ((after[i] - before[i]) / TICK / (IDLE_MS / 1000)) * 100
    return `${label.padEnd(14)} ${cluster.nodes[i].name.padEnd(4)} ${(m.rssKb / 1024).toFixed(1).padStart(8)} ${(m.anonKb / 1024).toFixed(1).padStart(12)} ${cpu.toFixed(2).padStart(10)}`
  })
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start()
  const rows: string[] = []
  try {
    // IMPLS=hactl measures hactl alone (e.g. to compare builds).
    const impls = (process.env.IMPLS ?? 'hactl,patroni').split(',') as Array<'hactl' | 'patroni'>
    for (const impl of impls) {
      const c = await PatroniCluster.start({etcd, scope: `bench-${impl}`, nodes: 3, namePrefix: impl[0], impl, ttl: 30, loopWait: 10, retryTimeout: 10, wait: false})
      try {
        // settle: a leader and both replicas running before measuring idle
        await c.waitForLeader({timeoutMs: 120_000})
        await new Promise((r) => setTimeout(r, 12_000))
        rows.push(...(await measure(impl === 'hactl' ? `hactl${process.env.HACTL_TEST_BIN ? ' (SEA)' : ' (tsx)'}` : 'patroni 3.0.2', c)))
      } finally {
        await c.destroy()
      }
    }
  } finally {
    await etcd.destroy()
  }
  console.log(`agent          node  RSS (MB)  private (MB)  idle CPU %   (idle ${IDLE_MS / 1000}s, ttl 30, loop_wait 10)`)
  for (const r of rows) console.log(r)
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
