/**
 * Secret masking for anything printed: config dumps, validation issues, log lines. Secrets never
 * reach output (docs/architecture.md#secrets-never-reach-output). Masking is by key name (Patroni's
 * config has no other marker) and by shape (credentials embedded in URLs and libpq conninfo
 * strings).
 */

export const MASK = '********'

/**
 * Key names whose values are secrets. `keyfile`/`key`/`sslkey` are paths, not secrets, so a
 * plain "key" match would be wrong; `auth` is Patroni's internal "user:pass" form.
 */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase()
  return k.includes('password') || k.includes('token') || k.includes('secret') || k === 'auth' || k === 'auth_data'
}

/**
 * Keys holding credentials as a group. A scalar there is a secret too: Patroni's internal
 * `authentication: "user:pass"` form, or a password typed one level too high.
 */
export function isCredentialContainer(key: string): boolean {
  const k = key.toLowerCase()
  return k === 'authentication' || k === 'auth'
}

/** True when the last segment of a dotted config path names a secret (`a.b.password`, `x[2]` -> `x`). */
export function isSecretPath(path: string): boolean {
  const last = (path.split('.').pop() ?? '').replace(/\[\d+\]$/, '')
  return isSecretKey(last) || isCredentialContainer(last)
}

// scheme://user:pass@host -> scheme://user:********@host ; scheme://token@host is left alone
// because a bare user name is not a secret.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s/@]*)@/gi
// libpq conninfo / command lines: password=xxx, password='x y', --password=xxx, PGPASSWORD=xxx
const KV_SECRET = /\b((?:[a-z_]*password|pgpassword|[a-z_]*token)\s*[=:]\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s,;&]+)/gi

/** Masks credentials embedded in free text (URLs, conninfo strings, `password=` pairs). */
export function redactText(text: string, knownSecrets: readonly string[] = []): string {
  let out = text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
  out = out.replace(KV_SECRET, (_m, prefix: string) => `${prefix}${MASK}`)
  for (const s of knownSecrets) {
    // Very short secrets would mask unrelated text and reveal the secret's length by omission.
    if (s.length >= 4) out = out.split(s).join(MASK)
  }
  return out
}

/** Deep copy of a config value with every secret masked, for `show-config` style output. */
export function redactConfig<T>(value: T): T {
  return redactValue(value, false) as T
}

function redactValue(value: unknown, secret: boolean): unknown {
  if (secret && value !== null && value !== undefined && value !== '') {
    if (typeof value !== 'object') return MASK
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secret))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const scalar = v === null || typeof v !== 'object'
      out[k] = redactValue(v, secret || isSecretKey(k) || (scalar && isCredentialContainer(k)))
    }
    return out
  }
  if (typeof value === 'string') return redactText(value)
  return value
}

/** Every secret string found under secret-named keys, so log lines can mask them verbatim. */
export function collectSecrets(value: unknown, secret = false, acc: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) collectSecrets(v, secret, acc)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectSecrets(v, secret || isSecretKey(k), acc)
  } else if (secret && (typeof value === 'string' || typeof value === 'number') && String(value) !== '') {
    acc.push(String(value))
  }
  return acc
}
