/**
 * haproxy.cfg for a Patroni-style cluster (docs/architecture.md#hactl-haproxy-render): options as
 * given on the command line are checked into HaproxyOptions, members and options become one
 * model, and a template (the built-in one or the user's) turns the model into text.
 *
 * Pure and deterministic: members are sorted by name (byte order), nothing depends on the
 * clock or the environment, so the same input gives the same bytes and "did it change?" is a
 * plain string compare. Every value that lands in the file is validated first, because
 * `haproxy -c` accepts some nonsense (port 99999, a space that splits a check's request line).
 */
import {isIP} from 'node:net'
import {HactlError} from '../errors'
import {DEFAULT_TEMPLATE} from './default-template'
import {checkPort, validHost, type LoadedMembers, type RenderMember} from './members'
import {compileTemplate, renderTemplate, type CompiledTemplate} from './template'

export const ENDPOINTS = ['primary', 'leader', 'read-write', 'standby-leader', 'replica', 'read-only', 'sync', 'async', 'read-only-sync', 'health'] as const
export type Endpoint = (typeof ENDPOINTS)[number]
/** Patroni applies `lag=` on these paths only; elsewhere it would be silently ignored. */
export const LAG_ENDPOINTS: readonly Endpoint[] = ['replica', 'read-only', 'async']
/** Patroni applies `tag_*=` filters on these paths only. */
export const TAG_ENDPOINTS: readonly Endpoint[] = ['replica', 'read-only']
export const CHECK_METHODS = ['HEAD', 'OPTIONS', 'GET'] as const
export type CheckMethod = (typeof CHECK_METHODS)[number]
export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random'] as const

export interface ListenerSpec {
  name: string
  port: number
  endpoint: Endpoint
  /** Replication lag bound as Patroni reads it: bytes or a unit (`16MB`). */
  lag: string | null
  /** `tag_<key>=<value>` filters, in the order given. */
  tags: Array<[string, string]>
  balance: string | null
  maxconn: number | null
  /** Bind address; null = the global --bind. */
  bind: string | null
}

/**
 * The process settings of the global section, as the distribution's own haproxy.cfg has them, so
 * that `--output /etc/haproxy/haproxy.cfg` keeps HAProxy unprivileged, chrooted, logging and with
 * its admin socket: `debian` is Debian 12's /etc/haproxy/haproxy.cfg, `rhel` the haproxy RPM's
 * (RHEL/Rocky/Alma 9), `minimal` only maxconn (Patroni's documented haproxy.cfg; for HAProxy
 * run in the foreground by an unprivileged user or a container).
 */
export const GLOBAL_SECTIONS = {
  debian: [
    'log /dev/log local0',
    'log /dev/log local1 notice',
    'chroot /var/lib/haproxy',
    'stats socket /run/haproxy/admin.sock mode 660 level admin',
    'stats timeout 30s',
    'user haproxy',
    'group haproxy',
    'daemon',
  ],
  rhel: [
    'log 127.0.0.1 local2',
    'chroot /var/lib/haproxy',
    'pidfile /var/run/haproxy.pid',
    'user haproxy',
    'group haproxy',
    'daemon',
    'stats socket /var/lib/haproxy/stats',
  ],
  minimal: [],
} as const satisfies Record<string, readonly string[]>
export type GlobalSection = keyof typeof GLOBAL_SECTIONS

export interface HaproxyOptions {
  bind: string
  /** The stats page listens on `bind` (default 127.0.0.1, not the listeners' --bind). */
  stats: {port: number; uri: string; bind: string} | null
  globalSection: GlobalSection
  listeners: ListenerSpec[]
  checkMethod: CheckMethod
  inter: string
  fall: number
  rise: number
  globalMaxconn: number
  serverMaxconn: number
  retries: number
  timeouts: {client: string; connect: string; server: string; check: string}
  /** true: every check over TLS; false: never; null: when the member's api_url is https. */
  checkSsl: boolean | null
  caFile: string | null
  verifyNone: boolean
  crt: string | null
  /** `user:password` sent as a Basic Authorization header on every check. */
  checkAuth: string | null
  /** Server lines point here instead of the PostgreSQL port (PgBouncer on each node). */
  targetPort: number | null
}

/** What flags provide, before checking; every field optional (defaults below). */
export interface HaproxyOptionsInput {
  bind?: string
  primaryPort?: string | number
  replicaPort?: string | number
  primaryEndpoint?: string
  replicaEndpoint?: string
  replicaLag?: string
  replicaTags?: string[]
  listeners?: string[]
  stats?: boolean
  statsPort?: string | number
  statsUri?: string
  statsBind?: string
  globalSection?: string
  checkMethod?: string
  inter?: string
  fall?: string | number
  rise?: string | number
  balance?: string
  maxconn?: string | number
  listenerMaxconn?: string | number
  serverMaxconn?: string | number
  retries?: string | number
  timeoutClient?: string
  timeoutConnect?: string
  timeoutServer?: string
  timeoutCheck?: string
  checkSsl?: boolean
  caFile?: string
  verifyNone?: boolean
  crt?: string
  checkAuth?: string
  pgbouncerPort?: string | number
}

const usage = (msg: string, hints: string[] = []) => new HactlError('USAGE', msg, {exitCode: 2, hints})
const show = (v: unknown) => JSON.stringify(v)

function positiveInt(v: string | number | undefined, flag: string, dflt: number, max = 1_000_000): number {
  if (v === undefined) return dflt
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) throw usage(`${flag}: ${show(v)} is not a whole number from 1 to ${max}`)
  return n
}

/** HAProxy's time format: a number with an optional unit (default ms). */
function haproxyTime(v: string | undefined, flag: string, dflt: string): string {
  if (v === undefined) return dflt
  if (!/^\d+(us|ms|s|m|h|d)?$/.test(v) || /^0+(us|ms|s|m|h|d)?$/.test(v)) {
    throw usage(`${flag}: ${show(v)} is not a HAProxy time (a positive number with us, ms, s, m, h or d, e.g. 3s)`)
  }
  return v
}

function safePath(v: string | undefined, flag: string): string | null {
  if (v === undefined) return null
  if (v === '' || /[\s#"'\\]/.test(v)) throw usage(`${flag}: ${show(v)} must be a path without spaces, quotes, '#' or backslashes`)
  return v
}

function bindAddress(v: string, flag: string): string {
  if (v === '*' || validHost(v)) return v
  const bare = /^\[(.*)\]$/.exec(v)?.[1]
  if (bare !== undefined && isIP(bare) === 6) return bare
  throw usage(`${flag}: ${show(v)} is not *, an IP address or a host name`)
}

function endpoint(v: string, flag: string): Endpoint {
  const e = v.trim().toLowerCase()
  if (!(ENDPOINTS as readonly string[]).includes(e)) throw usage(`${flag}: unknown endpoint ${show(v)}`, [`known endpoints: ${ENDPOINTS.join(', ')}`])
  return e as Endpoint
}

function lag(v: string, flag: string): string {
  if (!/^\d+(B|kB|MB|GB|TB)?$/.test(v)) throw usage(`${flag}: ${show(v)} is not a lag Patroni understands (bytes, or a number with B, kB, MB, GB or TB, e.g. 16MB)`)
  return v
}

function tag(v: string, flag: string): [string, string] {
  const eq = v.indexOf('=')
  const key = eq < 0 ? '' : v.slice(0, eq).replace(/^tag_/, '')
  if (eq < 0 || key === '' || v.slice(eq + 1) === '') throw usage(`${flag}: ${show(v)} is not key=value`)
  return [key, v.slice(eq + 1)]
}

function balance(v: string, flag: string): string {
  if (!(BALANCE_ALGORITHMS as readonly string[]).includes(v)) throw usage(`${flag}: unknown balance algorithm ${show(v)}`, [`known: ${BALANCE_ALGORITHMS.join(', ')}`])
  return v
}

function proxyName(v: string, flag: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(v)) throw usage(`${flag}: listener name ${show(v)} may only hold letters, digits, '-', '_', '.' and ':'`)
  return v
}

function checkFilters(l: ListenerSpec, flag: string): void {
  if (l.lag !== null && !LAG_ENDPOINTS.includes(l.endpoint)) {
    throw usage(`${flag}: lag does not apply to /${l.endpoint} (Patroni honours it on ${LAG_ENDPOINTS.map((e) => '/' + e).join(', ')})`)
  }
  if (l.tags.length && !TAG_ENDPOINTS.includes(l.endpoint)) {
    throw usage(`${flag}: tag filters do not apply to /${l.endpoint} (Patroni honours them on ${TAG_ENDPOINTS.map((e) => '/' + e).join(', ')})`)
  }
}

/**
 * `--listener name=N,port=P[,endpoint=E][,lag=L][,tag_K=V...][,balance=B][,maxconn=M][,bind=A]`.
 * A listener named like an existing one (primary, replicas) replaces it.
 */
export function parseListenerSpec(text: string): ListenerSpec {
  const flag = `--listener ${show(text)}`
  const fields = new Map<string, string>()
  const tags: Array<[string, string]> = []
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) throw usage(`${flag}: ${show(part)} is not key=value`, ['example: --listener name=read_any,port=5002,endpoint=read-only'])
    const k = part.slice(0, eq).trim()
    const v = part.slice(eq + 1).trim()
    if (k.startsWith('tag_')) tags.push(tag(`${k}=${v}`, flag))
    else if (['name', 'port', 'endpoint', 'lag', 'balance', 'maxconn', 'bind'].includes(k)) {
      if (fields.has(k)) throw usage(`${flag}: ${k} is given twice`)
      fields.set(k, v)
    } else throw usage(`${flag}: unknown key ${show(k)} (known: name, port, endpoint, lag, tag_<key>, balance, maxconn, bind)`)
  }
  const name = fields.get('name')
  if (!name) throw usage(`${flag}: name= is required`)
  if (!fields.has('port')) throw usage(`${flag}: port= is required`)
  const l: ListenerSpec = {
    name: proxyName(name, flag),
    port: checkPort(fields.get('port'), `${flag}: port`),
    endpoint: endpoint(fields.get('endpoint') ?? 'replica', `${flag}: endpoint`),
    lag: fields.has('lag') ? lag(fields.get('lag')!, `${flag}: lag`) : null,
    tags,
    balance: fields.has('balance') ? balance(fields.get('balance')!, `${flag}: balance`) : null,
    maxconn: fields.has('maxconn') ? positiveInt(fields.get('maxconn'), `${flag}: maxconn`, 0) : null,
    bind: fields.has('bind') ? bindAddress(fields.get('bind')!, `${flag}: bind`) : null,
  }
  checkFilters(l, flag)
  return l
}

const WILDCARDS = new Set(['*', '::', '0.0.0.0'])

/** Checks every option and fills in the canonical defaults (Patroni's haproxy.cfg). */
export function parseHaproxyOptions(i: HaproxyOptionsInput): HaproxyOptions {
  const listenerMaxconn = i.listenerMaxconn === undefined ? null : positiveInt(i.listenerMaxconn, '--listener-maxconn', 0)
  const globalBalance = i.balance === undefined ? null : balance(i.balance, '--balance')
  const primary: ListenerSpec = {
    name: 'primary',
    port: i.primaryPort === undefined ? 5000 : checkPort(i.primaryPort, '--primary-port'),
    endpoint: i.primaryEndpoint === undefined ? 'primary' : endpoint(i.primaryEndpoint, '--primary-endpoint'),
    lag: null,
    tags: [],
    balance: null,
    maxconn: null,
    bind: null,
  }
  const replicas: ListenerSpec = {
    name: 'replicas',
    port: i.replicaPort === undefined ? 5001 : checkPort(i.replicaPort, '--replica-port'),
    endpoint: i.replicaEndpoint === undefined ? 'replica' : endpoint(i.replicaEndpoint, '--replica-endpoint'),
    lag: i.replicaLag === undefined ? null : lag(i.replicaLag, '--replica-lag'),
    tags: (i.replicaTags ?? []).map((t) => tag(t, '--replica-tag')),
    balance: null,
    maxconn: null,
    bind: null,
  }
  checkFilters(replicas, '--replica-lag/--replica-tag')
  const listeners: ListenerSpec[] = [primary, replicas]
  const given = new Set<string>()
  for (const text of i.listeners ?? []) {
    const l = parseListenerSpec(text)
    // Replacing primary/replicas is a feature; naming one extra listener twice is a slip.
    if (given.has(l.name)) throw usage(`--listener: two listeners are named ${show(l.name)}`)
    given.add(l.name)
    const at = listeners.findIndex((x) => x.name === l.name)
    if (at >= 0) listeners[at] = l
    else listeners.push(l)
  }
  for (const l of listeners) {
    l.balance ??= globalBalance
    l.maxconn ??= listenerMaxconn
  }
  const stats = i.stats === false ? null : {
    port: i.statsPort === undefined ? 7000 : checkPort(i.statsPort, '--stats-port'),
    uri: i.statsUri ?? '/',
    bind: i.statsBind === undefined ? '127.0.0.1' : bindAddress(i.statsBind, '--stats-bind'),
  }
  const globalSection = i.globalSection ?? 'debian'
  if (!Object.hasOwn(GLOBAL_SECTIONS, globalSection)) {
    throw usage(`--global-section: ${show(globalSection)} is not one of ${Object.keys(GLOBAL_SECTIONS).join(', ')}`)
  }
  if (stats && !/^\/[^\s#"'\\]*$/.test(stats.uri)) throw usage(`--stats-uri: ${show(stats.uri)} must start with / and hold no spaces, quotes or '#'`)
  const bind = i.bind === undefined ? '*' : bindAddress(i.bind, '--bind')
  const binds = [...(stats ? [{name: 'stats', port: stats.port, addr: stats.bind}] : []), ...listeners.map((l) => ({name: l.name, port: l.port, addr: l.bind ?? bind}))]
  for (let a = 0; a < binds.length; a++) {
    for (let b = a + 1; b < binds.length; b++) {
      const x = binds[a]!
      const y = binds[b]!
      if (x.name === y.name) throw usage(`--listener: the name ${show(x.name)} is taken${x.name === 'stats' ? ' by the stats page (use --no-stats to free it)' : ''}`)
      if (x.port === y.port && (x.addr === y.addr || WILDCARDS.has(x.addr) || WILDCARDS.has(y.addr))) {
        throw usage(`listeners ${show(x.name)} and ${show(y.name)} both bind port ${x.port}`)
      }
    }
  }
  const method = (i.checkMethod ?? 'HEAD').toUpperCase()
  if (!(CHECK_METHODS as readonly string[]).includes(method)) throw usage(`--check-method: ${show(i.checkMethod)} is not one of ${CHECK_METHODS.join(', ')}`)
  const caFile = safePath(i.caFile, '--check-ca-file')
  const crt = safePath(i.crt, '--check-crt')
  const verifyNone = i.verifyNone === true
  if (caFile && verifyNone) throw usage('--check-ca-file and --check-verify-none contradict each other: pick one')
  if (i.checkSsl === false && (caFile || verifyNone || crt)) throw usage('--no-check-ssl turns TLS checks off, so --check-ca-file, --check-verify-none and --check-crt would do nothing')
  if (i.checkSsl === true && !caFile && !verifyNone) {
    throw usage('--check-ssl needs --check-ca-file FILE (verify the REST API certificate) or --check-verify-none', ['HAProxy refuses check-ssl without a CA file unless verification is off'])
  }
  let checkAuth: string | null = null
  if (i.checkAuth !== undefined) {
    // Never echo the value: it holds a password.
    if (!/^[^:\s]+:[^\s]*$/.test(i.checkAuth) || /["\\]/.test(i.checkAuth)) throw usage('--check-auth must be user:password without spaces, quotes or backslashes (value not shown)')
    checkAuth = i.checkAuth
  }
  return {
    bind,
    stats,
    globalSection: globalSection as GlobalSection,
    listeners,
    checkMethod: method as CheckMethod,
    inter: haproxyTime(i.inter, '--inter', '3s'),
    fall: positiveInt(i.fall, '--fall', 3, 1000),
    rise: positiveInt(i.rise, '--rise', 2, 1000),
    globalMaxconn: positiveInt(i.maxconn, '--maxconn', 100),
    serverMaxconn: positiveInt(i.serverMaxconn, '--server-maxconn', 100),
    retries: (() => {
      if (i.retries === undefined) return 2
      const n = typeof i.retries === 'string' && /^\d+$/.test(i.retries) ? Number(i.retries) : i.retries
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) throw usage(`--retries: ${show(i.retries)} is not a whole number from 0 to 100`)
      return n
    })(),
    timeouts: {
      client: haproxyTime(i.timeoutClient, '--timeout-client', '30m'),
      connect: haproxyTime(i.timeoutConnect, '--timeout-connect', '4s'),
      server: haproxyTime(i.timeoutServer, '--timeout-server', '30m'),
      check: haproxyTime(i.timeoutCheck, '--timeout-check', '5s'),
    },
    checkSsl: i.checkSsl ?? null,
    caFile,
    verifyNone,
    crt,
    checkAuth,
    targetPort: i.pgbouncerPort === undefined ? null : checkPort(i.pgbouncerPort, '--pgbouncer-port'),
  }
}

export const DEFAULT_OPTIONS: HaproxyOptions = Object.freeze(parseHaproxyOptions({})) as HaproxyOptions

// --- model -------------------------------------------------------------------------------------

export interface ServerModel {
  /** HAProxy server name: the member name, with characters HAProxy refuses replaced by `_`. */
  name: string
  member: string
  /** `host:port` ([v6]:port) the traffic goes to. */
  address: string
  /** Everything after the address on the server line. */
  options: string
  first: boolean
  last: boolean
}

export interface ListenerModel {
  name: string
  /** The whole `bind` argument, e.g. `*:5000` or `[::]:5000 v4v6`. */
  bind: string
  port: number
  endpoint: Endpoint
  method: CheckMethod
  /** The URL path of the check with its query, URL-encoded: `/replica?lag=16MB&tag_dc=eu`. */
  path: string
  /** The `option httpchk ...` line. */
  httpchk: string
  /** Argument of `http-check send` when the check carries a header, else null. */
  checkSend: string | null
  balance: string | null
  maxconn: number | null
  defaultServer: string
  servers: ServerModel[]
  first: boolean
  last: boolean
}

export interface MemberModel {
  name: string
  host: string
  port: number
  /** `host:port`, IPv6 bracketed. */
  address: string
  apiHost: string
  apiPort: number
  apiScheme: string
  role: string | null
  state: string | null
  tags: Record<string, string>
  first: boolean
  last: boolean
}

export interface HaproxyModel {
  scope: string | null
  leader: string | null
  /** `lines`: the --global-section's settings, one per line (empty for minimal). */
  global: {maxconn: number; section: GlobalSection; lines: string[]}
  defaults: {retries: number; timeoutClient: string; timeoutConnect: string; timeoutServer: string; timeoutCheck: string}
  stats: {bind: string; port: number; uri: string} | null
  listeners: ListenerModel[]
  members: MemberModel[]
}

const bracket = (h: string) => (isIP(h) === 6 ? `[${h}]` : h)

function bindArg(addr: string, port: number): string {
  if (addr === '::') return `[::]:${port} v4v6`
  return `${bracket(addr)}:${port}`
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** HAProxy names allow letters, digits, '-', '_', '.' and ':'; collisions get _2, _3... */
function serverNames(members: RenderMember[]): string[] {
  const used = new Set<string>()
  return members.map((m) => {
    const base = m.name.replace(/[^A-Za-z0-9_.:-]/g, '_') || '_'
    let name = base
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`
    used.add(name)
    return name
  })
}

/** List position flags, so templates can join items (`{{^last}}, {{/last}}`). */
const ends = (i: number, n: number) => ({first: i === 0, last: i === n - 1})

function checkPath(l: ListenerSpec): string {
  const q = [
    ...(l.lag === null ? [] : [`lag=${encodeURIComponent(l.lag)}`]),
    ...l.tags.map(([k, v]) => `tag_${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  ]
  return `/${l.endpoint}${q.length ? '?' + q.join('&') : ''}`
}

function tlsOptions(m: RenderMember, o: HaproxyOptions): string {
  const on = o.checkSsl ?? m.apiScheme === 'https'
  if (!on) return ''
  if (!o.caFile && !o.verifyNone) {
    throw usage(`member ${show(m.name)}: its REST API is https, so health checks need TLS: give --check-ca-file FILE or --check-verify-none`, [
      'HAProxy refuses check-ssl without a CA file unless verification is off',
    ])
  }
  return ` check-ssl ${o.caFile ? `verify required ca-file ${o.caFile}` : 'verify none'}${o.crt ? ` crt ${o.crt}` : ''}`
}

export function buildModel(loaded: LoadedMembers, o: HaproxyOptions): HaproxyModel {
  const sorted = [...loaded.members].sort((a, b) => byteOrder(a.name, b.name))
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.name === sorted[i - 1]!.name) throw usage(`duplicate member name ${show(sorted[i]!.name)}`)
  }
  const names = serverNames(sorted)
  const servers: ServerModel[] = sorted.map((m, i) => {
    const port = o.targetPort ?? m.port
    const addr = m.apiHost !== m.host ? ` addr ${bracket(m.apiHost)}` : ''
    return {
      name: names[i]!,
      member: m.name,
      address: `${bracket(m.host)}:${port}`,
      options: `maxconn ${o.serverMaxconn} check port ${m.apiPort}${addr}${tlsOptions(m, o)}`,
      ...ends(i, sorted.length),
    }
  })
  const auth = o.checkAuth === null ? null : `hdr Authorization "Basic ${Buffer.from(o.checkAuth, 'utf8').toString('base64')}"`
  const listeners = o.listeners.map((l, i): ListenerModel => {
    const path = checkPath(l)
    return {
      name: l.name,
      bind: bindArg(l.bind ?? o.bind, l.port),
      port: l.port,
      endpoint: l.endpoint,
      method: o.checkMethod,
      path,
      httpchk: auth ? 'option httpchk' : `option httpchk ${o.checkMethod} ${path}`,
      checkSend: auth ? `meth ${o.checkMethod} uri ${path} ${auth}` : null,
      balance: l.balance,
      maxconn: l.maxconn,
      defaultServer: `inter ${o.inter} fall ${o.fall} rise ${o.rise} on-marked-down shutdown-sessions`,
      servers: servers.map((s) => ({...s})),
      ...ends(i, o.listeners.length),
    }
  })
  return {
    scope: loaded.scope,
    leader: loaded.leader,
    global: {maxconn: o.globalMaxconn, section: o.globalSection, lines: [...GLOBAL_SECTIONS[o.globalSection]]},
    defaults: {
      retries: o.retries,
      timeoutClient: o.timeouts.client,
      timeoutConnect: o.timeouts.connect,
      timeoutServer: o.timeouts.server,
      timeoutCheck: o.timeouts.check,
    },
    stats: o.stats ? {bind: bindArg(o.stats.bind, o.stats.port), port: o.stats.port, uri: o.stats.uri} : null,
    listeners,
    members: sorted.map((m, i) => ({
      name: m.name,
      host: m.host,
      port: o.targetPort ?? m.port,
      address: `${bracket(m.host)}:${o.targetPort ?? m.port}`,
      apiHost: m.apiHost,
      apiPort: m.apiPort,
      apiScheme: m.apiScheme,
      role: m.role,
      state: m.state,
      tags: {...m.tags},
      ...ends(i, sorted.length),
    })),
  }
}

let builtIn: CompiledTemplate | undefined

export function builtInTemplate(): CompiledTemplate {
  return (builtIn ??= compileTemplate(DEFAULT_TEMPLATE, 'built-in'))
}

/** The whole haproxy.cfg text. */
export function renderHaproxy(loaded: LoadedMembers, o: HaproxyOptions, template: CompiledTemplate = builtInTemplate()): string {
  return renderTemplate(template, buildModel(loaded, o))
}
