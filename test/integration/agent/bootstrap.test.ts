/**
 * `hactl agent`: a new cluster from nothing. Node 1 bootstraps and leads, node 2 clones from it
 * and streams; SIGTERM makes the leader stop PostgreSQL and give the key back. Real etcd, real
 * PostgreSQL, the real CLI, run as the unprivileged account.
 */
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {after, before, test} from 'node:test'
import {agentConfig, agentLogs, makeNode, psql, spawnAgent as spawn, stopAgent, type AgentNode} from '../../harness/agent-node'
import {EtcdServer} from '../../harness/etcd'
import {waitFor, within} from '../../harness/ports'
import {ownedTempDir} from '../../harness/unprivileged'

const AUTH = {
  superuser: {username: 'postgres', password: 'agent-test-su-pw'},
  replication: {username: 'replicator', password: 'agent-test-rep-pw'},
}

let etcd: EtcdServer
let home: string
const scope = `agent${process.pid}`
const nodes: AgentNode[] = []

function spawnAgent(n: AgentNode): void {
  spawn(n, home, agentConfig(n, etcd.endpoint, AUTH, {use_slots: true, parameters: {wal_level: 'replica', hot_standby: 'on', max_wal_senders: 5, max_replication_slots: 5}}))
}

const key = (k: string) => `/service/${scope}/${k}`
const sql = (n: AgentNode, query: string) => psql(n, home, query)

async function getJson(url: string): Promise<{status: number; body: Record<string, unknown>}> {
  const res = await fetch(url, {signal: AbortSignal.timeout(3000)})
  return {status: res.status, body: (await res.json()) as Record<string, unknown>}
}

const logs = () => agentLogs(nodes)

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-agent-')
  for (const name of ['node1', 'node2']) nodes.push(await makeNode(home, name, scope))
})

after(async () => {
  for (const n of nodes) await stopAgent(n)
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
