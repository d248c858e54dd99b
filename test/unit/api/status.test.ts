import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {buildStatusDocument, parseTimestamp} from '../../../src/api/status'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import {fixture, fixtureCluster, leaderSnapshot, replicaSnapshot, shapeOf} from './snapshots'

const as302 = {patroniVersion: '3.0.2', primaryRoleName: 'master' as const}

describe('status document (GET /patroni)', () => {
  test('the leader document is Patroni 3.0.2 field for field, plus patroni.name (3.3.1)', () => {
    const want = fixture('rest-patroni-leader.json')
    const got = buildStatusDocument(leaderSnapshot(), as302)
    assert.deepEqual(got, {...want, patroni: {...want.patroni, name: 'pg1'}})
    // Same key order as Patroni writes them.
    assert.deepEqual(Object.keys(got), Object.keys(want))
  })

  test('the replica document is Patroni 3.0.2 plus replication_state and patroni.name', () => {
    const want = fixture('rest-patroni-replica.json')
    const got = buildStatusDocument(replicaSnapshot(), as302)
    assert.deepEqual(got, {...want, replication_state: 'streaming', patroni: {...want.patroni, name: 'pg2'}})
    const shape = shapeOf(got) as Record<string, unknown>
    for (const [k, v] of Object.entries(shapeOf(want) as Record<string, unknown>)) {
      if (k !== 'patroni') assert.deepEqual(shape[k], v, k)
    }
  })

  test('what a Patroni 3.x peer reads in a leader race is present with the right types', () => {
    for (const doc of [buildStatusDocument(leaderSnapshot(), as302), buildStatusDocument(replicaSnapshot(), as302)]) {
      assert.equal(typeof doc.state, 'string')
      assert.equal(typeof doc.role, 'string')
      assert.equal(typeof doc.timeline, 'number')
      assert.equal(typeof doc.server_version, 'number')
      assert.equal(typeof doc.patroni.version, 'string')
      assert.ok(doc.xlog)
    }
    // in_recovery is taken from xlog.location: non-zero only on the primary.
    assert.ok('location' in buildStatusDocument(leaderSnapshot(), as302).xlog!)
    assert.ok(!('location' in buildStatusDocument(replicaSnapshot(), as302).xlog!))
  })

  test('the primary role is spelled as configured; other roles are unchanged', () => {
    assert.equal(buildStatusDocument(leaderSnapshot(), {patroniVersion: '3.3.1', primaryRoleName: 'primary'}).role, 'primary')
    assert.equal(buildStatusDocument(leaderSnapshot({postgres: null, state: 'unknown'}), as302).role, 'master')
    assert.equal(buildStatusDocument(replicaSnapshot(), {patroniVersion: '3.3.1', primaryRoleName: 'primary'}).role, 'replica')
  })

  test('PostgreSQL down: no xlog (peers then count the node as unreachable), the cached role', () => {
    const doc = buildStatusDocument(leaderSnapshot({postgres: null, state: 'stopped', role: 'demoted', isLeader: false}), as302)
    assert.deepEqual(Object.keys(doc), ['state', 'role', 'dcs_last_seen', 'database_system_identifier', 'patroni'])
    assert.equal(doc.role, 'demoted')
    assert.equal(doc.state, 'stopped')
  })

  test('optional keys appear only when they apply', () => {
    const doc = buildStatusDocument(
      leaderSnapshot({
        cluster: null,
        failsafeActive: true,
        effectiveTags: {nofailover: true, zone: 'a'},
        pendingRestart: true,
        pendingRestartReason: {max_connections: {old_value: '100', new_value: '200'}},
        scheduledRestart: {schedule: '2030-01-01T00:00:00+00:00', postmaster_start_time: 'x', role: 'master'},
        watchdogFailed: true,
        paused: true,
      }),
      as302,
    )
    assert.equal(doc.cluster_unlocked, true)
    assert.equal(doc.failsafe_mode_is_active, true)
    assert.deepEqual(doc.tags, {nofailover: true, zone: 'a'})
    assert.equal(doc.pending_restart, true)
    assert.deepEqual(doc.pending_restart_reason, {max_connections: {old_value: '100', new_value: '200'}})
    assert.deepEqual(doc.scheduled_restart, {schedule: '2030-01-01T00:00:00+00:00', role: 'master'})
    assert.equal(doc.watchdog_failed, true)
    assert.equal(doc.pause, true)
    const unlocked = buildStatusDocument(leaderSnapshot({cluster: fixtureCluster({leader: ''})}), as302)
    assert.equal(unlocked.cluster_unlocked, true)
  })

  test('sync_standby: a replica listed in /sync while synchronous_mode is on', () => {
    const cluster = fixtureCluster({sync: '{"leader":"pg1","sync_standby":"pg2"}'})
    const on = parseDynamicConfig({...cluster.config!.data, synchronous_mode: true}).config
    assert.equal(buildStatusDocument(replicaSnapshot({cluster, globalConfig: on}), as302).sync_standby, true)
    assert.equal(buildStatusDocument(replicaSnapshot({cluster}), as302).sync_standby, undefined)
    assert.equal(buildStatusDocument(replicaSnapshot({cluster, globalConfig: on, name: 'pg3'}), as302).sync_standby, undefined)
  })

  test('standby cluster: the standby leader reports its own role, not replica', () => {
    const standby = parseDynamicConfig({standby_cluster: {host: '10.0.0.1', port: 5432}}).config
    const doc = buildStatusDocument(replicaSnapshot({role: 'standby_leader', globalConfig: standby}), as302)
    assert.equal(doc.role, 'standby_leader')
  })
})

describe('timestamps', () => {
  test('PostgreSQL and ISO forms become Python str(datetime), with epoch seconds', () => {
    const cases: Array<[string, string, number | null]> = [
      ['2026-11-23 00:16:05.560688+00', '2026-11-23 00:16:05.560688+00:00', 1795392965.560688],
      ['2026-11-23T00:16:05.5Z', '2026-11-23 00:16:05.500000+00:00', 1795392965.5],
      ['2026-11-23 03:16:05+03', '2026-11-23 03:16:05+03:00', 1795392965],
      ['2026-11-22 18:46:05.000001-05:30', '2026-11-22 18:46:05.000001-05:30', 1795392965.000001],
      ['2026-11-23 00:16:05', '2026-11-23 00:16:05', null],
    ]
    for (const [text, python, epoch] of cases) {
      const p = parseTimestamp(text)
      assert.equal(p?.python, python, text)
      if (epoch === null) assert.equal(p?.epochSeconds, null)
      else assert.ok(Math.abs(p!.epochSeconds! - epoch) < 1e-6, `${text}: ${p?.epochSeconds}`)
    }
    assert.equal(parseTimestamp('yesterday'), undefined)
  })
})
