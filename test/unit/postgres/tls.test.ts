/**
 * libpq's choice of TLS attempts and files (src/postgres/tls.ts): order per sslmode, the
 * ~/.postgresql defaults and PG* variables, the checks libpq makes before connecting. The
 * handshakes themselves are in test/integration/postgres/tls.test.ts.
 */
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {execFileSync} from 'node:child_process'
import {tlsPlan, type TlsEnvironment} from '../../../src/postgres/tls'

describe('tlsPlan: libpq sslmode, files and defaults', () => {
  let home: string
  let euid: number
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'hactl-tls-unit-'))
    euid = process.geteuid?.() ?? 0
  })
  after(() => rmSync(home, {recursive: true, force: true}))
  const envir = (env: Record<string, string> = {}): TlsEnvironment => ({env, home, euid})
  const kinds = (p: ReturnType<typeof tlsPlan>) => p.attempts.map((a) => (a() === false ? 'plain' : 'tls'))

  it('attempt order per sslmode; prefer by default; PGSSLMODE and PGREQUIRESSL when the key is absent', () => {
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1'}, envir())), ['tls', 'plain'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1', sslmode: 'allow'}, envir())), ['plain', 'tls'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1', sslmode: 'disable'}, envir())), ['plain'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1', sslmode: 'require'}, envir())), ['tls'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1'}, envir({PGSSLMODE: 'disable'}))), ['plain'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1', sslmode: 'require'}, envir({PGSSLMODE: 'disable'}))), ['tls'])
    assert.deepEqual(kinds(tlsPlan({host: '10.0.0.1'}, envir({PGREQUIRESSL: '1'}))), ['tls'])
    assert.equal(tlsPlan({host: '/run/postgresql', sslmode: 'verify-full'}, envir()).attempts.length, 1)
    assert.equal(tlsPlan({host: '/run/postgresql', sslmode: 'verify-full'}, envir()).attempts[0](), false)
  })

  it('bad values and weak combinations are refused naming the key', () => {
    assert.throws(() => tlsPlan({host: 'h', sslmode: 'verify'}, envir()), /sslmode: invalid value "verify"/)
    assert.throws(() => tlsPlan({host: 'h', sslnegotiation: 'fast'}, envir()), /sslnegotiation: invalid value/)
    assert.throws(() => tlsPlan({host: 'h', sslnegotiation: 'direct'}, envir()), /sslnegotiation: weak sslmode "prefer"/)
    assert.throws(() => tlsPlan({host: 'h', sslmode: 'verify-ca', sslrootcert: 'system'}, envir()), /sslrootcert: weak sslmode "verify-ca"/)
    const direct = tlsPlan({host: 'h', sslmode: 'require', sslnegotiation: 'direct'}, envir()).attempts[0]()
    assert.ok(direct !== false && direct.sslnegotiation === 'direct')
  })

  it('verify-ca/verify-full need the root certificate: ~/.postgresql/root.crt by default', () => {
    assert.throws(() => tlsPlan({host: 'h', sslmode: 'verify-ca'}, envir()).attempts[0](), new RegExp(`sslrootcert: root certificate file "${join(home, '.postgresql', 'root.crt')}" does not exist`))
    assert.throws(() => tlsPlan({host: 'h', sslmode: 'verify-full'}, {env: {}, home: undefined, euid}).attempts[0](), /sslrootcert: could not get home directory/)
    // prefer and require without a root certificate: no verification.
    const req = tlsPlan({host: 'h', sslmode: 'require'}, envir()).attempts[0]()
    assert.ok(req !== false && req.rejectUnauthorized === false)
  })

  it('with ~/.postgresql/root.crt (and root.crl) present, require verifies as verify-ca; client cert and key from ~/.postgresql', () => {
    const pgdir = join(home, '.postgresql')
    mkdirSync(pgdir, {recursive: true})
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(pgdir, 'postgresql.key'), '-out', join(pgdir, 'postgresql.crt'), '-days', '1', '-subj', '/CN=u'], {stdio: 'ignore'})
    writeFileSync(join(pgdir, 'root.crt'), execFileSync('openssl', ['x509', '-in', join(pgdir, 'postgresql.crt')]))
    writeFileSync(join(pgdir, 'root.crl'), '-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n')
    chmodSync(join(pgdir, 'postgresql.key'), 0o600)
    const a = tlsPlan({host: 'h', sslmode: 'require'}, envir()).attempts[0]()
    assert.ok(a !== false)
    assert.equal(a.rejectUnauthorized, true)
    assert.equal(a.checkServerIdentity!('h', {} as never), undefined) // verify-ca: no host name check
    assert.ok(a.ca && a.cert && a.key && Array.isArray(a.crl) && a.crl.length === 1)
    // sslcrldir given: the default root.crl is not used.
    const emptyDir = join(home, 'crls')
    mkdirSync(emptyDir, {recursive: true})
    const b = tlsPlan({host: 'h', sslmode: 'verify-ca', sslcrldir: emptyDir}, envir()).attempts[0]()
    assert.ok(b !== false && b.crl === undefined)
    // PGSSLCERT pointing at a missing file: no client certificate, as libpq.
    const c = tlsPlan({host: 'h', sslmode: 'require'}, envir({PGSSLCERT: join(home, 'nope.crt')})).attempts[0]()
    assert.ok(c !== false && c.cert === undefined)
    // A key readable by others is refused like libpq does.
    chmodSync(join(pgdir, 'postgresql.key'), 0o644)
    assert.throws(() => tlsPlan({host: 'h', sslmode: 'require'}, envir()).attempts[0](), /sslkey: private key file ".*" has group or world access/)
    chmodSync(join(pgdir, 'postgresql.key'), 0o600)
    // Under prefer a broken TLS attempt is only the first attempt: plain text follows.
    assert.deepEqual(tlsPlan({host: 'h', sslrootcert: join(home, 'nope.crt')}, envir()).attempts.length, 2)
  })
})
