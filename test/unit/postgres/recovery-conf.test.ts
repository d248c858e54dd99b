/**
 * Recovery settings given among the server parameters become the recovery_conf, as Patroni's
 * patroni/postgresql/config.py ConfigHandler._adjust_recovery_parameters does, and never reach the
 * main parameter block of postgresql.conf.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {renderPostgresqlConf} from '../../../src/adapters/postgres/conf-files'
import {recoveryConfFromParameters, recoveryParameters} from '../../../src/postgres/recovery'

test('recovery settings among the parameters are picked out, whatever their case; none gives undefined', () => {
  assert.deepEqual(recoveryConfFromParameters({restore_command: 'cp /a/%f %p', Recovery_Min_Apply_Delay: '5s', work_mem: '4MB', archive_cleanup_command: null}), {
    restore_command: 'cp /a/%f %p',
    Recovery_Min_Apply_Delay: '5s',
  })
  assert.equal(recoveryConfFromParameters({work_mem: '4MB', archive_command: 'cp %p /a/%f'}), undefined, 'archive_command is a server parameter')
})

test('they end up in the recovery block of a replica, not among the server parameters', () => {
  const parameters = {restore_command: 'cp /a/%f %p', work_mem: '4MB'}
  const r = recoveryParameters({serverVersion: 150000, name: 'n2', recoveryConf: recoveryConfFromParameters(parameters)})
  assert.equal(r.parameters['restore_command'], 'cp /a/%f %p')
  assert.equal(r.primaryConninfo, undefined, 'no upstream: no primary_conninfo')
  const conf = renderPostgresqlConf({include: 'postgresql.base.conf', parameters, hbaFile: 'h', identFile: 'i', recovery: r.parameters})
  const [main, recovery] = conf.split('# recovery.conf')
  assert.doesNotMatch(main!, /restore_command/)
  assert.match(main!, /work_mem = '4MB'/)
  assert.match(recovery!, /restore_command = 'cp \/a\/%f %p'/)
})
