import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {parse} from 'yaml'
import {apiPort, choosePort, CreateConfigError, dcsEndpoints, dcsSection, dcsType, etcd3SectionFromEndpoints} from '../../../src/createconfig/generate'
import {planCreateConfig, runCreateConfig, type CreateConfigSystem} from '../../../src/wiring/createconfig'
import {loadVipConfig} from '../../../src/vip/config'

function fakeSystem(files: Record<string, string>, o: {clusters?: string; route?: string} = {}): CreateConfigSystem & {written: Record<string, string>} {
  const written: Record<string, string> = {}
  return {
    written,
    readFile: (p) => written[p] ?? files[p],
    exists: (p) => p in files || p in written || p === '/usr/lib/postgresql/15/bin/initdb',
    run: (file, args) => {
      if (file === 'pg_lsclusters') return o.clusters ?? ''
      if (file === 'ip' && args.join(' ') === '-4 route get 8.8.8.8') return o.route
      return undefined
    },
    hostname: () => 'db1',
    interfaces: () => [{name: 'eth0', address: '10.1.2.3', prefix: 24}],
    writeFile: (p, t) => void (written[p] = t),
  }
}

const DCS = {'/etc/patroni/dcs.yml': '#comment\n\netcd3:\n  hosts:\n  - 10.1.2.10:2379\n'}

describe('createconfig: the script\'s rules', () => {
  test('port: given, existing, next after the highest, 5432', () => {
    assert.equal(choosePort({given: 5555, inUse: [5432]}), 5555)
    assert.throws(() => choosePort({given: 5432, inUse: [5432]}), /Port 5432 already in use/)
    assert.equal(choosePort({given: 5432, existing: 5432, inUse: [5432]}), 5432)
    assert.equal(choosePort({existing: 5433, inUse: [5432, 5433, 5440]}), 5433)
    assert.equal(choosePort({inUse: [5432, 5440]}), 5441)
    assert.equal(choosePort({inUse: []}), 5432)
    assert.equal(apiPort(5432), 8008)
    assert.equal(apiPort(5433), 8009)
  })

  test('dcs.yml: comments and blank lines dropped; type and endpoints as the script reads them', () => {
    const text = '# c\netcd3:\n  #hosts: x\n\n  hosts:\n  - 10.0.0.1:2379\n  - 10.0.0.2:2379\n'
    assert.equal(dcsSection(text), 'etcd3:\n  hosts:\n  - 10.0.0.1:2379\n  - 10.0.0.2:2379')
    assert.equal(dcsType(text), 'etcd3')
    assert.equal(dcsEndpoints(text), 'http://10.0.0.1:2379,http://10.0.0.2:2379')
    assert.equal(dcsEndpoints('etcd3:\n  host: 10.0.0.9:2379\n'), 'http://10.0.0.9:2379')
  })

  test('--endpoint without dcs.yml: an etcd3 section', () => {
    assert.deepEqual(parse(etcd3SectionFromEndpoints('http://10.0.0.1:2379, 10.0.0.2')), {etcd3: {hosts: ['10.0.0.1:2379', '10.0.0.2:2379']}})
    assert.deepEqual(parse(etcd3SectionFromEndpoints('https://e1:2379')), {etcd3: {hosts: ['e1:2379'], protocol: 'https'}})
    assert.throws(() => etcd3SectionFromEndpoints('ftp://x'), CreateConfigError)
    assert.throws(() => etcd3SectionFromEndpoints(' , '), /names no etcd endpoint/)
  })

  test('host address and network from the default route, else from the interfaces', () => {
    const viaRoute = fakeSystem(DCS, {route: '8.8.8.8 via 10.1.2.1 dev eth0 src 10.1.2.3 uid 0\n    cache\n'})
    const a = parse(planCreateConfig({version: '15', cluster: 'main'}, viaRoute).configText)
    assert.equal(a.restapi.connect_address, '10.1.2.3:8008')
    assert.equal(a.postgresql.connect_address, '10.1.2.3:5432')
    assert.ok(a.bootstrap.dcs.postgresql.pg_hba.includes('host    replication     all             10.1.2.3/24               md5'))
    // no route (no default gateway): the first non-loopback IPv4 interface
    const b = parse(planCreateConfig({version: '15', cluster: 'main'}, fakeSystem(DCS)).configText)
    assert.equal(b.restapi.listen, '10.1.2.3:8008')
  })

  test('data_directory of createcluster.conf sets the data directory base', () => {
    const sys = fakeSystem({...DCS, '/etc/postgresql-common/createcluster.conf': "data_directory = '/srv/pg/%v/%c'\n"})
    const c = parse(planCreateConfig({version: '15', cluster: 'main', hostip: '10.0.0.1', network: '10.0.0.0/8'}, sys).configText)
    assert.equal(c.postgresql.data_dir, '/srv/pg/15/main')
    assert.equal(c.postgresql.config_dir, '/etc/postgresql/15/main')
  })

  test('an existing cluster keeps its port', () => {
    const sys = fakeSystem(DCS, {clusters: '15 main 5434 online postgres /var/lib/postgresql/15/main /var/log/x\n15 other 5432 down postgres /d /l\n'})
    const c = parse(planCreateConfig({version: '15', cluster: 'main', hostip: '10.0.0.1', network: '10.0.0.0/8'}, sys).configText)
    assert.equal(c.postgresql.listen, '*:5434')
    assert.equal(c.restapi.listen, '10.0.0.1:8010')
  })

  test('--vip writes a VIP file that hactl vip reads', () => {
    const sys = fakeSystem(DCS, {route: '8.8.8.8 via 10.1.2.1 dev eth0 src 10.1.2.3 uid 0\n'})
    const out: string[] = []
    const code = runCreateConfig({version: '15', cluster: 'main', vip: '10.1.2.100'}, {out: (s) => out.push(s), err: (s) => out.push(s)}, sys)
    assert.equal(code, 0, out.join(''))
    const vip = sys.written['/etc/patroni/15-main.vip']
    assert.ok(vip)
    const loaded = loadVipConfig({flags: {config: '/etc/patroni/15-main.vip'}, env: {}, readFile: () => vip, hostname: () => 'other'})
    assert.deepEqual(loaded.errors, [])
    assert.equal(loaded.config?.ip, '10.1.2.100')
    assert.equal(loaded.config?.netmask, 24)
    assert.equal(loaded.config?.triggerKey, '/postgresql-common/15-main/leader')
    assert.equal(loaded.config?.triggerValue, 'db1')
    assert.equal(loaded.config?.interface, 'eth0')
    assert.equal(loaded.config?.dcsType, 'etcd')
    assert.deepEqual(loaded.config?.dcsEndpoints, ['http://10.1.2.10:2379'])
    const cfg = parse(sys.written['/etc/patroni/15-main.yml']!)
    assert.equal(cfg.postgresql.listen, '*:5432')
  })

  test('refusals name the problem', () => {
    const sys = fakeSystem({})
    assert.throws(() => planCreateConfig({version: '15', cluster: 'main', hostip: '1.1.1.1', network: '1.1.1.1/32'}, sys), /DCS not configured yet, edit \/etc\/patroni\/dcs\.yml/)
    assert.throws(() => planCreateConfig({version: '15', cluster: 'a/b'}, sys), /invalid cluster name/)
    assert.throws(() => planCreateConfig({version: '16', cluster: 'main'}, sys), /no initdb program for version 16 found/)
  })
})
