/**
 * The pure parts of the custom bootstrap and of the local connection, against Patroni's rules:
 * the command's arguments (patroni/postgresql/bootstrap.py Bootstrap._custom_bootstrap), the
 * recovery settings of `recovery_conf`, the trust lines while the bootstrap runs
 * (config.py replace_pg_hba), the pgpass lines (config.py _pgpass_content) and the socket
 * the agent connects through (config.py resolve_connection_addresses).
 */
import assert from 'node:assert/strict'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {loadConfig, type LocalConfig} from '../../../src/config/load'
import {bootstrapRecovery, customBootstrapArgs, customBootstrapHba, pgpassLine} from '../../../src/agent/execute/tasks'
import {localConn, localReplicationConn, unixLocalAddress} from '../../../src/agent/settings'

function config(pg: string, top = ''): LocalConfig {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-cb-'))
  const file = join(dir, 'c.yml')
  writeFileSync(file, `scope: 15-main
name: n1
restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}
etcd3: {hosts: 127.0.0.1:2379}
postgresql:
  listen: "*:5433"
  connect_address: 10.0.0.1:5433
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: }
    replication: {username: replicator, password: rep-pass}
${pg}${top}`)
  return loadConfig(file, {}).config
}

describe('custom bootstrap arguments', () => {
  it('--scope and --datadir first, then the other keys as --key=value in order, Python spelling of values', () => {
    const args = customBootstrapArgs({command: 'x', recovery_conf: {a: 1}, keep_existing_recovery_conf: true, target: 'latest', parallel: 4, delta: true, nothing: null}, '15-main', '/data')
    assert.deepEqual(args, ['--scope=15-main', '--datadir=/data', '--target=latest', '--parallel=4', '--delta=True', '--nothing=None'])
  })
  it('no_params leaves out --scope/--datadir; scope and datadir keys are never passed twice', () => {
    assert.deepEqual(customBootstrapArgs({command: 'x', no_params: true, scope: 'other', datadir: '/other', stanza: 's'}, 'sc', '/d'), ['--stanza=s'])
  })
})

describe('recovery_conf of a custom bootstrap', () => {
  it('archive recovery (recovery.signal) unless standby_mode; values as PostgreSQL reads them', () => {
    assert.deepEqual(bootstrapRecovery({restore_command: 'cp /a/%f %p', recovery_target_action: 'promote', recovery_target_inclusive: false}), {
      signal: 'recovery',
      parameters: {restore_command: 'cp /a/%f %p', recovery_target_action: 'promote', recovery_target_inclusive: 'off'},
    })
    assert.equal(bootstrapRecovery({standby_mode: 'on', restore_command: 'x'}).signal, 'standby')
    assert.equal(bootstrapRecovery({standby_mode: 'on'}).parameters['standby_mode'], undefined)
  })
})

describe('trust lines while a custom bootstrap runs', () => {
  it('the socket, and the TCP address the agent uses, for the superuser and the replication user', () => {
    const c = config('')
    assert.deepEqual(customBootstrapHba(c), [
      'local\treplication\treplicator\t\ttrust',
      'local\tall\tpostgres\t\ttrust',
      'host\treplication\treplicator\t127.0.0.1/32\ttrust',
      'host\tall\tpostgres\t127.0.0.1/32\ttrust',
    ])
  })
  it('only the socket when the agent connects through it', () => {
    const c = config('  use_unix_socket: true\n  parameters: {unix_socket_directories: /var/run/postgresql}\n')
    assert.deepEqual(customBootstrapHba(c), ['local\treplication\treplicator\t\ttrust', 'local\tall\tpostgres\t\ttrust'])
  })
})

describe('the local connection (use_unix_socket, use_unix_socket_repl)', () => {
  it('TCP on loopback by default, with the password', () => {
    const c = config('')
    assert.deepEqual(localConn(c), {host: '127.0.0.1', port: 5433, user: 'postgres', dbname: 'postgres'})
    assert.deepEqual(localReplicationConn(c), {host: '127.0.0.1', port: 5433, user: 'replicator', password: 'rep-pass', dbname: 'postgres'})
  })
  it("use_unix_socket: the first absolute directory of unix_socket_directories; Debian's empty password is none", () => {
    const c = config("  use_unix_socket: true\n  parameters:\n    unix_socket_directories: '@abstract, /var/run/postgresql/ ,/tmp'\n")
    assert.deepEqual(localConn(c), {host: '/var/run/postgresql/', port: 5433, user: 'postgres', dbname: 'postgres'})
    // use_unix_socket_repl is separate
    assert.equal(localReplicationConn(c).host, '127.0.0.1')
    const r = config("  use_unix_socket_repl: true\n  parameters:\n    unix_socket_directories: /run/pg\n")
    assert.equal(localReplicationConn(r).host, '/run/pg')
    assert.equal(localConn(r).host, '127.0.0.1')
  })
  it('no absolute directory: TCP; unix_socket_directories not set: the compiled-in directory', () => {
    assert.equal(unixLocalAddress('@abstract, relative'), '')
    assert.equal(localConn(config("  use_unix_socket: true\n  parameters: {unix_socket_directories: '@x'}\n")).host, '127.0.0.1')
    assert.equal(localConn(config('  use_unix_socket: true\n')).host, '/var/run/postgresql')
  })
})

describe('pgpass lines', () => {
  it('a socket host also gets a localhost line; missing parts are *; : and \\ escaped; nothing without a password', () => {
    assert.equal(pgpassLine({host: '/var/run/postgresql', port: 5433, user: 'rep', password: 'a:b\\c'}), '/var/run/postgresql:5433:*:rep:a\\:b\\\\c\nlocalhost:5433:*:rep:a\\:b\\\\c\n')
    assert.equal(pgpassLine({host: 'h1,h2', user: 'u', password: 'p'}), 'h1:*:*:u:p\nh2:*:*:u:p\n')
    assert.equal(pgpassLine({host: 'h', port: 1, user: 'u'}), '')
  })
})
