/**
 * How fast the VIP follows the leader key: two `hactl vip` processes in two namespaces on one
 * bridge (test/integration/vip/lab.ts), real etcd; the key flips between them ROUNDS times.
 * For each flip: ms from the moment the new value is sent to etcd until `ip monitor` in the
 * new node's namespace reports the address (and until the old node's reports its removal).
 * Target: < 1000 ms. Needs root. Exit 1 when a round misses the target.
 */
import {spawn} from 'node:child_process'
import {EtcdServer} from '../test/harness/etcd'
import {waitFor} from '../test/harness/ports'
import {VipLab} from '../test/integration/vip/lab'

const ROUNDS = Number(process.env.ROUNDS ?? 10)
const TARGET_MS = 1000
const VIP = '10.0.2.150'
const CIDR = `${VIP}/32`
const KEY = '/service/bench/leader'

/** `ip -n <ns> monitor address`: the time of the last add and delete of CIDR seen. */
function monitor(ns: string) {
  const proc = spawn('ip', ['-n', ns, 'monitor', 'address'], {stdio: ['ignore', 'pipe', 'ignore']})
  const seen = {added: 0, deleted: 0}
  let buf = ''
  proc.stdout.on('data', (d) => {
    const now = performance.now()
    buf += d
    const lines = buf.split('\n')
    buf = lines.pop()!
    for (const l of lines) {
      if (!l.includes(` ${CIDR} `)) continue
      if (l.startsWith('Deleted')) seen.deleted = now
      else seen.added = now
    }
  })
  return {seen, stop: () => proc.kill('SIGTERM')}
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start()
  const lab = await VipLab.create(['n1', 'n2'])
  const mons: ReturnType<typeof monitor>[] = []
  try {
    const nodes = ['n1', 'n2']
    for (const n of nodes) {
      const ns = lab.ns(n)
      await lab.relay(ns, etcd.clientPort)
      const p = lab.startVip(ns, ['--interface', 'eth0', '--ip', VIP, '--netmask', '32', '--trigger-key', KEY, '--trigger-value', n, '--dcs-endpoints', `http://127.0.0.1:${etcd.clientPort}`])
      await p.waitForOutput(/No value found for key|Current value from DCS/)
      mons.push(monitor(ns))
    }
    await etcd.put(KEY, 'n1')
    await lab.waitVip(lab.ns('n1'), CIDR, true)
    const rows: Array<{to: string; up: number; down: number}> = []
    for (let i = 0; i < ROUNDS; i++) {
      const to = nodes[(i + 1) % 2]!
      const from = nodes[i % 2]!
      const mTo = mons[nodes.indexOf(to)]!.seen
      const mFrom = mons[nodes.indexOf(from)]!.seen
      const t0 = performance.now()
      await etcd.put(KEY, to)
      await waitFor(`round ${i + 1}: ${CIDR} on ${to} and gone from ${from}`, () => mTo.added > t0 && mFrom.deleted > t0, {timeoutMs: 10_000, intervalMs: 5})
      rows.push({to, up: mTo.added - t0, down: mFrom.deleted - t0})
      // Let gratuitous ARP and the old node settle so rounds do not overlap.
      await new Promise((r) => setTimeout(r, 300))
    }
    const stat = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b)
      return {median: s[Math.floor(s.length / 2)]!, max: s.at(-1)!}
    }
    console.log('round  new node  present after ms  gone from old after ms')
    rows.forEach((r, i) => console.log(`${String(i + 1).padStart(5)}  ${r.to.padEnd(8)}  ${r.up.toFixed(1).padStart(16)}  ${r.down.toFixed(1).padStart(22)}`))
    const up = stat(rows.map((r) => r.up))
    const down = stat(rows.map((r) => r.down))
    console.log(`\nleader key change -> VIP present on the new node: median ${up.median.toFixed(1)} ms, max ${up.max.toFixed(1)} ms`)
    console.log(`leader key change -> VIP gone from the old node:  median ${down.median.toFixed(1)} ms, max ${down.max.toFixed(1)} ms`)
    console.log(`target < ${TARGET_MS} ms: ${Math.max(up.max, down.max) < TARGET_MS ? 'met' : 'MISSED'}`)
    if (Math.max(up.max, down.max) >= TARGET_MS) process.exitCode = 1
  } finally {
    for (const m of mons) m.stop()
    await lab.destroy()
    await etcd.destroy()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
