import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {IssueCollector} from '../../../src/config/issues'
import {address, bool, duration, int, listOrCsv, parseBool, parseHostPort, parseIntLax} from '../../../src/config/kit'

describe('parseBool (Patroni parse_bool)', () => {
  it('accepts the on/true/yes/1 and off/false/no/0 spellings, case-insensitive', () => {
    for (const v of ['on', 'ON', 'True', 'yes', 'YES', '1', 1, true]) assert.equal(parseBool(v), true, String(v))
    for (const v of ['off', 'Off', 'FALSE', 'no', '0', 0, false]) assert.equal(parseBool(v), false, String(v))
  })
  it('rejects anything else', () => {
    for (const v of ['maybe', '', '2', 2, null, undefined, [], {}]) assert.equal(parseBool(v), undefined, String(v))
  })
})

describe('parseIntLax (Patroni parse_int)', () => {
  it('parses plain, signed, hex, octal and float values', () => {
    assert.equal(parseIntLax('1'), 1)
    assert.equal(parseIntLax(' -7 '), -7)
    assert.equal(parseIntLax('0x10'), 16)
    assert.equal(parseIntLax('010'), 8)
    assert.equal(parseIntLax('2.5'), 2) // half to even, as Python
    assert.equal(parseIntLax(3.5), 4)
    assert.equal(parseIntLax(42), 42)
  })
  it('converts units to the base unit', () => {
    assert.equal(parseIntLax('10MB', 'B'), 10 * 1024 * 1024)
    assert.equal(parseIntLax('1MB', 'kB'), 1024)
    assert.equal(parseIntLax('5min', 's'), 300)
    assert.equal(parseIntLax('30s', 's'), 30)
    assert.equal(parseIntLax('1000 ms', 's'), 1)
    assert.equal(parseIntLax('1h', 's'), 3600)
    assert.equal(parseIntLax(' 0x400 MB ', '16384kB'), 64)
    assert.equal(parseIntLax('6GB', '16MB'), 384)
    assert.equal(parseIntLax('4097.5kB', 'kB'), 4098)
  })
  it('refuses units without a base unit, unknown units, booleans and garbage', () => {
    assert.equal(parseIntLax('10MB'), undefined)
    assert.equal(parseIntLax('1TB', 'GB'), undefined)
    assert.equal(parseIntLax('10 parsecs', 's'), undefined)
    assert.equal(parseIntLax(true), undefined)
    assert.equal(parseIntLax('abc'), undefined)
    assert.equal(parseIntLax(Number.NaN), undefined)
  })
})

describe('parseHostPort', () => {
  it('parses host:port, IPv6 in brackets and multi-host listen addresses', () => {
    assert.deepEqual(parseHostPort('10.0.0.1:8008'), {host: '10.0.0.1', hosts: ['10.0.0.1'], port: 8008})
    assert.deepEqual(parseHostPort('[::1]:8008'), {host: '::1', hosts: ['::1'], port: 8008})
    assert.deepEqual(parseHostPort('db-1.example.com:5432'), {host: 'db-1.example.com', hosts: ['db-1.example.com'], port: 5432})
    assert.deepEqual(parseHostPort('127.0.0.1, 192.168.1.11 :5432', {multiple: true}), {
      host: '127.0.0.1',
      hosts: ['127.0.0.1', '192.168.1.11'],
      port: 5432,
    })
    assert.deepEqual(parseHostPort('*:5432', {multiple: true}), {host: '*', hosts: ['*'], port: 5432})
    assert.deepEqual(parseHostPort('[::1],[fe80::1]:5432', {multiple: true}).valueOf(), {host: '::1', hosts: ['::1', 'fe80::1'], port: 5432})
  })
  it('applies a default port only when one is given', () => {
    assert.deepEqual(parseHostPort('etcd1', {defaultPort: 2379}), {host: 'etcd1', hosts: ['etcd1'], port: 2379})
    assert.deepEqual(parseHostPort('[::1]', {defaultPort: 2379}), {host: '::1', hosts: ['::1'], port: 2379})
    assert.match(parseHostPort('etcd1') as string, /port part is missing/)
  })
  it('refuses bad ports and hosts with a reason', () => {
    assert.equal(parseHostPort('h:70000'), 'port 70000 is out of range 1-65535')
    assert.equal(parseHostPort('h:0'), 'port 0 is out of range 1-65535')
    assert.match(parseHostPort('h:http') as string, /not a number/)
    assert.match(parseHostPort('a b:80') as string, /not a valid host/)
    assert.match(parseHostPort(':80') as string, /empty host/)
    assert.match(parseHostPort('*,10.0.0.1:5432', {multiple: true}) as string, /only host/)
    assert.match(parseHostPort('a,b:5432') as string, /not a valid host/)
  })
})

describe('field parsers report into the collector and never throw', () => {
  it('collects one issue per bad value with its path', () => {
    const c = new IssueCollector()
    assert.equal(bool()('perhaps', 'x.flag', c), undefined)
    assert.equal(int({min: 0, max: 10})(11, 'x.n', c), undefined)
    assert.equal(duration({min: 20})('10s', 'x.ttl', c), undefined)
    assert.equal(duration()('2min', 'x.d', c), 120)
    assert.equal(address()('h:99999', 'x.listen', c), undefined)
    assert.deepEqual(
      listOrCsv(address({defaultPort: 2379}))('a:1, b', 'x.hosts', c)?.map((h) => `${h.host}:${h.port}`),
      ['a:1', 'b:2379'],
    )
    assert.deepEqual(
      c.issues.map((i) => i.path),
      ['x.flag', 'x.n', 'x.ttl', 'x.listen'],
    )
    assert.ok(c.issues.every((i) => i.severity === 'error'))
  })
  it('warns about loopback connect addresses and refuses wildcards', () => {
    const c = new IssueCollector()
    assert.ok(address({connect: true})('127.0.0.1:8008', 'a', c))
    assert.equal(address({connect: true})('0.0.0.0:8008', 'b', c), undefined)
    assert.deepEqual(c.issues.map((i) => [i.severity, i.path]), [['warning', 'a'], ['error', 'b']])
  })
})
