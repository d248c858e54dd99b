/**
 * The data side of `edit-config`: `--set key.path=value` and `--pg name=value` (values read as
 * YAML, like PyYAML's safe_load), `--apply`/`--replace` documents merged with Patroni's
 * patch_config, and Python's idea of "unchanged". Pure: the caller reads files and etcd.
 */
import {parse as parseYaml} from 'yaml'
import {PYYAML_OPTIONS} from '../config/yaml-options'
import {HactlError, errorMessage} from '../errors'
import {type PyValue, pyStr} from './py-format'
import {pyYamlDump} from './py-yaml'

export type ConfigData = {[key: string]: PyValue}

function isMapping(v: unknown): v is ConfigData {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** yaml.safe_load of one value or document; an empty text is null. */
export function loadYaml(text: string, what: string): PyValue {
  try {
    const v = parseYaml(text, {...PYYAML_OPTIONS, maxAliasCount: 1000}) as unknown
    return (v === undefined ? null : v) as PyValue
  } catch (e) {
    throw new HactlError('USAGE', `${what}: not valid YAML: ${errorMessage(e).split('\n')[0]}`)
  }
}

function setPath(config: ConfigData, path: string[], value: PyValue, prefix: string[]): void {
  // PostgreSQL parameter names may contain dots (pg_stat_statements.max): below
  // postgresql.parameters the rest of the path is one key
  if (prefix.length === 2 && prefix[0] === 'postgresql' && prefix[1] === 'parameters') path = [path.join('.')]
  const key = path[0]!
  if (path.length === 1) {
    if (value === null) delete config[key]
    else config[key] = value
    return
  }
  if (!isMapping(config[key])) config[key] = {}
  const child = config[key] as ConfigData
  setPath(child, path.slice(1), value, [...prefix, key])
  if (Object.keys(child).length === 0) delete config[key]
}

/**
 * patronictl's apply_config_changes: each `a.b.c=yaml` pair sets (or, with a null value,
 * removes) a key in a copy of `data`.
 */
export function applyConfigChanges(data: ConfigData, pairs: readonly string[]): ConfigData {
  const changed = structuredClone(data)
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (!pair || eq < 0) {
      throw new HactlError('USAGE', `Invalid parameter setting ${pair}`, {hints: ['write --set key.path=value or --pg name=value']})
    }
    const keyPath = pair.slice(0, eq).trim()
    setPath(changed, keyPath.split('.'), loadYaml(pair.slice(eq + 1), `value of ${keyPath}`), [])
  }
  return changed
}

/** `-p name=value` is `-s postgresql.parameters.name=value`. */
export function pgPairs(pairs: readonly string[]): string[] {
  return pairs.map((p) => 'postgresql.parameters.' + p.trimStart())
}

/**
 * Patroni's utils.patch_config: mappings merge, null removes, a scalar replaces only when its
 * str() differs (so `100` over `'100'` keeps the stored value). Returns whether anything changed.
 */
export function patchConfig(config: ConfigData, data: ConfigData): boolean {
  let changed = false
  for (const [name, value] of Object.entries(data)) {
    if (value === null) {
      if (name in config) {
        if (config[name] !== null) changed = true
        delete config[name]
      }
    } else if (name in config) {
      const cur = config[name]!
      if (isMapping(value)) {
        if (isMapping(cur)) {
          if (patchConfig(cur, value)) changed = true
        } else {
          config[name] = value
          changed = true
        }
      } else if (pyStr(cur) !== pyStr(value)) {
        config[name] = value
        changed = true
      }
    } else {
      config[name] = value
      changed = true
    }
  }
  return changed
}

/** patronictl's apply_yaml_file on already-read text: `data` patched with the document. */
export function applyYamlDocument(data: ConfigData, text: string, source: string): ConfigData {
  const doc = loadYaml(text, source)
  if (!isMapping(doc)) {
    throw new HactlError('USAGE', `${source}: expected a YAML mapping of configuration keys, got ${doc === null ? 'an empty document' : JSON.stringify(doc)}`)
  }
  const changed = structuredClone(data)
  patchConfig(changed, doc)
  return changed
}

/** Python's == on JSON-like values: 1 == 1.0 == True, dicts regardless of key order. */
export function pyEqual(a: PyValue | undefined, b: PyValue | undefined): boolean {
  const num = (v: unknown) => typeof v === 'number' || typeof v === 'boolean'
  if (num(a) && num(b)) return Number(a) === Number(b)
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEqual(x, b[i]))
  }
  if (isMapping(a) || isMapping(b)) {
    if (!isMapping(a) || !isMapping(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && pyEqual(a[k], b[k]))
  }
  return a === b
}

/** format_config_for_editing: the YAML text shown to the editor and in the diff. */
export function configText(data: ConfigData): string {
  return pyYamlDump(data)
}
