/**
 * `hactl agent`: a new cluster from nothing. Node 1 bootstraps and leads, node 2 clones from it
 * and streams; SIGTERM makes the leader stop PostgreSQL and give the key back. Real etcd, real
 * PostgreSQL, the real CLI, run as the unprivileged account.
 */
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {stringify} from 'yaml'
import {EtcdServer} from '../../harness/etcd'
import {hactlCommand} from '../../harness/patroni'
import {freePort, waitFor, within} from '../../harness/ports'
import {asUser, ownedDir, PG_BIN_DIR, runCommand, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const AUTH = {
  superuser: {username: 'postgres', password: 'agent-test-su-pw'},
  replication: {username: 'replicator', password: 'agent-test-rep-pw'},
}

interface Node {
  name: string
  dir: string
  pgPort: number
  apiPort: number
  socketDir: string
  proc?: ChildProcess
  out: string[]
  exit?: Promise<number | null>
}

let etcd: EtcdServer
let home: string
const scope = `agent${process.pid}`
const nodes: Node[] = []

function nodeConfig(n: Node): Record<string, unknown> {
  return {
    scope,
    name: n.name,
    restapi: {listen: `127.0.0.1:${n.apiPort}`, connect_address: `127.0.0.1:${n.apiPort}`},
    etcd3: {hosts: [etcd.endpoint]},
    bootstrap: {
      dcs: {
        ttl: 20,
        loop_wait: 2,
        retry_timeout: 4,
        postgresql: {use_slots: true, parameters: {wal_level: 'replica', hot_standby: 'on', max_wal_senders: 5, max_replication_slots: 5}},
      },
      initdb: [{encoding: 'UTF8'}],
    },
    postgresql: {
      listen: `127.0.0.1:${n.pgPort}`,
      connect_address: `127.0.0.1:${n.pgPort}`,
      data_dir: join(n.dir, 'data'),
      bin_dir: PG_BIN_DIR,
      pgpass: join(n.dir, 'pgpass'),
      authentication: AUTH,
      parameters: {unix_socket_directories: n.socketDir, shared_buffers: '16MB'},
      pg_hba: ['local all all trust', 'host replication all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
    },
  }
}

function spawnAgent(n: Node): void {
  const cfg = join(n.dir, 'agent.yml')
  writeOwnedFile(cfg, stringify(nodeConfig(n)))
  const opts = asUser(home, {PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`})
  const proc = spawn(...hactlCommand(cfg), {
    ...opts,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  n.proc = proc
  const keep = (b: Buffer) => {
    n.out.push(b.toString())
    if (n.out.length > 400) n.out.splice(0, 100)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  n.exit = new Promise((r) => proc.on('exit', (code) => r(code)))
}

const key = (k: string) => `/service/${scope}/${k}`

async function sql(n: Node, query: string): Promise<string> {
  const r = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', n.socketDir, '-p', String(n.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', query], {
    ...asUser(home),
  })
  if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`)
  return r.stdout.trim()
}

async function getJson(url: string): Promise<{status: number; body: Record<string, unknown>}> {
  const res = await fetch(url, {signal: AbortSignal.timeout(3000)})
  return {status: res.status, body: (await res.json()) as Record<string, unknown>}
}


function logs(): string {
  return nodes.map((n) => `--- ${n.name}\n${n.out.join('').split('\n').slice(-40).join('\n')}`).join('\n')
}

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-agent-')
  for (const name of ['node1', 'node2']) {
    const dir = ownedDir(join(home, name))
    const socketDir = ownedDir(join(dir, 'sock'))
    nodes.push({name, dir, socketDir, pgPort: await freePort(), apiPort: await freePort(), out: []})
  }
})

after(async () => {
  for (const n of nodes) {
    if (n.proc && n.proc.exitCode === null && n.proc.signalCode === null) {
      n.proc.kill('SIGTERM')
      await within(n.exit!, 30_000)
      if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL')
    }
  }
  await etcd?.destroy()
  if (home) rmSync(home, {recursive: true, force: true})
})

test('node1 bootstraps and leads, node2 clones and streams, SIGTERM releases the lock', {timeout: 180_000}, async () => {
  const [n1, n2] = nodes
  spawnAgent(n1)
  try {
    await waitFor('node1 to hold the leader key', async () => (await etcd.get(key('leader'))) === 'node1', {timeoutMs: 60_000, intervalMs: 200})
    const init = await etcd.get(key('initialize'))
    assert.match(init ?? '', /^\d{10,}$/, 'initialize holds the system identifier')
    const cfg = JSON.parse((await etcd.get(key('config'))) ?? '{}')
    assert.equal(cfg.loop_wait, 2)
    assert.equal(cfg.ttl, 20)

    // Only hactl members (which read `primary`): the role is spelled as Patroni 4 spells it.
    const patroni = await waitFor('GET /patroni on node1 to say primary', async () => {
      const r = await getJson(`http://127.0.0.1:${n1.apiPort}/patroni`)
      return r.status === 200 && r.body.role === 'primary' ? r.body : undefined
    }, {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(patroni.state, 'running')
    assert.equal(await sql(n1, 'select pg_is_in_recovery()'), 'f')

    spawnAgent(n2)
    await waitFor('node2 to stream from node1', async () => {
      const rows = await sql(n1, "select application_name from pg_stat_replication where state = 'streaming'")
      return rows.split('\n').includes('node2')
    }, {timeoutMs: 90_000, intervalMs: 300})
    assert.equal(await sql(n2, 'select pg_is_in_recovery()'), 't')
    assert.equal(await sql(n1, "select active from pg_replication_slots where slot_name = 'node2'"), 't')

    const m1 = await waitFor('node1 member key', async () => {
      const v = await etcd.get(key('members/node1'))
      return v ? JSON.parse(v) : undefined
    })
    assert.equal(m1.role, 'primary')
    assert.equal(m1.state, 'running')
    assert.equal(m1.conn_url, `postgres://127.0.0.1:${n1.pgPort}/postgres`)
    assert.equal(m1.api_url, `http://127.0.0.1:${n1.apiPort}/patroni`)
    assert.equal(typeof m1.version, 'string')
    assert.equal(typeof m1.xlog_location, 'number')
    assert.equal(m1.timeline, 1)
    const m2 = await waitFor('node2 member key says replica running', async () => {
      const v = await etcd.get(key('members/node2'))
      const m = v ? JSON.parse(v) : undefined
      return m && m.role === 'replica' && m.state === 'running' ? m : undefined
    }, {timeoutMs: 20_000, intervalMs: 200})
    assert.equal(m2.conn_url, `postgres://127.0.0.1:${n2.pgPort}/postgres`)
    assert.equal(typeof m2.xlog_location, 'number')

    n1.proc!.kill('SIGTERM')
    const code = await within(n1.exit!, 60_000)
    assert.match(n1.out.join(''), /initialized a new cluster/)
    assert.equal(code, 0, 'node1 exits 0 after SIGTERM')
    // released, not left to expire: node2 may already hold it (it reacts to the deletion at once)
    assert.match(n1.out.join(''), /INFO: leader key released\n/)
    assert.notEqual(await etcd.get(key('leader')), 'node1', 'leader key released on shutdown')
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logs()}`, {cause: e})
  }
})
