/**
 * src/adapters/postgres/pg-crypto.ts stands in for pg's crypto helpers in the executable: the same
 * results as pg's own file for every function, and the SCRAM-SHA-256 example of RFC 7677.
 */
import assert from 'node:assert/strict'
import {createRequire} from 'node:module'
import {test} from 'node:test'
import * as ours from '../../../src/adapters/postgres/pg-crypto'

const pgUtils = createRequire(import.meta.url)('pg/lib/crypto/utils') as Record<string, (...a: unknown[]) => Promise<unknown> | unknown>
const hex = (x: unknown) => Buffer.from(x as ArrayBuffer).toString('hex')

test("the same exports as pg's crypto helpers", () => {
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(pgUtils).sort())
})

test('md5 and the MD5 password hash match pg', async () => {
  for (const s of ['', 'secret', 'pässwörd', 'x'.repeat(200)]) assert.equal(await ours.md5(s), await pgUtils.md5!(s))
  assert.equal(await ours.md5(Buffer.from([0, 255, 7])), await pgUtils.md5!(Buffer.from([0, 255, 7])))
  const salt = Buffer.from([1, 2, 3, 4])
  assert.equal(await ours.postgresMd5PasswordHash('postgres', 'secret', salt), await pgUtils.postgresMd5PasswordHash!('postgres', 'secret', salt))
  assert.match(await ours.postgresMd5PasswordHash('postgres', 'secret', salt), /^md5[0-9a-f]{32}$/)
})

test('sha256, hashByName, hmacSha256 and deriveKey match pg (Buffer and ArrayBuffer inputs)', async () => {
  const data = Buffer.from('client key material')
  const ab = new Uint8Array(data).buffer
  assert.equal(hex(await ours.sha256(data)), hex(await pgUtils.sha256!(data)))
  assert.equal(hex(await ours.sha256(ab)), hex(await pgUtils.sha256!(ab)))
  for (const name of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) assert.equal(hex(await ours.hashByName(name, data)), hex(await pgUtils.hashByName!(name, data)), name)
  assert.equal(hex(await ours.hmacSha256(ab, 'Client Key')), hex(await pgUtils.hmacSha256!(ab, 'Client Key')))
  assert.equal(hex(await ours.hmacSha256(data, 'Server Key')), hex(await pgUtils.hmacSha256!(data, 'Server Key')))
  const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64')
  for (const pw of ['pencil', 'pässwörd']) assert.equal(hex(await ours.deriveKey(pw, salt, 4096)), hex(await pgUtils.deriveKey!(pw, salt, 4096)), pw)
  assert.equal(ours.randomBytes(18).length, 18)
  assert.notEqual(ours.randomBytes(18).toString('hex'), ours.randomBytes(18).toString('hex'))
})

test('RFC 7677: the SCRAM-SHA-256 client proof and server signature of the example exchange', async () => {
  // user "user", password "pencil"; client-first-message-bare, server-first-message and
  // client-final-message-without-proof as in the RFC's section 3.
  const salted = await ours.deriveKey('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
  const auth = 'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
  const clientKey = await ours.hmacSha256(salted, 'Client Key')
  const signature = await ours.hmacSha256(await ours.sha256(clientKey), auth)
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64')
  assert.equal(proof, 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')
  const server = await ours.hmacSha256(await ours.hmacSha256(salted, 'Server Key'), auth)
  assert.equal(server.toString('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')
})
