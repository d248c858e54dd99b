/**
 * Access control for unsafe requests (patroni/api.py RestApiServer.check_access): the allowlist,
 * then Basic auth. The checks themselves are pure; name resolution is done by the server and passed
 * in as addresses.
 */
import {BlockList, isIP} from 'node:net'

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is 10.0.0.1 for matching. */
export function normalizeAddress(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return m ? m[1]! : ip
}

export type AllowlistEntry = {kind: 'network'; address: string; prefix: number; family: 4 | 6} | {kind: 'host'; host: string}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`), an address, or a host name to resolve. Error text when malformed. */
export function parseAllowlistEntry(entry: string): AllowlistEntry | string {
  const text = entry.trim()
  if (text.includes('/')) {
    const [addr = '', bits = ''] = text.split('/', 2)
    const family = isIP(addr)
    const max = family === 4 ? 32 : 128
    if (!family || !/^\d+$/.test(bits) || Number(bits) > max) {
      return `restapi.allowlist: ${JSON.stringify(entry)} is not a network; use address/prefix such as 10.0.0.0/8`
    }
    return {kind: 'network', address: normalizeAddress(addr), prefix: Number(bits), family: family as 4 | 6}
  }
  const family = isIP(text)
  if (family) return {kind: 'network', address: normalizeAddress(text), prefix: family === 4 ? 32 : 128, family: family as 4 | 6}
  if (!text) return `restapi.allowlist: an empty entry is not a host or network`
  return {kind: 'host', host: text}
}

export class AddressSet {
  private readonly list = new BlockList()
  private count = 0

  addNetwork(address: string, prefix: number): void {
    const a = normalizeAddress(address)
    const family = isIP(a)
    if (!family) return
    const type = family === 4 ? 'ipv4' : 'ipv6'
    this.list.addSubnet(a, Math.min(prefix, family === 4 ? 32 : 128), type)
    this.count++
  }

  addAddress(address: string): void {
    const a = normalizeAddress(address)
    this.addNetwork(a, isIP(a) === 4 ? 32 : 128)
  }

  get size(): number {
    return this.count
  }

  has(ip: string): boolean {
    const a = normalizeAddress(ip)
    const family = isIP(a)
    if (!family) return false
    return this.list.check(a, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/** The `Authorization` value Patroni expects: `Basic base64(user:pass)`. Null when auth is off. */
export function basicAuthKey(auth: {username?: string; password?: string} | undefined): string | null {
  if (!auth || (auth.username === undefined && auth.password === undefined)) return null
  return Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`, 'utf8').toString('base64')
}

// node:crypto costs ~1.3 MB of private memory; loaded only when a request needs it.
const nodeCrypto = () => require('node:crypto') as typeof import('node:crypto')
const digest = (s: string) => nodeCrypto().createHash('sha256').update(s, 'utf8').digest()

/**
 * Patroni's texts: `no auth header received` / `not authenticated`; null when accepted.
 * Compared through a hash so the time taken does not depend on where the strings differ.
 */
export function checkBasicAuth(header: string | undefined, key: string | null): string | null {
  if (key === null) return null
  if (header === undefined) return 'no auth header received'
  if (!header.startsWith('Basic ')) return 'not authenticated'
  return nodeCrypto().timingSafeEqual(digest(header.slice(6)), digest(key)) ? null : 'not authenticated'
}
