/**
 * The agent under a Type=notify unit, with a real notify socket (a python3 listener standing in
 * for systemd, test/harness/sd-notify-listener.ts), real etcd and PostgreSQL 15, one hactl member
 * started the way systemd starts it (NOTIFY_SOCKET in its environment):
 *
 * - a SIGHUP that arrives as soon as the agent catches it, long before the REST API serves, neither
 *   kills it nor is lost: the reload runs once the agent can do it;
 * - READY=1 only once the REST API serves and the first HA cycle ran;
 * - SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC at the signal), then READY=1;
 * - SIGTERM: STOPPING=1 first, and the agent exits 0;
 * - every message comes from the agent or from a helper it forked (what NotifyAccess=all accepts);
 * - neither the postmaster nor a callback sees NOTIFY_SOCKET;
 * - the agent runs in its second start, same PID, with malloc's trim threshold fixed, and the
 *   postmaster does not inherit that setting.
 *
 * Fails on the code before the systemd notify work: no messages at all, and the early SIGHUP
 * killed the agent (SIGHUP's default action) because its handler came after the REST API.
 */
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {hactlCommand, PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {asUser, ownedDir, writeOwnedFile} from '../../harness/postgres-bin'
import {waitFor} from '../../harness/ports'
import {NotifyListener, type NotifyMessage} from '../../harness/sd-notify-listener'
import {DAEMON_NODE_FLAGS, TRIM_TUNABLE, TUNABLES_MARK} from '../../../src/daemon-start'

let etcd: EtcdServer
let cluster: PatroniCluster
let listener: NotifyListener
let node: PatroniNode
let agent: ChildProcess | undefined
let log = ''
let callbackDir: string

before(async () => {
  etcd = await EtcdServer.start()
  listener = await NotifyListener.start()
  // Configured before the cluster exists: the callback directory lives in the test's own temp dir.
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'sdnotify',
    nodes: 1,
    namePrefix: 'n',
    impl: 'hactl',
    hold: ['n1'],
    wait: false,
  })
  node = cluster.node('n1')
  callbackDir = ownedDir(join(node.dir, 'cb'))
  const script = join(callbackDir, 'on_stop.sh')
  writeOwnedFile(script, `#!/bin/sh\nenv > ${callbackDir}/env.$1\n`, 0o700)
  // The member's own YAML with an on_stop callback added (the harness wrote the rest).
  const yaml = readFileSync(node.configPath, 'utf8').replace(/^postgresql:\n/m, `postgresql:\n  callbacks:\n    on_stop: ${script}\n`)
  assert.match(yaml, /on_stop:/)
  writeOwnedFile(node.configPath, yaml)
})

after(async () => {
  if (agent && agent.exitCode === null && agent.signalCode === null && agent.pid) process.kill(agent.pid, 'SIGKILL')
  await cluster?.destroy()
  await etcd?.destroy()
  await listener?.stop()
})

function sigCaught(pid: number, signo: number): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return !!m && ((BigInt('0x' + m[1]) >> BigInt(signo - 1)) & 1n) === 1n
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({host: '127.0.0.1', port})
    s.once('connect', () => (s.destroy(), resolve(true)))
    s.once('error', () => resolve(false))
  })
}

/** From the agent itself, or from a process it forked (systemd-notify) that was still there. */
function fromAgent(m: NotifyMessage): boolean {
  return m.pid === agent!.pid || m.ppid === agent!.pid
}

test('an early SIGHUP is queued, not fatal; READY=1 once the REST API serves and the first cycle ran', async () => {
  const [cmd, args] = hactlCommand(node.configPath)
  const opts = asUser(cluster.home, {PATH: `${join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin')}:${process.env.PATH}`, NOTIFY_SOCKET: listener.path})
  agent = spawn(cmd, args, {...opts, cwd: node.dir, stdio: ['ignore', 'pipe', 'pipe']})
  agent.stdout!.on('data', (b: Buffer) => (log += b))
  agent.stderr!.on('data', (b: Buffer) => (log += b))
  const pid = agent.pid!
  // As soon as the handler is there: systemd's `reload` may come that early.
  await waitFor('the agent to catch SIGHUP', () => sigCaught(pid, 1), {timeoutMs: 30_000, intervalMs: 2})
  process.kill(pid, 'SIGHUP')
  assert.equal(await listening(node.apiPort), false, 'the REST API was not up yet when the SIGHUP came')
  const ready = await waitFor('READY=1', () => listener.with('READY').at(0), {timeoutMs: 90_000, intervalMs: 50})
  assert.equal(agent.exitCode, null, `the agent survived the early SIGHUP:\n${log}`)
  assert.equal(agent.signalCode, null)
  assert.ok(fromAgent(ready), `READY=1 from the agent or its helper: ${JSON.stringify(ready)} (agent ${pid})`)
  assert.equal(listener.notifications().indexOf(ready), 0, 'nothing before READY=1 (the queued reload runs before readiness, unannounced)')
  // The reload ran, once, after the REST API came up (it reconfigures the API).
  assert.equal(log.match(/configuration reloaded/g)?.length, 1, log)
  assert.ok(log.indexOf('configuration reloaded') > 0)
  // READY=1 came after the REST API served and a cycle ran: the member key exists and the API answers.
  const status = await node.status()
  assert.ok(status, 'GET /patroni answers')
  assert.ok(await etcd.get(`${cluster.prefix}members/n1`), 'the first cycle published the member key')
  await cluster.waitForLeader({timeoutMs: 90_000})
})

test('PostgreSQL does not inherit NOTIFY_SOCKET, nor the malloc setting of the agent; the agent runs with its daemon settings', async () => {
  const pm = await waitFor('the postmaster', () => node.postmasterPid, {timeoutMs: 30_000})
  const env = readFileSync(`/proc/${pm}/environ`, 'utf8').split('\0')
  assert.ok(env.some((e) => e.startsWith('PATH=')), 'the environment was read')
  assert.ok(!env.some((e) => e.startsWith('NOTIFY_SOCKET=')), env.join(' '))
  assert.ok(!env.some((e) => e.startsWith('GLIBC_TUNABLES=') || e.startsWith(`${TUNABLES_MARK}=`)), env.join(' '))
  // The agent itself was started again, same PID, with the fixed trim threshold (src/daemon-start.ts).
  const own = readFileSync(`/proc/${agent!.pid}/environ`, 'utf8').split('\0')
  assert.ok(own.includes(`GLIBC_TUNABLES=${TRIM_TUNABLE}`), own.join(' '))
  assert.ok(own.includes(`${TUNABLES_MARK}=unset`), own.join(' '))
  // The executable's second start also carries the daemon's V8 flags; run from the sources by
  // node, the agent keeps the caller's flags.
  const cmdline = readFileSync(`/proc/${agent!.pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
  if (process.env.HACTL_TEST_BIN) assert.equal(cmdline[1], `--node-options=${DAEMON_NODE_FLAGS.join(' ')}`, cmdline.join(' '))
  else assert.ok(!cmdline.some((a) => a.startsWith('--node-options')), cmdline.join(' '))
  assert.equal(cmdline.at(-2), 'agent', cmdline.join(' '))
})

test('SIGHUP: RELOADING=1 with MONOTONIC_USEC of the signal, then READY=1', async () => {
  const before = listener.notifications().length
  const sentUsec = Number(process.hrtime.bigint() / 1000n)
  process.kill(agent!.pid!, 'SIGHUP')
  const [reloading, ready] = await waitFor('RELOADING=1 and READY=1', () => {
    const m = listener.notifications().slice(before)
    return m.length >= 2 ? m : undefined
  }, {timeoutMs: 30_000})
  assert.equal(reloading!.fields['RELOADING'], '1', JSON.stringify(reloading))
  const usec = Number(reloading!.fields['MONOTONIC_USEC'])
  assert.ok(Number.isInteger(usec), JSON.stringify(reloading))
  // CLOCK_MONOTONIC is one clock for every process: taken after our kill, before it arrived.
  assert.ok(usec >= sentUsec && usec <= reloading!.receivedUsec, `${sentUsec} <= ${usec} <= ${reloading!.receivedUsec}`)
  assert.equal(ready!.fields['READY'], '1', JSON.stringify(ready))
  assert.ok(fromAgent(reloading!) && fromAgent(ready!))
  assert.equal(log.match(/configuration reloaded/g)?.length, 2, log)
})

test('SIGTERM: STOPPING=1 first, exit 0; the on_stop callback had no NOTIFY_SOCKET', async () => {
  const before = listener.notifications().length
  const exited = new Promise<number | null>((r) => agent!.once('exit', (code) => r(code)))
  process.kill(agent!.pid!, 'SIGTERM')
  const stopping = await waitFor('STOPPING=1', () => listener.notifications().slice(before).at(0), {timeoutMs: 30_000})
  assert.equal(stopping.fields['STOPPING'], '1', JSON.stringify(stopping))
  assert.ok(fromAgent(stopping))
  assert.equal(await exited, 0, log)
  assert.equal(listener.notifications().length, before + 1, 'STOPPING=1 was the last message')
  // Each notification was followed by its sender's BARRIER=1: the sender waited until "systemd"
  // processed it, so it was still alive to be attributed to the unit (needed with NotifyAccess=all).
  for (const m of listener.notifications().filter((x) => x.pid !== agent!.pid)) {
    const i = listener.messages.indexOf(m)
    assert.ok(listener.messages.slice(i + 1).some((b) => 'BARRIER' in b.fields && b.pid === m.pid), `a barrier after ${JSON.stringify(m)}`)
  }
  const envFile = join(callbackDir, 'env.on_stop')
  await waitFor('the on_stop callback', () => existsSync(envFile) && readFileSync(envFile, 'utf8').includes('PATH='), {timeoutMs: 30_000})
  assert.doesNotMatch(readFileSync(envFile, 'utf8'), /^NOTIFY_SOCKET=/m)
})
