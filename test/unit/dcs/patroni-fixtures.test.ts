/**
 * The DCS contents captured from Debian's Patroni 3.0.2 (test/fixtures/patroni-3.0.2, made by
 * scripts/capture-patroni-fixtures.ts) decode into the cluster Patroni itself reported.
 * The live version of this check is test/integration/interop/patroni-dcs-read.test.ts.
 */
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {test} from 'node:test'
import {decodeCluster, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'

const dir = 'test/fixtures/patroni-3.0.2'
const json = (f: string) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))

function load(file: string) {
  const dump = json(file) as {prefix: string; keys: {key: string; value: string; mod_revision: string; lease: string}[]}
  const nodes = new Map<string, RawNode>()
  for (const k of dump.keys) {
    const rel = k.key.slice(dump.prefix.length)
    nodes.set(rel, {key: rel, value: k.value, modRevision: Number(k.mod_revision), lease: k.lease === '0' ? null : k.lease})
  }
  return decodeCluster(nodes)
}

test('a Patroni 3.0.2 cluster decodes like Patroni reports it on /cluster and in patronictl list', () => {
  const view = load('etcd-dump.json')
  const rest = json('rest-cluster.json') as {members: {name: string; role: string; state: string; timeline: number; api_url: string; host: string; port: number}[]}
  const list = json('patronictl-list.json') as {Member: string; Role: string; TL: number}[]
  assert.deepEqual(view.warnings, [])
  assert.deepEqual(view.members.map((m) => m.name).sort(), rest.members.map((m) => m.name).sort())
  for (const r of rest.members) {
    const m = view.members.find((x) => x.name === r.name)!
    assert.equal(m.role, r.role === 'leader' ? 'primary' : 'replica')
    assert.equal(m.state, r.state)
    assert.equal(m.timeline, r.timeline)
    assert.equal(m.apiUrl, r.api_url)
    assert.equal(m.connUrl, `postgres://${r.host}:${r.port}/postgres`)
  }
  assert.equal(view.leader?.name, list.find((r) => r.Role === 'Leader')?.Member)
  assert.equal(view.leader?.session, view.leader?.member.session)
  assert.deepEqual(view.config?.data, json('rest-config.json'))
  assert.deepEqual(view.history?.lines, json('rest-history.json'))
  assert.match(view.initialize ?? '', /^\d{19}$/)
})

test('a scheduled switchover written by patronictl decodes with its time', () => {
  const f = json('etcd-failover-scheduled.json')
  const entry = (f.keys ?? [f]).find((k: any) => String(k.key ?? '').endsWith('/failover')) ?? f
  const nodes = new Map<string, RawNode>([['failover', {key: 'failover', value: entry.value, modRevision: Number(entry.mod_revision ?? 1)}]])
  const view = decodeCluster(nodes)
  const raw = JSON.parse(entry.value)
  assert.equal(view.failover?.leader, raw.leader)
  assert.equal(view.failover?.candidate, raw.member)
  assert.equal(view.failover?.scheduledAtMs, Date.parse(raw.scheduled_at))
})
