/**
 * src/adapters/postgres/digests.ts against node:crypto: every length around the block boundaries,
 * keys shorter and longer than a block, PBKDF2 at several iteration counts; and pg-crypto.ts, which
 * hands them to pg, without node:crypto in the process.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {createHash, createHmac, pbkdf2Sync, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {test} from 'node:test'
import {buildSync} from 'esbuild'
import {hmacSha256, md5, pbkdf2Sha256, sha256} from '../../../src/adapters/postgres/digests'

const lengths = [0, 1, 3, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 200, 1000, 4097]

test('sha256 and md5 match node:crypto for every length around the block boundaries', () => {
  for (const n of lengths) {
    const data = randomBytes(n)
    assert.equal(sha256(data).toString('hex'), createHash('sha256').update(data).digest('hex'), `sha256 of ${n} bytes`)
    assert.equal(md5(data).toString('hex'), createHash('md5').update(data).digest('hex'), `md5 of ${n} bytes`)
  }
  assert.equal(sha256(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  assert.equal(md5(Buffer.from('abc')).toString('hex'), '900150983cd24fb0d6963f7d28e17f72')
})

test('hmacSha256 matches node:crypto for keys shorter than, as long as and longer than a block', () => {
  for (const kn of [0, 1, 32, 63, 64, 65, 100, 300]) {
    for (const mn of [0, 10, 64, 100]) {
      const key = randomBytes(kn)
      const msg = randomBytes(mn)
      assert.equal(hmacSha256(key, msg).toString('hex'), createHmac('sha256', key).update(msg).digest('hex'), `key ${kn}, message ${mn}`)
    }
  }
})

test('pbkdf2Sha256 matches node:crypto, RFC 7677 example included; a count below 1 is refused', async () => {
  for (const [pw, saltLen, iterations] of [['pencil', 16, 1], ['pencil', 16, 2], ['pässwörd', 20, 300], ['x'.repeat(100), 16, 4096], ['', 0, 5]] as const) {
    const salt = randomBytes(saltLen)
    const ours = await pbkdf2Sha256(Buffer.from(pw), salt, iterations)
    assert.equal(ours.toString('hex'), pbkdf2Sync(pw, salt, iterations, 32, 'sha256').toString('hex'), `${pw.length} chars, ${iterations} iterations`)
  }
  const rfc = await pbkdf2Sha256(Buffer.from('pencil'), Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
  assert.equal(rfc.toString('base64'), 'xKSVEDI6tPlSysH6mUQZOeeOp01r6B3fcJbodRPcYV0=')
  await assert.rejects(pbkdf2Sha256(Buffer.from('p'), Buffer.alloc(4), 0), /iterations must be a positive integer/)
})

test('pg-crypto: a SCRAM-SHA-256 and an MD5 exchange, random bytes included, load no node:crypto', () => {
  // Bundled as the executable bundles it and run in a plain node process: the test runner (tsx)
  // loads node:crypto itself, so it cannot tell.
  const dir = mkdtempSync(join(tmpdir(), 'hactl-digests-'))
  try {
    const entry = join(dir, 'entry.ts')
    writeFileSync(
      entry,
      `import * as c from ${JSON.stringify(resolve('src/adapters/postgres/pg-crypto.ts'))}
      const main = async () => {
        const salted = await c.deriveKey('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
        const again = await c.deriveKey('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096)
        const clientKey = await c.hmacSha256(salted, 'Client Key')
        const stored = await c.sha256(clientKey)
        const md5 = await c.postgresMd5PasswordHash('postgres', 'secret', Buffer.from([1, 2, 3, 4]))
        const r = c.randomBytes(18)
        console.log(JSON.stringify({salted: salted.toString('base64'), same: again.equals(salted), stored: stored.toString('hex'), md5, random: r.length, crypto: process.moduleLoadList.filter((m) => /crypto/.test(m))}))
      }
      main()`,
    )
    const out = buildSync({entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', write: false}).outputFiles[0]!.text
    const script = join(dir, 'run.cjs')
    writeFileSync(script, out)
    const r = JSON.parse(execFileSync(process.execPath, [script], {encoding: 'utf8'})) as {salted: string; same: boolean; stored: string; md5: string; random: number; crypto: string[]}
    assert.equal(r.salted, 'xKSVEDI6tPlSysH6mUQZOeeOp01r6B3fcJbodRPcYV0=')
    assert.equal(r.same, true)
    const salted = pbkdf2Sync('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096, 32, 'sha256')
    assert.equal(r.stored, createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('hex'))
    const inner = createHash('md5').update('secretpostgres').digest('hex')
    assert.equal(r.md5, 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), Buffer.from([1, 2, 3, 4])])).digest('hex'))
    assert.equal(r.random, 18)
    assert.deepEqual(r.crypto, [], 'node:crypto was loaded')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
