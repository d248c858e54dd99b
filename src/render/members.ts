/**
 * Where `hactl haproxy render` gets its members from, each turned into one normalised shape:
 * the DCS (`members/*` values, like confd), a static inventory file (YAML, for CI), or
 * `--member` flags. Pure: parsing only, no I/O.
 */
import {isIP} from 'node:net'
import type {ClusterView} from '../core/cluster'
import {HactlError} from '../errors'

export interface RenderMember {
  /** The member name as the source has it (sorting and messages use this). */
  name: string
  /** PostgreSQL host (what the server line points at) without brackets. */
  host: string
  port: number
  /** REST API host (health checks) without brackets. */
  apiHost: string
  apiPort: number
  apiScheme: 'http' | 'https'
  /** From the DCS only: role and state as published; null for static sources. */
  role: string | null
  state: string | null
  tags: Record<string, string>
}

export interface LoadedMembers {
  members: RenderMember[]
  /** Members that could not be used (no conn_url, bad URL...), one sentence each. */
  warnings: string[]
  scope: string | null
  /** Name in the leader key, when the source is the DCS. */
  leader: string | null
}

const usage = (msg: string, hints: string[] = []) => new HactlError('USAGE', msg, {exitCode: 2, hints})

/** A host haproxy.cfg can carry unquoted: an IP literal or a DNS name. */
export function validHost(h: string): boolean {
  if (isIP(h)) return true
  return h.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(h)
}

export function checkPort(v: unknown, what: string, {allowZero = false} = {}): number {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw usage(`${what}: ${JSON.stringify(v)} is not a port number from ${allowZero ? 0 : 1} to 65535`)
  }
  return n
}

function checkHost(h: string, what: string): string {
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
  if (!validHost(bare)) throw usage(`${what}: ${JSON.stringify(h)} is not an IP address or host name`)
  if (h.startsWith('[') && isIP(bare) !== 6) throw usage(`${what}: ${JSON.stringify(h)}: only IPv6 addresses go in brackets`)
  return bare
}

/** `host[:port]`, `[v6][:port]` or a bare IPv6 address. */
export function parseHostPort(text: string, defaultPort: number | undefined, what: string): {host: string; port: number} {
  const s = text.trim()
  let host: string
  let port: string | undefined
  const b = /^\[([^\]]*)\](?::(.*))?$/.exec(s)
  if (b) {
    host = `[${b[1]}]`
    port = b[2]
  } else if (isIP(s) === 6) {
    host = s
  } else {
    const i = s.lastIndexOf(':')
    host = i < 0 ? s : s.slice(0, i)
    port = i < 0 ? undefined : s.slice(i + 1)
  }
  if (port === undefined && defaultPort === undefined) throw usage(`${what}: ${JSON.stringify(text)} has no port`)
  return {host: checkHost(host, what), port: port === undefined ? defaultPort! : checkPort(port, what)}
}

/** `postgres://[user@]host[:port]/db` or `http(s)://host:port/patroni`, as Patroni publishes them. */
function parseUrl(url: string, what: string, schemes: string[], defaultPort: number): {scheme: string; host: string; port: number} {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw usage(`${what}: ${JSON.stringify(url)} is not a URL`)
  }
  const scheme = u.protocol.replace(/:$/, '')
  if (!schemes.includes(scheme)) throw usage(`${what}: ${JSON.stringify(url)}: scheme must be ${schemes.join(' or ')}`)
  if (!u.hostname) throw usage(`${what}: ${JSON.stringify(url)} has no host`)
  const implicit = scheme === 'https' ? 443 : scheme === 'http' ? 80 : defaultPort
  return {scheme, host: checkHost(u.hostname, what), port: u.port ? checkPort(u.port, what) : implicit}
}

function stringTags(tags: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(tags ?? {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v)
  }
  return out
}

function fromUrls(name: string, connUrl: string, apiUrl: string, what: string): Omit<RenderMember, 'role' | 'state' | 'tags'> {
  const pg = parseUrl(connUrl, `${what}.conn_url`, ['postgres', 'postgresql'], 5432)
  const api = parseUrl(apiUrl, `${what}.api_url`, ['http', 'https'], 8008)
  return {name, host: pg.host, port: pg.port, apiHost: api.host, apiPort: api.port, apiScheme: api.scheme as 'http' | 'https'}
}

/** Every member key of the cluster; members that cannot be addressed are left out with a warning. */
export function membersFromCluster(cluster: ClusterView, scope: string | null): LoadedMembers {
  const members: RenderMember[] = []
  const warnings: string[] = []
  for (const m of cluster.members) {
    if (!m.connUrl || !m.apiUrl) {
      warnings.push(`member ${JSON.stringify(m.name)} has no ${!m.connUrl ? 'conn_url' : 'api_url'} in the DCS; left out`)
      continue
    }
    try {
      members.push({...fromUrls(m.name, m.connUrl, m.apiUrl, `members/${m.name}`), role: m.role, state: m.state, tags: stringTags(m.tags)})
    } catch (e) {
      warnings.push(`${(e as Error).message}; member left out`)
    }
  }
  // A member value the codec could not read is still worth a line: it is a server gone missing.
  for (const w of cluster.warnings) if (w.key.startsWith('members/')) warnings.push(`${w.key}: ${w.message}`)
  return {members, warnings, scope, leader: cluster.leader?.name ?? null}
}

const INVENTORY_MEMBER_KEYS = ['name', 'host', 'port', 'api_host', 'api_port', 'api_scheme', 'conn_url', 'api_url', 'tags']

/**
 * The inventory file: `{scope?: string, members: [{name, host, port?, api_port?, api_host?,
 * api_scheme?, tags?} | {name, conn_url, api_url, tags?}]}`. Errors name the file and key path.
 */
export function membersFromInventory(doc: unknown, file: string): LoadedMembers {
  const bad = (path: string, msg: string) => usage(`${file}: ${path}: ${msg}`)
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('(top level)', 'must be a map with a members list')
  const top = doc as Record<string, unknown>
  for (const k of Object.keys(top)) if (k !== 'members' && k !== 'scope') throw bad(k, 'unknown key (known: scope, members)')
  if (top.scope !== undefined && typeof top.scope !== 'string') throw bad('scope', 'must be a string')
  if (!Array.isArray(top.members) || top.members.length === 0) throw bad('members', 'must be a non-empty list')
  const members = top.members.map((raw, i): RenderMember => {
    const at = `members[${i}]`
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad(at, 'must be a map')
    const m = raw as Record<string, unknown>
    for (const k of Object.keys(m)) if (!INVENTORY_MEMBER_KEYS.includes(k)) throw bad(`${at}.${k}`, `unknown key (known: ${INVENTORY_MEMBER_KEYS.join(', ')})`)
    if (typeof m.name !== 'string' || m.name === '') throw bad(`${at}.name`, 'must be a non-empty string')
    const what = `${file}: ${at}`
    if (m.tags !== undefined && (m.tags === null || typeof m.tags !== 'object' || Array.isArray(m.tags))) throw bad(`${at}.tags`, 'must be a map')
    const tags = stringTags(m.tags as Record<string, unknown> | undefined)
    if (m.conn_url !== undefined || m.api_url !== undefined) {
      for (const k of ['host', 'port', 'api_host', 'api_port', 'api_scheme']) if (m[k] !== undefined) throw bad(`${at}.${k}`, 'cannot be combined with conn_url/api_url')
      if (typeof m.conn_url !== 'string' || typeof m.api_url !== 'string') throw bad(at, 'conn_url and api_url go together, both strings')
      return {...fromUrls(m.name, m.conn_url, m.api_url, what), role: null, state: null, tags}
    }
    if (typeof m.host !== 'string') throw bad(`${at}.host`, 'must be a string (or give conn_url and api_url)')
    const host = checkHost(m.host, `${what}.host`)
    const apiHost = m.api_host === undefined ? host : typeof m.api_host === 'string' ? checkHost(m.api_host, `${what}.api_host`) : (() => { throw bad(`${at}.api_host`, 'must be a string') })()
    const scheme = m.api_scheme ?? 'http'
    if (scheme !== 'http' && scheme !== 'https') throw bad(`${at}.api_scheme`, `must be http or https, got ${JSON.stringify(scheme)}`)
    return {
      name: m.name,
      host,
      port: m.port === undefined ? 5432 : checkPort(m.port, `${what}.port`),
      apiHost,
      apiPort: m.api_port === undefined ? 8008 : checkPort(m.api_port, `${what}.api_port`),
      apiScheme: scheme,
      role: null,
      state: null,
      tags,
    }
  })
  const seen = new Set<string>()
  for (const [i, m] of members.entries()) {
    if (seen.has(m.name)) throw bad(`members[${i}].name`, `duplicate member name ${JSON.stringify(m.name)}`)
    seen.add(m.name)
  }
  return {members, warnings: [], scope: typeof top.scope === 'string' ? top.scope : null, leader: null}
}

/**
 * `--member name=host[:port][,api]` where api is a port, `host:port`, or an `http(s)://` URL
 * (the REST API; default the same host, port 8008).
 */
export function parseMemberFlag(text: string): RenderMember {
  const what = `--member ${JSON.stringify(text)}`
  const eq = text.indexOf('=')
  if (eq <= 0) throw usage(`${what}: expected name=host[:port][,apiport]`, ['example: --member node1=10.0.0.1:5432,8008'])
  const name = text.slice(0, eq)
  const rest = text.slice(eq + 1)
  const comma = rest.indexOf(',')
  const pgPart = comma < 0 ? rest : rest.slice(0, comma)
  const apiPart = comma < 0 ? undefined : rest.slice(comma + 1)
  const pg = parseHostPort(pgPart, 5432, what)
  let apiHost = pg.host
  let apiPort = 8008
  let apiScheme: 'http' | 'https' = 'http'
  if (apiPart !== undefined) {
    if (/^https?:\/\//.test(apiPart)) {
      const u = parseUrl(apiPart, what, ['http', 'https'], 8008)
      ;({host: apiHost, port: apiPort} = u)
      apiScheme = u.scheme as 'http' | 'https'
    } else if (/^\d+$/.test(apiPart)) {
      apiPort = checkPort(apiPart, `${what} (REST API port)`)
    } else {
      ;({host: apiHost, port: apiPort} = parseHostPort(apiPart, 8008, `${what} (REST API)`))
    }
  }
  return {name, host: pg.host, port: pg.port, apiHost, apiPort, apiScheme, role: null, state: null, tags: {}}
}

export function membersFromFlags(values: string[]): LoadedMembers {
  const members = values.map(parseMemberFlag)
  const seen = new Set<string>()
  for (const m of members) {
    if (seen.has(m.name)) throw usage(`--member: duplicate member name ${JSON.stringify(m.name)}`)
    seen.add(m.name)
  }
  return {members, warnings: [], scope: null, leader: null}
}
