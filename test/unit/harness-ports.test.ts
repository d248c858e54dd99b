/**
 * test/harness/ports.ts freePort: the ports servers in tests listen on. They must not come from
 * the kernel's ephemeral range, where outgoing connections take their local ports and could take
 * a picked port before its server binds it.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {test} from 'node:test'
import {freePort, reservePort} from '../harness/ports'

test('freePort hands out distinct ports below the ephemeral range, each free to bind on every address', async () => {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
  const ports: number[] = []
  for (let i = 0; i < 200; i++) ports.push(await freePort())
  assert.equal(new Set(ports).size, ports.length, 'no port handed out twice')
  for (const p of ports) assert.ok(p >= 10_000 && p < ephemeralLow, `${p} is below the ephemeral range (${ephemeralLow})`)
  const last = ports.at(-1)!
  await new Promise<void>((resolve, reject) => {
    const srv = createServer().once('error', reject)
    srv.listen(last, '0.0.0.0', () => srv.close(() => resolve()))
  })
})

test('a port another live process holds in the registry is not taken; once that process is gone it is', async () => {
  const {spawn} = await import('node:child_process')
  const {writeFileSync, readFileSync: read} = await import('node:fs')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  const child = spawn('sleep', ['30'], {stdio: 'ignore'})
  const exited = new Promise((r) => child.once('exit', r))
  try {
    const port = await freePort() // ours now; hand its file to the child, as if the child had taken it
    const stat = read(`/proc/${child.pid}/stat`, 'utf8')
    const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    writeFileSync(join(tmpdir(), 'hactl-test-ports', String(port)), `${child.pid} ${started}\n`)
    assert.equal(reservePort(port), false, 'a live owner keeps it')
    child.kill('SIGKILL')
    await exited
    assert.equal(reservePort(port), true, 'a gone owner loses it')
  } finally {
    child.kill('SIGKILL')
  }
})
