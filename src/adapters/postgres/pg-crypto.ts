/**
 * pg's crypto helpers (node_modules/pg/lib/crypto/utils.js: the same exports, the same results),
 * without node:crypto for PostgreSQL's password exchanges. pg's own file loads node:crypto and its
 * WebCrypto as soon as pg is required; node:crypto alone costs an agent ~1.2 MB of private memory
 * for the rest of its life, to hash one password per role. The build puts this file in place of
 * pg's (scripts/build.mjs, lazyPgCrypto); the MD5 and SCRAM-SHA-256 exchanges of pg/lib/client.js
 * and pg/lib/crypto/sasl.js call it.
 *
 * - MD5, SHA-256, HMAC and PBKDF2 are digests.ts (plain JavaScript); random bytes come from
 *   /dev/urandom, the kernel's CSPRNG that node:crypto's come from too.
 * - SCRAM's SaltedPassword (PBKDF2) is remembered per password, salt and iteration count, as RFC
 *   5802 section 5.1 allows a client to: the salt and count are the role's, the same on every
 *   member of the cluster (the verifier is replicated), so an agent derives each role's key once
 *   in its life instead of at every connection.
 * - node:crypto is still loaded on first use for what only comes with TLS (channel binding's
 *   certificate hash, SCRAM-SHA-256-PLUS), which loads it anyway, and for an iteration count far
 *   above PostgreSQL's default of 4096 (scram_iterations), where C beats the interpreter by 10x.
 */
import {closeSync, openSync, readSync} from 'node:fs'
import type {BinaryLike} from 'node:crypto'
import {hmacSha256 as hmac, md5 as md5Digest, pbkdf2Sha256, sha256 as sha256Digest} from './digests'

type NodeCrypto = typeof import('node:crypto')
let loaded: NodeCrypto | undefined
const nodeCrypto = (): NodeCrypto => (loaded ??= require('node:crypto') as NodeCrypto)

/** pg hands WebCrypto's ArrayBuffers around; everything here takes bytes. */
function bytes(data: string | Uint8Array | ArrayBuffer | BinaryLike): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  throw new TypeError('expected a string or bytes')
}

export function randomBytes(length: number): Buffer {
  const out = Buffer.alloc(length)
  const fd = openSync('/dev/urandom', 'r')
  try {
    for (let got = 0; got < length; ) {
      const n = readSync(fd, out, got, length - got, null)
      if (n <= 0) throw new Error('/dev/urandom returned no data')
      got += n
    }
  } finally {
    closeSync(fd)
  }
  return out
}

export async function md5(text: string | Buffer): Promise<string> {
  return md5Digest(bytes(text)).toString('hex')
}

/** AuthenticationMD5Password: 'md5' + md5(md5(password + user) + salt). */
export async function postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string> {
  const inner = await md5(password + user)
  return 'md5' + (await md5(Buffer.concat([Buffer.from(inner), salt])))
}

export async function sha256(data: BinaryLike | ArrayBuffer): Promise<Buffer> {
  return sha256Digest(bytes(data))
}

/** WebCrypto's names (`SHA-256`, `SHA-384`, `SHA-512`, `SHA-1`), as pg's channel binding passes them. */
export async function hashByName(hashName: string, data: BinaryLike | ArrayBuffer): Promise<Buffer> {
  if (hashName === 'SHA-256') return sha256Digest(bytes(data))
  return nodeCrypto().createHash(hashName.replace('-', '').toLowerCase()).update(bytes(data)).digest()
}

export async function hmacSha256(key: BinaryLike | ArrayBuffer, msg: string): Promise<Buffer> {
  return hmac(bytes(key), Buffer.from(msg, 'utf8'))
}

/** Above this many iterations PBKDF2 runs in node:crypto (~0.5 s of interpreter time at this count). */
const JS_PBKDF2_MAX_ITERATIONS = 16_384
const SALTED_KEEP = 16
const salted = new Map<string, Buffer>()

/** PBKDF2-HMAC-SHA-256, 32 bytes: SCRAM's SaltedPassword, remembered (see the head of the file). */
export async function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  const saltBytes = bytes(salt)
  const key = `${iterations}\0${Buffer.from(saltBytes).toString('base64')}\0${password}`
  const known = salted.get(key)
  if (known) return Buffer.from(known)
  const derived =
    iterations <= JS_PBKDF2_MAX_ITERATIONS
      ? await pbkdf2Sha256(Buffer.from(password, 'utf8'), saltBytes, iterations)
      : await new Promise<Buffer>((resolve, reject) => {
          nodeCrypto().pbkdf2(password, saltBytes, iterations, 32, 'sha256', (err, k) => (err ? reject(err) : resolve(k)))
        })
  if (salted.size >= SALTED_KEEP) salted.delete(salted.keys().next().value!)
  salted.set(key, Buffer.from(derived))
  return derived
}
