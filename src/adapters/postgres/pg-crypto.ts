/**
 * pg's crypto helpers (node_modules/pg/lib/crypto/utils.js: the same exports, the same results),
 * with node:crypto loaded on first use. pg's own file loads node:crypto and its WebCrypto as soon
 * as pg is required, which costs ~1.3 MB of private memory in every agent even when no password is
 * ever hashed: Debian's configuration connects over the Unix socket without one. The build puts
 * this file in place of pg's (scripts/build.mjs, lazyPgCrypto); the MD5 and SCRAM-SHA-256
 * exchanges of pg/lib/client.js and pg/lib/crypto/sasl.js call it.
 */
import type {BinaryLike} from 'node:crypto'

type NodeCrypto = typeof import('node:crypto')
let loaded: NodeCrypto | undefined
const nodeCrypto = (): NodeCrypto => (loaded ??= require('node:crypto') as NodeCrypto)

/** WebCrypto hands pg ArrayBuffers; node:crypto takes them as views. */
const bytes = (data: BinaryLike | ArrayBuffer): BinaryLike => (data instanceof ArrayBuffer ? new Uint8Array(data) : data)

export function randomBytes(length: number): Buffer {
  return nodeCrypto().randomBytes(length)
}

export async function md5(text: string | Buffer): Promise<string> {
  const h = nodeCrypto().createHash('md5')
  return (typeof text === 'string' ? h.update(text, 'utf8') : h.update(text)).digest('hex')
}

/** AuthenticationMD5Password: 'md5' + md5(md5(password + user) + salt). */
export async function postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string> {
  const inner = await md5(password + user)
  return 'md5' + (await md5(Buffer.concat([Buffer.from(inner), salt])))
}

export async function sha256(data: BinaryLike | ArrayBuffer): Promise<Buffer> {
  return nodeCrypto().createHash('sha256').update(bytes(data)).digest()
}

/** WebCrypto's names (`SHA-256`, `SHA-384`, `SHA-512`, `SHA-1`), as pg's channel binding passes them. */
export async function hashByName(hashName: string, data: BinaryLike | ArrayBuffer): Promise<Buffer> {
  return nodeCrypto().createHash(hashName.replace('-', '').toLowerCase()).update(bytes(data)).digest()
}

export async function hmacSha256(key: BinaryLike | ArrayBuffer, msg: string): Promise<Buffer> {
  return nodeCrypto().createHmac('sha256', bytes(key)).update(msg, 'utf8').digest()
}

/** PBKDF2-HMAC-SHA-256, 32 bytes: SCRAM's SaltedPassword. Off the event loop, as WebCrypto's is. */
export function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeCrypto().pbkdf2(password, salt, iterations, 32, 'sha256', (err, key) => (err ? reject(err) : resolve(key)))
  })
}
