/** The etcd3 adapter over https against a real etcd serving TLS, with and without client-cert-auth. */
import assert from 'node:assert/strict'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {createEtcd3Dcs, type Etcd3Section} from '../../../src/adapters/dcs-etcd3'
import {isHactlError} from '../../../src/errors'
import type {Dcs} from '../../../src/ports/dcs'
import {EtcdServer, makeTestCa, type TestCa} from '../../harness/etcd'

const made: Dcs[] = []
const warnings: string[] = []

const dcs = (section: Etcd3Section, name: string, scope: string, o: {watch?: boolean; retryTimeout?: number} = {}): Dcs => {
  const d = createEtcd3Dcs({
    section,
    clock: systemClock,
    name,
    scope,
    watch: o.watch ?? false,
    timing: {ttl: 5, loopWait: 10, retryTimeout: o.retryTimeout ?? 5},
    log: (level, msg) => {
      if (level === 'warn' || level === 'error') warnings.push(`${scope}/${name}: ${msg}`)
    },
  })
  made.push(d)
  return d
}

/** Rejects with a HactlError of `code` whose message matches every pattern, within `maxMs`. */
async function failsWithin(p: Promise<unknown>, code: 'DCS_UNAVAILABLE' | 'DCS_AUTH' | 'DCS_PROTOCOL', patterns: RegExp[], maxMs: number): Promise<string> {
  const start = performance.now()
  let message = ''
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isHactlError(e, code), `expected ${code}, got ${String(e)}`)
    message = (e as Error).message
    for (const re of patterns) assert.match(message, re)
    return true
  })
  const ms = performance.now() - start
  assert.ok(ms < maxMs, `took ${Math.round(ms)} ms, allowed ${maxMs} ms`)
  return message
}

/** b watches; a takes the leader lock; b must be woken by the watch stream and see pg-a. */
async function leaderChangeWakesWatcher(a: Dcs, b: Dcs, scope: string): Promise<void> {
  assert.equal((await b.loadCluster()).leader, null)
  await b.waitForChange(0)
  const woke = b.waitForChange(20_000)
  const start = performance.now()
  assert.equal(await a.attemptToAcquireLeader(), true)
  assert.equal(await woke, true)
  assert.ok(performance.now() - start < 5000, 'the watch delivers the change promptly')
  assert.equal((await b.loadCluster()).leader?.name, 'pg-a')
  assert.deepEqual(warnings.filter((w) => w.startsWith(`${scope}/`)), [], 'the watch over https never broke')
}

const endpointRe = (etcd: EtcdServer) => new RegExp(`https://127\\.0\\.0\\.1:${etcd.clientPort}`)

describe('etcd3 over https (server certificate only)', () => {
  let etcd: EtcdServer
  let otherCa: TestCa
  before(async () => {
    etcd = await EtcdServer.start({tls: {}})
    otherCa = await makeTestCa(undefined, 'other-ca')
  })
  after(async () => {
    for (const d of made.splice(0)) await d.close()
    await etcd?.destroy()
    if (otherCa) rmSync(otherCa.dir, {recursive: true, force: true})
  })

  it('hosts + protocol https + cacert: takes the leader lock, reads the cluster, and the watch wakes', async () => {
    const section = {hosts: etcd.endpoint, protocol: 'https', cacert: etcd.tls!.ca}
    const a = dcs(section, 'pg-a', 'tls-hosts')
    const b = dcs(section, 'pg-b', 'tls-hosts', {watch: true})
    await leaderChangeWakesWatcher(a, b, 'tls-hosts')
    assert.equal((await a.loadCluster({fresh: true})).leader?.session, a.lease)
    assert.equal(await etcd.get('/service/tls-hosts/leader'), 'pg-a')
  })

  it('url: https://127.0.0.1:PORT works the same', async () => {
    const a = dcs({url: etcd.url, cacert: etcd.tls!.ca}, 'pg-a', 'tls-url')
    assert.equal(await a.attemptToAcquireLeader(), true)
    assert.equal((await a.loadCluster({fresh: true})).leader?.name, 'pg-a')
    assert.equal(await etcd.get('/service/tls-url/leader'), 'pg-a')
  })

  it('a CA that did not sign the server certificate fails within retry_timeout, saying it is not trusted', async () => {
    const d = dcs({hosts: [etcd.endpoint], protocol: 'https', cacert: otherCa.cert}, 'pg-a', 'tls-wrong-ca', {retryTimeout: 3})
    const message = await failsWithin(d.loadCluster({fresh: true}), 'DCS_UNAVAILABLE', [/TLS handshake/, /not trusted/, /etcd3\.cacert/, endpointRe(etcd)], 3000 + 1500)
    assert.doesNotMatch(message, /--use-system-ca/)
    await failsWithin(d.attemptToAcquireLeader(), 'DCS_UNAVAILABLE', [/not trusted/], 3000 + 1500)
  })

  it('plain http against the https port fails within retry_timeout and hints at etcd3.protocol', async () => {
    // etcd 3.4 drops a non-TLS connection on its TLS port without an answer, so only the hint can tell.
    const d = dcs({host: etcd.endpoint}, 'pg-a', 'tls-plain', {retryTimeout: 2})
    const start = performance.now()
    await assert.rejects(d.loadCluster({fresh: true}), (e: unknown) => {
      assert.ok(isHactlError(e, 'DCS_UNAVAILABLE'), String(e))
      assert.match(e.message, new RegExp(`http://127\\.0\\.0\\.1:${etcd.clientPort}`))
      assert.ok(e.hints.some((h) => /etcd3\.protocol/.test(h)), e.hints.join('; '))
      return true
    })
    assert.ok(performance.now() - start < 2000 + 1500)
  })

  it('unusable TLS files are refused at creation, naming the etcd3 key and path', () => {
    const t = etcd.tls!
    const base = {hosts: etcd.endpoint, protocol: 'https', cacert: t.ca}
    const refused = (section: Etcd3Section, re: RegExp) =>
      assert.throws(() => dcs(section, 'pg-a', 'tls-files'), (e: unknown) => {
        assert.ok(isHactlError(e, 'CONFIG_INVALID'), String(e))
        assert.match((e as Error).message, re)
        assert.doesNotMatch((e as Error).message, /BEGIN/, 'file contents never appear in the message')
        return true
      })
    refused({...base, cert: t.clientCert, key: `${t.clientKey}.missing`}, /etcd3\.key: cannot read ".*client\.key\.missing": ENOENT/)
    refused({...base, cacert: `${t.ca}.missing`}, /etcd3\.cacert: .*ca\.crt\.missing/)
    refused({...base, cert: t.clientCert, key: t.serverKey}, /etcd3\.key: .*server\.key.* does not belong to the certificate in etcd3\.cert/)
    refused({...base, cert: t.clientCert, key: t.ca}, /etcd3\.key: .*ca\.crt.* not a usable/)
    refused({...base, cert: t.clientKey, key: t.clientKey}, /etcd3\.cert: .*client\.key.* not a usable PEM certificate/)
    refused({...base, cacert: t.clientKey}, /etcd3\.cacert: .*client\.key.* holds no PEM certificate/)
    // a key without cert is ignored, as Patroni ignores it (the config layer warns)
    assert.doesNotThrow(() => dcs({...base, key: t.clientKey}, 'pg-a', 'tls-files'))
    refused({...base, cert: t.clientCert}, /etcd3\.cert: .*client\.crt.* holds no private key/)
  })
})

describe('etcd3 over https with client-cert-auth', () => {
  let etcd: EtcdServer
  before(async () => {
    etcd = await EtcdServer.start({tls: {clientCertAuth: true}})
  })
  after(async () => {
    for (const d of made.splice(0)) await d.close()
    await etcd?.destroy()
  })

  it('cert + key: takes the leader lock and the watch wakes on the change', async () => {
    const t = etcd.tls!
    const section = {hosts: etcd.endpoint, protocol: 'https', cacert: t.ca, cert: t.clientCert, key: t.clientKey}
    const a = dcs(section, 'pg-a', 'mtls')
    const b = dcs(section, 'pg-b', 'mtls', {watch: true})
    await leaderChangeWakesWatcher(a, b, 'mtls')
    assert.equal(await etcd.get('/service/mtls/leader'), 'pg-a')
  })

  it('a cert file that also holds the key needs no etcd3.key (as in Patroni)', async () => {
    const t = etcd.tls!
    const combined = join(dirname(t.clientCert), 'client-combined.pem')
    writeFileSync(combined, Buffer.concat([readFileSync(t.clientCert), readFileSync(t.clientKey)]))
    const a = dcs({url: etcd.url, cacert: t.ca, cert: combined}, 'pg-a', 'mtls-combined')
    assert.equal(await a.attemptToAcquireLeader(), true)
    assert.equal(await etcd.get('/service/mtls-combined/leader'), 'pg-a')
  })

  it('no client certificate fails within retry_timeout with a TLS handshake error naming the endpoint', async () => {
    const d = dcs({url: etcd.url, cacert: etcd.tls!.ca}, 'pg-a', 'mtls-none', {retryTimeout: 3})
    await failsWithin(d.loadCluster({fresh: true}), 'DCS_UNAVAILABLE', [/TLS handshake/, /client certificate/, /etcd3\.cert/, endpointRe(etcd)], 3000 + 1500)
    assert.equal(await etcd.get('/service/mtls-none/leader'), undefined)
  })
})
