import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {HactlError} from '../../../src/errors'
import {buildModel, ENDPOINTS, parseHaproxyOptions, parseListenerSpec, renderHaproxy, type HaproxyOptionsInput} from '../../../src/render/haproxy'
import {membersFromFlags} from '../../../src/render/members'
import {SEED_MEMBERS} from '../../fixtures/render/variants'

function refused(input: HaproxyOptionsInput, ...fragments: string[]): HactlError {
  let err: HactlError | undefined
  assert.throws(() => parseHaproxyOptions(input), (e: unknown) => {
    assert.ok(e instanceof HactlError, `not a HactlError: ${String(e)}`)
    assert.equal(e.exitCode, 2, e.message)
    const all = [e.message, ...e.hints].join('\n')
    for (const s of fragments) assert.ok(all.includes(s), `${JSON.stringify(all)} lacks ${JSON.stringify(s)}`)
    err = e
    return true
  })
  return err!
}

const lines = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l))

describe('haproxy render options', () => {
  it('refuses bad values with the flag and the value', () => {
    refused({primaryPort: 0}, '--primary-port', '0')
    refused({replicaPort: '65536'}, '--replica-port', '65536')
    refused({statsPort: 'x'}, '--stats-port', '"x"')
    refused({pgbouncerPort: 70000}, '--pgbouncer-port', '70000')
    refused({primaryEndpoint: 'master2'}, '--primary-endpoint', 'unknown endpoint "master2"', 'read-only-sync')
    refused({checkMethod: 'POST'}, '--check-method', '"POST"', 'HEAD, OPTIONS, GET')
    refused({inter: '3 s'}, '--inter', 'HAProxy time')
    refused({inter: '0s'}, '--inter')
    refused({fall: 0}, '--fall', '0')
    refused({retries: -1}, '--retries')
    refused({balance: 'fastest'}, '--balance', '"fastest"', 'leastconn')
    refused({replicaLag: '16 MB'}, '--replica-lag', '"16 MB"')
    refused({replicaTags: ['dc']}, '--replica-tag', '"dc"', 'key=value')
    refused({bind: 'not an address'}, '--bind', '"not an address"')
    refused({statsUri: 'stats'}, '--stats-uri', 'start with /')
    refused({caFile: 'my ca.pem'}, '--check-ca-file', 'without spaces')
  })

  it('refuses filters Patroni would ignore on that endpoint', () => {
    refused({primaryEndpoint: 'primary', listeners: ['name=p2,port=6000,endpoint=primary,lag=1MB']}, 'lag does not apply to /primary')
    refused({replicaEndpoint: 'sync', replicaTags: ['dc=eu']}, 'tag filters do not apply to /sync')
  })

  it('refuses two listeners on one port, and names taken twice', () => {
    refused({replicaPort: 5000}, '"primary" and "replicas" both bind port 5000')
    refused({statsPort: 5001}, '"stats" and "replicas" both bind port 5001')
    refused({listeners: ['name=stats,port=6000']}, 'name "stats" is taken', '--no-stats')
    refused({listeners: ['name=ro,port=6000', 'name=ro,port=6001']}, 'two listeners are named "ro"')
    // Different addresses on one port are fine, a wildcard and an address are not.
    assert.doesNotThrow(() => parseHaproxyOptions({bind: '127.0.0.1', listeners: ['name=x,port=5000,bind=127.0.0.2']}))
    refused({listeners: ['name=x,port=5000,bind=127.0.0.2']}, 'both bind port 5000')
  })

  it('TLS: check-ssl needs a CA or verify none; the contradictions are refused', () => {
    refused({checkSsl: true}, '--check-ssl needs --check-ca-file', 'HAProxy refuses')
    refused({caFile: 'ca.pem', verifyNone: true}, 'contradict')
    refused({checkSsl: false, crt: 'c.pem'}, '--no-check-ssl')
    const https = membersFromFlags(['a=10.0.0.1,https://10.0.0.1:8008'])
    assert.throws(() => renderHaproxy(https, parseHaproxyOptions({})), /member "a": its REST API is https.*--check-ca-file/)
    // An explicit --no-check-ssl wins over the https URL (e.g. a TLS-terminating sidecar).
    assert.doesNotMatch(renderHaproxy(https, parseHaproxyOptions({checkSsl: false})), /check-ssl/)
  })

  it('never echoes the check password in an error', () => {
    const e = refused({checkAuth: 'user:pa ss"word'}, '--check-auth', 'value not shown')
    assert.doesNotMatch([e.message, ...e.hints].join(' '), /pa ss/)
  })

  it('every endpoint renders as its path; filters are URL-encoded in order', () => {
    for (const ep of ENDPOINTS) {
      const text = renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({primaryEndpoint: ep}))
      assert.deepEqual(lines(text, /httpchk/)[0], `    option httpchk HEAD /${ep}`)
    }
    const text = renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({replicaLag: '1GB', replicaTags: ['tag_zone=a&b=c', 'rack=r 1/2']}))
    assert.deepEqual(lines(text, /httpchk HEAD \/replica/), ['    option httpchk HEAD /replica?lag=1GB&tag_zone=a%26b%3Dc&tag_rack=r%201%2F2'])
  })

  it('--listener parses every key and a listener with a known name replaces it', () => {
    assert.deepEqual(parseListenerSpec('name=ro,port=5002,endpoint=read-only,lag=1MB,tag_dc=eu,balance=first,maxconn=7,bind=::1'), {
      name: 'ro', port: 5002, endpoint: 'read-only', lag: '1MB', tags: [['dc', 'eu']], balance: 'first', maxconn: 7, bind: '::1',
    })
    assert.throws(() => parseListenerSpec('name=a'), /port= is required/)
    assert.throws(() => parseListenerSpec('port=1'), /name= is required/)
    assert.throws(() => parseListenerSpec('name=a,port=1,colour=red'), /unknown key "colour"/)
    assert.throws(() => parseListenerSpec('name=a b,port=1'), /listener name "a b"/)
    assert.throws(() => parseListenerSpec('name=a,port=1,port=2'), /port is given twice/)
    const o = parseHaproxyOptions({listeners: ['name=replicas,port=6001,endpoint=async']})
    assert.deepEqual(o.listeners.map((l) => [l.name, l.port, l.endpoint]), [['primary', 5000, 'primary'], ['replicas', 6001, 'async']])
  })

  it('server lines: addr when the REST host differs, target port override, unique sanitised names', () => {
    const m = membersFromFlags(['a b=10.0.0.1:5432,10.9.0.1:8008', 'a_b=10.0.0.2', 'c=10.0.0.3:5433'])
    const model = buildModel(m, parseHaproxyOptions({pgbouncerPort: 6432}))
    assert.deepEqual(model.listeners[0]!.servers.map((s) => `${s.name} ${s.address} ${s.options}`), [
      'a_b 10.0.0.1:6432 maxconn 100 check port 8008 addr 10.9.0.1',
      'a_b_2 10.0.0.2:6432 maxconn 100 check port 8008',
      'c 10.0.0.3:6432 maxconn 100 check port 8008',
    ])
    assert.deepEqual(model.members.map((x) => [x.name, x.port, x.first, x.last]), [['a b', 6432, true, false], ['a_b', 6432, false, false], ['c', 6432, false, true]])
  })

  it('basic auth moves the check into http-check send with the header', () => {
    const text = renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({checkAuth: 'u:p'}))
    assert.deepEqual(lines(text, /httpchk|http-check send/).slice(0, 2), [
      '    option httpchk',
      `    http-check send meth HEAD uri /primary hdr Authorization "Basic ${Buffer.from('u:p').toString('base64')}"`,
    ])
  })
})
