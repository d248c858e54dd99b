import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {AddressSet, basicAuthKey, checkBasicAuth, parseAllowlistEntry} from '../../../src/api/auth'
import {clusterJson, configJson, historyJson} from '../../../src/api/cluster'
import {paddedVersion, renderMetrics} from '../../../src/api/metrics'
import {buildStatusDocument} from '../../../src/api/status'
import {fixture, fixtureCluster, leaderSnapshot, replicaSnapshot, with41MemberKeys} from './snapshots'

describe('GET /cluster, /history, /config bodies', () => {
  test('the cluster from the etcd dump renders as Patroni 3.0.2 did, plus scope (3.3.1) and the 4.1 LSN keys', () => {
    assert.deepEqual(clusterJson(fixtureCluster(), 'demo'), {...with41MemberKeys(fixture('rest-cluster.json')), scope: 'demo'})
  })

  test('a scheduled switchover is shown as Patroni shows it', () => {
    const failover = fixture('etcd-failover-scheduled.json').value as string
    const got = clusterJson(fixtureCluster({failover}), 'demo')
    assert.deepEqual(got, {...with41MemberKeys(fixture('rest-cluster-scheduled.json')), scope: 'demo'})
  })

  test('roles, state, lag and optional member keys', () => {
    const view = fixtureCluster({
      config: JSON.stringify({...fixture('rest-config.json'), synchronous_mode: true, pause: true}),
      sync: '{"leader":"pg1","sync_standby":"pg2"}',
      status: '{"optime":67109524}',
      'members/pg3': JSON.stringify({
        conn_url: 'postgres://[::1]:5433/postgres', api_url: 'http://[::1]:8009/patroni', state: 'running', role: 'replica',
        replication_state: 'streaming', tags: {nofailover: true}, pending_restart: true, pending_restart_reason: {a: {old_value: '1', new_value: '2'}},
      }),
      'members/pg0': JSON.stringify({api_url: 'http://127.0.0.1:1/patroni', state: 'stopped', role: 'replica', xlog_location: 67109624}),
    })
    const j = clusterJson(view, 'demo')
    assert.deepEqual(j.members.map((m) => [m.name, m.role, m.state, m.lag]), [
      ['pg0', 'replica', 'stopped', 0],
      ['pg1', 'leader', 'running', undefined],
      ['pg2', 'sync_standby', 'running', 100],
      ['pg3', 'replica', 'streaming', 'unknown'],
    ])
    const pg3 = j.members.find((m) => m.name === 'pg3')!
    assert.equal(pg3.host, '::1')
    assert.equal(pg3.port, 5433)
    assert.deepEqual(pg3.tags, {nofailover: true})
    assert.equal(pg3.pending_restart, true)
    assert.ok(pg3.pending_restart_reason)
    assert.equal(j.members.find((m) => m.name === 'pg0')!.host, undefined)
    assert.equal(j.pause, true)
    const standby = fixtureCluster({config: JSON.stringify({standby_cluster: {host: 'x'}})})
    assert.equal(clusterJson(standby, 'demo').members.find((m) => m.name === 'pg1')!.role, 'standby_leader')
  })

  test('history as stored, [] when absent; config, undefined (502) when absent or not an object', () => {
    assert.deepEqual(historyJson(fixtureCluster()), fixture('rest-history.json'))
    const none = fixtureCluster()
    none.history = null
    none.config = null
    assert.deepEqual(historyJson(none), [])
    assert.deepEqual(configJson(fixtureCluster()), fixture('rest-config.json'))
    assert.equal(configJson(none), undefined)
    assert.equal(configJson(fixtureCluster({config: '[1,2]'})), undefined)
  })
})

describe('GET /metrics', () => {
  // 3.3.1's names with 4.0's patroni_quorum_standby and 4.1's patroni_postgres_state, in 4.1's order.
  const NAMES = [
    'patroni_version', 'patroni_postgres_running', 'patroni_postmaster_start_time', 'patroni_master', 'patroni_primary',
    'patroni_xlog_location', 'patroni_standby_leader', 'patroni_replica', 'patroni_sync_standby', 'patroni_quorum_standby', 'patroni_xlog_received_location',
    'patroni_xlog_replayed_location', 'patroni_xlog_replayed_timestamp', 'patroni_xlog_paused', 'patroni_postgres_streaming',
    'patroni_postgres_in_archive_recovery', 'patroni_postgres_server_version', 'patroni_cluster_unlocked',
    'patroni_failsafe_mode_is_active', 'patroni_postgres_timeline', 'patroni_dcs_last_seen', 'patroni_pending_restart', 'patroni_is_paused',
    'patroni_postgres_state',
  ]
  // patroni_postgres_timeline was a counter up to 4.1.3; 4.1.4 made it the gauge it is.
  const COUNTERS = ['patroni_xlog_location', 'patroni_xlog_received_location', 'patroni_xlog_replayed_location']

  function samples(text: string): Map<string, string> {
    const m = new Map<string, string>()
    for (const line of text.trim().split('\n')) {
      if (line.startsWith('#')) continue
      const r = /^([a-z_]+)\{scope="demo",name="(pg\d)"\} (\S+)$/.exec(line)
      assert.ok(r, `sample line ${JSON.stringify(line)}`)
      m.set(r[1]!, r[3]!)
    }
    return m
  }

  test('names, order, types, HELP lines and labels of Patroni 3.3.1 plus the 4.x additions', () => {
    const s = leaderSnapshot()
    const text = renderMetrics(s, buildStatusDocument(s, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1')
    assert.deepEqual([...samples(text).keys()], NAMES)
    for (const n of NAMES) {
      assert.ok(text.includes(`# HELP ${n} `), n)
      assert.ok(text.includes(`# TYPE ${n} ${COUNTERS.includes(n) ? 'counter' : 'gauge'}\n`), n)
    }
    assert.ok(text.endsWith('\n'))
  })

  test('patroni_master is left out, as Patroni 4 does, once the cluster spells the role primary', () => {
    const p = {...leaderSnapshot(), primaryRoleName: 'primary' as const}
    const pm = samples(renderMetrics(p, buildStatusDocument(p, {patroniVersion: '3.3.1', primaryRoleName: 'primary'}), '3.3.1'))
    assert.equal(pm.get('patroni_primary'), '1')
    assert.equal(pm.has('patroni_master'), false)
    const old = {...leaderSnapshot(), primaryRoleName: 'master' as const}
    assert.equal(samples(renderMetrics(old, buildStatusDocument(old, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1')).get('patroni_master'), '1')
  })

  test('values on the primary and on a replica', () => {
    const p = leaderSnapshot({pendingRestart: true})
    const pm = samples(renderMetrics(p, buildStatusDocument(p, {patroniVersion: '3.3.1', primaryRoleName: 'primary'}), '3.3.1'))
    assert.equal(pm.get('patroni_version'), '030301')
    assert.equal(pm.get('patroni_primary'), '1')
    assert.equal(pm.get('patroni_master'), '1')
    assert.equal(pm.get('patroni_replica'), '0')
    assert.equal(pm.get('patroni_xlog_location'), '67109424')
    assert.equal(pm.get('patroni_postmaster_start_time'), '1795392965.560688')
    assert.equal(pm.get('patroni_postgres_server_version'), '150020')
    assert.equal(pm.get('patroni_pending_restart'), '1')
    assert.equal(pm.get('patroni_dcs_last_seen'), '1795392973')
    const r = replicaSnapshot({paused: true, cluster: null})
    const rm = samples(renderMetrics(r, buildStatusDocument(r, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1'))
    assert.equal(rm.get('patroni_replica'), '1')
    assert.equal(rm.get('patroni_primary'), '0')
    assert.equal(rm.get('patroni_xlog_location'), '0')
    assert.equal(rm.get('patroni_xlog_received_location'), '67109424')
    assert.equal(rm.get('patroni_postgres_streaming'), '1')
    assert.equal(rm.get('patroni_cluster_unlocked'), '1')
    assert.equal(rm.get('patroni_is_paused'), '1')
    assert.equal(rm.get('patroni_xlog_replayed_timestamp'), '0')
    assert.equal(paddedVersion('3.0.2'), '030002')
  })

  test("patroni_postgres_state: 4.1's index of the state, its Values line, -1 for a state Patroni does not list", () => {
    const p = leaderSnapshot()
    const text = renderMetrics(p, buildStatusDocument(p, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1')
    assert.equal(samples(text).get('patroni_postgres_state'), '5')
    // The comment line 4.1 writes between HELP and TYPE, as patroni/postgresql/misc.py PostgresqlState lists them.
    assert.ok(
      text.includes(
        '\n# Values: 0=initdb, 1=initdb_failed, 2=custom_bootstrap, 3=custom_bootstrap_failed, 4=creating_replica, 5=running, ' +
          '6=starting, 7=bootstrap_starting, 8=start_failed, 9=restarting, 10=restart_failed, 11=stopping, 12=stopped, ' +
          '13=stop_failed, 14=crashed\n# TYPE patroni_postgres_state gauge\n',
      ),
    )
    for (const [state, index] of [['stopped', '12'], ['creating replica', '4'], ['starting after custom bootstrap', '7'], ['crashed', '14'], ['unknown', '-1']] as const) {
      const r = replicaSnapshot({state, postgres: null})
      assert.equal(samples(renderMetrics(r, buildStatusDocument(r, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1')).get('patroni_postgres_state'), index, state)
    }
  })

  test('PostgreSQL down: zeros, and no streaming lines (no server_version)', () => {
    const s = replicaSnapshot({postgres: null, state: 'stopped'})
    const m = samples(renderMetrics(s, buildStatusDocument(s, {patroniVersion: '3.3.1', primaryRoleName: 'master'}), '3.3.1'))
    assert.equal(m.get('patroni_postgres_running'), '0')
    assert.equal(m.get('patroni_postmaster_start_time'), '0')
    assert.equal(m.has('patroni_postgres_streaming'), false)
  })
})

describe('access control pieces', () => {
  test('allowlist entries: networks, addresses, hosts; errors name the key and value', () => {
    assert.deepEqual(parseAllowlistEntry('10.0.0.0/8'), {kind: 'network', address: '10.0.0.0', prefix: 8, family: 4})
    assert.deepEqual(parseAllowlistEntry('::1'), {kind: 'network', address: '::1', prefix: 128, family: 6})
    assert.deepEqual(parseAllowlistEntry('db1.example'), {kind: 'host', host: 'db1.example'})
    assert.match(parseAllowlistEntry('10.0.0.0/33') as string, /^restapi\.allowlist: "10\.0\.0\.0\/33"/)
    const set = new AddressSet()
    set.addNetwork('10.1.0.0', 16)
    set.addAddress('fd00::5')
    assert.ok(set.has('10.1.2.3'))
    assert.ok(set.has('::ffff:10.1.2.3'))
    assert.ok(!set.has('10.2.0.1'))
    assert.ok(set.has('fd00::5'))
    assert.ok(!set.has('fd00::6'))
    assert.ok(!set.has('garbage'))
  })

  test('Basic auth: Patroni texts for a missing or wrong header', () => {
    const key = basicAuthKey({username: 'admin', password: 's3cret'})
    assert.equal(key, Buffer.from('admin:s3cret').toString('base64'))
    assert.equal(checkBasicAuth(undefined, key), 'no auth header received')
    assert.equal(checkBasicAuth('Bearer x', key), 'not authenticated')
    assert.equal(checkBasicAuth(`Basic ${Buffer.from('admin:nope').toString('base64')}`, key), 'not authenticated')
    assert.equal(checkBasicAuth(`Basic ${key}`, key), null)
    assert.equal(checkBasicAuth(undefined, basicAuthKey(undefined)), null)
  })
})
