/**
 * `hactl vip` for real: the process runs inside a network namespace and manages its eth0, etcd
 * is the real Debian etcd (reached through a loopback relay, see lab.ts), the address is
 * checked with `ip -j`, reachability with a TCP connection from a peer namespace on the same
 * bridge, and gratuitous ARP with tcpdump on the peer. Needs root.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import type * as net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, afterEach, before, describe, it} from 'node:test'
import {b64, EtcdServer} from '../../harness/etcd'
import {waitFor} from '../../harness/ports'
import {sampler, VipLab, type Relay, type VipProcess} from './lab'

const VIP = '10.0.2.123'
const CIDR = `${VIP}/32`
const APP_PORT = 12345

describe('hactl vip in network namespaces (real etcd, iproute2, arping, tcpdump)', {concurrency: false}, () => {
  let etcd: EtcdServer
  let lab: VipLab
  let relay: Relay
  let n1: string
  let peer: string
  let tmp: string
  let app: net.Server
  let seq = 0
  const running = new Set<VipProcess>()

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'hactl-vip-test-'))
    etcd = await EtcdServer.start()
    lab = await VipLab.create(['n1'])
    n1 = lab.ns('n1')
    peer = lab.ns('peer')
    relay = await lab.relay(n1, etcd.clientPort)
    // Stand-in for PostgreSQL (upstream uses ncat): answers with the node name on any local address.
    app = await lab.listenIn(n1, '0.0.0.0', APP_PORT)
    app.on('connection', (s) => s.end('n1\n'))
  })

  // A failed test must not leave a follower or the VIP behind for the next one.
  afterEach(async () => {
    for (const p of [...running]) {
      if (p.running()) p.proc.kill('SIGKILL')
      await p.exited
      running.delete(p)
    }
    if (lab && (await lab.has(n1, CIDR))) await lab.ip(n1, ['addr', 'del', CIDR, 'dev', 'eth0'])
    relay?.restore()
  })

  after(async () => {
    for (const p of running) if (p.running()) p.proc.kill('SIGKILL')
    await lab?.destroy()
    await etcd?.destroy()
    if (tmp) rmSync(tmp, {recursive: true, force: true})
  })

  /** A fresh trigger key per test, so no test sees another's leftovers. */
  const newKey = (leadingSlash = true) => `${leadingSlash ? '/' : ''}service/vip-${++seq}-${lab.id}/leader`
  const endpoint = () => `http://127.0.0.1:${etcd.clientPort}`
  const flags = (key: string, extra: string[] = []) => ['--interface', 'eth0', '--ip', VIP, '--netmask', '32', '--trigger-key', key, '--trigger-value', 'n1', '--dcs-endpoints', endpoint(), ...extra]
  const start = (args: string[], opts?: Parameters<VipLab['startVip']>[2]) => {
    const p = lab.startVip(n1, args, opts)
    running.add(p)
    return p
  }
  const stop = async (p: VipProcess, signal: NodeJS.Signals = 'SIGINT') => {
    if (p.running()) p.proc.kill(signal)
    const r = await p.exited
    running.delete(p)
    return r
  }
  const del = (key: string) => etcd.call('/kv/deleterange', {key: b64(key)})
  const vipHere = () => lab.has(n1, CIDR)

  it("upstream's behaviour test: absent -> own name: present and reachable -> other value: absent and unreachable", async () => {
    const key = newKey(false) // upstream uses service/pgcluster/leader, no leading slash
    assert.equal(await vipHere(), false, '(0) not there before start')
    const p = start(flags(key, ['--interval', '3000']))
    await p.waitForOutput(/No value found for key service\//)
    assert.equal(await vipHere(), false, '(1) still absent without a key')
    await etcd.put(key, 'n1')
    await lab.waitVip(n1, CIDR, true, 3000)
    assert.equal(await lab.connectFrom(peer, VIP, APP_PORT), 'OK n1\n', '(2) a client on the LAN reaches the VIP')
    await etcd.put(key, '0xGARBAGE')
    await lab.waitVip(n1, CIDR, false, 3000)
    assert.match(await lab.connectFrom(peer, VIP, APP_PORT, 500), /^ERR /, '(3) unreachable once released')
    assert.match(p.output(), /Configuring address 10\.0\.2\.123\/32 on eth0/)
    assert.match(p.output(), /Removing address 10\.0\.2\.123\/32 on eth0/)
    assert.deepEqual(await stop(p), {code: 0, signal: null})
  })

  it('key deleted: released at once (watch DELETE)', async () => {
    const key = newKey()
    await etcd.put(key, 'n1')
    const p = start(flags(key))
    await lab.waitVip(n1, CIDR, true)
    await del(key)
    const ms = await lab.waitVip(n1, CIDR, false, 3000)
    assert.ok(ms < 1500, `released after ${ms} ms`)
    await p.waitForOutput(/was deleted/)
    await stop(p)
  })

  it('gratuitous ARP on takeover: one broadcast reply and one broadcast request, seen by tcpdump on the peer', async () => {
    const key = newKey()
    const dump = await lab.tcpdump(peer, ['arp'])
    const p = start(flags(key))
    await p.waitForOutput(/No value found for key/)
    await etcd.put(key, 'n1')
    await lab.waitVip(n1, CIDR, true)
    await waitFor('GARP reply and request on the peer', () => {
      const l = dump.lines()
      return l.some((x) => /> ff:ff:ff:ff:ff:ff.*Reply 10\.0\.2\.123 is-at /.test(x)) && l.some((x) => /> ff:ff:ff:ff:ff:ff.*Request who-has 10\.0\.2\.123 .*tell 10\.0\.2\.123,/.test(x))
    }, {timeoutMs: 5000})
    await dump.stop()
    const garp = dump.lines().filter((x) => /10\.0\.2\.123 is-at|tell 10\.0\.2\.123,/.test(x))
    assert.equal(garp.length, 2, garp.join('\n'))
    await stop(p)
  })

  it('etcd stopped: released (unknown is not leader); etcd back: taken again', async () => {
    const key = newKey()
    await etcd.put(key, 'n1')
    const p = start(flags(key))
    await lab.waitVip(n1, CIDR, true)
    const t0 = Date.now()
    await etcd.stop()
    await lab.waitVip(n1, CIDR, false, 5000)
    const ms = Date.now() - t0
    assert.ok(ms < 3000, `released ${ms} ms after etcd stopped`)
    assert.match(p.output(), /Failed to get value from etcd/)
    await etcd.launch()
    await lab.waitVip(n1, CIDR, true, 10_000)
    await stop(p)
  })

  it('watch loss: re-read before trusting anything (cut connection, key changed meanwhile, restored)', async () => {
    const key = newKey()
    await etcd.put(key, 'n1')
    const p = start(flags(key))
    await lab.waitVip(n1, CIDR, true)
    // A dropped connection alone: the watch is lost, the re-read confirms, the VIP never moves.
    const s = sampler(vipHere, 50)
    relay.drop()
    await p.waitForOutput(/WATCH on key lost, re-establishing and re-syncing state/)
    await waitFor('the re-read after the loss', () => (p.output().match(/Current value from DCS: n1/g) ?? []).length >= 2)
    await s.stop()
    assert.ok(s.samples.every((x) => x.v), 'the VIP stayed while the watch was re-established')
    // Cut: nothing reaches etcd; the key changes behind our back; the re-read must see it.
    relay.cut()
    await etcd.put(key, 'n2')
    await lab.waitVip(n1, CIDR, false, 5000) // unreachable DCS = unknown = released
    relay.restore()
    await p.waitForOutput(/Current value from DCS: n2/, 10_000)
    assert.equal(await vipHere(), false)
    await etcd.put(key, 'n1')
    await lab.waitVip(n1, CIDR, true, 5000)
    await stop(p)
  })

  it('repair on the interval timer: removed by hand on the leader comes back, added by hand elsewhere goes', async () => {
    const key = newKey()
    await etcd.put(key, 'n1')
    const p = start(flags(key, ['--interval', '500']))
    await lab.waitVip(n1, CIDR, true)
    await lab.ip(n1, ['addr', 'del', CIDR, 'dev', 'eth0'])
    const back = await lab.waitVip(n1, CIDR, true, 3000)
    assert.ok(back < 1500, `repaired after ${back} ms (interval 500)`)
    await etcd.put(key, 'someone-else')
    await lab.waitVip(n1, CIDR, false)
    await lab.ip(n1, ['addr', 'add', CIDR, 'dev', 'eth0'])
    const gone = await lab.waitVip(n1, CIDR, false, 3000)
    assert.ok(gone < 1500, `removed after ${gone} ms (interval 500)`)
    await stop(p)
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} releases the VIP before exiting (exit 0)`, async () => {
      const key = newKey()
      await etcd.put(key, 'n1')
      const p = start(flags(key))
      await lab.waitVip(n1, CIDR, true)
      assert.deepEqual(await stop(p, signal), {code: 0, signal: null})
      assert.equal(await vipHere(), false)
      assert.match(p.output(), new RegExp(`Received exit signal \\(${signal}\\); releasing`))
    })
  }

  it('keep-on-term: SIGTERM leaves the VIP (upstream behaviour), and a restart causes no blip', async () => {
    const key = newKey()
    await etcd.put(key, 'n1')
    const a = start(flags(key, ['--keep-on-term']))
    await lab.waitVip(n1, CIDR, true)
    assert.deepEqual(await stop(a, 'SIGTERM'), {code: 0, signal: null})
    assert.equal(await vipHere(), true, 'kept on SIGTERM')
    // Restart on the leader: sampled every 50 ms from before start until the first decision.
    const s = sampler(vipHere, 50)
    const b = start(flags(key), {env: {VIP_KEEP_ON_TERM: 'false'}})
    await b.waitForOutput(/IP address 10\.0\.2\.123\/32 is up, must be up: leader/)
    await s.stop()
    assert.ok(s.samples.length >= 5, `${s.samples.length} samples`)
    assert.ok(s.samples.every((x) => x.v), 'the VIP never disappeared during the restart')
    assert.doesNotMatch(b.output(), /Removing address/)
    await stop(b, 'SIGINT')
    assert.equal(await vipHere(), false)
  })

  it('refuses to start when the interface is missing or down, or settings are missing', async () => {
    const missing = start(flags(newKey()).map((x) => (x === 'eth0' ? 'nosuch0' : x)))
    assert.equal((await missing.exited).code, 1)
    assert.match(missing.output(), /interface "nosuch0" does not exist/)
    running.delete(missing)

    await lab.ip(n1, ['link', 'add', 'down0', 'type', 'veth', 'peer', 'name', 'down1'])
    const down = start(flags(newKey()).map((x) => (x === 'eth0' ? 'down0' : x)))
    assert.equal((await down.exited).code, 1)
    assert.match(down.output(), /interface down0 is down/)
    running.delete(down)

    const bare = start(['--ip', VIP])
    assert.equal((await bare.exited).code, 1)
    for (const k of ['netmask', 'interface', 'trigger-key']) assert.match(bare.output(), new RegExp(`Setting ${k} is mandatory`))
    running.delete(bare)
  })

  it("config compatibility, live: the seed's .vip file via --config, and as vip-manager with only the unit's environment", async () => {
    const key = newKey()
    const file = join(tmp, '15-main.vip')
    // The seed's file shape (/etc/patroni/15-main.vip), with this lab's values.
    writeFileSync(file, [
      `VIP_IP="${VIP}"`,
      'VIP_NETMASK="32"',
      'VIP_IFACE="eth0"',
      '# etcd ...',
      `VIP_TRIGGER_KEY="${key}"`,
      'VIP_TRIGGER_VALUE="n1"',
      'VIP_DCS_TYPE="etcd"',
      `VIP_DCS_ENDPOINTS="${endpoint()}"`,
      'VIP_ETCD_USER=patroni   ',
      'VIP_ETCD_PASSWORD=passw0rd',
      '',
    ].join('\n'))
    const p = start(['--config', file])
    await p.waitForOutput(/This is the config that will be used:/)
    await etcd.put(key, 'n1')
    await lab.waitVip(n1, CIDR, true)
    assert.match(p.output(), /Parameter "VIP_IFACE" has been deprecated, please use "VIP_INTERFACE" instead/)
    assert.match(p.output(), /\tetcd-password : \*\*\*\*\*/)
    assert.doesNotMatch(p.output(), /passw0rd/)
    await stop(p)
    assert.equal(await vipHere(), false)

    // Debian's vip-manager@15-main.service: EnvironmentFile=/etc/patroni/15-main.vip, no arguments.
    const {parseEnvFile} = await import('../../../src/vip/config')
    const {vars} = parseEnvFile(readFileSync(file, 'utf8'), file)
    const vm = start([], {env: vars, asVipManager: true})
    await lab.waitVip(n1, CIDR, true)
    await etcd.put(key, 'n2')
    await lab.waitVip(n1, CIDR, false)
    await stop(vm)

    const version = start(['--version'], {asVipManager: true})
    assert.equal((await version.exited).code, 0)
    assert.match(version.output(), /^version: \d+\.\d+\.\d+\ncommit: \S+\ndate: \S+\n$/)
    running.delete(version)
  })
})
