import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {formatLsn, parseLsn} from '../../../src/core/lsn'
import {humanSetting, raiseToControldata, serverParameters, splitListen} from '../../../src/core/pg-params'

const base = {serverVersion: 150004, scope: 'acme', listen: '127.0.0.1,10.0.0.1:5433', dynamicParameters: {}, localParameters: {}}

describe('LSN', () => {
  test('parses and prints X/Y hex positions', () => {
    assert.equal(parseLsn('0/3000060'), 0x3000060)
    assert.equal(parseLsn('1/0'), 2 ** 32)
    assert.equal(formatLsn(2 ** 32 + 0x60), '1/60')
    assert.equal(formatLsn(parseLsn('AB/CDEF0123')!), 'AB/CDEF0123')
    assert.equal(parseLsn('bogus'), undefined)
    assert.equal(parseLsn('0/123456789'), undefined)
    assert.throws(() => formatLsn(-1), /not a WAL position/)
  })
})

describe('server parameters', () => {
  test('defaults for the command-line set, listen and cluster_name', () => {
    const r = serverParameters(base)
    assert.deepEqual(r.cmdline, {
      listen_addresses: '127.0.0.1,10.0.0.1',
      port: '5433',
      cluster_name: 'acme',
      wal_level: 'replica',
      hot_standby: 'on',
      max_connections: '100',
      max_wal_senders: '10',
      max_prepared_transactions: '0',
      max_locks_per_transaction: '64',
      track_commit_timestamp: 'off',
      max_replication_slots: '10',
      max_worker_processes: '8',
      wal_log_hints: 'on',
    })
    assert.equal(r.parameters.wal_keep_size, '128MB')
    assert.equal(r.parameters.wal_keep_segments, undefined)
    assert.deepEqual(r.warnings, [])
  })

  test('command-line parameters come from the dynamic config only', () => {
    const r = serverParameters({...base, dynamicParameters: {max_connections: 200}, localParameters: {max_connections: 50, work_mem: '8MB'}})
    assert.equal(r.cmdline.max_connections, '200')
    assert.equal(r.parameters.work_mem, '8MB')
    assert.match(r.warnings.join('\n'), /max_connections is ignored in the local configuration/)
  })

  test('local parameters win over dynamic ones outside the command-line set', () => {
    const r = serverParameters({...base, dynamicParameters: {work_mem: '4MB', shared_buffers: '1GB'}, localParameters: {work_mem: '16MB'}})
    assert.equal(r.parameters.work_mem, '16MB')
    assert.equal(r.parameters.shared_buffers, '1GB')
    assert.equal(r.cmdline.work_mem, undefined)
  })

  test('an out-of-range value falls back to the default with a warning naming it', () => {
    const r = serverParameters({...base, dynamicParameters: {max_connections: 10, max_wal_senders: 'lots'}})
    assert.equal(r.cmdline.max_connections, '100')
    assert.equal(r.cmdline.max_wal_senders, '10')
    assert.match(r.warnings[0], /max_connections=10 is not accepted: using 100/)
    assert.match(r.warnings[1], /max_wal_senders=lots/)
  })

  test('wal_keep_segments converts to wal_keep_size on PG 13+, and back before', () => {
    assert.equal(serverParameters({...base, dynamicParameters: {wal_keep_segments: 4}}).parameters.wal_keep_size, '64MB')
    assert.equal(serverParameters({...base, dynamicParameters: {wal_keep_size: '1GB'}}).parameters.wal_keep_size, '1GB')
    const old = serverParameters({...base, serverVersion: 120010, dynamicParameters: {wal_keep_size: '256MB'}})
    assert.equal(old.parameters.wal_keep_segments, '16')
    assert.equal(old.parameters.wal_keep_size, undefined)
  })

  test('wal_level hot_standby is the modern replica', () => {
    assert.equal(serverParameters({...base, dynamicParameters: {wal_level: 'logical'}}).cmdline.wal_level, 'logical')
    assert.equal(serverParameters({...base, serverVersion: 90500}).cmdline.wal_level, 'hot_standby')
  })

  test('synchronous_standby_names in synchronous mode', () => {
    assert.equal(serverParameters({...base, synchronousMode: true, synchronousModeStrict: true}).parameters.synchronous_standby_names, '*')
    // Patroni >= 3.1: the strict placeholder only on a primary; a bootstrapping member or a replica
    // gets none (post_bootstrap's CREATE ROLE/GRANT would wait for a standby for ever: chaos seed 2)
    for (const role of ['primary', 'promoted']) {
      assert.equal(serverParameters({...base, synchronousMode: true, synchronousModeStrict: true, role}).parameters.synchronous_standby_names, '*', role)
    }
    for (const role of ['uninitialized', 'replica', 'demoted', 'standby_leader']) {
      assert.equal(serverParameters({...base, synchronousMode: true, synchronousModeStrict: true, role}).parameters.synchronous_standby_names, undefined, role)
    }
    assert.equal(
      serverParameters({...base, dynamicParameters: {synchronous_standby_names: 'x'}, synchronousMode: true}).parameters.synchronous_standby_names,
      undefined,
    )
    assert.equal(serverParameters({...base, synchronousMode: true, synchronousStandbyNames: '"n2"'}).parameters.synchronous_standby_names, '"n2"')
  })

  test('listen addresses split like Patroni', () => {
    assert.deepEqual(splitListen('0.0.0.0:5432'), {addresses: '0.0.0.0', port: '5432'})
    assert.deepEqual(splitListen('[::1]:6432'), {addresses: '::1', port: '6432'})
    assert.deepEqual(splitListen('localhost'), {addresses: 'localhost', port: '5432'})
    assert.deepEqual(splitListen('*:5433'), {addresses: '*', port: '5433'})
  })

  test('a standby starts with at least the primary shared-memory settings', () => {
    const r = raiseToControldata(
      {max_connections: '100', max_worker_processes: '8', max_wal_senders: '10'},
      {'max_connections setting': '200', 'max_worker_processes setting': '4', 'max_wal_senders setting': '12'},
      150004,
    )
    assert.deepEqual(r.parameters, {max_connections: '200', max_worker_processes: '8', max_wal_senders: '12'})
    assert.deepEqual(r.raised, ['max_connections', 'max_wal_senders'])
  })
})

test('humanSetting shows a base-unit value as Patroni shows pending restart reasons', () => {
  const cases: Array<[string, string | null, string]> = [
    ['64', '8kB', '512kB'],
    ['16384', '8kB', '128MB'],
    ['2048', 'MB', '2GB'],
    ['1536', 'MB', '1536MB'],
    ['30000', 'ms', '30s'],
    ['90', 's', '90s'],
    ['3600', 's', '1h'],
    ['100', null, '100'],
    ['-1', '8kB', '-1'],
    ['0', 'ms', '0'],
    ['on', null, 'on'],
    ['0.9', null, '0.9'],
  ]
  for (const [setting, unit, want] of cases) assert.equal(humanSetting(setting, unit), want, `${setting} ${unit}`)
})
