/**
 * The recovery settings of a standby cluster's members (src/agent/pg-config.ts recoveryFor;
 * patroni/ha.py Ha.get_remote_member and Ha._get_node_to_follow, patroni/postgresql/config.py
 * ConfigHandler.build_recovery_params): the standby leader follows standby_cluster's host/port on
 * its primary_slot_name with restore_command, archive_cleanup_command and
 * recovery_min_apply_delay; the other members follow the standby leader on their own slot and
 * take only restore_command and archive_cleanup_command.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {createAgentContext, type AgentContext} from '../../../src/agent/context'
import {recoveryFor} from '../../../src/agent/pg-config'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import {validateLocalConfig} from '../../../src/config/schema'
import {DEFAULT_LOG_SETTINGS, Logger} from '../../../src/log/logger'
import {cluster} from '../core/decide-fixtures'
import {FakeClock} from '../../fakes/fake-clock'
import {createFakeDcs, FakeKv} from '../../fakes/fake-dcs'
import {FakeFiles} from '../../fakes/fake-files'
import {FakePeers} from '../../fakes/fake-peers'
import {PgWorld} from '../../fakes/fake-postgres'
import {FakeProcessRunner} from '../../fakes/fake-process-runner'

const PG15 = 150004

function agent(dynamic: Record<string, unknown>): AgentContext {
  const clock = new FakeClock()
  const kv = new FakeKv(clock)
  const dcs = createFakeDcs({kv, name: 'node2', scope: 'unit', watch: false, timing: {ttl: 30, loopWait: 10, retryTimeout: 10}})
  const pg = new PgWorld(clock).add('node2', '127.0.0.1', 5432)
  const v = validateLocalConfig({
    scope: 'unit',
    name: 'node2',
    restapi: {listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008'},
    etcd3: {hosts: ['127.0.0.1:2379']},
    postgresql: {
      listen: '127.0.0.1:5432',
      connect_address: '127.0.0.1:5432',
      data_dir: pg.dataDir,
      authentication: {superuser: {username: 'postgres', password: 'unit'}, replication: {username: 'replicator', password: 'rep-pw'}},
    },
  })
  if (!v.config) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`)
  const log = new Logger({...DEFAULT_LOG_SETTINGS, level: 'DEBUG'}, {write: () => {}, close() {}}, 'hactl', () => new Date(clock.now()))
  const x = createAgentContext({config: v.config, dcs, pg, clock, log, peers: new FakePeers(clock), requestExit: () => {}, processes: new FakeProcessRunner(clock), childEnv: {}, files: new FakeFiles()})
  const d = parseDynamicConfig(dynamic)
  assert.deepEqual(d.issues, [], 'the dynamic configuration is accepted as it is')
  x.state.dynamic = d.config
  x.state.lastCluster = cluster()
  return x
}

const STANDBY = {
  host: '10.0.0.5',
  port: 6543,
  primary_slot_name: 'Standby-B',
  restore_command: 'cp /archive/%f %p',
  archive_cleanup_command: 'pg_archivecleanup /archive %r',
  recovery_min_apply_delay: '5min',
}

describe('standby cluster recovery settings', () => {
  test('the standby leader follows the remote on primary_slot_name, with the archive settings and the apply delay', () => {
    const r = recoveryFor(agent({standby_cluster: STANDBY}), PG15, null, true)
    assert.equal(r.signal, 'standby')
    assert.equal(r.primaryConninfo?.host, '10.0.0.5')
    assert.equal(r.primaryConninfo?.port, 6543)
    assert.equal(r.primaryConninfo?.user, 'replicator')
    assert.equal(r.primaryConninfo?.password, 'rep-pw')
    assert.equal(r.primaryConninfo?.application_name, 'node2')
    assert.equal(r.primaryConninfo?.target_session_attrs, undefined, 'one host: no target_session_attrs')
    assert.equal(r.parameters['primary_slot_name'], 'standby_b', "slot_name_from_member_name('Standby-B')")
    assert.equal(r.parameters['restore_command'], 'cp /archive/%f %p')
    assert.equal(r.parameters['archive_cleanup_command'], 'pg_archivecleanup /archive %r')
    // The dynamic schema reads '5min' as 300000 ms; PostgreSQL reads a bare number in ms.
    assert.equal(r.parameters['recovery_min_apply_delay'], '300000')
    assert.equal(r.parameters['recovery_target_timeline'], 'latest')
  })

  test('no primary_slot_name, or use_slots off: no slot; several hosts with a slot: read-write target', () => {
    const {primary_slot_name: _s, ...noSlot} = STANDBY
    assert.equal(recoveryFor(agent({standby_cluster: noSlot}), PG15, null, true).parameters['primary_slot_name'], undefined)
    const off = recoveryFor(agent({standby_cluster: STANDBY, postgresql: {use_slots: false}}), PG15, null, true)
    assert.equal(off.parameters['primary_slot_name'], undefined)
    const multi = recoveryFor(agent({standby_cluster: {...STANDBY, host: '10.0.0.5,10.0.0.6'}}), PG15, null, true)
    assert.equal(multi.primaryConninfo?.target_session_attrs, 'read-write')
    assert.equal(multi.primaryConninfo?.host, '10.0.0.5,10.0.0.6')
  })

  test('archive only (restore_command, no host/port): no primary_conninfo, the restore_command', () => {
    const r = recoveryFor(agent({standby_cluster: {restore_command: 'cp /archive/%f %p'}}), PG15, null, true)
    assert.equal(r.primaryConninfo, undefined)
    assert.equal(r.parameters['primary_slot_name'], undefined)
    assert.equal(r.parameters['restore_command'], 'cp /archive/%f %p')
  })

  test('a member following the standby leader: its own slot, the archive settings, no apply delay', () => {
    const r = recoveryFor(agent({standby_cluster: STANDBY}), PG15, 'node1')
    assert.equal(r.primaryConninfo?.host, '127.0.0.1')
    assert.equal(r.primaryConninfo?.port, 541)
    assert.equal(r.parameters['primary_slot_name'], 'node2')
    assert.equal(r.parameters['restore_command'], 'cp /archive/%f %p')
    assert.equal(r.parameters['archive_cleanup_command'], 'pg_archivecleanup /archive %r')
    assert.equal(r.parameters['recovery_min_apply_delay'], undefined)
  })

  test('outside a standby cluster nothing of standby_cluster applies', () => {
    const r = recoveryFor(agent({standby_cluster: {primary_slot_name: 'x', restore_command: ''}}), PG15, 'node1')
    assert.equal(r.parameters['restore_command'], undefined)
    assert.equal(r.parameters['primary_slot_name'], 'node2')
  })
})
