/**
 * libpq's TLS parameters on hactl's own connections (src/postgres/tls.ts through
 * src/adapters/postgres/sql.ts) against a real PostgreSQL 15 with ssl=on, a private CA made
 * with openssl, client certificates required by pg_hba (`cert clientcert=verify-full`) and a
 * CRL.
 */
import assert from 'node:assert/strict'
import {copyFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {withClient} from '../../../src/adapters/postgres/sql'
import type {ConnParams} from '../../../src/ports/postgres'
import {TestCa, type CertPair} from '../../harness/tls-certs'
import {runAs} from '../../harness/unprivileged'
import {PgNode, SUPERUSER} from './pg-node'

const PLAIN = {username: 'plainuser', password: 'plain-pass'}

describe('libpq TLS parameters against PostgreSQL 15 with ssl=on and client certificates', () => {
  let n: PgNode
  let ca: TestCa
  let otherCa: TestCa
  let server: CertPair
  let client: CertPair
  let clientEncrypted: CertPair
  let crl: string
  let crlDir: string

  before(async () => {
    n = await PgNode.create('tls')
    const who = runAs()
    const dir = join(n.base, 'ca')
    mkdirSync(dir)
    ca = new TestCa(dir, who)
    const odir = join(n.base, 'other-ca')
    mkdirSync(odir)
    otherCa = new TestCa(odir, who)
    // CN and SAN both differ from 127.0.0.1: verify-ca passes, verify-full by IP fails, by "localhost" passes.
    server = ca.issue('server', 'wrong.example', {san: 'DNS:localhost'})
    client = ca.issue('certuser', 'certuser')
    clientEncrypted = ca.issue('certuser-enc', 'certuser', {keyPassword: "key pass'1"})
    await n.pg.initdb({options: [{encoding: 'UTF8'}, {locale: 'C.UTF-8'}], superuser: SUPERUSER})
    await n.pg.writeConfigFiles({
      serverVersion: 150000,
      parameters: n.params({ssl: 'on', ssl_cert_file: server.cert, ssl_key_file: server.key, ssl_ca_file: ca.cert}).parameters,
      pgHba: [
        'local all all trust',
        'hostssl all certuser 127.0.0.1/32 cert clientcert=verify-full',
        'hostssl replication certuser 127.0.0.1/32 cert clientcert=verify-full',
        'hostnossl all plainuser 127.0.0.1/32 scram-sha-256',
        'hostssl all postgres 127.0.0.1/32 scram-sha-256',
      ],
      pgIdent: [],
      recovery: null,
    })
    assert.equal((await n.pg.start({cmdline: n.cmdline(), timeoutMs: 30_000})).outcome, 'started')
    await n.pg.query('CREATE ROLE certuser LOGIN REPLICATION')
    await n.pg.query(`CREATE ROLE ${PLAIN.username} LOGIN PASSWORD '${PLAIN.password}'`)
    // Revoke the server's certificate in a CRL (the server keeps using it).
    crl = ca.revoke('revoked', server.cert)
    crlDir = join(n.base, 'crldir')
    mkdirSync(crlDir)
    copyFileSync(crl, join(crlDir, 'ca.r0'))
  })
  after(async () => {
    await n?.destroy()
  })

  const su = (extra: Partial<ConnParams> = {}): ConnParams => ({host: '127.0.0.1', port: n.port, user: SUPERUSER.username, password: SUPERUSER.password, ...extra})
  /** Whether the session is encrypted, and as whom; throws what the connection threw. */
  const probe = (c: ConnParams) =>
    withClient(c, {}, 'probe', async (cl) => {
      const r = await cl.query('SELECT ssl, current_user AS who FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()')
      return r.rows[0] as {ssl: boolean; who: string}
    })
  const fails = async (c: ConnParams, pattern: RegExp) => {
    await assert.rejects(probe(c), (e: Error) => {
      assert.match(e.message, pattern)
      return true
    })
  }

  it('verify-ca accepts a server certificate from the CA whose names do not match the host', async () => {
    assert.deepEqual(await probe(su({sslmode: 'verify-ca', sslrootcert: ca.cert})), {ssl: true, who: 'postgres'})
  })

  it('verify-full refuses it for 127.0.0.1 and accepts it for localhost (subjectAltName)', async () => {
    await fails(su({sslmode: 'verify-full', sslrootcert: ca.cert}), /server certificate for "localhost".* does not match host name "127\.0\.0\.1"/)
    assert.deepEqual(await probe(su({host: 'localhost', sslmode: 'verify-full', sslrootcert: ca.cert})), {ssl: true, who: 'postgres'})
  })

  it('verify-ca refuses a server certificate from another CA; require with sslrootcert verifies too, without it does not', async () => {
    await fails(su({sslmode: 'verify-ca', sslrootcert: otherCa.cert}), /certificate/i)
    await fails(su({sslmode: 'require', sslrootcert: otherCa.cert}), /certificate/i)
    assert.deepEqual(await probe(su({sslmode: 'require'})), {ssl: true, who: 'postgres'})
  })

  it('client certificate authentication (cert clientcert=verify-full), plain and encrypted keys', async () => {
    assert.deepEqual(await probe({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'verify-ca', sslrootcert: ca.cert, sslcert: client.cert, sslkey: client.key}), {
      ssl: true,
      who: 'certuser',
    })
    assert.deepEqual(
      await probe({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'require', sslcert: clientEncrypted.cert, sslkey: clientEncrypted.key, sslpassword: "key pass'1"}),
      {ssl: true, who: 'certuser'},
    )
    // Without a certificate the server refuses the role.
    await fails({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'verify-ca', sslrootcert: ca.cert, sslcert: join(n.base, 'none.crt')}, /certificate/i)
    await fails({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'require', sslcert: clientEncrypted.cert, sslkey: clientEncrypted.key, sslpassword: 'wrong'}, /sslpassword: could not decrypt/)
    await fails({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'require', sslcert: clientEncrypted.cert, sslkey: clientEncrypted.key}, /sslpassword: .*no sslpassword given/)
  })

  it('a server certificate revoked in sslcrl or in sslcrldir fails; without the CRL it passes', async () => {
    await fails(su({sslmode: 'verify-ca', sslrootcert: ca.cert, sslcrl: crl}), /revoked/i)
    await fails(su({sslmode: 'verify-ca', sslrootcert: ca.cert, sslcrldir: crlDir}), /revoked/i)
    // A missing CRL is ignored, as libpq does.
    assert.equal((await probe(su({sslmode: 'verify-ca', sslrootcert: ca.cert, sslcrl: join(n.base, 'missing.crl')}))).ssl, true)
  })

  it('a missing file fails with a message naming its key', async () => {
    const missing = join(n.base, 'missing-root.crt')
    await fails(su({sslmode: 'verify-ca', sslrootcert: missing}), new RegExp(`sslrootcert: root certificate file "${missing}" does not exist`))
    await fails(su({sslmode: 'verify-full', sslrootcert: missing}), /sslrootcert: root certificate file/)
    const noKey = join(n.base, 'missing.key')
    await fails({host: '127.0.0.1', port: n.port, user: 'certuser', sslmode: 'require', sslcert: client.cert, sslkey: noKey}, new RegExp(`sslkey: certificate present, but not private key file "${noKey}"`))
  })

  it('prefer falls back to plain text when the server refuses TLS for the role; allow falls forward to TLS', async () => {
    const plain = {host: '127.0.0.1', port: n.port, user: PLAIN.username, password: PLAIN.password}
    assert.deepEqual(await probe(plain), {ssl: false, who: PLAIN.username}) // sslmode defaults to prefer
    assert.deepEqual(await probe({...plain, sslmode: 'allow'}), {ssl: false, who: PLAIN.username})
    await fails({...plain, sslmode: 'require'}, /no pg_hba\.conf entry/)
    assert.deepEqual(await probe(su({sslmode: 'allow'})), {ssl: true, who: 'postgres'})
    assert.deepEqual(await probe(su()), {ssl: true, who: 'postgres'})
    await fails(su({sslmode: 'disable'}), /no pg_hba\.conf entry/)
  })

  it('pg_basebackup clones over TLS with an encrypted client key: sslpassword reaches libpq through a service file, not the command line', async () => {
    const b = await PgNode.create('tls_clone')
    try {
      const source: ConnParams = {
        host: '127.0.0.1', port: n.port, user: 'certuser',
        sslmode: 'verify-ca', sslrootcert: ca.cert, sslcert: clientEncrypted.cert, sslkey: clientEncrypted.key, sslpassword: "key pass'1",
      }
      await b.pg.basebackup({source, timeoutMs: 60_000})
      assert.equal(await b.pg.dataDirState(), 'initialized')
      // Without it libpq cannot decrypt the key (and there is no terminal to ask on).
      await assert.rejects(b.pg.basebackup({source: {...source, sslpassword: undefined}, timeoutMs: 60_000}), /pg_basebackup/)
    } finally {
      await b.destroy()
    }
  })

  it('over the Unix socket no TLS is tried, whatever sslmode says', async () => {
    assert.deepEqual(await probe({host: n.base, port: n.port, user: SUPERUSER.username, sslmode: 'verify-full', sslrootcert: join(n.base, 'missing-root.crt')}), {ssl: false, who: 'postgres'})
  })
})
