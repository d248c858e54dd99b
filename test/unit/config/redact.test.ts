import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {displayValue, formatIssues, IssueCollector} from '../../../src/config/issues'
import {ConfigError, loadConfig} from '../../../src/config/load'
import {collectSecrets, isSecretKey, MASK, redactConfig, redactText} from '../../../src/config/redact'
import {validateLocalConfig} from '../../../src/config/schema'
import {parseYamlText} from '../../../src/config/load'

const MINIMAL = join(__dirname, '../../fixtures/config/minimal.yml')

describe('redact', () => {
  it('knows which keys are secrets', () => {
    for (const k of ['password', 'keyfile_password', 'sslpassword', 'key_password', 'PASSWORD', 'token', 'api_token', 'auth']) {
      assert.equal(isSecretKey(k), true, k)
    }
    for (const k of ['keyfile', 'key', 'sslkey', 'username', 'certfile', 'cacert', 'pgpass']) assert.equal(isSecretKey(k), false, k)
  })

  it('masks credentials in URLs and conninfo strings', () => {
    assert.equal(redactText('http://root:hunter22@10.0.0.1:2379/v3'), `http://root:${MASK}@10.0.0.1:2379/v3`)
    assert.equal(redactText('host=a user=u password=hunter22 dbname=x'), `host=a user=u password=${MASK} dbname=x`)
    assert.equal(redactText("password='two words' sslmode=require"), `password=${MASK} sslmode=require`)
    assert.equal(redactText('PGPASSWORD=abc pg_basebackup'), `PGPASSWORD=${MASK} pg_basebackup`)
    assert.equal(redactText('nothing to hide: http://host:2379'), 'nothing to hide: http://host:2379')
    assert.equal(redactText('the value is s3cr3t-xyz', ['s3cr3t-xyz']), `the value is ${MASK}`)
  })

  it('redactConfig masks secrets at any depth and leaves the rest', () => {
    const cfg = {
      restapi: {authentication: {username: 'admin', password: 'apipw'}, keyfile: '/k.pem', keyfile_password: 'kp'},
      etcd3: {url: 'https://u:etcdpw@e:2379'},
      bootstrap: {users: {admin: {password: 'x1234', options: ['createdb']}}},
    }
    const r = redactConfig(cfg)
    assert.deepEqual(r, {
      restapi: {authentication: {username: 'admin', password: MASK}, keyfile: '/k.pem', keyfile_password: MASK},
      etcd3: {url: `https://u:${MASK}@e:2379`},
      bootstrap: {users: {admin: {password: MASK, options: ['createdb']}}},
    })
    assert.equal(cfg.restapi.authentication.password, 'apipw', 'input untouched')
    assert.deepEqual(collectSecrets(cfg).sort(), ['apipw', 'kp', 'x1234'])
  })

  it('issue values under secret keys are masked, structured values masked inside', () => {
    const c = new IssueCollector()
    c.error('postgresql.authentication.superuser.password', 'must be a string', ['pw-in-a-list'])
    c.error('etcd3', 'bad', {password: 'inner-secret', hosts: 'x'})
    c.error('etcd3.url', 'bad', 'http://u:url-secret@h')
    const text = formatIssues(c.issues)
    for (const s of ['pw-in-a-list', 'inner-secret', 'url-secret']) assert.ok(!text.includes(s), text)
    assert.equal(displayValue('plain'), '"plain"')
  })

  it('no secret from a real config ever appears in formatted issues', () => {
    // Make every section of a config wrong while it still carries secrets.
    const raw = parseYamlText(readFileSync(MINIMAL, 'utf8'), 'm').value as Record<string, any>
    raw.restapi.authentication = {username: 7, password: 'RestSecret-1'}
    raw.restapi.keyfile_password = ['KeyfileSecret-2']
    raw.etcd3 = {url: 'ftp://user:UrlSecret-3@h', password: 'EtcdSecret-4'}
    raw.postgresql.authentication.rewind = {password: 'RewindSecret-5'}
    raw.postgresql.authentication.superuser.sslpassword = {x: 'SslSecret-6'}
    raw.ctl = {authentication: 'CtlSecret-7'}
    const issues = validateLocalConfig(raw).issues
    assert.ok(issues.filter((i) => i.severity === 'error').length >= 5, formatIssues(issues))
    const text = formatIssues(issues) + JSON.stringify(issues)
    for (const s of ['RestSecret-1', 'KeyfileSecret-2', 'UrlSecret-3', 'EtcdSecret-4', 'RewindSecret-5', 'SslSecret-6', 'CtlSecret-7']) {
      assert.ok(!text.includes(s), `${s} leaked:\n${text}`)
    }
  })

  it('env-provided secrets do not leak through ConfigError either', () => {
    try {
      loadConfig(MINIMAL, {PATRONI_SUPERUSER_PASSWORD: 'EnvSecret-8', PATRONI_RESTAPI_LISTEN: 'nope'})
      assert.fail('expected ConfigError')
    } catch (e) {
      assert.ok(e instanceof ConfigError)
      assert.ok(!(formatIssues(e.issues) + e.message).includes('EnvSecret-8'))
    }
  })
})
