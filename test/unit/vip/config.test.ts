import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {LEGACY_NAMES, VIP_KEYS, envName, loadVipConfig, parseEnvFile, type LoadInput} from '../../../src/vip/config'

const FIX = join(__dirname, '../../fixtures/vip')
const fixture = (name: string) => join(FIX, name)

function load(over: Partial<LoadInput> = {}) {
  return loadVipConfig({flags: {}, env: {}, readFile: (p) => readFileSync(p, 'utf8'), hostname: () => 'host-a', ...over})
}

const MIN = {ip: '10.0.2.123', netmask: '32', interface: 'eth0', 'trigger-key': '/service/main/leader'}

describe('vip config: compatibility files', () => {
  it("reads the seed's /etc/patroni/15-main.vip (legacy VIP_IFACE, quotes, trailing blanks) and masks the password", () => {
    const r = load({flags: {config: fixture('15-main.vip')}})
    assert.deepEqual(r.errors, [])
    const c = r.config!
    assert.equal(c.ip, '192.168.0.99')
    assert.equal(c.netmask, 24)
    assert.equal(c.interface, 'eth0')
    assert.equal(c.triggerKey, '/postgresql/my-cluster/15-main/leader')
    assert.equal(c.triggerValue, 'node-1')
    assert.equal(c.dcsType, 'etcd')
    assert.deepEqual(c.dcsEndpoints, ['http://127.0.0.1:2379'])
    assert.equal(c.etcdUser, 'patroni') // "patroni   " in the file: unquoted values are trimmed
    assert.equal(c.etcdPassword, 'passw0rd')
    assert.ok(r.notices.includes(`Using config from file: ${fixture('15-main.vip')}`))
    assert.ok(r.notices.includes('Parameter "VIP_IFACE" has been deprecated, please use "VIP_INTERFACE" instead'))
    assert.ok(r.dump.includes('\tetcd-password : *****'))
    assert.ok(!r.dump.join('\n').includes('passw0rd'))
    assert.ok(r.dump.includes('\tinterface : eth0'))
  })

  it('the same file works as the environment of the vip-manager@ unit (EnvironmentFile)', () => {
    const {vars} = parseEnvFile(readFileSync(fixture('15-main.vip'), 'utf8'), '15-main.vip')
    const r = load({env: vars})
    assert.deepEqual(r.errors, [])
    assert.equal(r.config!.interface, 'eth0')
    assert.equal(r.config!.triggerValue, 'node-1')
  })

  it("reads a Debian vip.in-style file: old and new names together, equal values accepted", () => {
    const r = load({flags: {config: fixture('debian-vip-in.vip')}})
    assert.deepEqual(r.errors, [])
    const c = r.config!
    assert.deepEqual([c.ip, c.netmask, c.interface, c.triggerKey, c.triggerValue, c.dcsType], ['10.0.2.96', 24, 'ens3', '/postgresql-common/16-main/leader', 'db1', 'etcd'])
    const deprecations = r.notices.filter((n) => n.startsWith('Parameter '))
    assert.deepEqual(deprecations.sort(), ['VIP_ENDPOINT', 'VIP_HOST', 'VIP_IFACE', 'VIP_KEY', 'VIP_MASK', 'VIP_TYPE'].map((n) => `Parameter "${n}" has been deprecated, please use "${envName(LEGACY_NAMES.find((l) => l.env === n)!.key)}" instead`).sort())
    assert.equal(r.notices.filter((n) => n.includes('no conflicting values')).length, 4)
  })

  it("reads upstream's sample YAML (current names, dead hosting-type) with secrets masked", () => {
    const r = load({flags: {config: fixture('vip-manager.yml')}})
    assert.deepEqual(r.errors, [])
    const c = r.config!
    assert.deepEqual(c.dcsEndpoints, ['http://127.0.0.1:2379', 'https://192.168.0.42:2379'])
    assert.equal(c.triggerValue, 'pgcluster_member1')
    assert.equal(c.retryNum, 2)
    assert.equal(c.etcdPassword, "Julian's secret password")
    assert.ok(r.notices.includes('Parameter "hosting-type" has been deprecated, please use "manager-type" instead'))
    const dump = r.dump.join('\n')
    assert.ok(!dump.includes('secret password') && !dump.includes('secret token'), dump)
    assert.ok(r.dump.includes('\tconsul-token : *****'))
    assert.ok(r.dump.includes('\tdcs-endpoints : http://127.0.0.1:2379,https://192.168.0.42:2379'))
    assert.ok(r.warnings.some((w) => w.includes('consul-token')))
  })

  it('reads 0.x YAML keys with one deprecation line each', () => {
    const r = load({flags: {config: fixture('legacy-0x.yml')}})
    assert.deepEqual(r.errors, [])
    const c = r.config!
    assert.deepEqual([c.ip, c.netmask, c.interface, c.triggerKey, c.triggerValue, c.etcdUser, c.etcdPassword], ['192.168.0.123', 24, 'enp0s3', '/service/pgcluster/leader', 'pgcluster_member1', 'patroni', '0x-secret-pw'])
    for (const old of ['key', 'nodename', 'mask', 'iface', 'hosting_type', 'endpoint_type', 'endpoints', 'etcd_user', 'etcd_password', 'retry_num', 'retry_after']) {
      assert.equal(r.notices.filter((n) => n.startsWith(`Parameter "${old}"`)).length, 1, old)
    }
    assert.ok(!r.dump.join('\n').includes('0x-secret-pw'))
  })

  it('reads JSON, with dcs-type patroni defaults (/leader, 200) and one-slash endpoints kept as given', () => {
    const r = load({flags: {config: fixture('patroni.json')}})
    assert.deepEqual(r.errors, [])
    assert.equal(r.config!.dcsType, 'patroni')
    assert.equal(r.config!.triggerKey, '/leader')
    assert.equal(r.config!.triggerValue, '200')
    assert.equal(r.config!.interval, 500)
  })

  it('VIP_CONFIG works like --config', () => {
    const r = load({env: {VIP_CONFIG: fixture('15-main.vip')}})
    assert.equal(r.config?.ip, '192.168.0.99')
  })
})

describe('vip config: precedence flag > env > file > default', () => {
  const file = ['VIP_IP=10.0.0.1', 'VIP_NETMASK=24', 'VIP_INTERFACE=eth-file', 'VIP_TRIGGER_KEY=/k', 'VIP_INTERVAL=300'].join('\n')
  const readFile = () => file
  it('each layer overrides the one below, key by key', () => {
    const r = load({readFile, flags: {config: '/x.vip', interface: 'eth-flag'}, env: {VIP_INTERFACE: 'eth-env', VIP_NETMASK: '16'}})
    assert.deepEqual(r.errors, [])
    assert.equal(r.config!.interface, 'eth-flag')
    assert.equal(r.config!.netmask, 16)
    assert.equal(r.config!.ip, '10.0.0.1')
    assert.equal(r.config!.interval, 300)
    assert.equal(r.config!.retryAfter, 250)
  })
  it('a legacy env name loses to a current flag (no conflict across layers)', () => {
    const r = load({flags: {...MIN, interface: 'eth-flag'}, env: {VIP_IFACE: 'eth-old'}})
    assert.deepEqual(r.errors, [])
    assert.equal(r.config!.interface, 'eth-flag')
  })
  it('defaults: dcs-type etcd, localhost endpoint, hostname as trigger-value, interval 1000, release on TERM', () => {
    const r = load({flags: MIN})
    const c = r.config!
    assert.deepEqual([c.dcsType, c.dcsEndpoints, c.triggerValue, c.interval, c.keepOnTerm, c.retryNum], ['etcd', ['http://127.0.0.1:2379'], 'host-a', 1000, false, 3])
    assert.ok(r.notices.includes('No dcs-endpoints specified, trying to use localhost with standard ports!'))
    assert.ok(r.notices.includes('No trigger-value specified, instead using hostname: host-a'))
  })
  it('keep-on-term from env and the etcd3 alias', () => {
    const r = load({flags: {...MIN, 'dcs-type': 'etcd3'}, env: {VIP_KEEP_ON_TERM: 'true'}})
    assert.equal(r.config!.keepOnTerm, true)
    assert.equal(r.config!.dcsType, 'etcd')
  })
  it('comma-separated endpoints are split and trimmed', () => {
    const r = load({flags: {...MIN, 'dcs-endpoints': 'http://a:2379, http://b:2379'}})
    assert.deepEqual(r.config!.dcsEndpoints, ['http://a:2379', 'http://b:2379'])
  })
  it('every key has a flag name, an env name and can be set from a file', () => {
    for (const k of VIP_KEYS) assert.match(envName(k), /^VIP_[A-Z_]+$/)
    const r = load({readFile: () => 'ip: 10.1.1.1\nnetmask: 24\ninterface: e0\ntrigger-key: /k\nretry-after: 9\n', flags: {config: '/c.yaml'}})
    assert.equal(r.config!.retryAfter, 9)
  })
})

describe('vip config: refusals, all at once', () => {
  it('lists every missing mandatory key', () => {
    const r = load({hostname: () => ''})
    assert.equal(r.config, undefined)
    for (const k of ['ip', 'netmask', 'interface', 'trigger-key', 'trigger-value']) assert.ok(r.errors.includes(`Setting ${k} is mandatory`), k)
  })
  it('refuses conflicting duplicates within one source, naming both', () => {
    const r = load({env: {VIP_IP: '10.0.0.1', VIP_NETMASK: '24', VIP_TRIGGER_KEY: '/k', VIP_IFACE: 'eth0', VIP_INTERFACE: 'eth1'}})
    assert.equal(r.config, undefined)
    assert.ok(r.errors.some((e) => e.includes('VIP_IFACE') && e.includes('VIP_INTERFACE') && e.includes('"eth0"') && e.includes('"eth1"')), r.errors.join('\n'))
  })
  it('a conflicting secret is refused without showing it', () => {
    const r = load({flags: MIN, readFile: () => 'etcd-user: u\netcd-password: pw-AAA\netcd_password: pw-BBB\n', env: {VIP_CONFIG: '/c.yml'}})
    assert.ok(r.errors.some((e) => e.includes('etcd-password') && !e.includes('pw-AAA') && !e.includes('pw-BBB')), r.errors.join('\n'))
  })
  it('implied settings: password needs user, cert and key need each other', () => {
    const r = load({flags: {...MIN, 'etcd-password': 'pw', 'etcd-cert-file': '/c.pem'}})
    assert.ok(r.errors.includes('Setting etcd-user is mandatory when setting etcd-password is specified.'))
    assert.ok(r.errors.includes('Setting etcd-key-file is mandatory when setting etcd-cert-file is specified.'))
  })
  it('bad values name the key, the value and its source', () => {
    const r = load({flags: {...MIN, ip: '10.0.2', interval: 'fast', 'dcs-type': 'zookeeper'}, env: {VIP_VERBOSE: 'maybe'}})
    assert.ok(r.errors.some((e) => e.includes('ip "10.0.2"') && e.includes('--ip')))
    assert.ok(r.errors.some((e) => e.includes('interval must be an integer') && e.includes('"fast"')))
    assert.ok(r.errors.some((e) => e.startsWith('given endpoint type not supported') && e.includes('zookeeper')))
    assert.ok(r.errors.some((e) => e.includes('verbose must be true or false') && e.includes('VIP_VERBOSE')))
  })
  it('consul, etcd2 and hetzner are refused with a way out', () => {
    assert.ok(load({flags: {...MIN, 'dcs-type': 'consul'}}).errors.some((e) => e.includes('consul') && e.includes('not supported')))
    assert.ok(load({flags: {...MIN, 'dcs-type': 'etcd2'}}).errors.some((e) => e.includes('etcd3')))
    assert.ok(load({flags: {...MIN, 'manager-type': 'hetzner'}}).errors.some((e) => e.includes('hetzner')))
  })
  it('an unknown extension is read as KEY=VALUE and a YAML body there gets a clear error', () => {
    const r = load({flags: {config: '/etc/x.conf'}, readFile: () => 'ip: 10.0.0.1\n'})
    assert.ok(r.errors.some((e) => e.includes('line 1') && e.includes('KEY=VALUE') && e.includes('.yml')), r.errors.join('\n'))
  })
  it('an unreadable file is an error naming it', () => {
    const r = load({flags: {config: '/nonexistent/vip.yml'}})
    assert.ok(r.errors.some((e) => e.includes('/nonexistent/vip.yml')))
  })
  it('invalid IPv4 prefix falls back to the classful default with a warning; IPv6 is range-checked', () => {
    const r = load({flags: {...MIN, ip: '172.16.1.1', netmask: '40'}})
    assert.equal(r.config!.netmask, 16)
    assert.ok(r.warnings.some((w) => w.includes('classful')))
    const r6 = load({flags: {...MIN, ip: 'fd00::10', netmask: '129'}})
    assert.ok(r6.errors.some((e) => e.includes('IPv6 prefix')))
    assert.equal(load({flags: {...MIN, ip: 'fd00::10', netmask: '64'}}).config!.family, 6)
  })
  it('unknown settings are warnings that name them, never silently ignored', () => {
    const r = load({flags: {...MIN, config: '/c.yml'}, readFile: () => 'ipaddress: 1.2.3.4\n', env: {VIP_BOGUS: 'x'}})
    assert.ok(r.warnings.some((w) => w.includes('"ipaddress"')))
    assert.ok(r.warnings.some((w) => w.includes('VIP_BOGUS')))
  })
})

describe('parseEnvFile', () => {
  it('comments, export, quotes, escapes, inline comments', () => {
    const {vars, errors} = parseEnvFile('# c\n; c\nexport A=1\nB="two words"\nC=\'x y\'\nD="a\\"b"\nE=v # note\n\n', 'f')
    assert.deepEqual(errors, [])
    assert.deepEqual(vars, {A: '1', B: 'two words', C: 'x y', D: 'a"b', E: 'v'})
  })
  it('reports bad lines by number', () => {
    const {errors} = parseEnvFile('A=1\nnot a line\nB="open\n', 'f.vip')
    assert.equal(errors.length, 2)
    assert.ok(errors[0]!.includes('f.vip line 2'))
    assert.ok(errors[1]!.includes('line 3') && errors[1]!.includes('unterminated'))
  })
})
