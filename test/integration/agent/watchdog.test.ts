/**
 * The watchdog with hactl agents on real etcd and PostgreSQL 15 (docs/ha-rules.md#watchdog). The
 * device is emulated by a named pipe (Patroni's `driver: testing`, as its features/watchdog
 * harness does): the test reads the timeout the agent sets, each keepalive and the magic close.
 * w1 has mode required and a working device; w2 has mode required and no device, so it must never
 * take the leader key; frozen with SIGSTOP, w1 stops kicking and the device's timeout
 * (ttl - safety_margin) runs out before the leader key's lease does; at shutdown w1 disarms the
 * device; w2 reconfigured to mode automatic (still no device) leads with a warning.
 */
import assert from 'node:assert/strict'
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {parse, stringify} from 'yaml'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster} from '../../harness/patroni'
import {sampleEvery, waitFor} from '../../harness/ports'
import {WatchdogFifo} from '../../harness/watchdog-fifo'

const TTL = 20
const SAFETY_MARGIN = 5
const TIMEOUT = TTL - SAFETY_MARGIN

let etcd: EtcdServer
let cluster: PatroniCluster
let dir: string
let fifo: WatchdogFifo
/** Every leader-key holder seen while the test runs (polled). */
const holders = new Set<string>()
let sampler: {stop: () => Promise<void>} | undefined

async function withLogs<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    throw new Error(`${(e as Error).message}\nwatchdog events: ${JSON.stringify(fifo.events.slice(-20))}\n${cluster.logTails()}`, {cause: e})
  }
}

before(async () => {
  etcd = await EtcdServer.start()
  dir = mkdtempSync(join(tmpdir(), 'hactl-watchdog-'))
  chmodSync(dir, 0o755)
  fifo = new WatchdogFifo(join(dir, 'w1.watchdog'))
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'hactl-watchdog',
    nodes: 2,
    namePrefix: 'w',
    impl: 'hactl',
    ttl: TTL,
    // w2 is started once w1 leads: a bootstrap won by w2 would fail at its watchdog (as in Patroni).
    hold: ['w2'],
    local: {
      w1: {watchdog: {mode: 'required', driver: 'testing', device: fifo.path, safety_margin: SAFETY_MARGIN}},
      w2: {watchdog: {mode: 'required', device: join(dir, 'no-such-watchdog')}},
    },
    startTimeoutMs: 120_000,
  })
  sampler = sampleEvery(100, async () => {
    const l = await cluster.leaderName().catch(() => undefined)
    if (l) holders.add(l)
  })
  await cluster.startNode('w2')
  await cluster.waitForReplicasStreaming(1, {timeoutMs: 90_000})
})

after(async () => {
  await sampler?.stop()
  await cluster?.destroy()
  await etcd?.destroy()
  fifo?.close()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

test('mode required with a working device: w1 leads, sets ttl - safety_margin, and kicks every cycle', {timeout: 90_000}, () =>
  withLogs(async () => {
    assert.equal(await cluster.waitForLeader(), 'w1')
    assert.deepEqual(fifo.timeouts, [TIMEOUT], 'one timeout set, ttl - safety_margin')
    const from = fifo.kicks.length
    await waitFor('four more keepalives', () => fifo.kicks.length >= from + 4, {timeoutMs: 30_000, intervalMs: 100})
    const kicks = fifo.kicks.slice(from - 1 >= 0 ? from - 1 : 0)
    const gaps = kicks.slice(1).map((k, i) => k.at - kicks[i]!.at)
    assert.ok(Math.max(...gaps) < TIMEOUT * 1000, `keepalive gaps ${gaps.join(', ')} ms stay below the ${TIMEOUT} s timeout`)
    assert.equal(fifo.magicCloses, 0, 'never disarmed while leading')
    const w1 = await cluster.node('w1').status()
    assert.equal(w1.watchdog_failed, undefined)
    assert.match(cluster.node('w1').log, new RegExp(`Watchdog test harness at .* activated with ${TIMEOUT} second timeout, timing slack ${TIMEOUT - 2} seconds`))
  }))

test('mode required without a device: w2 reports watchdog_failed and never takes the leader key', {timeout: 60_000}, () =>
  withLogs(async () => {
    const s = await waitFor('w2 running as a replica', async () => {
      const st = await cluster.node('w2').status()
      return st?.state === 'running' && st.role === 'replica' ? st : undefined
    }, {timeoutMs: 30_000})
    assert.equal(s.watchdog_failed, true)
    assert.deepEqual([...holders], ['w1'])
  }))

test('a new ttl is applied to the device at the next keepalive (ttl - safety_margin again)', {timeout: 60_000}, () =>
  withLogs(async () => {
    const w1 = cluster.node('w1')
    assert.equal((await w1.api('PATCH', '/config', {ttl: TTL + 1})).status, 200)
    await waitFor(`timeout ${TIMEOUT + 1}`, () => fifo.timeout === TIMEOUT + 1, {timeoutMs: 20_000, intervalMs: 100})
    assert.equal((await w1.api('PATCH', '/config', {ttl: TTL})).status, 200)
    await waitFor(`timeout ${TIMEOUT} again`, () => fifo.timeout === TIMEOUT, {timeoutMs: 20_000, intervalMs: 100})
    assert.deepEqual(fifo.timeouts, [TIMEOUT, TIMEOUT + 1, TIMEOUT])
    assert.equal(fifo.magicCloses, 0, 'changed while armed, never disarmed')
  }))

test('pause disarms the device (magic close); resume arms it again and the keepalives resume', {timeout: 60_000}, () =>
  withLogs(async () => {
    const w1 = cluster.node('w1')
    assert.equal((await w1.api('PATCH', '/config', {pause: true})).status, 200)
    await waitFor('the magic close', () => fifo.magicCloses === 1, {timeoutMs: 20_000, intervalMs: 100})
    const closedAt = fifo.events.findLast((e) => e.kind === 'magic-close')!.at
    // Two more cycles in pause: no keepalive on a disarmed device.
    const cyclesLater = closedAt + 2 * 2 * 1000 + 500
    await waitFor('two paused cycles', () => Date.now() > cyclesLater, {timeoutMs: 10_000, intervalMs: 100})
    assert.ok(!fifo.events.some((e) => e.kind === 'kick' && e.at > closedAt), 'no keepalive while paused')
    assert.equal((await w1.api('PATCH', '/config', {pause: null})).status, 200)
    await waitFor('the timeout set again on resume', () => fifo.timeouts.length === 4, {timeoutMs: 20_000, intervalMs: 100})
    const rearmed = fifo.events.findLast((e) => e.kind === 'timeout')!.at
    await waitFor('keepalives after resume', () => fifo.kicks.filter((k) => k.at > rearmed).length >= 2, {timeoutMs: 20_000, intervalMs: 100})
    assert.equal(await cluster.leaderName(), 'w1')
  }))

test('w1 frozen (SIGSTOP): no more keepalives, and the device fires before the leader lease expires', {timeout: 120_000}, (t) =>
  withLogs(async () => {
    const w1 = cluster.node('w1')
    const pid = w1.pid!
    const entry = async () => (await cluster.dcsEntries()).find((e) => e.key === `${cluster.prefix}leader`)
    process.kill(pid, 'SIGSTOP')
    try {
      const frozenAt = Date.now()
      // The lease's remaining time, read after the freeze: it expires no earlier than asked + TTL.
      const lease = (await entry())?.lease
      assert.ok(lease && lease !== '0', 'the leader key has a lease')
      const asked = Date.now()
      const ttl = Number((await etcd.call('/lease/timetolive', {ID: lease})).TTL)
      assert.ok(ttl > 0, `lease ${lease} still alive (TTL ${ttl})`)
      const leaseExpiresNoEarlierThan = asked + ttl * 1000
      await waitFor('the leader key to expire', async () => ((await entry()) ? undefined : true), {timeoutMs: (TTL + 10) * 1000, intervalMs: 100})
      const keyGoneAt = Date.now()
      const last = fifo.kicks.at(-1)!
      assert.ok(last.at <= frozenAt + 200, 'no keepalive after the freeze')
      const fires = last.at + TIMEOUT * 1000
      assert.ok(
        fires < leaseExpiresNoEarlierThan,
        `the device fires at last keepalive + ${TIMEOUT} s = ${new Date(fires).toISOString()}, before the lease can expire (${new Date(leaseExpiresNoEarlierThan).toISOString()}; key seen gone ${new Date(keyGoneAt).toISOString()})`,
      )
      t.diagnostic(`device fires ${leaseExpiresNoEarlierThan - fires} ms before the lease can expire; key seen gone ${keyGoneAt - fires} ms after the device fired`)
      assert.ok(keyGoneAt - last.at > TIMEOUT * 1000, 'the gap without keepalive exceeded the timeout: a real device would have reset the host')
      assert.deepEqual([...holders], ['w1'], 'w2 (no watchdog) did not take the key')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  }))

test('shutdown: the leader stops PostgreSQL and disarms the device with the magic close', {timeout: 120_000}, () =>
  withLogs(async () => {
    assert.equal(await cluster.waitForLeader({timeoutMs: 60_000}), 'w1', 'w1 leads again after thawing (w2 cannot)')
    const before = fifo.kicks.length
    await waitFor('a keepalive after the thaw', () => fifo.kicks.length > before, {timeoutMs: 20_000, intervalMs: 100})
    const closes = fifo.magicCloses
    const stopAt = Date.now()
    await cluster.stopNode('w1', {signal: 'SIGTERM'})
    await waitFor('the magic close at shutdown', () => fifo.magicCloses === closes + 1, {timeoutMs: 5_000, intervalMs: 50})
    const closeAt = fifo.events.findLast((e) => e.kind === 'magic-close')!.at
    assert.ok(closeAt >= stopAt, 'written during the shutdown')
    assert.ok(!fifo.events.some((e) => e.kind === 'kick' && e.at > closeAt), 'no keepalive after the magic close')
  }))

test('mode automatic without a device: w2 leads and warns that it runs without a watchdog', {timeout: 120_000}, () =>
  withLogs(async () => {
    const w2 = cluster.node('w2')
    const cfg = parse(readFileSync(w2.configPath, 'utf8'))
    cfg.watchdog = {mode: 'automatic', device: join(dir, 'no-such-watchdog')}
    writeFileSync(w2.configPath, stringify(cfg))
    process.kill(w2.pid!, 'SIGHUP')
    assert.equal(await cluster.waitForLeader({timeoutMs: 90_000}), 'w2')
    assert.match(w2.log, /WARNING: Could not activate Linux watchdog device at .*no-such-watchdog: Can't open watchdog device: ENOENT.*; running without a watchdog \(mode automatic\)/)
    const s = await w2.status()
    assert.equal(s.watchdog_failed, undefined)
  }))
