/**
 * Where the configuration comes from (patroni/config.py Config._load_config_path and
 * Config._load_config_file): a YAML file or a directory of *.yml/*.yaml files merged in sorted
 * order, then PATRONI_* variables merged over it; without a path, PATRONI_CONFIGURATION (and
 * nothing else from the env); without that, the env alone. YAML is read the way PyYAML reads it
 * (yaml-options.ts), so values mean what they mean to Patroni.
 */
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {parseDocument} from 'yaml'
import {HactlError} from '../errors'
import {buildEnvConfig, type Env} from './env'
import {parseFastYaml} from './fast-yaml'
import {parseDynamicConfig} from './dynamic-schema'
import {ConfigError, type ConfigIssue, formatIssues} from './issues'
import {isPlainObject} from './kit'
import {type DeepPartial, type LocalConfig, validateLocalConfig} from './schema'
import {PYYAML_OPTIONS} from './yaml-options'

export {ConfigError, formatIssues, type ConfigIssue}
export type {LocalConfig} from './schema'
export type {DynamicConfig} from './dynamic-schema'

export interface RawConfig {
  /** Merged, unvalidated config. */
  raw: Record<string, unknown>
  /** Files read, the env variable used, or 'environment'. */
  sources: string[]
  /** Problems found while reading (env values that did not convert); validation adds the rest. */
  issues: ConfigIssue[]
  /** config path -> env variable, so issues can say where a value came from */
  origins: Map<string, string>
}

export interface LoadedConfig<C = LocalConfig> {
  config: C
  /** Warnings only: errors make loadConfig throw. */
  warnings: ConfigIssue[]
  sources: string[]
  raw: Record<string, unknown>
}

/**
 * Patroni's patch_config: mappings merge recursively, anything else replaces, and a null value
 * removes the key (a later file can unset an earlier one).
 */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(over)) {
    if (k === '__proto__') Object.defineProperty(base, k, {value: v, enumerable: true, writable: true, configurable: true})
    else if (v === null) delete base[k]
    else if (isPlainObject(v) && isPlainObject(base[k])) deepMerge(base[k] as Record<string, unknown>, v)
    else base[k] = structuredClone(v)
  }
  return base
}

/** Parses YAML text; syntax errors become issues with file, line and column. */
export function parseYamlText(text: string, source: string): {value: unknown; issues: ConfigIssue[]} {
  // Plain configs skip the full parser (~20 ms on first use); same result, see fast-yaml.ts.
  const quick = parseFastYaml(text)
  if (quick !== undefined) return {value: quick, issues: []}
  const doc = parseDocument(text, {...PYYAML_OPTIONS, prettyErrors: true})
  if (doc.errors.length > 0) {
    const seen = new Set<string>()
    const issues = doc.errors.map((e): ConfigIssue => {
      const pos = e.linePos?.[0]
      const where = pos ? `${source}:${pos.line}:${pos.col}` : source
      return {severity: 'error', path: where, message: `YAML syntax error: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`}
    })
    // The parser often reports one mistake twice at the same spot; once is enough.
    return {value: undefined, issues: issues.filter((i) => !seen.has(i.path) && seen.add(i.path) !== undefined)}
  }
  return {value: doc.toJS({maxAliasCount: 1000}), issues: []}
}

function notFound(path: string, why: string): HactlError {
  return new HactlError('CONFIG_NOT_FOUND', `config path ${path} ${why}`, {
    exitCode: 2,
    hints: ['pass a Patroni YAML file or a directory of *.yml files, readable by this user'],
  })
}

/** The YAML files a path stands for: itself, or a directory's *.yml/*.yaml in sorted order. */
export function configFiles(path: string): string[] {
  let st
  try {
    st = statSync(path)
  } catch (e) {
    throw notFound(path, (e as NodeJS.ErrnoException).code === 'EACCES' ? 'is not readable' : 'does not exist')
  }
  if (st.isFile()) return [path]
  if (!st.isDirectory()) throw notFound(path, 'is neither a file nor a directory')
  let names: string[]
  try {
    names = readdirSync(path)
  } catch {
    throw notFound(path, 'is not readable')
  }
  return names
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(path, f))
    .filter((f) => {
      try {
        return statSync(f).isFile()
      } catch {
        return false
      }
    })
}

/**
 * Reads the raw config from its sources without validating it. Throws HactlError
 * CONFIG_NOT_FOUND (exit 2) for a missing/unreadable path and ConfigError for YAML syntax errors.
 */
export function readRawConfig(path: string | undefined, env: Env): RawConfig {
  const fromEnv = buildEnvConfig(env)
  const issues: ConfigIssue[] = [...fromEnv.collector.issues]
  const sources: string[] = []
  let raw: Record<string, unknown> = {}
  const addDoc = (value: unknown, source: string) => {
    if (value === null || value === undefined) return
    if (!isPlainObject(value)) {
      issues.push({severity: 'error', path: '', message: `${source} must hold a mapping of settings, not a ${Array.isArray(value) ? 'list' : typeof value}`})
      return
    }
    deepMerge(raw, value)
  }

  if (path !== undefined) {
    for (const file of configFiles(path)) {
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (e) {
        throw notFound(file, (e as NodeJS.ErrnoException).code === 'EACCES' ? 'is not readable' : 'could not be read')
      }
      const r = parseYamlText(text, file)
      issues.push(...r.issues)
      addDoc(r.value, file)
      sources.push(file)
    }
    raw = deepMerge(raw, structuredClone(fromEnv.config))
    if (fromEnv.origins.size > 0) sources.push('environment')
  } else if (env['PATRONI_CONFIGURATION']) {
    // As in Patroni, the other PATRONI_* variables are not applied on top of this one.
    const r = parseYamlText(env['PATRONI_CONFIGURATION'], 'PATRONI_CONFIGURATION')
    issues.push(...r.issues)
    addDoc(r.value, 'PATRONI_CONFIGURATION')
    sources.push('PATRONI_CONFIGURATION')
    fromEnv.origins.clear()
  } else {
    raw = structuredClone(fromEnv.config)
    sources.push('environment')
  }
  if (issues.some((i) => i.severity === 'error' && /YAML syntax error|must hold a mapping/.test(i.message))) {
    throw new ConfigError(issues)
  }
  return {raw, sources, issues, origins: fromEnv.origins}
}

function annotate(issues: ConfigIssue[], origins: Map<string, string>): ConfigIssue[] {
  for (const i of issues) {
    if (i.source !== undefined) continue
    for (const [p, v] of origins) {
      if (i.path === p || i.path.startsWith(p + '.') || i.path.startsWith(p + '[')) {
        i.source = v
        break
      }
    }
  }
  return issues
}

/**
 * Loads and validates the node's configuration. Throws ConfigError (CONFIG_INVALID, every issue
 * attached) or HactlError CONFIG_NOT_FOUND; returns the typed config and the warnings.
 */
export function loadConfig(path: string | undefined, env: Env = process.env, opts: {strict?: boolean} = {}): LoadedConfig {
  const r = readRawConfig(path, env)
  const v = validateLocalConfig(r.raw)
  const local = opts.strict ? strictBootstrapDcs(r.raw, v.issues) : v.issues
  const issues = annotate([...r.issues, ...local], r.origins)
  if (v.config === undefined || issues.some((i) => i.severity === 'error')) throw new ConfigError(issues)
  return {config: v.config, warnings: issues, sources: r.sources, raw: r.raw}
}

/**
 * `--strict`: the issues of `bootstrap.dcs` as the strict parser reports them (timing adjustments
 * and values Patroni cannot use are errors, src/config/dynamic-schema.ts) in place of the lenient
 * parser's warnings.
 */
function strictBootstrapDcs(raw: Record<string, unknown>, issues: ConfigIssue[]): ConfigIssue[] {
  const bootstrap = raw['bootstrap']
  const dcs = isPlainObject(bootstrap) ? bootstrap['dcs'] : undefined
  if (dcs === undefined || dcs === null) return issues
  const under = (i: ConfigIssue) => i.path === 'bootstrap.dcs' || i.path.startsWith('bootstrap.dcs.') || i.path.startsWith('bootstrap.dcs[')
  return [...issues.filter((i) => !under(i)), ...parseDynamicConfig(dcs, 'bootstrap.dcs', {strict: true}).issues]
}

/** patronictl's reading: nothing required (a file with only `scope` is fine), so the result is partial. */
export function loadCtlConfig(path: string | undefined, env: Env = process.env): LoadedConfig<DeepPartial<LocalConfig>> {
  const r = readRawConfig(path, env)
  const v = validateLocalConfig(r.raw, {mode: 'ctl'})
  const issues = annotate([...r.issues, ...v.issues], r.origins)
  if (v.config === undefined || issues.some((i) => i.severity === 'error')) throw new ConfigError(issues)
  return {config: v.config as DeepPartial<LocalConfig>, warnings: issues, sources: r.sources, raw: r.raw}
}

/**
 * patronictl's config file choice: `-c` flag, else PATRONICTL_CONFIG_FILE, else click's app dir
 * (`$XDG_CONFIG_HOME/patroni/patronictl.yaml`, default `~/.config/patroni/patronictl.yaml`).
 * `explicit` false means a missing file is fine (patronictl ignores a missing default file);
 * a missing explicit file is an error.
 */
export function resolveCtlConfigPath(flagPath: string | undefined, env: Env, home: string = homedir()): {path: string; explicit: boolean} {
  if (flagPath !== undefined && flagPath !== '') return {path: flagPath, explicit: true}
  const fromEnv = env['PATRONICTL_CONFIG_FILE']
  if (fromEnv !== undefined && fromEnv !== '') return {path: fromEnv, explicit: true}
  const base = env['XDG_CONFIG_HOME'] || join(home, '.config')
  return {path: join(base, 'patroni', 'patronictl.yaml'), explicit: false}
}

/** The exact patronictl wording for a missing explicit config file. */
export function ctlConfigMissingError(path: string): HactlError {
  return new HactlError('CONFIG_NOT_FOUND', `Provided config file ${path} not existing or no read rights. Check the -c/--config-file parameter`, {exitCode: 1})
}
