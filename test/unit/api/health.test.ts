import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {healthStatus, livenessStatus, readinessStatus} from '../../../src/api/health'
import {parseHealthFilters, parseTarget} from '../../../src/api/query'
import {buildStatusDocument} from '../../../src/api/status'
import type {NodeSnapshot} from '../../../src/api/types'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import {fixture, fixtureCluster, leaderSnapshot, replicaSnapshot} from './snapshots'

const opts = {patroniVersion: '3.3.1', primaryRoleName: 'master' as const}

function code(url: string, s: NodeSnapshot): number {
  const t = parseTarget(url)!
  const f = parseHealthFilters(t.query)
  if (!f.ok) throw new Error(f.error)
  return healthStatus(t.path, s, buildStatusDocument(s, opts), f.value)
}

const PATHS = [
  '/', '/primary', '/master', '/read-write', '/leader', '/standby-leader', '/standby_leader', '/replica', '/read-only',
  '/health', '/sync', '/synchronous', '/async', '/asynchronous', '/read-only-sync', '/foo',
] as const

function row(s: NodeSnapshot): Record<string, number> {
  return Object.fromEntries(PATHS.map((p) => [p, code(p, s)]))
}

const syncCluster = fixtureCluster({sync: '{"leader":"pg1","sync_standby":"pg2"}'})
const syncOn = parseDynamicConfig({...syncCluster.config!.data, synchronous_mode: true}).config
const standbyCfg = parseDynamicConfig({standby_cluster: {host: '10.0.0.1', port: 5432}}).config

describe('health endpoints: Patroni 3.0.2 captured codes', () => {
  test('leader and replica answer every captured endpoint with the captured code', () => {
    const captured = fixture('rest-health.json') as Record<'leader' | 'replica', Record<string, {status: number}>>
    const nodes = {leader: leaderSnapshot(), replica: replicaSnapshot()}
    let checked = 0
    for (const who of ['leader', 'replica'] as const) {
      for (const [path, r] of Object.entries(captured[who])) {
        if (!path.startsWith('/') || path === '/liveness' || path === '/readiness') continue
        assert.equal(code(path, nodes[who]), r.status, `${who} ${path}`)
        checked++
      }
      assert.equal(readinessStatus(nodes[who]), captured[who]['/readiness']!.status)
      assert.equal(livenessStatus(nodes[who], nodes[who].nextRunMs), captured[who]['/liveness']!.status)
    }
    assert.ok(checked >= 12)
  })
})

describe('health endpoints: decision table (endpoint x node situation)', () => {
  // The paths answering 200; every other path of PATHS answers 503.
  const PRIMARY_OK = ['/', '/primary', '/master', '/read-write', '/leader', '/read-only', '/health']
  const REPLICA_OK = ['/replica', '/read-only', '/health']
  const table: Array<[string, NodeSnapshot, string[]]> = [
    ['primary with the lock', leaderSnapshot(), [...PRIMARY_OK, '/read-only-sync']],
    ['primary without the lock (no lock, no writes)', leaderSnapshot({isLeader: false}), ['/health']],
    ['replica streaming', replicaSnapshot(), [...REPLICA_OK, '/async', '/asynchronous']],
    ['replica not running', replicaSnapshot({state: 'stopped', postgres: null}), []],
    ['replica running, query failed (state unknown)', replicaSnapshot({state: 'unknown', postgres: null}), []],
    ['replica with noloadbalance', replicaSnapshot({configuredTags: {noloadbalance: 'on'}}), ['/health']],
    ['sync standby', replicaSnapshot({cluster: syncCluster, globalConfig: syncOn}), [...REPLICA_OK, '/sync', '/synchronous', '/read-only-sync']],
    ['primary in sync mode', leaderSnapshot({cluster: syncCluster, globalConfig: syncOn}), [...PRIMARY_OK, '/read-only-sync']],
    [
      'standby leader (lock, standby cluster)',
      replicaSnapshot({role: 'standby_leader', isLeader: true, globalConfig: standbyCfg}),
      ['/leader', '/standby-leader', '/standby_leader', '/read-only', '/health', '/read-only-sync'],
    ],
    ['replica in a standby cluster', replicaSnapshot({globalConfig: standbyCfg}), [...REPLICA_OK, '/async', '/asynchronous']],
    ['paused, DCS unreachable, primary (role decides)', leaderSnapshot({cluster: null, paused: true, isLeader: false}), PRIMARY_OK],
    ['paused, DCS unreachable, replica', replicaSnapshot({cluster: null, paused: true}), REPLICA_OK],
    ['DCS unreachable, not paused, primary', leaderSnapshot({cluster: null, isLeader: false}), ['/health']],
    ['paused with a DCS view, primary with the lock', leaderSnapshot({paused: true}), [...PRIMARY_OK, '/read-only-sync']],
  ]
  for (const [name, snap, ok] of table) {
    test(name, () => {
      const expected = Object.fromEntries(PATHS.map((p) => [p, ok.includes(p) ? 200 : 503]))
      assert.deepEqual(row(snap), expected)
    })
  }

  test('?lag compares status.optime with the replayed position; units are accepted', () => {
    const behind = replicaSnapshot({
      postgres: {...replicaSnapshot().postgres!, wal: {kind: 'replica', receivedLocation: 67109424, replayedLocation: 67109424 - 20 * 1024 * 1024, replayedTimestamp: null, paused: false}},
    })
    assert.equal(code('/replica', behind), 200)
    assert.equal(code('/replica?lag=10MB', behind), 503)
    assert.equal(code('/replica?lag=30MB', behind), 200)
    assert.equal(code(`/replica?lag=${20 * 1024 * 1024}`, behind), 200)
    assert.equal(code(`/replica?lag=${20 * 1024 * 1024 - 1}`, behind), 503)
    assert.equal(code('/read-only?lag=1kB', behind), 503)
    assert.equal(code('/async?lag=1kB', behind), 503)
    // Without a leader optime nothing counts as lagging.
    const noOptime = {...behind, cluster: fixtureCluster({status: '{"optime":0}'})}
    assert.equal(code('/replica?lag=0', noOptime), 200)
  })

  test('tag filters compare with configured tags, non-strings as lower-case text', () => {
    const s = replicaSnapshot({configuredTags: {zone: 'a', nofailover: true, weight: 1.5}})
    assert.equal(code('/replica?tag_zone=a', s), 200)
    assert.equal(code('/replica?tag_zone=b', s), 503)
    assert.equal(code('/replica?tag_nofailover=true', s), 200)
    assert.equal(code('/replica?tag_nofailover=True', s), 503)
    assert.equal(code('/replica?tag_weight=1.5', s), 200)
    assert.equal(code('/replica?tag_missing=x', s), 503)
    assert.equal(code('/replica?tag_zone=a&tag_nofailover=true', s), 200)
    assert.equal(code('/health?tag_zone=b', s), 503)
    // Leader-type endpoints ignore tag filters.
    const l = leaderSnapshot({configuredTags: {zone: 'a'}})
    assert.equal(code('/primary?tag_zone=b', l), 200)
    assert.equal(code('/leader?tag_zone=b', l), 200)
    assert.equal(code('/read-only?tag_zone=b', l), 503)
  })

  test('?replication_state ([4.x]) must match the replica state when given', () => {
    assert.equal(code('/replica?replication_state=streaming', replicaSnapshot()), 200)
    assert.equal(code('/replica?replication_state=in%20archive%20recovery', replicaSnapshot()), 503)
  })

  test('an unparsable or negative lag is refused with the parameter named', () => {
    for (const bad of ['abc', '-1', '10XB']) {
      const f = parseHealthFilters(parseTarget(`/replica?lag=${bad}`)!.query)
      assert.equal(f.ok, false)
      assert.match((f as {error: string}).error, new RegExp(`^lag: "${bad}"`))
    }
    // Blank values are dropped like Python's parse_qs; the first value of a repeated key wins.
    const f = parseHealthFilters(parseTarget('/replica?lag=&lag=1MB&lag=abc')!.query)
    assert.deepEqual(f, {ok: true, value: {maxLag: 1048576, replicationState: null, tags: []}})
  })
})

describe('liveness and readiness', () => {
  test('liveness: one ttl of slack on a running primary, two elsewhere, always fine in pause', () => {
    const ttlMs = leaderSnapshot().globalConfig.ttl * 1000
    const p = leaderSnapshot({nextRunMs: 0})
    assert.equal(livenessStatus(p, ttlMs - 1), 200)
    assert.equal(livenessStatus(p, ttlMs), 503)
    const r = replicaSnapshot({nextRunMs: 0})
    assert.equal(livenessStatus(r, 2 * ttlMs - 1), 200)
    assert.equal(livenessStatus(r, 2 * ttlMs), 503)
    assert.equal(livenessStatus({...p, paused: true}, 100 * ttlMs), 200)
  })

  test('readiness: lock holder, or running with a DCS view', () => {
    assert.equal(readinessStatus(leaderSnapshot({state: 'starting'})), 200)
    assert.equal(readinessStatus(replicaSnapshot()), 200)
    assert.equal(readinessStatus(replicaSnapshot({cluster: null})), 503)
    assert.equal(readinessStatus(replicaSnapshot({state: 'starting'})), 503)
  })

  test("readiness with Patroni 4.1's lag/mode: the replica must stream and lag at most lag (default maximum_lag_on_failover)", () => {
    const apply = {maxLag: null, mode: 'apply'} as const
    // The fixture replica has replayed and received up to the leader's optime (67109424).
    assert.equal(readinessStatus(replicaSnapshot(), apply), 200)
    assert.equal(readinessStatus(leaderSnapshot({state: 'starting'}), apply), 200)
    const behind = (received: number, replayed: number, over: Parameters<typeof replicaSnapshot>[0] = {}) => {
      const r = replicaSnapshot(over)
      return {...r, postgres: {...r.postgres!, wal: {kind: 'replica' as const, receivedLocation: received, replayedLocation: replayed, replayedTimestamp: null, paused: false}}}
    }
    const optime = 67109424
    const max = replicaSnapshot().globalConfig.maximum_lag_on_failover
    assert.equal(readinessStatus(behind(optime, optime - max), apply), 200, 'exactly maximum_lag_on_failover behind')
    assert.equal(readinessStatus(behind(optime, optime - max - 1), apply), 503, 'one byte more')
    // mode=write measures the received WAL: all received, replay far behind.
    assert.equal(readinessStatus(behind(optime, optime - 10 * max), {maxLag: null, mode: 'write'}), 200)
    assert.equal(readinessStatus(behind(optime, optime - 10 * max), apply), 503)
    assert.equal(readinessStatus(behind(optime - 2000, optime - 2000), {maxLag: 1000, mode: 'apply'}), 503)
    assert.equal(readinessStatus(behind(optime - 2000, optime - 2000), {maxLag: 2000, mode: 'apply'}), 200)
    // Not streaming (archive recovery), not running, or no DCS view (unless failsafe is active): not ready.
    const r = replicaSnapshot()
    assert.equal(readinessStatus({...r, postgres: {...r.postgres!, replicationState: 'in archive recovery'}}, apply), 503)
    assert.equal(readinessStatus(replicaSnapshot({state: 'starting'}), apply), 503)
    assert.equal(readinessStatus(replicaSnapshot({cluster: null}), apply), 503)
    assert.equal(readinessStatus(replicaSnapshot({cluster: null, failsafeActive: true}), apply), 200)
    // Without the parameters the 3.x answer stands: archive recovery is ready.
    assert.equal(readinessStatus({...r, postgres: {...r.postgres!, replicationState: 'in archive recovery'}}), 200)
  })
})
