/**
 * vip-manager's configuration, read the way vip-manager 1.x-5.x users write it
 * (docs/architecture.md#hactl-vip): every key as a flag, as `VIP_*` environment variable
 * and in a `--config` file (YAML, JSON, or a `KEY=VALUE` env file like Debian's
 * /etc/patroni/<ver>-<cluster>.vip). Precedence: flag > env > file > default.
 *
 * Legacy names (1.x env names such as VIP_IFACE, 0.x YAML keys such as `iface`, and the
 * `hosting-type` of the shipped sample file that no vip-manager ever read) are accepted with a
 * deprecation line. Within one source a legacy and a current name for the same key must agree;
 * different values are refused. Across sources, precedence decides as for any key.
 *
 * Pure apart from the injected readFile/hostname, so every rule is unit-tested.
 */
import {isIP} from 'node:net'
import {parse as parseYaml} from 'yaml'

export const VIP_KEYS = [
  'ip',
  'netmask',
  'interface',
  'trigger-key',
  'trigger-value',
  'dcs-type',
  'dcs-endpoints',
  'etcd-user',
  'etcd-password',
  'etcd-ca-file',
  'etcd-cert-file',
  'etcd-key-file',
  'consul-token',
  'interval',
  'manager-type',
  'retry-num',
  'retry-after',
  'verbose',
  'keep-on-term',
  'config',
] as const
export type VipKey = (typeof VIP_KEYS)[number]

export const SECRET_KEYS: ReadonlySet<VipKey> = new Set(['etcd-password', 'consul-token'])
const BOOL_KEYS: ReadonlySet<VipKey> = new Set(['verbose', 'keep-on-term'])

export const KEY_HELP: Record<VipKey, string> = {
  ip: 'the virtual IP address to manage (IPv4 or IPv6)',
  netmask: 'prefix length of the virtual IP, e.g. 24 or 32',
  interface: 'network interface the address is put on',
  'trigger-key': 'DCS key holding the leader name, e.g. /service/<scope>/leader (REST path for dcs-type patroni; default /leader there)',
  'trigger-value': 'value of trigger-key that means "this node" (default: hostname; 200 for dcs-type patroni)',
  'dcs-type': 'etcd or etcd3 (etcd v3 API), or patroni (poll the local agent\'s REST API)',
  'dcs-endpoints': 'DCS endpoints, comma-separated (default http://127.0.0.1:2379, or http://127.0.0.1:8008 for patroni)',
  'etcd-user': 'etcd user name',
  'etcd-password': 'etcd password (needs etcd-user)',
  'etcd-ca-file': 'CA file for https endpoints (etcd and patroni)',
  'etcd-cert-file': 'client certificate file (needs etcd-key-file)',
  'etcd-key-file': 'client key file (needs etcd-cert-file)',
  'consul-token': 'Consul ACL token (dcs-type consul is not supported by this build)',
  interval: 'ms between checks: REST polls, etcd liveness reads and address repair (default 1000)',
  'manager-type': 'basic (ip addr add/del); hetzner is not supported by this build',
  'retry-num': 'accepted for compatibility; unused (default 3)',
  'retry-after': 'accepted for compatibility; unused, ms (default 250)',
  verbose: 'debug logging',
  'keep-on-term': 'hactl extension: leave the address in place on SIGTERM like vip-manager (default: release it)',
  config: 'configuration file: .yml/.yaml, .json, or KEY=VALUE lines (e.g. /etc/patroni/15-main.vip)',
}

export const envName = (key: VipKey) => 'VIP_' + key.toUpperCase().replace(/-/g, '_')

/** Old names and the key they now mean. `env` is the 1.x environment spelling, when one existed. */
export const LEGACY_NAMES: ReadonlyArray<{name: string; env?: string; key: VipKey}> = [
  {name: 'mask', env: 'VIP_MASK', key: 'netmask'},
  {name: 'iface', env: 'VIP_IFACE', key: 'interface'},
  {name: 'key', env: 'VIP_KEY', key: 'trigger-key'},
  {name: 'nodename', env: 'VIP_NODENAME', key: 'trigger-value'},
  {name: 'host', env: 'VIP_HOST', key: 'trigger-value'},
  {name: 'type', env: 'VIP_TYPE', key: 'dcs-type'},
  {name: 'endpoint_type', env: 'VIP_ENDPOINT_TYPE', key: 'dcs-type'},
  {name: 'endpoint', env: 'VIP_ENDPOINT', key: 'dcs-endpoints'},
  {name: 'endpoints', env: 'VIP_ENDPOINTS', key: 'dcs-endpoints'},
  {name: 'hostingtype', env: 'VIP_HOSTINGTYPE', key: 'manager-type'},
  {name: 'hosting_type', env: 'VIP_HOSTING_TYPE', key: 'manager-type'},
  // The shipped sample YAML says `hosting-type`, which no vip-manager version read.
  {name: 'hosting-type', key: 'manager-type'},
  {name: 'etcd_user', key: 'etcd-user'},
  {name: 'etcd_password', key: 'etcd-password'},
  {name: 'etcd_ca_file', key: 'etcd-ca-file'},
  {name: 'etcd_cert_file', key: 'etcd-cert-file'},
  {name: 'etcd_key_file', key: 'etcd-key-file'},
  {name: 'consul_token', key: 'consul-token'},
  {name: 'retry_num', key: 'retry-num'},
  {name: 'retry_after', key: 'retry-after'},
]

export type DcsType = 'etcd' | 'patroni'

export interface VipConfig {
  ip: string
  family: 4 | 6
  netmask: number
  interface: string
  triggerKey: string
  triggerValue: string
  dcsType: DcsType
  dcsEndpoints: string[]
  etcdUser?: string
  etcdPassword?: string
  etcdCaFile?: string
  etcdCertFile?: string
  etcdKeyFile?: string
  interval: number
  managerType: 'basic'
  retryNum: number
  retryAfter: number
  verbose: boolean
  keepOnTerm: boolean
  configFile?: string
}

export type RawValue = string | number | boolean | Array<string | number>

export interface LoadInput {
  /** Flags as parsed (undefined = not given). Keys are current names. */
  flags: Partial<Record<VipKey, string | boolean | undefined>>
  env: Record<string, string | undefined>
  readFile: (path: string) => string
  hostname: () => string
}

export interface LoadResult {
  config?: VipConfig
  /** Lines vip-manager prints before it runs: file used, defaults applied, deprecations. */
  notices: string[]
  warnings: string[]
  /** Everything wrong, at once; non-empty means exit 1. */
  errors: string[]
  /** The effective settings, sorted, secrets masked (also when errors is non-empty). */
  dump: string[]
}

interface Entry {
  value: RawValue
  /** Where it came from, for messages: `--ip`, `VIP_IFACE`, `iface in /etc/x.yml`. */
  source: string
  legacy: boolean
}

type Layer = Map<VipKey, Entry>

const KEY_SET: ReadonlySet<string> = new Set(VIP_KEYS)
const ENV_TO_KEY = new Map<string, VipKey>(VIP_KEYS.map((k) => [envName(k), k]))
const LEGACY_BY_NAME = new Map(LEGACY_NAMES.map((l) => [l.name, l]))
const LEGACY_BY_ENV = new Map(LEGACY_NAMES.filter((l) => l.env).map((l) => [l.env!, l]))

const show = (v: RawValue) => (Array.isArray(v) ? v.join(',') : String(v))

function isEmpty(v: RawValue | null | undefined): v is undefined | null {
  if (v === undefined || v === null) return true
  if (typeof v === 'string') return v === ''
  if (Array.isArray(v)) return v.length === 0
  return false
}

/** Adds one setting to a layer; legacy and current names for one key must agree. */
function put(layer: Layer, key: VipKey, entry: Entry, out: LoadResult, secret: boolean): void {
  const prev = layer.get(key)
  if (!prev) {
    layer.set(key, entry)
    return
  }
  const a = show(prev.value)
  const b = show(entry.value)
  if (a === b) {
    out.notices.push(`Conflicting settings: ${prev.source} and ${entry.source} are both specified… But no conflicting values: ${secret ? 'they' : `${a} and ${b}`} are equal…ignoring.`)
    if (prev.legacy && !entry.legacy) layer.set(key, entry)
    return
  }
  out.errors.push(
    `Conflicting settings: ${prev.source} and ${entry.source} both set ${key} with different values${secret ? '' : ` (${JSON.stringify(a)} and ${JSON.stringify(b)})`}; keep one of them`,
  )
}

function deprecation(old: string, key: VipKey, fromEnv: boolean): string {
  return fromEnv ? `Parameter "${old}" has been deprecated, please use "${envName(key)}" instead` : `Parameter "${old}" has been deprecated, please use "${key}" instead`
}

function envLayer(env: Record<string, string | undefined>, source: (name: string) => string, out: LoadResult, plainKeys: boolean): Layer {
  const layer: Layer = new Map()
  // Sorted so that messages come out in a stable order.
  for (const name of Object.keys(env).sort()) {
    const value = env[name]
    if (value === undefined || value === '') continue
    const key = ENV_TO_KEY.get(name)
    if (key) {
      put(layer, key, {value, source: source(name), legacy: false}, out, SECRET_KEYS.has(key))
      continue
    }
    const legacy = LEGACY_BY_ENV.get(name)
    if (legacy) {
      out.notices.push(deprecation(name, legacy.key, true))
      put(layer, legacy.key, {value, source: source(name), legacy: true}, out, SECRET_KEYS.has(legacy.key))
      continue
    }
    if (plainKeys) {
      // An env file may also use the key names themselves (viper's .env form).
      fileKey(layer, name, value, source(name), out)
      continue
    }
    if (name.startsWith('VIP_')) out.warnings.push(`${source(name)} is not a vip-manager setting; ignored`)
  }
  return layer
}

function fileKey(layer: Layer, rawName: string, value: unknown, source: string, out: LoadResult): void {
  const name = rawName.toLowerCase()
  if (value === null || value === undefined) return
  if (typeof value === 'object' && !Array.isArray(value)) {
    out.errors.push(`${source}: ${name} must be a single value or a list, got a mapping`)
    return
  }
  const v = value as RawValue
  if (isEmpty(v)) return
  if (KEY_SET.has(name)) {
    put(layer, name as VipKey, {value: v, source, legacy: false}, out, SECRET_KEYS.has(name as VipKey))
    return
  }
  const legacy = LEGACY_BY_NAME.get(name)
  if (legacy) {
    out.notices.push(deprecation(name, legacy.key, false))
    put(layer, legacy.key, {value: v, source, legacy: true}, out, SECRET_KEYS.has(legacy.key))
    return
  }
  if (name === 'version') return // a bookkeeping key viper writes into dumps
  out.warnings.push(`${source}: unknown setting ${JSON.stringify(rawName)}; ignored`)
}

/**
 * `KEY=VALUE` lines as systemd's EnvironmentFile reads them: `#`/`;` comments, optional
 * `export `, single or double quotes, unquoted values trimmed.
 */
export function parseEnvFile(text: string, path: string): {vars: Record<string, string>; errors: string[]} {
  const vars: Record<string, string> = {}
  const errors: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim()
    if (!t || t.startsWith('#') || t.startsWith(';')) return
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(t)
    if (!m) {
      errors.push(`${path} line ${i + 1}: expected KEY=VALUE, got ${JSON.stringify(t.slice(0, 60))} (YAML files need the extension .yml or .yaml)`)
      return
    }
    let v = m[2]
    const q = v[0]
    if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) {
      v = v.slice(1, -1)
      if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1')
    } else if (q === '"' || q === "'") {
      errors.push(`${path} line ${i + 1}: unterminated quote in the value of ${m[1]}`)
      return
    } else {
      v = v.replace(/\s+#.*$/, '').trim()
    }
    vars[m[1]] = v
  })
  return {vars, errors}
}

function fileLayer(path: string, input: LoadInput, out: LoadResult): Layer {
  const layer: Layer = new Map()
  let text: string
  try {
    text = input.readFile(path)
  } catch (e) {
    out.errors.push(`config file ${JSON.stringify(path)} cannot be read: ${(e as Error).message}`)
    return layer
  }
  out.notices.push(`Using config from file: ${path}`)
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase()
  if (ext === 'yml' || ext === 'yaml' || ext === 'json') {
    let doc: unknown
    try {
      doc = ext === 'json' ? JSON.parse(text) : parseYaml(text)
    } catch (e) {
      out.errors.push(`config file ${path} is not valid ${ext === 'json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`)
      return layer
    }
    if (doc === null || doc === undefined) return layer
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      out.errors.push(`config file ${path} must hold a mapping of settings (key: value), got ${Array.isArray(doc) ? 'a list' : typeof doc}`)
      return layer
    }
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) fileKey(layer, k, v, `${k.toLowerCase()} in ${path}`, out)
    return layer
  }
  const {vars, errors} = parseEnvFile(text, path)
  out.errors.push(...errors)
  const env = envLayer(vars, (n) => `${n} in ${path}`, out, true)
  for (const [k, v] of env) layer.set(k, v)
  return layer
}

function toInt(key: VipKey, e: Entry, out: LoadResult): number | undefined {
  const v = e.value
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n)) {
    out.errors.push(`${key} must be an integer, got ${JSON.stringify(show(v))} from ${e.source}`)
    return undefined
  }
  return n
}

function toBool(key: VipKey, e: Entry, out: LoadResult): boolean | undefined {
  const v = e.value
  if (typeof v === 'boolean') return v
  const s = show(v).trim().toLowerCase()
  if (['1', 't', 'true', 'yes', 'on'].includes(s)) return true
  if (['0', 'f', 'false', 'no', 'off'].includes(s)) return false
  out.errors.push(`${key} must be true or false, got ${JSON.stringify(show(v))} from ${e.source}`)
  return undefined
}

function toList(v: RawValue): string[] {
  const items = Array.isArray(v) ? v.map(String) : String(v).split(',')
  return items.map((s) => s.trim()).filter((s) => s !== '')
}

/** IPv4 prefixes outside 1..32 fall back to the classful default, as vip-manager does. */
function classfulPrefix(ip: string): number {
  const first = Number(ip.split('.')[0])
  return first < 128 ? 8 : first < 192 ? 16 : 24
}

export function loadVipConfig(input: LoadInput): LoadResult {
  const out: LoadResult = {notices: [], warnings: [], errors: [], dump: []}

  const flags: Layer = new Map()
  for (const k of VIP_KEYS) {
    const v = input.flags[k]
    if (v === undefined || v === '') continue
    flags.set(k, {value: v, source: `--${k}`, legacy: false})
  }
  const env = envLayer(input.env, (n) => n, out, false)
  const configPath = flags.get('config') ?? env.get('config')
  const file: Layer = configPath ? fileLayer(show(configPath.value), input, out) : new Map()

  const effective = new Map<VipKey, Entry>()
  for (const layer of [file, env, flags]) for (const [k, e] of layer) effective.set(k, e)
  const get = (k: VipKey) => effective.get(k)
  const str = (k: VipKey) => {
    const e = get(k)
    return e === undefined ? undefined : show(e.value).trim()
  }

  // dcs-type first: it decides several defaults.
  let dcsType: DcsType = 'etcd'
  const rawType = str('dcs-type')
  if (rawType !== undefined) {
    const t = rawType.toLowerCase()
    if (t === 'etcd' || t === 'etcd3') dcsType = 'etcd'
    else if (t === 'patroni') dcsType = 'patroni'
    else if (t === 'consul') out.errors.push(`dcs-type consul (from ${get('dcs-type')!.source}) is not supported by hactl vip; use etcd, or patroni against the local agent`)
    else if (t === 'etcd2') out.errors.push(`dcs-type etcd2 (etcd v2 API, from ${get('dcs-type')!.source}) is not supported by hactl vip; configure Patroni with etcd3 and use dcs-type etcd`)
    else out.errors.push(`given endpoint type not supported: dcs-type ${JSON.stringify(rawType)} from ${get('dcs-type')!.source}; use etcd, etcd3 or patroni`)
  }

  if (!get('dcs-endpoints')) {
    out.notices.push('No dcs-endpoints specified, trying to use localhost with standard ports!')
    effective.set('dcs-endpoints', {value: dcsType === 'patroni' ? 'http://127.0.0.1:8008' : 'http://127.0.0.1:2379', source: 'default', legacy: false})
  }
  if (dcsType === 'patroni' && !get('trigger-key')) effective.set('trigger-key', {value: '/leader', source: 'default', legacy: false})
  if (!get('trigger-value')) {
    if (dcsType === 'patroni') {
      effective.set('trigger-value', {value: '200', source: 'default', legacy: false})
    } else {
      let host = ''
      try {
        host = input.hostname()
      } catch (e) {
        out.notices.push(`No trigger-value specified, hostname could not be retrieved: ${(e as Error).message}`)
      }
      if (host) {
        out.notices.push(`No trigger-value specified, instead using hostname: ${host}`)
        effective.set('trigger-value', {value: host, source: 'hostname', legacy: false})
      }
    }
  }

  const missing = (['ip', 'netmask', 'interface', 'trigger-key', 'trigger-value', 'dcs-endpoints'] as const).filter((k) => str(k) === undefined || str(k) === '')
  for (const k of missing) out.errors.push(`Setting ${k} is mandatory`)
  const implied: Array<[VipKey, VipKey]> = [
    ['etcd-user', 'etcd-password'],
    ['etcd-key-file', 'etcd-cert-file'],
    ['etcd-cert-file', 'etcd-key-file'],
  ]
  for (const [need, because] of implied) {
    if (get(because) && !get(need)) out.errors.push(`Setting ${need} is mandatory when setting ${because} is specified.`)
  }

  // Values.
  let ip = str('ip')
  let family: 4 | 6 = 4
  if (ip !== undefined) {
    const f = isIP(ip)
    if (f === 0) {
      out.errors.push(`ip ${JSON.stringify(ip)} (from ${get('ip')!.source}) is not an IPv4 or IPv6 address`)
      ip = undefined
    } else family = f as 4 | 6
  }
  let netmask: number | undefined
  const maskEntry = get('netmask')
  if (maskEntry) {
    netmask = toInt('netmask', maskEntry, out)
    if (netmask !== undefined && ip !== undefined) {
      if (family === 4 && (netmask < 1 || netmask > 32)) {
        const fixed = classfulPrefix(ip)
        out.warnings.push(`netmask ${netmask} is not a valid IPv4 prefix length (1..32); using the classful default /${fixed} for ${ip}, as vip-manager does`)
        netmask = fixed
      } else if (family === 6 && (netmask < 1 || netmask > 128)) {
        out.errors.push(`netmask ${netmask} (from ${maskEntry.source}) is not a valid IPv6 prefix length (1..128)`)
        netmask = undefined
      }
    }
  }
  const iface = str('interface')
  if (iface !== undefined && (iface.length > 15 || /[\s/]/.test(iface))) out.errors.push(`interface ${JSON.stringify(iface)} (from ${get('interface')!.source}) is not a valid interface name`)

  const endpoints = toList(get('dcs-endpoints')!.value)
  for (const ep of endpoints) {
    let url: URL | undefined
    try {
      url = new URL(ep)
    } catch {
      url = undefined
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) out.errors.push(`dcs-endpoints: ${JSON.stringify(ep)} is not a URL like http://127.0.0.1:2379`)
  }

  const intOr = (k: VipKey, dflt: number) => {
    const e = get(k)
    return e ? toInt(k, e, out) ?? dflt : dflt
  }
  const interval = intOr('interval', 1000)
  if (interval < 1) out.errors.push(`interval must be at least 1 ms, got ${interval}`)
  let retryNum = intOr('retry-num', 3)
  if (retryNum <= 0) retryNum = 3
  const retryAfter = intOr('retry-after', 250)
  const boolOr = (k: VipKey) => {
    const e = get(k)
    return e ? toBool(k, e, out) ?? false : false
  }
  const verbose = boolOr('verbose')
  const keepOnTerm = boolOr('keep-on-term')

  const mt = str('manager-type')?.toLowerCase()
  if (mt === 'hetzner') out.errors.push(`manager-type hetzner (from ${get('manager-type')!.source}) is not supported by hactl vip yet; use basic`)
  else if (mt !== undefined && mt !== 'basic') out.warnings.push(`manager-type ${JSON.stringify(mt)} is unknown; using basic, as vip-manager does`)
  if (get('consul-token')) out.warnings.push('consul-token is set but dcs-type is not consul; it is not used')

  // The dump shows what will run, defaults included; secrets never.
  const dumpValues = new Map<VipKey, string>()
  for (const [k, e] of effective) dumpValues.set(k, SECRET_KEYS.has(k) ? '*****' : show(k === 'dcs-endpoints' ? toList(e.value) : e.value))
  if (netmask !== undefined) dumpValues.set('netmask', String(netmask))
  if (rawType !== undefined) dumpValues.set('dcs-type', dcsType === 'etcd' ? rawType.toLowerCase() : dcsType)
  for (const [k, v] of [['interval', interval], ['retry-num', retryNum], ['retry-after', retryAfter], ['verbose', verbose], ['keep-on-term', keepOnTerm]] as const) dumpValues.set(k, String(v))
  if (!dumpValues.has('dcs-type')) dumpValues.set('dcs-type', 'etcd')
  if (!dumpValues.has('manager-type')) dumpValues.set('manager-type', 'basic')
  out.dump = ['This is the config that will be used:', ...[...dumpValues].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `\t${k} : ${v}`)]

  if (out.errors.length) return out
  out.config = {
    ip: ip!,
    family,
    netmask: netmask!,
    interface: iface!,
    triggerKey: str('trigger-key')!,
    triggerValue: show(get('trigger-value')!.value),
    dcsType,
    dcsEndpoints: endpoints,
    etcdUser: str('etcd-user'),
    etcdPassword: get('etcd-password') ? show(get('etcd-password')!.value) : undefined,
    etcdCaFile: str('etcd-ca-file'),
    etcdCertFile: str('etcd-cert-file'),
    etcdKeyFile: str('etcd-key-file'),
    interval,
    managerType: 'basic',
    retryNum,
    retryAfter,
    verbose,
    keepOnTerm,
    configFile: configPath ? show(configPath.value) : undefined,
  }
  return out
}
