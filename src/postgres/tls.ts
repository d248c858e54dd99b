/**
 * libpq's TLS parameters for the connections hactl opens itself (the agent's superuser
 * connection, replication and rewind probes of other members, `hactl query`). Patroni connects
 * through psycopg, i.e. libpq, so a configuration that works for Patroni has libpq's meaning:
 *
 * - sslmode (default `prefer`, or PGSSLMODE): disable; allow (plain text first, TLS after the
 *   server refused the plain connection); prefer (TLS first, plain text after any failure of the
 *   TLS attempt, including the server refusing TLS); require, verify-ca, verify-full (TLS only).
 *   Over a Unix socket libpq uses no TLS whatever sslmode says.
 * - sslrootcert (PGSSLROOTCERT, default ~/.postgresql/root.crt): when the file exists the server
 *   certificate is verified against it in every mode, so `require` with a root certificate
 *   behaves as verify-ca; verify-ca and verify-full fail without it. `system` (libpq 16) takes
 *   the system's trusted roots and needs verify-full.
 * - verify-full also checks the host name against the certificate's subjectAltName of the
 *   host's type (DNS or IP), else its Common Name (fe-secure-common.c and fe-secure-openssl.c).
 * - sslcrl / sslcrldir (PGSSLCRL, PGSSLCRLDIR, default ~/.postgresql/root.crl): revocation
 *   lists, used only with a root certificate; a missing list is silently ignored, as libpq does.
 * - sslcert (PGSSLCERT, default ~/.postgresql/postgresql.crt): the client certificate, sent only
 *   when the file exists (libpq silently sends none otherwise); sslkey (PGSSLKEY, default
 *   ~/.postgresql/postgresql.key) must then exist, with libpq's permission rule, and sslpassword
 *   decrypts it.
 * - sslnegotiation (PGSSLNEGOTIATION, libpq 17): `direct` starts TLS without the SSLRequest and
 *   needs sslmode require or stronger.
 *
 * ~ is the home directory of the effective user from the password database, as libpq 15's
 * pqGetHomeDirectory finds it. Errors name the key they come from.
 */
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {isIP} from 'node:net'
import {userInfo} from 'node:os'
import {join} from 'node:path'
import type {ConnectionOptions, PeerCertificate} from 'node:tls'
import {HactlError} from '../errors'

// node:crypto costs ~1.3 MB of private memory; loaded only when a client certificate is checked.
const nodeCrypto = () => require('node:crypto') as typeof import('node:crypto')

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** The libpq keywords this module reads. */
export interface TlsParams {
  host?: string
  sslmode?: string
  sslcert?: string
  sslkey?: string
  sslpassword?: string
  sslrootcert?: string
  sslcrl?: string
  sslcrldir?: string
  sslnegotiation?: string
}

/** Where libpq's defaults come from; tests pass their own. */
export interface TlsEnvironment {
  env: Readonly<Record<string, string | undefined>>
  /** The effective user's home directory; undefined when it cannot be found. */
  home: string | undefined
  euid: number | undefined
}

export function processTlsEnvironment(): TlsEnvironment {
  let home: string | undefined
  try {
    home = userInfo().homedir || undefined
  } catch {
    home = undefined
  }
  return {env: process.env, home, euid: process.geteuid?.()}
}

/** One connection attempt: plain text (false) or TLS with these node:tls options. */
export type TlsAttempt = false | (ConnectionOptions & {sslnegotiation: 'postgres' | 'direct'})

export interface TlsPlan {
  sslmode: SslMode
  /** Attempts in libpq's order; a TLS attempt is built when it is made (file errors fail that attempt). */
  attempts: Array<() => TlsAttempt>
}

function bad(message: string): HactlError {
  return new HactlError('CONFIG_INVALID', message)
}

function isSocketHost(host: string | undefined): boolean {
  return host !== undefined && (host.startsWith('/') || host.startsWith('@'))
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}

/** stat(); undefined when the file does not exist (ENOENT, ENOTDIR), an error naming the key otherwise. */
function statOf(path: string, key: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw bad(`${key}: could not access "${path}": ${(e as Error).message}`)
  }
}

function readOf(path: string, key: string, what: string): Buffer {
  try {
    return readFileSync(path)
  } catch (e) {
    throw bad(`${key}: could not read ${what} "${path}": ${(e as Error).message}`)
  }
}

/**
 * The order of attempts for `params` (fe-connect.c: allow tries plain text then TLS, prefer TLS
 * then plain text). Throws CONFIG_INVALID for a value libpq rejects before connecting.
 */
export function tlsPlan(params: TlsParams, envir: TlsEnvironment = processTlsEnvironment()): TlsPlan {
  const env = envir.env
  let mode = nonEmpty(params.sslmode) ?? nonEmpty(env['PGSSLMODE'])
  if (mode === undefined && env['PGREQUIRESSL'] !== undefined) mode = env['PGREQUIRESSL'] === '1' ? 'require' : 'prefer'
  mode ??= 'prefer'
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw bad(`sslmode: invalid value "${mode}" (expected one of ${SSL_MODES.join(', ')})`)
  }
  const sslmode = mode as SslMode
  const negotiation = nonEmpty(params.sslnegotiation) ?? nonEmpty(env['PGSSLNEGOTIATION']) ?? 'postgres'
  if (negotiation !== 'postgres' && negotiation !== 'direct') {
    throw bad(`sslnegotiation: invalid value "${negotiation}" (expected postgres or direct)`)
  }
  if (isSocketHost(params.host) || sslmode === 'disable') return {sslmode, attempts: [() => false]}
  if (negotiation === 'direct' && (sslmode === 'allow' || sslmode === 'prefer')) {
    throw bad(`sslnegotiation: weak sslmode "${sslmode}" may not be used with sslnegotiation=direct (use "require", "verify-ca", or "verify-full")`)
  }
  const rootcert = nonEmpty(params.sslrootcert) ?? nonEmpty(env['PGSSLROOTCERT'])
  if (rootcert === 'system' && sslmode !== 'verify-full') {
    throw bad(`sslrootcert: weak sslmode "${sslmode}" may not be used with sslrootcert=system (use "verify-full")`)
  }
  const tlsAttempt = (): TlsAttempt => tlsOptions(params, sslmode, negotiation, envir)
  const plain = (): TlsAttempt => false
  const attempts = sslmode === 'allow' ? [plain, tlsAttempt] : sslmode === 'prefer' ? [tlsAttempt, plain] : [tlsAttempt]
  return {sslmode, attempts}
}

function tlsOptions(params: TlsParams, sslmode: SslMode, negotiation: 'postgres' | 'direct', envir: TlsEnvironment): TlsAttempt {
  const env = envir.env
  const home = envir.home
  const inHome = (file: string): string | undefined => (home ? join(home, '.postgresql', file) : undefined)
  const opts: TlsAttempt = {sslnegotiation: negotiation, rejectUnauthorized: false}

  // Server certificate verification (initialize_SSL: "Set up to verify server cert, if root.crt is present").
  const rootcert = nonEmpty(params.sslrootcert) ?? nonEmpty(env['PGSSLROOTCERT']) ?? inHome('root.crt')
  let haveRoot = false
  if (rootcert === 'system') {
    haveRoot = true // node's bundled and system roots
  } else if (rootcert !== undefined && statOf(rootcert, 'sslrootcert')) {
    const ca = readOf(rootcert, 'sslrootcert', 'root certificate file')
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw bad(`sslrootcert: could not read root certificate file "${rootcert}": no PEM certificate in it`)
    }
    opts.ca = ca
    haveRoot = true
    const crl = nonEmpty(params.sslcrl) ?? nonEmpty(env['PGSSLCRL'])
    const crldir = nonEmpty(params.sslcrldir) ?? nonEmpty(env['PGSSLCRLDIR'])
    const crls: Buffer[] = []
    const crlFile = crl ?? (crldir === undefined ? inHome('root.crl') : undefined)
    if (crlFile !== undefined && statOf(crlFile, 'sslcrl')?.isFile()) crls.push(readOf(crlFile, 'sslcrl', 'certificate revocation list'))
    if (crldir !== undefined && statOf(crldir, 'sslcrldir')?.isDirectory()) {
      for (const name of readdirSync(crldir).sort()) {
        const p = join(crldir, name)
        if (!statOf(p, 'sslcrldir')?.isFile()) continue
        const text = readOf(p, 'sslcrldir', 'certificate revocation list')
        if (text.toString('latin1').includes('-----BEGIN X509 CRL-----')) crls.push(text)
      }
    }
    if (crls.length) opts.crl = crls
  } else if (sslmode === 'verify-ca' || sslmode === 'verify-full') {
    throw bad(
      rootcert === undefined
        ? `sslrootcert: could not get home directory to locate root certificate file; either provide the file or change sslmode to disable server certificate verification`
        : `sslrootcert: root certificate file "${rootcert}" does not exist; either provide the file or change sslmode to disable server certificate verification`,
    )
  }
  if (haveRoot) {
    opts.rejectUnauthorized = true
    if (sslmode === 'verify-full') {
      const host = params.host ?? 'localhost'
      opts.checkServerIdentity = (_name: string, cert: PeerCertificate) => verifyPeerName(host, cert)
    } else {
      opts.checkServerIdentity = () => undefined
    }
  }

  // Client certificate (initialize_SSL: sent only when the file exists).
  const sslcert = nonEmpty(params.sslcert) ?? nonEmpty(env['PGSSLCERT']) ?? inHome('postgresql.crt')
  if (sslcert !== undefined && statOf(sslcert, 'sslcert')) {
    const cert = readOf(sslcert, 'sslcert', 'certificate file')
    try {
      new (nodeCrypto().X509Certificate)(cert)
    } catch (e) {
      throw bad(`sslcert: could not read certificate file "${sslcert}": ${(e as Error).message}`)
    }
    const sslkey = nonEmpty(params.sslkey) ?? nonEmpty(env['PGSSLKEY']) ?? inHome('postgresql.key')
    if (sslkey === undefined) throw bad(`sslkey: could not get home directory to locate client key file`)
    if (/^[^/]+:/.test(sslkey)) throw bad(`sslkey: OpenSSL engine keys ("${sslkey}") are not supported by hactl`)
    const st = statOf(sslkey, 'sslkey')
    if (!st) throw bad(`sslkey: certificate present, but not private key file "${sslkey}"`)
    if (!st.isFile()) throw bad(`sslkey: key file "${sslkey}" is not a regular file`)
    const mode = Number(st.mode) & 0o777
    if ((Number(st.uid) === envir.euid && mode & 0o077) || (Number(st.uid) === 0 && mode & 0o037)) {
      throw bad(
        `sslkey: private key file "${sslkey}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`,
      )
    }
    const key = readOf(sslkey, 'sslkey', 'private key file')
    const passphrase = params.sslpassword
    if (passphrase === undefined && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'))) {
      throw bad(`sslpassword: could not decrypt private key file "${sslkey}" (no sslpassword given)`)
    }
    try {
      nodeCrypto().createPrivateKey(passphrase === undefined ? {key} : {key, passphrase})
    } catch (e) {
      const msg = (e as Error).message
      if (/passphrase|decrypt/i.test(msg)) {
        throw bad(`sslpassword: could not decrypt private key file "${sslkey}"${passphrase === undefined ? ' (no sslpassword given)' : ''}: ${msg}`)
      }
      throw bad(`sslkey: could not load private key file "${sslkey}": ${msg}`)
    }
    opts.cert = cert
    opts.key = key
    if (passphrase !== undefined) opts.passphrase = passphrase
  }
  return opts
}

/** An IP literal in one canonical spelling (node formats SAN addresses its own way). */
function canonicalIp(ip: string): string | undefined {
  const kind = isIP(ip)
  if (kind === 4) return ip
  if (kind !== 6) return undefined
  try {
    return new URL(`http://[${ip}]/`).hostname
  } catch {
    return undefined
  }
}

/** libpq's pq_verify_peer_name_matches_certificate_name: case-insensitive, a leading `*.` matches one label. */
function nameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase()
  const h = host.toLowerCase()
  if (p === h) return true
  if (p.startsWith('*.') && h.length > p.length - 1 && h.endsWith(p.slice(1))) {
    return !h.slice(0, h.length - (p.length - 1)).includes('.')
  }
  return false
}

/** Splits node's subjectaltname ("DNS:a, IP Address:1.2.3.4") into entries. */
function subjectAltNames(cert: PeerCertificate): Array<{type: 'DNS' | 'IP'; value: string}> {
  const out: Array<{type: 'DNS' | 'IP'; value: string}> = []
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) out.push({type: 'DNS', value: part.slice(4).replace(/^"|"$/g, '')})
    else if (part.startsWith('IP Address:')) out.push({type: 'IP', value: part.slice(11)})
  }
  return out
}

/**
 * verify-full's host name check (pq_verify_peer_name_matches_certificate_guts, PostgreSQL 14+):
 * every subjectAltName is tried; the Common Name only when no SAN has the host's type.
 */
export function verifyPeerName(host: string, cert: PeerCertificate): Error | undefined {
  const hostIp = canonicalIp(host)
  const sans = subjectAltNames(cert)
  const names: string[] = []
  let checkCn = true
  for (const san of sans) {
    if ((san.type === 'IP') === (hostIp !== undefined)) checkCn = false
    names.push(san.value)
    if (san.type === 'DNS' && nameMatches(san.value, host)) return undefined
    if (san.type === 'IP' && hostIp !== undefined && canonicalIp(san.value) === hostIp) return undefined
  }
  if (checkCn) {
    const cn = cert.subject?.CN
    const cns = Array.isArray(cn) ? cn : cn === undefined ? [] : [cn]
    for (const c of cns) {
      names.push(c)
      if (nameMatches(c, host)) return undefined
      if (hostIp !== undefined && canonicalIp(c) === hostIp) return undefined
    }
  }
  const e = new Error(
    names.length === 0
      ? 'could not get server\'s host name from server certificate'
      : names.length === 1
        ? `server certificate for "${names[0]}" does not match host name "${host}"`
        : `server certificate for "${names[0]}" (and ${names.length - 1} other name${names.length > 2 ? 's' : ''}) does not match host name "${host}"`,
  ) as Error & {code: string}
  e.code = 'ERR_TLS_CERT_ALTNAME_INVALID'
  return e
}

/** Errors that come before the server answered anything: libpq gives up on the host, it does not change sslmode. */
function isTransportError(e: unknown): boolean {
  const code = (e as {code?: unknown}).code
  if (typeof code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL'].includes(code)) return true
  const msg = e instanceof Error ? e.message : String(e)
  return /timeout/i.test(msg)
}

export interface Connectable {
  connect(): Promise<unknown>
  end(): Promise<unknown>
}

/**
 * Connects as libpq would with these TLS parameters: `make` builds a client for one attempt
 * (plain text or these TLS options), the attempts follow sslmode's order and a failed TLS
 * attempt under prefer (or a refused plain one under allow) is retried the other way. The error
 * of the last attempt is thrown, its message extended with the earlier attempt's.
 */
export async function connectWithTls<C extends Connectable>(params: TlsParams, make: (ssl: TlsAttempt) => C, envir?: TlsEnvironment): Promise<C> {
  const plan = tlsPlan(params, envir)
  const failures: string[] = []
  for (let i = 0; i < plan.attempts.length; i++) {
    const last = i === plan.attempts.length - 1
    let ssl: TlsAttempt
    try {
      ssl = plan.attempts[i]()
    } catch (e) {
      if (last) throw e
      failures.push(`TLS: ${(e as Error).message}`)
      continue
    }
    const client = make(ssl)
    try {
      await client.connect()
      return client
    } catch (e) {
      await client.end().catch(() => {})
      if (last || isTransportError(e)) {
        if (failures.length && e instanceof Error) e.message = `${e.message} (earlier attempt: ${failures.join('; ')})`
        throw e
      }
      failures.push(`${ssl === false ? 'without TLS' : 'TLS'}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  throw new Error('no connection attempt') // unreachable: the plan has at least one attempt
}
