/**
 * `PATRONI_*` environment variables parsed into the config structure, following Patroni's
 * `Config._build_environment_configuration` (patroni/config.py). Pure: reads the given env object
 * and returns the config fragment, which env variables were used (so issues can name them), and
 * problems with values that could not be converted.
 *
 * Deliberate differences: `PATRONI_ETCD3_USERNAME`/`_PASSWORD` always apply to the etcd3
 * section (Patroni applies them only when another PATRONI_ETCD3_* variable exists and otherwise
 * turns them into a bootstrap user named ETCD3); the env is read, not emptied.
 */
import {parse as parseYaml} from 'yaml'
import {IssueCollector} from './issues'
import {isPlainObject, parseBool, parseIntLax} from './kit'
import {PYYAML_OPTIONS} from './yaml-options'

export type Env = Readonly<Record<string, string | undefined>>

export interface EnvConfig {
  config: Record<string, unknown>
  /** config path -> the variable it came from */
  origins: Map<string, string>
  collector: IssueCollector
}

const PREFIX = 'PATRONI_'

const AUTH_PARAMS = ['username', 'password', 'sslmode', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl', 'sslcrldir', 'gssencmode', 'channel_binding', 'sslnegotiation']

const DCS_SUFFIXES = new Set([
  'HOST', 'HOSTS', 'PORT', 'USE_PROXIES', 'PROTOCOL', 'SRV', 'SRV_SUFFIX', 'URL', 'PROXY', 'CACERT', 'CERT', 'KEY', 'VERIFY',
  'TOKEN', 'CHECKS', 'DC', 'CONSISTENCY', 'REGISTER_SERVICE', 'SERVICE_CHECK_INTERVAL', 'SERVICE_CHECK_TLS_SERVER_NAME',
  'SERVICE_TAGS', 'NAMESPACE', 'CONTEXT', 'USE_ENDPOINTS', 'SCOPE_LABEL', 'ROLE_LABEL', 'POD_IP', 'PORTS', 'LABELS',
  'BYPASS_API_SERVICE', 'RETRIABLE_HTTP_CODES', 'KEY_PASSWORD', 'USE_SSL', 'SET_ACLS', 'GROUP', 'DATABASE',
  'LEADER_LABEL_VALUE', 'FOLLOWER_LABEL_VALUE', 'STANDBY_LEADER_LABEL_VALUE', 'TMP_ROLE_LABEL', 'AUTH_DATA', 'BOOTSTRAP_LABELS',
])
const LIST_SUFFIXES = new Set(['HOSTS', 'PORTS', 'CHECKS', 'SERVICE_TAGS', 'RETRIABLE_HTTP_CODES'])
const DICT_SUFFIXES = new Set(['LABELS', 'SET_ACLS', 'AUTH_DATA', 'BOOTSTRAP_LABELS'])
const BOOL_SUFFIXES = new Set(['USE_PROXIES', 'REGISTER_SERVICE', 'USE_ENDPOINTS', 'BYPASS_API_SERVICE', 'VERIFY', 'USE_SSL'])

type Kind = 'str' | 'int' | 'bool' | 'list' | 'dict' | 'logformat'

const SECTIONS: Record<string, Record<string, Kind>> = {
  restapi: {
    listen: 'str', connect_address: 'str', certfile: 'str', keyfile: 'str', keyfile_password: 'str', cafile: 'str',
    ciphers: 'str', verify_client: 'str', http_extra_headers: 'dict', https_extra_headers: 'dict', allowlist: 'list',
    allowlist_include_members: 'bool', request_queue_size: 'int',
  },
  ctl: {insecure: 'bool', cacert: 'str', certfile: 'str', keyfile: 'str', keyfile_password: 'str'},
  postgresql: {listen: 'str', connect_address: 'str', proxy_address: 'str', config_dir: 'str', data_dir: 'str', pgpass: 'str', bin_dir: 'str'},
  log: {
    type: 'str', level: 'str', traceback_level: 'str', format: 'logformat', dateformat: 'str', static_fields: 'dict',
    max_queue_size: 'int', dir: 'str', file_size: 'int', file_num: 'int', loggers: 'dict',
  },
  raft: {data_dir: 'str', self_addr: 'str', partner_addrs: 'list', password: 'str', bind_addr: 'str'},
}

const BIN_NAMES = ['pg_ctl', 'initdb', 'pg_controldata', 'pg_basebackup', 'postgres', 'pg_isready', 'pg_rewind']

/** Patroni's _parse_list: YAML, wrapped in [...] unless it already is a list. */
export function parseEnvList(value: string): unknown[] | undefined {
  const text = value.trim().startsWith('-') || value.includes('[') ? value : `[${value}]`
  try {
    const r: unknown = parseYaml(text, PYYAML_OPTIONS)
    return Array.isArray(r) ? r : undefined
  } catch {
    return undefined
  }
}

/** Patroni's _parse_dict: YAML, wrapped in {...} unless it already is one. */
export function parseEnvDict(value: string): Record<string, unknown> | undefined {
  const text = value.trim().startsWith('{') ? value : `{${value}}`
  try {
    const r: unknown = parseYaml(text, PYYAML_OPTIONS)
    return isPlainObject(r) ? r : undefined
  } catch {
    return undefined
  }
}

export function buildEnvConfig(env: Env): EnvConfig {
  const config: Record<string, unknown> = {}
  const origins = new Map<string, string>()
  const c = new IssueCollector()
  const used = new Set<string>()

  const get = (name: string): string | undefined => {
    const v = env[PREFIX + name]
    // Patroni skips empty values (`if value:`).
    return v === undefined || v === '' ? undefined : v
  }
  const set = (path: string[], value: unknown, varName: string) => {
    let cur = config
    for (const p of path.slice(0, -1)) {
      if (!isPlainObject(cur[p])) cur[p] = {}
      cur = cur[p] as Record<string, unknown>
    }
    cur[path[path.length - 1] as string] = value
    origins.set(path.join('.'), varName)
    used.add(varName)
  }
  const convert = (kind: Kind, raw: string, path: string[], varName: string): void => {
    let value: unknown = raw
    const what = path.join('.')
    if (kind === 'int') value = parseIntLax(raw)
    else if (kind === 'bool') value = parseBool(raw)
    else if (kind === 'list') value = parseEnvList(raw)
    else if (kind === 'dict') value = parseEnvDict(raw)
    else if (kind === 'logformat' && !raw.includes('%(')) value = parseEnvList(raw) ?? raw
    if (value === undefined) {
      const expected = kind === 'int' ? 'an integer' : kind === 'bool' ? 'a boolean' : kind === 'list' ? 'a list (a,b or [a, b])' : 'a mapping (k: v, k2: v2)'
      c.error(what, `${varName} must be ${expected}`, raw)
      used.add(varName)
      return
    }
    set(path, value, varName)
  }

  for (const k of ['name', 'namespace', 'scope']) {
    const v = get(k.toUpperCase())
    if (v !== undefined) set([k], v, PREFIX + k.toUpperCase())
  }

  // Legacy log names apply only when the new name is not set.
  const legacyLog: Record<string, string> = {LEVEL: 'LOGLEVEL', FORMAT: 'LOGFORMAT', DATEFORMAT: 'LOG_DATEFMT'}
  for (const [section, params] of Object.entries(SECTIONS)) {
    for (const [param, kind] of Object.entries(params)) {
      const upper = `${section.toUpperCase()}_${param.toUpperCase()}`
      let varName = PREFIX + upper
      let v = get(upper)
      if (v === undefined && section === 'log' && legacyLog[param.toUpperCase()] !== undefined) {
        const old = legacyLog[param.toUpperCase()] as string
        v = get(old)
        varName = PREFIX + old
      }
      if (v !== undefined) convert(kind, v, [section, param], varName)
    }
  }

  for (const b of BIN_NAMES) {
    const v = get(`POSTGRESQL_BIN_${b.toUpperCase()}`)
    if (v !== undefined) set(['postgresql', 'bin_name', b], v, `${PREFIX}POSTGRESQL_BIN_${b.toUpperCase()}`)
  }

  for (const [section, name] of [['restapi', 'RESTAPI'], ['ctl', 'CTL']] as const) {
    for (const p of ['username', 'password']) {
      const v = get(`${name}_${p.toUpperCase()}`)
      if (v !== undefined) set([section, 'authentication', p], v, `${PREFIX}${name}_${p.toUpperCase()}`)
    }
  }

  for (const user of ['replication', 'superuser', 'rewind']) {
    for (const p of AUTH_PARAMS) {
      const name = `${user.toUpperCase()}_${p.toUpperCase()}`
      const v = get(name)
      if (v !== undefined) set(['postgresql', 'authentication', user, p], v, PREFIX + name)
    }
  }

  for (const dcs of ['ETCD', 'ETCD3']) {
    for (const p of ['USERNAME', 'PASSWORD']) {
      const v = get(`${dcs}_${p}`)
      if (v !== undefined) set([dcs.toLowerCase(), p.toLowerCase()], v, `${PREFIX}${dcs}_${p}`)
    }
  }

  // Generic DCS rule: PATRONI_<NAME>_<SUFFIX> -> <name>.<suffix>, NAME = text up to the first '_'.
  for (const varName of Object.keys(env).sort()) {
    if (!varName.startsWith(PREFIX) || used.has(varName)) continue
    const rest = varName.slice(PREFIX.length)
    const cut = rest.indexOf('_')
    if (cut <= 0) continue
    const name = rest.slice(0, cut)
    const suffix = rest.slice(cut + 1)
    if (!DCS_SUFFIXES.has(suffix) || SECTIONS[name.toLowerCase()] !== undefined) continue
    const raw = env[varName]
    if (raw === undefined) continue
    const path = [name.toLowerCase(), suffix.toLowerCase()]
    if (name === 'CITUS') {
      if (suffix === 'GROUP') convert('int', raw, path, varName)
      else if (suffix === 'DATABASE') set(path, raw, varName)
      continue
    }
    if (raw === '') continue
    if (suffix === 'PORT') convert('int', raw, path, varName)
    else if (LIST_SUFFIXES.has(suffix)) convert('list', raw, path, varName)
    else if (DICT_SUFFIXES.has(suffix)) convert('dict', raw, path, varName)
    else if (BOOL_SUFFIXES.has(suffix)) convert('bool', raw, path, varName)
    else set(path, raw, varName)
  }

  // 3.x: any remaining PATRONI_<user>_PASSWORD (+ _OPTIONS) becomes bootstrap.users.<user>.
  for (const varName of Object.keys(env).sort()) {
    if (!varName.startsWith(PREFIX) || used.has(varName) || !varName.endsWith('_PASSWORD')) continue
    const user = varName.slice(PREFIX.length, -'_PASSWORD'.length)
    const password = env[varName]
    if (user === '' || password === undefined || password === '') continue
    const entry: Record<string, unknown> = {password}
    const options = env[`${PREFIX}${user}_OPTIONS`]
    const parsed = options ? parseEnvList(options) : undefined
    if (parsed && parsed.length > 0) entry['options'] = parsed
    set(['bootstrap', 'users', user], entry, varName)
  }

  return {config, origins, collector: c}
}
