/**
 * `hactl agent` takes the dynamic timing Patroni takes and adjusts it as Patroni does
 * (patroni/config.py Config._validate_and_adjust_timeouts): a bootstrap.dcs ttl of 10 starts a
 * cluster that runs with ttl 20 (the lease, `/config` as Patroni writes it, the warning in the
 * log), and PATCH /config {"ttl": 20} with loop_wait 2 and retry_timeout 10 in force is stored
 * (200) while the agent runs with loop_wait 1 and retry_timeout 9 (its warning, the lease, its
 * cycle cadence). Real etcd, real PostgreSQL 15, the real CLI, run as the unprivileged account.
 */
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {stringify} from 'yaml'
import {b64, EtcdServer} from '../../harness/etcd'
import {hactlCommand} from '../../harness/patroni'
import {freePort, waitFor, within} from '../../harness/ports'
import {asUser, ownedDir, PG_BIN_DIR, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

const ROOT = join(import.meta.dirname, '..', '..', '..')

let etcd: EtcdServer
let home: string
let proc: ChildProcess | undefined
let exit: Promise<number | null> | undefined
const out: string[] = []
const scope = `timing${process.pid}`
const key = (k: string) => `/service/${scope}/${k}`
let apiPort = 0

function log(): string {
  return out.join('')
}

function tail(): string {
  return log().split('\n').slice(-60).join('\n')
}

async function api(method: string, path: string, body?: unknown): Promise<{status: number; json: Record<string, unknown>}> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : {'content-type': 'application/json'},
    signal: AbortSignal.timeout(5000),
  })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    json = {text}
  }
  return {status: res.status, json}
}

/** The TTL etcd granted the lease the leader key is attached to. */
async function leaderLeaseTtl(): Promise<number | undefined> {
  const r = await etcd.call('/kv/range', {key: b64(key('leader'))})
  const lease = r.kvs?.[0]?.lease
  if (!lease) return undefined
  const t = await etcd.call('/lease/timetolive', {ID: lease})
  return t.grantedTTL === undefined ? undefined : Number(t.grantedTTL)
}

const CYCLE = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) INFO: no action\. I am \(node1\), the leader with the lock$/gm

/** Times (ms) of the leader's "no action" cycles logged after character `from` of the log. */
function cycleTimes(from: number): number[] {
  return [...log().slice(from).matchAll(CYCLE)].map((m) => Date.parse(`${m[1]}T${m[2]}.${m[3]}`))
}

function medianGapMs(times: number[]): number {
  const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b)
  return gaps[Math.floor(gaps.length / 2)]!
}

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-timing-')
  const dir = ownedDir(join(home, 'node1'))
  const socketDir = ownedDir(join(dir, 'sock'))
  const pgPort = await freePort()
  apiPort = await freePort()
  const cfg = {
    scope,
    name: 'node1',
    restapi: {listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}`},
    etcd3: {hosts: [etcd.endpoint]},
    bootstrap: {
      dcs: {
        ttl: 10,
        loop_wait: 2,
        retry_timeout: 4,
        postgresql: {use_slots: true, parameters: {max_wal_senders: 5, max_replication_slots: 5}},
      },
      initdb: [{encoding: 'UTF8'}],
    },
    postgresql: {
      listen: `127.0.0.1:${pgPort}`,
      connect_address: `127.0.0.1:${pgPort}`,
      data_dir: join(dir, 'data'),
      bin_dir: PG_BIN_DIR,
      pgpass: join(dir, 'pgpass'),
      authentication: {superuser: {username: 'postgres', password: 'timing-su-pw'}, replication: {username: 'replicator', password: 'timing-rep-pw'}},
      parameters: {unix_socket_directories: socketDir, shared_buffers: '16MB'},
      pg_hba: ['local all all trust', 'host replication all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
    },
  }
  const file = join(dir, 'agent.yml')
  writeOwnedFile(file, stringify(cfg))
  proc = spawn(...hactlCommand(file), {
    ...asUser(home, {PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`}),
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const keep = (b: Buffer) => void out.push(b.toString())
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  const p = proc
  exit = new Promise((r) => p.on('exit', (code) => r(code)))
})

after(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM')
    await within(exit!, 30_000)
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  }
  await etcd?.destroy()
  if (home) rmSync(home, {recursive: true, force: true})
})

test('bootstrap.dcs ttl 10 runs as ttl 20; PATCH {"ttl": 20} over loop_wait 2/retry_timeout 10 runs as loop_wait 1/retry_timeout 9', {timeout: 180_000}, async () => {
  try {
    await waitFor('node1 to hold the leader key', async () => (await etcd.get(key('leader'))) === 'node1', {timeoutMs: 90_000, intervalMs: 200})
    assert.match(log(), /WARNING: configuration: bootstrap\.dcs\.ttl: ttl=10 can't be smaller than 20, adjusting\.\.\./)

    // /config holds bootstrap.dcs as given with the adjusted ttl, as Patroni writes it: no defaults added.
    const stored = JSON.parse((await etcd.get(key('config'))) ?? '{}') as Record<string, unknown>
    assert.deepEqual(stored, {ttl: 20, loop_wait: 2, retry_timeout: 4, postgresql: {use_slots: true, parameters: {max_wal_senders: 5, max_replication_slots: 5}}})
    // GET /config answers from the agent's last view of the cluster, which may predate the write.
    const rest = await waitFor('GET /config to answer', async () => {
      const g = await api('GET', '/config')
      return g.status === 200 ? g : undefined
    }, {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(rest.json['ttl'], 20)
    assert.equal(await waitFor('the leader lease granted with ttl 20', async () => ((await leaderLeaseTtl()) === 20 ? 20 : undefined)), 20)

    // loop_wait 2, retry_timeout 10 under ttl 30: a valid timing, taken as it is.
    const first = await api('PATCH', '/config', {ttl: 30, retry_timeout: 10})
    assert.equal(first.status, 200, JSON.stringify(first.json))
    await waitFor('the leader lease re-granted with ttl 30', async () => (await leaderLeaseTtl()) === 30, {timeoutMs: 30_000, intervalMs: 200})
    const slowFrom = log().length
    const slow = await waitFor('five cycles at loop_wait 2', async () => {
      const t = cycleTimes(slowFrom)
      return t.length >= 5 ? t : undefined
    }, {timeoutMs: 30_000, intervalMs: 200})
    assert.ok(medianGapMs(slow) >= 1500, `cycles every ${medianGapMs(slow)} ms with loop_wait 2`)

    // The brief's case: 1 + 2*10 > 20, so Patroni sets loop_wait 1 and retry_timeout (20-1)//2 = 9.
    const patchedFrom = log().length
    const r = await api('PATCH', '/config', {ttl: 20})
    assert.equal(r.status, 200, JSON.stringify(r.json))
    assert.deepEqual([r.json['ttl'], r.json['loop_wait'], r.json['retry_timeout']], [20, 2, 10], 'stored as sent, as Patroni stores it')
    assert.deepEqual(JSON.parse((await etcd.get(key('config'))) ?? '{}').loop_wait, 2)
    await waitFor('the agent to warn that it adjusts loop_wait and retry_timeout', async () =>
      log()
        .slice(patchedFrom)
        .includes(
          'dynamic configuration (DCS config key): retry_timeout: Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=20. Adjusting loop_wait from 2 to 1 and retry_timeout from 10 to 9',
        ),
    {timeoutMs: 30_000, intervalMs: 100})
    await waitFor('the leader lease re-granted with ttl 20', async () => (await leaderLeaseTtl()) === 20, {timeoutMs: 30_000, intervalMs: 200})
    const fastFrom = log().length
    const fast = await waitFor('six cycles at loop_wait 1', async () => {
      const t = cycleTimes(fastFrom)
      return t.length >= 6 ? t : undefined
    }, {timeoutMs: 30_000, intervalMs: 200})
    assert.ok(medianGapMs(fast) < 1500, `cycles every ${medianGapMs(fast)} ms after the adjustment to loop_wait 1`)
    assert.equal(await etcd.get(key('leader')), 'node1', 'still the leader throughout')
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${tail()}`, {cause: e})
  }
})
