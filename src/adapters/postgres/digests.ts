/**
 * SHA-256, HMAC-SHA-256, PBKDF2-HMAC-SHA-256 and MD5 in plain JavaScript, for PostgreSQL's
 * password exchanges only (SCRAM-SHA-256, RFC 5802/7677, and the old MD5 one): what pg-crypto.ts
 * hands pg. node:crypto would do the same in C, but loading it costs an agent ~1.2 MB of private
 * memory for the rest of its life (its module graph and OpenSSL's state), to hash one password per
 * role once. Nothing here is secret-dependent in its timing beyond what the exchange itself sends.
 *
 * The functions are checked against node:crypto on many lengths and against RFC 7677's example
 * (test/unit/postgres/digests.test.ts). They run in the agent under V8's interpreter (--lite-mode,
 * src/daemon-start.ts): one SHA-256 block takes ~16 us there, so PBKDF2's 4096 iterations (two
 * blocks each) take ~130 ms; pbkdf2Sha256 yields to the event loop between slices of iterations so
 * that the REST API keeps answering meanwhile.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const SHA256_IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
const W = new Int32Array(64)

/** One SHA-256 compression of the 16 big-endian words `m` into the state `h` (FIPS 180-4, 6.2.2). */
function compress(h: Int32Array, m: Int32Array): void {
  for (let i = 0; i < 16; i++) W[i] = m[i]!
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!
    const b = W[i - 2]!
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = h[0]!
  let b = h[1]!
  let c = h[2]!
  let d = h[3]!
  let e = h[4]!
  let f = h[5]!
  let g = h[6]!
  let k = h[7]!
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    k = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  h[0] = (h[0]! + a) | 0
  h[1] = (h[1]! + b) | 0
  h[2] = (h[2]! + c) | 0
  h[3] = (h[3]! + d) | 0
  h[4] = (h[4]! + e) | 0
  h[5] = (h[5]! + f) | 0
  h[6] = (h[6]! + g) | 0
  h[7] = (h[7]! + k) | 0
}

/**
 * Feeds `data` to the SHA-256 state `h` as the rest of a message of which `prefixBytes` (a whole
 * number of blocks) were already compressed into it, and pads: `h` ends as the digest's state.
 */
function sha256Finish(h: Int32Array, data: Uint8Array, prefixBytes: number): void {
  const m = new Int32Array(16)
  const total = prefixBytes + data.length
  // The message, 0x80, zeros to 56 mod 64, the length in bits as 64 bits big-endian.
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6)
  padded.set(data)
  padded[data.length] = 0x80
  const bits = total * 8
  const end = padded.length
  padded[end - 1] = bits & 0xff
  padded[end - 2] = (bits >>> 8) & 0xff
  padded[end - 3] = (bits >>> 16) & 0xff
  padded[end - 4] = (bits >>> 24) & 0xff
  const high = Math.floor(bits / 0x100000000)
  padded[end - 5] = high & 0xff
  padded[end - 6] = (high >>> 8) & 0xff
  padded[end - 7] = (high >>> 16) & 0xff
  padded[end - 8] = (high >>> 24) & 0xff
  for (let off = 0; off < end; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4
      m[i] = (padded[j]! << 24) | (padded[j + 1]! << 16) | (padded[j + 2]! << 8) | padded[j + 3]!
    }
    compress(h, m)
  }
}

function stateBytes(h: Int32Array): Buffer {
  const out = Buffer.alloc(32)
  for (let i = 0; i < 8; i++) out.writeInt32BE(h[i]!, i * 4)
  return out
}

export function sha256(data: Uint8Array): Buffer {
  const h = Int32Array.from(SHA256_IV)
  sha256Finish(h, data, 0)
  return stateBytes(h)
}

/** The states after one block of key ^ ipad and of key ^ opad (RFC 2104): HMAC's two halves. */
function hmacStates(key: Uint8Array): {inner: Int32Array; outer: Int32Array} {
  const k = key.length > 64 ? sha256(key) : key
  const block = new Uint8Array(64)
  block.set(k)
  const words = (pad: number): Int32Array => {
    const m = new Int32Array(16)
    for (let i = 0; i < 16; i++) {
      m[i] = ((block[i * 4]! ^ pad) << 24) | ((block[i * 4 + 1]! ^ pad) << 16) | ((block[i * 4 + 2]! ^ pad) << 8) | (block[i * 4 + 3]! ^ pad)
    }
    return m
  }
  const inner = Int32Array.from(SHA256_IV)
  compress(inner, words(0x36))
  const outer = Int32Array.from(SHA256_IV)
  compress(outer, words(0x5c))
  return {inner, outer}
}

export function hmacSha256(key: Uint8Array, message: Uint8Array): Buffer {
  const {inner, outer} = hmacStates(key)
  sha256Finish(inner, message, 64)
  sha256Finish(outer, stateBytes(inner), 64)
  return stateBytes(outer)
}

/** Iterations run between two yields to the event loop (~8 ms under the interpreter). */
const SLICE = 256

/**
 * PBKDF2-HMAC-SHA-256 with a 32-byte result (RFC 8018 5.2, one block): SCRAM's SaltedPassword.
 * Each iteration is two compressions from the precomputed HMAC states, without allocation.
 */
export async function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number): Promise<Buffer> {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`PBKDF2 iterations must be a positive integer, not ${iterations}`)
  const {inner, outer} = hmacStates(password)
  // U1 = HMAC(P, S || INT(1))
  const first = new Uint8Array(salt.length + 4)
  first.set(salt)
  first[salt.length + 3] = 1
  const u = new Int32Array(8)
  {
    const h = Int32Array.from(inner)
    sha256Finish(h, first, 64)
    const o = Int32Array.from(outer)
    sha256Finish(o, stateBytes(h), 64)
    u.set(o)
  }
  const t = Int32Array.from(u)
  // Ui = HMAC(P, U(i-1)): a 32-byte message after one 64-byte key block, so one padded block of
  // 96 bytes' length (768 bits) for each half.
  const m = new Int32Array(16)
  const h = new Int32Array(8)
  for (let i = 1; i < iterations; i++) {
    if (i % SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    m.set(u)
    m[8] = 0x80000000
    m.fill(0, 9, 15)
    m[15] = 768
    h.set(inner)
    compress(h, m)
    m.set(h)
    m[8] = 0x80000000
    m.fill(0, 9, 15)
    m[15] = 768
    h.set(outer)
    compress(h, m)
    u.set(h)
    for (let j = 0; j < 8; j++) t[j] = t[j]! ^ h[j]!
  }
  return stateBytes(t)
}

// --- MD5 (RFC 1321), for PostgreSQL's md5 password exchange

const MD5_S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
const MD5_K = new Int32Array(64)
for (let i = 0; i < 64; i++) MD5_K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0

export function md5(data: Uint8Array): Buffer {
  const padded = new Uint8Array((((data.length + 8) >> 6) + 1) << 6)
  padded.set(data)
  padded[data.length] = 0x80
  const bits = data.length * 8
  const end = padded.length
  // The length in bits, 64 bits little-endian.
  padded[end - 8] = bits & 0xff
  padded[end - 7] = (bits >>> 8) & 0xff
  padded[end - 6] = (bits >>> 16) & 0xff
  padded[end - 5] = (bits >>> 24) & 0xff
  const high = Math.floor(bits / 0x100000000)
  padded[end - 4] = high & 0xff
  padded[end - 3] = (high >>> 8) & 0xff
  padded[end - 2] = (high >>> 16) & 0xff
  padded[end - 1] = (high >>> 24) & 0xff
  let a0 = 0x67452301
  let b0 = 0xefcdab89 | 0
  let c0 = 0x98badcfe | 0
  let d0 = 0x10325476
  const m = new Int32Array(16)
  for (let off = 0; off < end; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4
      m[i] = padded[j]! | (padded[j + 1]! << 8) | (padded[j + 2]! << 16) | (padded[j + 3]! << 24)
    }
    let a = a0
    let b = b0
    let c = c0
    let d = d0
    for (let i = 0; i < 64; i++) {
      let f: number
      let g: number
      if (i < 16) {
        f = (b & c) | (~b & d)
        g = i
      } else if (i < 32) {
        f = (d & b) | (~d & c)
        g = (5 * i + 1) & 15
      } else if (i < 48) {
        f = b ^ c ^ d
        g = (3 * i + 5) & 15
      } else {
        f = c ^ (b | ~d)
        g = (7 * i) & 15
      }
      const x = (a + f + MD5_K[i]! + m[g]!) | 0
      a = d
      d = c
      c = b
      b = (b + ((x << MD5_S[i]!) | (x >>> (32 - MD5_S[i]!)))) | 0
    }
    a0 = (a0 + a) | 0
    b0 = (b0 + b) | 0
    c0 = (c0 + c) | 0
    d0 = (d0 + d) | 0
  }
  const out = Buffer.alloc(16)
  out.writeInt32LE(a0, 0)
  out.writeInt32LE(b0, 4)
  out.writeInt32LE(c0, 8)
  out.writeInt32LE(d0, 12)
  return out
}
