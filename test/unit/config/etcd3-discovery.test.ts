/**
 * etcd3.srv / discovery_srv / srv_domain / srv_suffix and etcd3.proxy / use_proxies in the
 * configuration: accepted as Patroni accepts them (patroni/dcs/etcd.py get_etcd_client,
 * _get_machines_cache_from_config), with the endpoints the adapter is handed.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {validateLocalConfig} from '../../../src/config/schema'
import {runValidateConfig} from '../../../src/config/validate-command'
import {loadCtlContext} from '../../../src/ctl/context'
import {etcd3SectionOf} from '../../../src/wiring/etcd'

const base = {
  scope: 'demo',
  name: 'node1',
  restapi: {listen: '10.0.0.1:8008', connect_address: '10.0.0.1:8008'},
  postgresql: {
    listen: '10.0.0.1:5432',
    connect_address: '10.0.0.1:5432',
    data_dir: '/var/lib/hactl/demo',
    authentication: {superuser: {username: 'postgres'}, replication: {username: 'replicator', password: 'x'}},
  },
}
const withEtcd = (etcd3: Record<string, unknown>) => validateLocalConfig({...base, etcd3})
const errors = (v: ReturnType<typeof validateLocalConfig>) => v.issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`)
const warnings = (v: ReturnType<typeof validateLocalConfig>) => v.issues.filter((i) => i.severity === 'warning').map((i) => `${i.path}: ${i.message}`)

describe('etcd3 endpoint sources in the configuration', () => {
  it('srv alone is valid, without warnings, and leaves no static endpoint (the adapter resolves them)', () => {
    const v = withEtcd({srv: 'example.com', srv_suffix: 'prod'})
    assert.deepEqual(errors(v), [])
    assert.deepEqual(warnings(v), [])
    assert.equal(v.config?.etcd3?.srv, 'example.com')
    assert.equal(v.config?.etcd3?.srv_suffix, 'prod')
    assert.deepEqual(v.config?.etcd3?.endpoints, [])
  })

  for (const alias of ['discovery_srv', 'srv_domain']) {
    it(`${alias} is srv under Patroni's other name`, () => {
      const v = withEtcd({[alias]: 'example.com'})
      assert.deepEqual(errors(v), [])
      assert.deepEqual(warnings(v), [])
      assert.equal(v.config?.etcd3?.srv, 'example.com')
    })
  }

  it('srv with hosts keeps the hosts as the fallback endpoints', () => {
    const v = withEtcd({srv: 'example.com', hosts: ['10.0.0.5:2379']})
    assert.deepEqual(errors(v), [])
    assert.deepEqual(v.config?.etcd3?.endpoints, ['http://10.0.0.5:2379'])
  })

  it('srv_suffix alone names no endpoint: refused, as Patroni refuses to start', () => {
    const v = withEtcd({srv_suffix: 'prod'})
    assert.deepEqual(errors(v), ['etcd3: needs the etcd endpoints: set hosts (a list of host:port), host, url, srv (a DNS domain with SRV records) or proxy'])
  })

  it('srv_suffix without srv beside hosts: a warning that it is ignored', () => {
    const v = withEtcd({hosts: '10.0.0.5:2379', srv_suffix: 'prod'})
    assert.deepEqual(errors(v), [])
    assert.deepEqual(warnings(v), ['etcd3.srv_suffix: is ignored without etcd3.srv'])
  })

  it('an empty srv is refused naming the key', () => {
    const v = withEtcd({srv: ''})
    assert.ok(errors(v).some((e) => e.startsWith('etcd3.srv: ')), errors(v).join('\n'))
  })

  it('proxy is the only endpoint, its scheme the protocol; other sources beside it are named in a warning', () => {
    const v = withEtcd({proxy: 'https://10.0.0.9:23790', hosts: '10.0.0.5:2379', srv: 'example.com', protocol: 'http'})
    assert.deepEqual(errors(v), [])
    assert.deepEqual(v.config?.etcd3?.endpoints, ['https://10.0.0.9:23790'])
    assert.equal(v.config?.etcd3?.scheme, 'https')
    assert.deepEqual(warnings(v), ['etcd3.proxy: is the only etcd endpoint used, as in Patroni: hosts, srv ignored'])
  })

  it('proxy alone: no warning; a proxy that is no URL is refused naming the key', () => {
    const ok = withEtcd({proxy: 'http://10.0.0.9:23790'})
    assert.deepEqual([...errors(ok), ...warnings(ok)], [])
    const bad = withEtcd({proxy: '10.0.0.9:23790'})
    assert.ok(errors(bad).some((e) => e.startsWith('etcd3.proxy: ')), errors(bad).join('\n'))
  })

  it('use_proxies is accepted without a warning (hactl never swaps the endpoints for the member list)', () => {
    const v = withEtcd({hosts: '10.0.0.5:2379', use_proxies: true})
    assert.deepEqual([...errors(v), ...warnings(v)], [])
  })
})

describe('hactl agent --validate-config with etcd3: {srv: example.com}', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-srv-config-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('exits 0 with no error and no warning', () => {
    const file = join(dir, 'srv.yml')
    writeFileSync(file, [
      'scope: demo', 'name: node1',
      'restapi: {listen: 10.0.0.1:8008, connect_address: 10.0.0.1:8008}',
      'etcd3:', '  srv: example.com',
      'postgresql:', '  listen: 10.0.0.1:5432', '  connect_address: 10.0.0.1:5432', '  data_dir: /var/lib/hactl/demo',
      '  authentication: {superuser: {username: postgres}, replication: {username: replicator, password: x}}', '',
    ].join('\n'))
    let out = ''
    let err = ''
    const code = runValidateConfig(file, {}, {out: (s) => (out += s), err: (s) => (err += s)})
    assert.equal(err, '')
    assert.equal(code, 0)
    assert.match(out, /^configuration OK: .*srv\.yml \(scope demo, member node1\)\n$/)
  })
})

describe('the ctl commands hand srv and proxy to the etcd3 adapter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-srv-ctl-'))
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('srv (under an alias) with its suffix, and no static endpoint', () => {
    const file = join(dir, 'srv.yml')
    writeFileSync(file, 'scope: demo\netcd3:\n  srv_domain: example.com\n  srv_suffix: prod\n')
    const section = etcd3SectionOf(loadCtlContext({'config-file': file}, {}))
    assert.equal(section.srv, 'example.com')
    assert.equal(section.srv_suffix, 'prod')
    assert.equal(section.hosts, undefined)
  })

  it('proxy', () => {
    const file = join(dir, 'proxy.yml')
    writeFileSync(file, 'scope: demo\netcd3:\n  proxy: http://10.0.0.9:23790\n')
    const section = etcd3SectionOf(loadCtlContext({'config-file': file}, {}))
    assert.equal(section.proxy, 'http://10.0.0.9:23790')
    assert.deepEqual(section.hosts, ['http://10.0.0.9:23790'])
  })
})
