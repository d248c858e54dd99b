import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {clusterJson} from '../../../src/api/cluster'
import {healthStatus} from '../../../src/api/health'
import {renderMetrics} from '../../../src/api/metrics'
import {parseHealthFilters, parseTarget} from '../../../src/api/query'
import {buildStatusDocument} from '../../../src/api/status'
import type {NodeSnapshot} from '../../../src/api/types'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import {membersTable} from '../../../src/ctl/members'
import {fixtureCluster, leaderSnapshot, replicaSnapshot} from './snapshots'

const opts = {patroniVersion: '4.0.6', primaryRoleName: 'primary' as const}
const quorumSync = '{"leader":"pg1","quorum":0,"sync_standby":"pg2"}'

function code(url: string, s: NodeSnapshot): number {
  const t = parseTarget(url)!
  const f = parseHealthFilters(t.query)
  if (!f.ok) throw new Error(f.error)
  return healthStatus(t.path, s, buildStatusDocument(s, opts), f.value)
}

function withMode(mode: boolean | string) {
  const cluster = fixtureCluster({sync: quorumSync, config: JSON.stringify({...fixtureCluster().config!.data, synchronous_mode: mode})})
  return {cluster, globalConfig: parseDynamicConfig(cluster.config!.data).config}
}

describe('quorum commit in the REST API and hactl list (Patroni 4)', () => {
  test('a /sync member is a quorum standby: status field, /quorum and /read-only-quorum 200, /sync and /async 503', () => {
    const q = withMode('quorum')
    const replica = replicaSnapshot(q)
    const doc = buildStatusDocument(replica, opts)
    assert.equal(doc.quorum_standby, true)
    assert.equal(doc.sync_standby, undefined)
    assert.equal(code('/quorum', replica), 200)
    assert.equal(code('/read-only-quorum', replica), 200)
    assert.equal(code('/sync', replica), 503)
    assert.equal(code('/read-only-sync', replica), 503)
    assert.equal(code('/async', replica), 503)
    assert.equal(code('/read-only', replica), 200)
  })

  test('synchronous_mode on: the same member is a sync standby, /quorum 503', () => {
    const on = withMode(true)
    const replica = replicaSnapshot(on)
    const doc = buildStatusDocument(replica, opts)
    assert.equal(doc.sync_standby, true)
    assert.equal(doc.quorum_standby, undefined)
    assert.equal(code('/quorum', replica), 503)
    assert.equal(code('/read-only-quorum', replica), 503)
    assert.equal(code('/sync', replica), 200)
  })

  test('the primary answers /read-only-quorum but not /quorum', () => {
    const leader = leaderSnapshot(withMode('quorum'))
    assert.equal(code('/read-only-quorum', leader), 200)
    assert.equal(code('/quorum', leader), 503)
  })

  test('a replica outside /sync is asynchronous in quorum mode', () => {
    const q = withMode('quorum')
    const other = replicaSnapshot({...q, cluster: fixtureCluster({sync: '{"leader":"pg1","quorum":0,"sync_standby":"pg3"}', config: JSON.stringify(q.cluster.config!.data)})})
    assert.equal(code('/quorum', other), 503)
    assert.equal(code('/async', other), 200)
  })

  test('GET /cluster and hactl list show the role Quorum Standby (any case of quorum, as Patroni reads it)', () => {
    for (const mode of ['quorum', 'QUORUM']) {
      const {cluster} = withMode(mode)
      const pg2 = clusterJson(cluster, 'demo').members.find((m) => m.name === 'pg2')
      assert.equal(pg2?.role, 'quorum_standby', mode)
      const t = membersTable(cluster, 'demo', {extended: false, fmt: 'pretty'})
      const roleCol = t.columns.indexOf('Role')
      assert.ok(t.rows.some((r) => r[roleCol] === 'Quorum Standby'), mode)
    }
    const on = withMode(true)
    assert.equal(clusterJson(on.cluster, 'demo').members.find((m) => m.name === 'pg2')?.role, 'sync_standby')
  })

  test('patroni_quorum_standby is 1 on a quorum standby, 0 (as Patroni 4 reports it) otherwise', () => {
    const q = replicaSnapshot(withMode('quorum'))
    assert.match(renderMetrics(q, buildStatusDocument(q, opts), '4.0.6'), /^patroni_quorum_standby\{[^}]*\} 1$/m)
    const on = replicaSnapshot(withMode(true))
    assert.match(renderMetrics(on, buildStatusDocument(on, opts), '4.0.6'), /^patroni_quorum_standby\{[^}]*\} 0$/m)
  })
})
