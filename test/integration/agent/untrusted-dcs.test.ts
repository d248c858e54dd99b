/**
 * etcd contents are untrusted input: garbage written into the cluster's keys of a running 3-node
 * hactl cluster (by a broken tool, a typo in etcdctl, another program) must never crash an
 * agent or move the leader. Each key gets a few kinds of junk; after each, every agent must
 * still run, answer GET /patroni, and the leader must still hold the lock and take writes. The
 * agents repair what they own (their member keys) and ignore what they cannot read.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import pg from 'pg'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster
let leader: string

const JUNK = ['', 'not json', '{"unterminated": ', '[1, 2, 3]', '42', 'null', '{"leader": 5, "member": ["x"], "scheduled_at": "soon"}', '\u0000\uffff binary junk']

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'junk', nodes: 3, namePrefix: 'j', impl: 'hactl', startTimeoutMs: 120_000})
  leader = await cluster.waitForLeader()
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

async function writable(name: string): Promise<boolean> {
  const n = cluster.node(name)
  const c = new pg.Client({host: '127.0.0.1', port: n.pgPort, user: PATRONI_TEST_AUTH.superuser.username, password: PATRONI_TEST_AUTH.superuser.password, database: 'postgres', connectionTimeoutMillis: 2000})
  c.on('error', () => {})
  try {
    await c.connect()
    await c.query('create table if not exists junk_probe (v int)')
    await c.query('insert into junk_probe values (1)')
    return true
  } catch {
    return false
  } finally {
    await c.end().catch(() => {})
  }
}

/** Where each agent's log ends now. */
function marks(): number[] {
  return cluster.nodes.map((n) => n.log.length)
}

/** Every agent alive and answering, the leader unchanged and writable, after `cycles` more cycles. */
async function stillHealthy(what: string, logFrom: number[], cycles = 2): Promise<void> {
  // every agent has logged `cycles` more cycles (one INFO line each) since the junk was written
  await waitFor(`${cycles} cycle(s) of every agent after ${what}`, async () => {
    return cluster.nodes.every((n, i) => (n.log.slice(logFrom[i]).match(/ INFO: /g) ?? []).length >= cycles) ? true : undefined
  }, {timeoutMs: 30_000, intervalMs: 250})
  for (const n of cluster.nodes) {
    assert.ok(n.running, `${n.name} still runs after ${what}\n${cluster.logTails([n])}`)
    const s = await n.status()
    assert.ok(s && s.state === 'running', `${n.name} answers GET /patroni after ${what}`)
  }
  assert.equal(await cluster.leaderName(), leader, `the lock did not move after ${what}`)
  assert.ok(await writable(leader), `${leader} takes writes after ${what}`)
}

for (const key of ['config', 'failover', 'sync', 'history', 'status', 'failsafe', 'initialize']) {
  test(`junk in /${key} is ignored or repaired; no agent crashes, the leader stays`, {timeout: 120_000}, async () => {
    const k = `${cluster.prefix}${key}`
    const saved = await etcd.get(k)
    const start = marks()
    try {
      for (const junk of JUNK) {
        const from = marks()
        await etcd.put(k, junk)
        await stillHealthy(`${JSON.stringify(junk)} in /${key}`, from, 1)
      }
      if (key !== 'initialize') {
        // the junk was read, not missed: an agent named the key in a warning
        const warned = cluster.nodes.some((n, i) => n.log.slice(start[i]).includes(`WARNING: DCS key ${k}: `))
        assert.ok(warned, `no agent warned about ${k}\n${cluster.logTails()}`)
      }
    } finally {
      if (saved !== undefined) await etcd.put(k, saved)
      else await etcd.call('/kv/deleterange', {key: Buffer.from(k).toString('base64')})
    }
  })
}

test('junk in a replica\'s member key is repaired by that replica', {timeout: 60_000}, async () => {
  const replica = cluster.nodes.map((n) => n.name).find((n) => n !== leader)!
  const k = `${cluster.prefix}members/${replica}`
  const from = marks()
  await etcd.put(k, '{"role": 17, "state": ["x"], "conn_url": 5, "xlog_location": "zero"}')
  await waitFor(`${replica} to rewrite its member key`, async () => {
    const v = await etcd.get(k)
    try {
      const m = JSON.parse(v ?? '')
      return m.role === 'replica' && m.state === 'running' && typeof m.conn_url === 'string' ? true : undefined
    } catch {
      return undefined
    }
  }, {timeoutMs: 20_000, intervalMs: 250})
  await stillHealthy(`junk in members/${replica}`, from)
})

test('a junk member key of a stranger is listed as it is, and changes nothing', {timeout: 60_000}, async () => {
  const from = marks()
  await etcd.put(`${cluster.prefix}members/stranger`, 'definitely not json')
  await stillHealthy('a junk member key', from)
  const list = await cluster.patronictl(['list', '-f', 'json'])
  assert.equal(list.code, 0, list.stderr)
  assert.deepEqual((JSON.parse(list.stdout) as Array<{Member: string}>).map((r) => r.Member).sort(), ['j1', 'j2', 'j3', 'stranger'])
})
