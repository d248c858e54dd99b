/**
 * Real Patroni configurations from the seed documents (test/fixtures/config/seeds, each file says
 * where it was extracted from) must load without errors.
 */
import assert from 'node:assert/strict'
import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import {ConfigError, loadConfig, loadCtlConfig, parseYamlText} from '../../../src/config/load'
import {validateLocalConfig} from '../../../src/config/schema'

const SEEDS = join(__dirname, '../../fixtures/config/seeds')
const seed = (f: string) => join(SEEDS, f)
const tmp = mkdtempSync(join(tmpdir(), 'hactl-seeds-'))
after(() => rmSync(tmp, {recursive: true, force: true}))

describe('seed configs', () => {
  for (const f of ['004-p1-config.yml', '004-p1-debian-config.yml']) {
    it(`${f} is valid, with Patroni defaults applied`, () => {
      const {config, warnings} = loadConfig(seed(f), {})
      assert.equal(config.scope, 'acme')
      assert.equal(config.namespace, '/service')
      assert.deepEqual(config.etcd3?.endpoints, ['http://10.0.0.11:2379', 'http://10.0.0.12:2379', 'http://10.0.0.13:2379'])
      assert.equal(config.restapi.listen.port, 8008)
      assert.equal(config.restapi.request_queue_size, 5)
      assert.equal(config.postgresql.listen.host, '10.0.0.21')
      assert.equal(config.postgresql.authentication.replication.username, 'replicator')
      assert.deepEqual(config.postgresql.create_replica_methods, ['basebackup'])
      assert.equal(config.postgresql.pg_ctl_timeout, 60)
      assert.equal(config.bootstrap?.dcs.ttl, 30)
      assert.equal(config.bootstrap?.dcs.maximum_lag_on_failover, 1048576)
      assert.equal(config.bootstrap?.dcs.postgresql.use_slots, true)
      assert.equal(config.tags.failover_priority, 1)
      assert.equal(config.tags['no_loadbalance'], false) // custom tag, kept
      // YAML 1.1 like PyYAML: an unquoted `on` is a boolean
      assert.equal(config.postgresql.parameters['logging_collector'], true)
      const warned = warnings.map((w) => w.path).sort()
      assert.deepEqual(warned, ['tags.no_loadbalance'])
    })
  }

  it('001 (Russian course notes) parses; its only error is the etcd v2 section, etcd3 makes it valid', () => {
    const r = validateLocalConfig(parseYamlText(readFileSync(seed('001-patroni.yml'), 'utf8'), '001').value)
    const errors = r.issues.filter((i) => i.severity === 'error')
    assert.deepEqual(errors.map((e) => e.path), ['etcd'])
    assert.match(errors[0]?.message ?? '', /etcd v3 only.*etcd3:/)

    const raw = parseYamlText(readFileSync(seed('001-patroni.yml'), 'utf8'), '001').value as Record<string, unknown>
    raw['etcd3'] = raw['etcd']
    delete raw['etcd']
    const fixed = validateLocalConfig(raw)
    assert.deepEqual(fixed.issues.filter((i) => i.severity === 'error'), [])
    const cfg = fixed.config!
    assert.equal(cfg.namespace, '/db/')
    assert.deepEqual(cfg.etcd3?.endpoints, ['http://hostname1:2379', 'http://hostname2:2379', 'http://hostname3:2379'])
    assert.deepEqual(cfg.postgresql.listen.hosts, ['127.0.0.1', '192.168.1.11'])
    assert.equal(cfg.restapi.connect_address.host, '192.168.1.11')
    assert.equal(cfg.tags.nofailover, false)
    assert.deepEqual(cfg.bootstrap?.initdb, [{encoding: 'UTF8'}])
    assert.deepEqual(
      fixed.issues.filter((i) => i.severity === 'warning').map((i) => i.path).sort(),
      ['bootstrap.pg_hba', 'bootstrap.users'],
    )
  })

  it('patronictl configs (scope only, scope + etcd3) load in ctl mode and not as a node config', () => {
    const ctl = loadCtlConfig(seed('004-acme-ctl.yml'), {})
    assert.equal(ctl.config.scope, 'acme')
    assert.equal(ctl.config.etcd3?.endpoints?.length, 3)
    assert.equal(loadCtlConfig(seed('004-acme-ctl-minimal.yml'), {}).config.scope, 'acme')
    assert.throws(() => loadConfig(seed('004-acme-ctl.yml'), {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError)
      assert.deepEqual(e.issues.filter((i) => i.severity === 'error').map((i) => i.path), ['name', 'restapi', 'postgresql'])
      return true
    })
  })

  describe('004 fragments layered over p1 as a config directory', () => {
    const cases: Array<[string, string[], (cfg: ReturnType<typeof loadConfig>['config']) => void]> = [
      ['etcd3-auth.yml', [], (c) => assert.equal(c.etcd3?.username, 'patroniaccess')],
      ['restapi-allowlist.yml', [], (c) => assert.equal(c.restapi.allowlist_include_members, true)],
      ['slots.yml', [], (c) => assert.deepEqual(Object.keys(c.bootstrap?.dcs.slots ?? {}), ['replication_logique', 'standby_cluster'])],
      ['custom-tags.yml', [], (c) => assert.equal(c.tags['montag'], 'mon tag a moi')],
      ['initdb.yml', [], (c) => assert.deepEqual(c.bootstrap?.initdb, ['data-checksums', {encoding: 'UTF8'}, {locale: 'UTF8'}])],
      ['postgresql-basic.yml', [], (c) => assert.deepEqual(c.postgresql.listen.hosts, ['*'])],
      ['authentication.yml', [], (c) => assert.equal(c.postgresql.authentication.rewind?.username, 'rewinder')],
      ['replica-methods.yml', [], (c) => assert.deepEqual(c.postgresql.create_replica_methods, ['pgbackrest', 'basebackup'])],
      ['watchdog-required.yml', [], (c) => assert.deepEqual(c.watchdog, {mode: 'required', driver: 'default', device: '/dev/watchdog', safety_margin: 5})],
      ['pgbackrest-bootstrap.yml', [], (c) => assert.deepEqual((c.bootstrap as Record<string, unknown> | undefined)?.['pgbackrest'], {
        command: '/bin/bash -c "pgbackrest --stanza=test restore"', keep_existing_recovery_conf: true, no_params: true,
      })],
    ]
    for (const [fragment, errorPaths, check] of cases) {
      it(`${fragment}: ${errorPaths.length === 0 ? 'valid' : `refused at ${errorPaths.join(', ')}`}`, () => {
        const dir = mkdtempSync(join(tmp, 'frag-'))
        copyFileSync(seed('004-p1-config.yml'), join(dir, '00-base.yml'))
        copyFileSync(join(SEEDS, '004-fragments', fragment), join(dir, '10-fragment.yaml'))
        if (errorPaths.length === 0) {
          check(loadConfig(dir, {}).config)
        } else {
          assert.throws(() => loadConfig(dir, {}), (e: unknown) => {
            assert.ok(e instanceof ConfigError)
            assert.deepEqual(e.issues.filter((i) => i.severity === 'error').map((i) => i.path), errorPaths)
            return true
          })
        }
      })
    }
  })

  describe('dynamic configs from the seeds', () => {
    it('show-config output and the edit-config buffer are valid', () => {
      for (const f of ['004-show-config.yml', '004-edit-config.yml']) {
        const r = parseDynamicConfig(parseYamlText(readFileSync(join(SEEDS, 'dynamic', f), 'utf8'), f).value)
        assert.equal(r.valid, true, f)
        assert.deepEqual(r.issues, [], f)
        assert.equal(r.config.ttl, 30)
      }
    })
    it('the PATCH /config body: legacy master_start_timeout read, misspelt use_slot warned about', () => {
      const r = parseDynamicConfig(readFileSync(join(SEEDS, 'dynamic', '004-patch-config.json'), 'utf8'))
      assert.equal(r.valid, true)
      assert.equal(r.config.primary_start_timeout, 300)
      assert.equal(r.config.postgresql.use_pg_rewind, false)
      assert.deepEqual(r.issues.map((i) => [i.severity, i.path]), [['warning', 'postgresql.use_slot']])
    })
    it('the standby cluster config is typed and accepted without issues', () => {
      const r = parseDynamicConfig(readFileSync(join(SEEDS, 'dynamic', '004-standby-config.json'), 'utf8'))
      assert.deepEqual(r.config.standby_cluster, {host: '10.20.89.3', port: 5432})
      assert.equal(r.valid, true)
      assert.deepEqual(r.issues, [])
    })
  })
})
