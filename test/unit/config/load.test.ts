import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {isHactlError} from '../../../src/errors'
import {buildEnvConfig, parseEnvList} from '../../../src/config/env'
import {ConfigError, deepMerge, loadConfig, readRawConfig, resolveCtlConfigPath} from '../../../src/config/load'

const MINIMAL = join(__dirname, '../../fixtures/config/minimal.yml')
const minimalText = readFileSync(MINIMAL, 'utf8')
const tmp = mkdtempSync(join(tmpdir(), 'hactl-load-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 'dir-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

describe('config directory', () => {
  it('merges *.yml and *.yaml in sorted order, later files winning, other files ignored', () => {
    const dir = dirWith({
      '10-base.yml': minimalText,
      '20-tags.yaml': 'tags:\n  nosync: true\n  clonefrom: true\nbootstrap:\n  dcs:\n    ttl: 40\n',
      '30-override.yml': 'tags:\n  nosync: false\nname: node9\n',
      '99-ignored.yml.bak': 'name: wrong\n',
      'README': 'name: wrong\n',
    })
    const {config, sources} = loadConfig(dir, {})
    assert.equal(config.name, 'node9')
    assert.equal(config.tags.nosync, false)
    assert.equal(config.tags.clonefrom, true)
    assert.equal(config.bootstrap?.dcs.ttl, 40)
    assert.deepEqual(sources.map((s) => s.slice(dir.length + 1)), ['10-base.yml', '20-tags.yaml', '30-override.yml'])
  })

  it('a null value in a later file removes the key (Patroni patch_config)', () => {
    const dir = dirWith({'1.yml': minimalText + 'tags:\n  nosync: true\n', '2.yml': 'tags:\n  nosync:\n'})
    assert.equal(loadConfig(dir, {}).config.tags.nosync, undefined)
  })

  it('deepMerge replaces lists and scalars and merges mappings', () => {
    assert.deepEqual(deepMerge({a: {b: 1, c: [1, 2]}, d: 1}, {a: {c: [3]}, d: {e: 1}}), {a: {b: 1, c: [3]}, d: {e: 1}})
  })
})

describe('errors while reading', () => {
  it('a missing path is CONFIG_NOT_FOUND with exit code 2', () => {
    assert.throws(() => loadConfig(join(tmp, 'nope.yml'), {}), (e: unknown) => isHactlError(e, 'CONFIG_NOT_FOUND') && e.exitCode === 2)
  })

  it('YAML syntax errors give file, line and column, for every file of a directory', () => {
    const dir = dirWith({'a.yml': 'scope: x\nname: [unclosed\n', 'b.yml': 'tags:\n  a: 1\n b: 2\n'})
    assert.throws(
      () => readRawConfig(dir, {}),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError)
        const paths = e.issues.map((i) => i.path)
        assert.ok(paths.some((p) => /a\.yml:\d+:\d+$/.test(p)), paths.join())
        assert.ok(paths.some((p) => /b\.yml:3:\d+$/.test(p)), paths.join())
        return true
      },
    )
  })

  it('a file holding a list is refused', () => {
    const dir = dirWith({'a.yml': '- scope\n- name\n'})
    assert.throws(() => readRawConfig(dir, {}), ConfigError)
  })
})

describe('PATRONI_* environment', () => {
  it('env values win over the file', () => {
    const env = {
      PATRONI_NAME: 'from-env',
      PATRONI_RESTAPI_LISTEN: '10.1.1.1:8010',
      PATRONI_SUPERUSER_PASSWORD: 'env-super-pw',
      PATRONI_REPLICATION_USERNAME: 'repl_env',
      PATRONI_ETCD3_HOSTS: "'10.0.0.1:2379','10.0.0.2:2379'",
      PATRONI_ETCD3_PROTOCOL: 'https',
      PATRONI_POSTGRESQL_DATA_DIR: '/data/env',
      PATRONI_LOG_LEVEL: 'debug',
      PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'yes',
    }
    const {config, sources} = loadConfig(MINIMAL, env)
    assert.equal(config.name, 'from-env')
    assert.equal(config.scope, 'demo') // untouched by env
    assert.deepEqual(config.restapi.listen, {host: '10.1.1.1', hosts: ['10.1.1.1'], port: 8010})
    assert.equal(config.postgresql.authentication.superuser.password, 'env-super-pw')
    assert.equal(config.postgresql.authentication.superuser.username, 'postgres') // merged, not replaced
    assert.equal(config.postgresql.authentication.replication.username, 'repl_env')
    assert.deepEqual(config.etcd3?.endpoints, ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'])
    assert.equal(config.postgresql.data_dir, '/data/env')
    assert.equal(config.log?.level, 'DEBUG')
    assert.equal(config.restapi.allowlist_include_members, true)
    assert.deepEqual(sources.slice(-1), ['environment'])
  })

  it('env-only config when there is no path', () => {
    const env = {
      PATRONI_SCOPE: 's1',
      PATRONI_NAME: 'n1',
      PATRONI_RESTAPI_LISTEN: '10.0.0.5:8008',
      PATRONI_RESTAPI_CONNECT_ADDRESS: '10.0.0.5:8008',
      PATRONI_ETCD3_HOSTS: '10.0.0.1:2379,10.0.0.2:2379',
      PATRONI_POSTGRESQL_LISTEN: '0.0.0.0:5432',
      PATRONI_POSTGRESQL_CONNECT_ADDRESS: '10.0.0.5:5432',
      PATRONI_POSTGRESQL_DATA_DIR: '/pg',
      PATRONI_SUPERUSER_USERNAME: 'postgres',
      PATRONI_REPLICATION_USERNAME: 'replicator',
    }
    const {config, sources} = loadConfig(undefined, env)
    assert.equal(config.scope, 's1')
    assert.deepEqual(config.etcd3?.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'])
    assert.deepEqual(sources, ['environment'])
  })

  it('PATRONI_CONFIGURATION is used without a path, and the other variables are then ignored', () => {
    const {config, sources} = loadConfig(undefined, {PATRONI_CONFIGURATION: minimalText, PATRONI_NAME: 'ignored'})
    assert.equal(config.name, 'node1')
    assert.deepEqual(sources, ['PATRONI_CONFIGURATION'])
  })

  it('a YAML error in PATRONI_CONFIGURATION names the variable', () => {
    assert.throws(
      () => loadConfig(undefined, {PATRONI_CONFIGURATION: 'scope: [x\n'}),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path.startsWith('PATRONI_CONFIGURATION:')),
    )
  })

  it('bad env values are reported under the config key and name the variable', () => {
    assert.throws(
      () => loadConfig(MINIMAL, {PATRONI_RESTAPI_LISTEN: '10.0.0.1:99999', PATRONI_LOG_FILE_NUM: 'many'}),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError)
        const byPath = new Map(e.issues.map((i) => [i.path, i]))
        assert.equal(byPath.get('restapi.listen')?.source, 'PATRONI_RESTAPI_LISTEN')
        assert.match(byPath.get('log.file_num')?.message ?? '', /PATRONI_LOG_FILE_NUM must be an integer/)
        return true
      },
    )
  })

  it('maps every documented family of variables', () => {
    const {config} = buildEnvConfig({
      PATRONI_NAMESPACE: '/ns',
      PATRONI_LOGLEVEL: 'WARNING', // legacy name
      PATRONI_LOG_FORMAT: 'asctime, levelname', // no %(...): a list (json logs)
      PATRONI_LOG_STATIC_FIELDS: 'app: patroni',
      PATRONI_LOG_MAX_QUEUE_SIZE: '2000',
      PATRONI_RESTAPI_USERNAME: 'admin',
      PATRONI_RESTAPI_PASSWORD: 'apipw',
      PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: "X-Frame-Options: 'SAMEORIGIN'",
      PATRONI_RESTAPI_ALLOWLIST: '10.0.0.0/8, 192.168.0.1',
      PATRONI_RESTAPI_REQUEST_QUEUE_SIZE: '10',
      PATRONI_CTL_INSECURE: 'on',
      PATRONI_CTL_USERNAME: 'ctl',
      PATRONI_POSTGRESQL_BIN_PG_CTL: 'pg_ctl15',
      PATRONI_POSTGRESQL_BIN_PG_ISREADY: 'pg_isready15',
      PATRONI_REWIND_USERNAME: 'rewinder',
      PATRONI_REPLICATION_SSLMODE: 'verify-full',
      PATRONI_ETCD3_PORT: '2379',
      PATRONI_ETCD3_USE_PROXIES: 'false',
      PATRONI_ETCD3_PASSWORD: 'etcdpw',
      PATRONI_CITUS_GROUP: '1',
      PATRONI_CITUS_HOST: 'ignored-for-citus',
      PATRONI_ADMIN_PASSWORD: 'adminpw',
      PATRONI_ADMIN_OPTIONS: 'createrole,createdb',
      PATRONI_EMPTY_HOST: '',
      OTHER_VAR: 'x',
    })
    assert.deepEqual(config, {
      namespace: '/ns',
      log: {level: 'WARNING', format: ['asctime', 'levelname'], static_fields: {app: 'patroni'}, max_queue_size: 2000},
      restapi: {
        authentication: {username: 'admin', password: 'apipw'},
        http_extra_headers: {'X-Frame-Options': 'SAMEORIGIN'},
        allowlist: ['10.0.0.0/8', '192.168.0.1'],
        request_queue_size: 10,
      },
      ctl: {insecure: true, authentication: {username: 'ctl'}},
      postgresql: {
        bin_name: {pg_ctl: 'pg_ctl15', pg_isready: 'pg_isready15'},
        authentication: {rewind: {username: 'rewinder'}, replication: {sslmode: 'verify-full'}},
      },
      etcd3: {password: 'etcdpw', port: 2379, use_proxies: false},
      citus: {group: 1},
      bootstrap: {users: {ADMIN: {password: 'adminpw', options: ['createrole', 'createdb']}}},
    })
  })

  it('PATRONI_LOG_LEVEL wins over the legacy PATRONI_LOGLEVEL', () => {
    assert.deepEqual(buildEnvConfig({PATRONI_LOGLEVEL: 'ERROR', PATRONI_LOG_LEVEL: 'INFO'}).config, {log: {level: 'INFO'}})
  })

  it('parses env lists like Patroni (bare, quoted, YAML flow or block)', () => {
    assert.deepEqual(parseEnvList('a:2379,b:2379'), ['a:2379', 'b:2379'])
    assert.deepEqual(parseEnvList("'a:1','b:2'"), ['a:1', 'b:2'])
    assert.deepEqual(parseEnvList('[x, y]'), ['x', 'y'])
    assert.deepEqual(parseEnvList('- x\n- y'), ['x', 'y'])
    assert.equal(parseEnvList('[unclosed'), undefined)
  })
})

describe('resolveCtlConfigPath (patronictl -c semantics)', () => {
  it('flag > PATRONICTL_CONFIG_FILE > ~/.config/patroni/patronictl.yaml', () => {
    assert.deepEqual(resolveCtlConfigPath('/etc/x.yml', {PATRONICTL_CONFIG_FILE: '/y.yml'}, '/home/u'), {path: '/etc/x.yml', explicit: true})
    assert.deepEqual(resolveCtlConfigPath(undefined, {PATRONICTL_CONFIG_FILE: '/y.yml'}, '/home/u'), {path: '/y.yml', explicit: true})
    assert.deepEqual(resolveCtlConfigPath(undefined, {}, '/home/u'), {path: '/home/u/.config/patroni/patronictl.yaml', explicit: false})
    assert.deepEqual(resolveCtlConfigPath(undefined, {XDG_CONFIG_HOME: '/xdg'}, '/home/u'), {path: '/xdg/patroni/patronictl.yaml', explicit: false})
  })
})

describe('directory scanning', () => {
  it('does not descend into sub-directories named *.yml', () => {
    const dir = dirWith({'a.yml': minimalText})
    mkdirSync(join(dir, 'b.yml'))
    assert.equal(loadConfig(dir, {}).sources.length, 1)
  })
})

describe('create_replica_methods', () => {
  it("a custom method's section is kept for the agent, options and all", () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-cfg-'))
    const file = join(dir, 'c.yml')
    const base = readFileSync(join(__dirname, '../../fixtures/config/minimal.yml'), 'utf8')
    writeFileSync(file, base.replace('  data_dir: /var/lib/hactl/demo\n', '  data_dir: /var/lib/hactl/demo\n  create_replica_methods: [wal_g, basebackup]\n  wal_g:\n    command: wal-g-restore --fast\n    no_leader: true\n    threads: 4\n'))
    const {config, warnings} = loadConfig(file, {})
    assert.deepEqual((config.postgresql as Record<string, unknown>)['wal_g'], {command: 'wal-g-restore --fast', no_leader: true, threads: 4})
    assert.deepEqual(config.postgresql.create_replica_methods, ['wal_g', 'basebackup'])
    assert.deepEqual(warnings.map((w) => w.path).filter((p) => p.includes('wal_g')), [])
  })

  it('a method section that only standby_cluster.create_replica_methods names is kept; an unknown section without command is warned about', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-cfg-'))
    const file = join(dir, 'c.yml')
    const base = readFileSync(join(__dirname, '../../fixtures/config/minimal.yml'), 'utf8')
    writeFileSync(file, base.replace('  data_dir: /var/lib/hactl/demo\n', '  data_dir: /var/lib/hactl/demo\n  from_remote:\n    command: restore-from-remote\n    no_params: true\n  typo_section:\n    threads: 4\n'))
    const {config, warnings} = loadConfig(file, {})
    assert.deepEqual((config.postgresql as Record<string, unknown>)['from_remote'], {command: 'restore-from-remote', no_params: true})
    assert.equal((config.postgresql as Record<string, unknown>)['typo_section'], undefined)
    assert.deepEqual(warnings.map((w) => w.path).filter((p) => p.includes('_section') || p.includes('from_remote')), ['postgresql.typo_section'])
  })
})

describe('create_replica_method (Patroni\'s singular alias) and custom bootstrap methods', () => {
  const base = readFileSync(join(__dirname, '../../fixtures/config/minimal.yml'), 'utf8')
  const load = (pgExtra: string, top = '') => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-cfg-'))
    const file = join(dir, 'c.yml')
    writeFileSync(file, base.replace('  data_dir: /var/lib/hactl/demo\n', `  data_dir: /var/lib/hactl/demo\n${pgExtra}`) + top)
    return loadConfig(file, {})
  }
  it("Debian's create_replica_method list and its method section are kept", () => {
    const {config, warnings} = load('  create_replica_method:\n    - pg_clonecluster\n  pg_clonecluster:\n    command: /usr/share/patroni/pg_clonecluster_patroni\n')
    assert.deepEqual(config.postgresql.create_replica_methods, ['pg_clonecluster'])
    assert.deepEqual((config.postgresql as Record<string, unknown>)['pg_clonecluster'], {command: '/usr/share/patroni/pg_clonecluster_patroni'})
    assert.deepEqual(warnings.map((w) => w.path).filter((p) => p.includes('clone') || p.includes('replica')), [])
  })
  it('create_replica_methods wins over create_replica_method, with a warning; an empty one falls back to it', () => {
    const both = load('  create_replica_methods: [basebackup]\n  create_replica_method: [copy]\n  copy: {command: cp}\n')
    assert.deepEqual(both.config.postgresql.create_replica_methods, ['basebackup'])
    assert.ok(both.warnings.some((w) => w.path === 'postgresql.create_replica_method'))
    const empty = load('  create_replica_methods: []\n  create_replica_method: [copy]\n  copy: {command: cp}\n')
    assert.deepEqual(empty.config.postgresql.create_replica_methods, ['copy'])
    assert.deepEqual(load('').config.postgresql.create_replica_methods, ['basebackup'])
  })
  it('bootstrap.method with a command section is accepted and kept; without a command it warns (initdb is used)', () => {
    const ok = load('', 'bootstrap:\n  method: pg_createcluster\n  pg_createcluster:\n    command: /usr/share/patroni/pg_createcluster_patroni\n    extra_opt: 1\n')
    assert.deepEqual((ok.config.bootstrap as Record<string, unknown>)['pg_createcluster'], {command: '/usr/share/patroni/pg_createcluster_patroni', extra_opt: 1})
    assert.deepEqual(ok.warnings.filter((w) => w.path.startsWith('bootstrap')), [])
    const none = load('', 'bootstrap:\n  method: restore\n')
    assert.ok(none.warnings.some((w) => w.path === 'bootstrap.method' && /initdb is used/.test(w.message)))
  })
})
