/**
 * A package upgrade changes nothing for a running cluster (docs/ha-rules.md#hand-over): two
 * releases of a snapshot of this tree that differ only in their version (scripts/release.ts,
 * package.json's version), v1 installed with dpkg into one root per member, three agents on real
 * etcd and PostgreSQL 15 started from those installed executables, a writer committing through
 * the leader; then on every member at once, leader included (what unattended-upgrades does):
 * `dpkg -i` of v2, and the package's own /usr/libexec/hactl/handover-restart, the command the
 * postinst (and the rpm %postun) runs. There is no systemd here, so `systemctl` is a stand-in
 * that does what systemd does for the units: list-units and show MainPID from the running agents,
 * try-restart = SIGTERM to the main process only (KillMode=process), wait for it to exit, start
 * ExecStart again from the (now upgraded) installed executable and wait for READY=1 on a notify
 * socket (Type=notify).
 *
 * Expected: no failover, no PostgreSQL restart, no failed write: the same leader, the leader key
 * never absent nor re-created, the same postmaster PID and pg_postmaster_start_time() on every
 * member, the writer's one connection never broken, and every member's GET /patroni reporting v2.
 * Fails on the scripts before this change (try-restart without the hand-over marker): each
 * agent stops its PostgreSQL on the SIGTERM and the leader releases its key.
 *
 * Takes about three minutes (two SEA builds, then the cluster).
 */
import assert from 'node:assert/strict'
import {execFile, execFileSync} from 'node:child_process'
import {chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {after, before, test} from 'node:test'
import {promisify} from 'node:util'
import {EtcdServer} from '../../harness/etcd'
import {facts, leaderKey, sql, startWriter, watchLeaderKey, type Facts} from '../../harness/handover'
import {PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {waitFor, within} from '../../harness/ports'
import {NotifyListener} from '../../harness/sd-notify-listener'
import type {ReleaseResult} from '../../../scripts/release/pipeline'

const ROOT = resolve('.')
const execAsync = promisify(execFile)
const BASE = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version.replace(/-.*$/, '')
const V1 = `${BASE}-upgradetest.1`
const V2 = `${BASE}-upgradetest.2`

let work: string
let snap: string
let runDir: string
const debs: Record<string, string> = {}
let etcd: EtcdServer | undefined
let cluster: PatroniCluster | undefined
const listeners = new Map<string, NotifyListener>()
let systemd: Server | undefined
let systemdPort = 0
/** What the stand-in systemd did, per unit: old PID, new PID, stop and start durations. */
const restarts: Array<{unit: string; from: number; to: number; stopMs: number; readyMs: number}> = []

async function releaseAs(version: string, out: string): Promise<ReleaseResult> {
  const pkgPath = join(snap, 'package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {version: string}
  pkg.version = version
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
  const r = await execAsync(process.execPath, ['--import', 'tsx', 'scripts/release.ts', '--out', out, '--targets', 'linux-x64', '--json'], {cwd: snap, maxBuffer: 16 * 1024 * 1024})
  return JSON.parse(r.stdout) as ReleaseResult
}

const rootOf = (n: PatroniNode) => join(work, 'roots', n.name)
const unitOf = (n: PatroniNode) => `hactl@${n.name}.service`
function dpkg(n: PatroniNode, ...args: string[]): string {
  // Dependencies live on the host, not in the empty root; maintainer scripts run on the host with
  // DPKG_ROOT set, where they touch nothing (the test runs handover-restart itself, below).
  return execFileSync('dpkg', [`--root=${rootOf(n)}`, '--force-depends', '--force-script-chrootless', ...args], {encoding: 'utf8'})
}

/**
 * The stand-in for systemd, one per test: `systemctl` (a small node script put first in PATH)
 * posts its arguments and the member it runs "on" here; this answers for that member's unit.
 */
async function systemctl(host: string, argv: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  const c = cluster!
  const n = c.nodes.find((x) => x.name === host)
  if (!n) return {code: 1, stdout: '', stderr: `no host ${host}\n`}
  const verb = argv.find((a) => !a.startsWith('-'))
  const names = argv.filter((a) => !a.startsWith('-')).slice(1)
  const matches = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(unitOf(n))
  if (verb === 'list-units') {
    return {code: 0, stdout: n.running && names.some(matches) ? `${unitOf(n)} loaded active running hactl agent for PostgreSQL cluster ${n.name}\n` : '', stderr: ''}
  }
  if (verb === 'show') {
    if (!argv.includes('--property=MainPID') || !argv.includes('--value')) return {code: 1, stdout: '', stderr: `unsupported: ${argv.join(' ')}\n`}
    return {code: 0, stdout: `${names[0] === unitOf(n) ? (n.pid ?? 0) : 0}\n`, stderr: ''}
  }
  if (verb === 'try-restart') {
    for (const u of names) {
      if (u !== unitOf(n) || !n.running) continue
      const from = n.pid!
      const proc = n.proc!
      const t0 = Date.now()
      const exited = new Promise<void>((r) => proc.once('exit', () => r()))
      proc.kill('SIGTERM') // KillMode=process: the main process only
      if ((await within(exited, 120_000)) === 'timeout') return {code: 1, stdout: '', stderr: `${u}: stop timed out\n`}
      const stopMs = Date.now() - t0
      const l = listeners.get(n.name)!
      const readyBefore = l.with('READY').length
      await c.startNode(n.name)
      const t1 = Date.now()
      try {
        await waitFor(`READY=1 from the new agent of ${u}`, () => l.with('READY').length > readyBefore || undefined, {timeoutMs: 90_000, intervalMs: 50})
      } catch (e) {
        return {code: 1, stdout: '', stderr: `Job for ${u} failed: ${(e as Error).message}\n`}
      }
      restarts.push({unit: u, from, to: n.pid ?? 0, stopMs, readyMs: Date.now() - t1})
    }
    return {code: 0, stdout: '', stderr: ''}
  }
  return {code: 1, stdout: '', stderr: `unsupported: ${argv.join(' ')}\n`}
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hactl-upgrade-test-'))
  chmodSync(work, 0o755) // the agents run as postgres from the roots below
  snap = join(work, 'tree')
  mkdirSync(snap)
  for (const entry of ['.git', '.goreleaser-like-release.yml', 'LICENSE', 'README.md', 'package.json', 'package-lock.json', 'tsconfig.json', 'bench', 'packaging', 'scripts', 'src', 'templates', 'test']) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(snap, entry), {recursive: true})
  }
  symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'))
  for (const [v, dir] of [[V1, 'v1'], [V2, 'v2']] as const) {
    const r = await releaseAs(v, join(work, dir))
    const deb = r.artifacts.find((a) => a.file.endsWith('_amd64.deb'))
    assert.ok(deb, `release ${v} made a deb`)
    debs[v] = join(work, dir, deb.file)
  }

  runDir = join(work, 'run-hactl')
  mkdirSync(runDir, {mode: 0o755})
  const fake = join(work, 'fake-bin')
  mkdirSync(fake)
  systemd = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const {host, argv} = JSON.parse(body) as {host: string; argv: string[]}
      systemctl(host, argv).then(
        (r) => res.end(JSON.stringify(r)),
        (e) => res.end(JSON.stringify({code: 1, stdout: '', stderr: `${(e as Error).message}\n`})),
      )
    })
  })
  await new Promise<void>((r) => systemd!.listen(0, '127.0.0.1', () => r()))
  systemdPort = (systemd.address() as {port: number}).port
  writeFileSync(join(fake, 'systemctl'), `#!${process.execPath}
const body = JSON.stringify({host: process.env.FAKE_SYSTEMD_HOST, argv: process.argv.slice(2)})
const req = require('node:http').request({host: '127.0.0.1', port: ${systemdPort}, method: 'POST', timeout: 300000}, (res) => {
  let text = ''
  res.on('data', (c) => (text += c))
  res.on('end', () => {
    const r = JSON.parse(text)
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    process.exitCode = r.code
  })
})
req.on('error', (e) => { process.stderr.write('systemctl: ' + e.message + '\\n'); process.exitCode = 1 })
req.end(body)
`, {mode: 0o755})

  etcd = await EtcdServer.start()
  const names = ['u1', 'u2', 'u3']
  cluster = await PatroniCluster.start({etcd, scope: 'upgrade', nodes: 3, namePrefix: 'u', impl: 'hactl', hold: names, wait: false, agentEnv: {HACTL_RUNTIME_DIR: runDir}})
  for (const n of cluster.nodes) {
    mkdirSync(join(rootOf(n), 'var/lib/dpkg/info'), {recursive: true})
    for (const d of ['updates', 'triggers']) mkdirSync(join(rootOf(n), 'var/lib/dpkg', d), {recursive: true})
    writeFileSync(join(rootOf(n), 'var/lib/dpkg/status'), '')
    writeFileSync(join(rootOf(n), 'var/lib/dpkg/available'), '')
    dpkg(n, '-i', debs[V1]!)
    const l = await NotifyListener.start()
    listeners.set(n.name, l)
    n.hactlBin = join(rootOf(n), 'usr/bin/hactl')
    n.env = {...n.env, NOTIFY_SOCKET: l.path}
    await cluster.startNode(n.name)
  }
  await cluster.waitForLeader({timeoutMs: 120_000})
  await cluster.waitForReplicasStreaming(2, {timeoutMs: 120_000})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
  for (const l of listeners.values()) await l.stop().catch(() => {})
  systemd?.closeAllConnections()
  await new Promise<void>((r) => (systemd ? systemd.close(() => r()) : r()))
  if (work) rmSync(work, {recursive: true, force: true})
})

const versionOf = async (n: PatroniNode): Promise<string | undefined> => (await n.status())?.hactl?.version

test('upgrading every member at once, leader included, under a writer: no failover, no PostgreSQL restart, no failed write', {timeout: 300_000}, () =>
  cluster!.withLogs(async () => {
    const c = cluster!
    for (const n of c.nodes) {
      assert.equal(await versionOf(n), V1, `${n.name} runs the installed v1 executable`)
      assert.equal(n.hactlBin, join(rootOf(n), 'usr/bin/hactl'))
    }
    const writer = await startWriter(c, 'upgrade_probe')
    const watch = watchLeaderKey(etcd!, c.prefix)
    let before: Facts | undefined
    let scripts: Array<{code: number; out: string}> = []
    try {
      await waitFor('the writer to commit 20 rows', () => writer.acked.length >= 20, {timeoutMs: 30_000})
      before = await facts(etcd!, c)
      assert.ok(before.leader)
      const oldLease = (await leaderKey(etcd!, c.prefix))!.lease
      // Unattended upgrades on every node at once: unpack v2 over v1, then what the postinst runs.
      scripts = await Promise.all(c.nodes.map(async (n) => {
        dpkg(n, '-i', debs[V2]!)
        const script = join(rootOf(n), 'usr/libexec/hactl/handover-restart')
        try {
          const r = await execAsync(script, [], {env: {PATH: `${join(work, 'fake-bin')}:${process.env.PATH}`, HACTL_RUNTIME_DIR: runDir, FAKE_SYSTEMD_HOST: n.name}, timeout: 240_000})
          return {code: 0, out: r.stdout + r.stderr}
        } catch (e) {
          const err = e as {code: number; stdout: string; stderr: string}
          return {code: err.code, out: err.stdout + err.stderr}
        }
      }))
      for (const [i, n] of c.nodes.entries()) {
        assert.equal(scripts[i]!.code, 0, `${n.name}: handover-restart: ${scripts[i]!.out}`)
        assert.match(scripts[i]!.out, new RegExp(`hactl: ${unitOf(n).replace(/[.@]/g, '\\$&')} restarted \\(hand-over from pid \\d+\\)`))
        const installed = execFileSync('dpkg-query', [`--admindir=${join(rootOf(n), 'var/lib/dpkg')}`, '-W', '-f=${Version}', 'hactl'], {encoding: 'utf8'})
        assert.equal(installed, `${V2.replace('-', '~')}-1`, `${n.name}: v2 installed`)
      }
      assert.equal(restarts.length, 3, 'each unit restarted once')
      assert.deepEqual(readdirSync(runDir), [], 'the markers are gone')
      await waitFor('the leader agent on v2 to renew the key under its own lease', async () => {
        const k = await leaderKey(etcd!, c.prefix)
        return k?.value === before!.leader && k?.lease !== oldLease ? true : undefined
      }, {timeoutMs: 30_000, intervalMs: 100})
      await c.waitForReplicasStreaming(2)
      const mark = writer.acked.length
      await waitFor('20 more committed rows', () => writer.acked.length >= mark + 20, {timeoutMs: 30_000})
    } finally {
      await writer.stop()
      await watch.stop()
    }
    const afterFacts = await facts(etcd!, c)
    const versions = Object.fromEntries(await Promise.all(c.nodes.map(async (n) => [n.name, await versionOf(n)] as const)))
    const figures = {
      writes: writer.acked.length,
      failedWrites: writer.failures.length,
      reconnects: writer.reconnects,
      leaderBefore: before?.leader,
      leaderAfter: afterFacts.leader,
      keyHoldersSeen: [...watch.holders],
      keySamples: watch.samples(),
      postmasterStartBefore: Object.fromEntries(Object.entries(before!.postmasters).map(([k, v]) => [k, v.started])),
      postmasterStartAfter: Object.fromEntries(Object.entries(afterFacts.postmasters).map(([k, v]) => [k, v.started])),
      versions,
      restarts,
    }
    process.stdout.write(`# upgrade figures: ${JSON.stringify(figures)}\n`)
    assert.deepEqual(writer.failures, [], 'no write failed')
    assert.equal(writer.reconnects, 0, 'the writer never lost its connection')
    assert.deepEqual([...watch.holders], [before!.leader], 'the leader key always named the same leader')
    assert.equal(watch.revisions.size, 1, 'the leader key was never deleted and re-created')
    assert.ok(watch.samples() > 50, `the key was watched throughout (${watch.samples()} samples)`)
    assert.equal(afterFacts.leader, before!.leader, 'no failover')
    assert.deepEqual(afterFacts.postmasters, before!.postmasters, 'the same postmaster, started at the same time, on every member')
    assert.equal(afterFacts.timeline, before!.timeline, 'the same timeline')
    assert.deepEqual(versions, Object.fromEntries(c.nodes.map((n) => [n.name, V2])), 'every member runs v2')
    for (const r of restarts) assert.notEqual(r.to, r.from, `${r.unit}: a new agent process`)
    const rows = Number((await sql(c.node(before!.leader!), 'select count(*) from upgrade_probe'))[0]![0])
    assert.equal(rows, writer.acked.length, 'every acknowledged row is there')
  }))

test('the maintainer scripts run handover-restart on upgrade, never on a fresh install or removal', () => {
  const postinst = readFileSync(join(ROOT, 'packaging/debian/postinst'), 'utf8')
  const postun = readFileSync(join(ROOT, 'packaging/rpm/postun.sh'), 'utf8')
  for (const [name, text] of [['postinst', postinst], ['postun.sh', postun]] as const) {
    assert.match(text, /^\s*\/usr\/libexec\/hactl\/handover-restart \|\| (true|:)$/m, name)
    assert.doesNotMatch(text, /try-restart '?hactl(@\*)?\.service/, `${name}: no plain try-restart of an agent unit`)
  }
  // The deb's own copy is the one tested above (installed from the package, mode 0755).
  const listed = execFileSync('dpkg-deb', ['-c', debs[V2]!], {encoding: 'utf8'})
  assert.match(listed, /^-rwxr-xr-x root\/root .* \.\/usr\/libexec\/hactl\/handover-restart$/m)
})
