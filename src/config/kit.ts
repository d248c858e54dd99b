/**
 * A small schema toolkit for Patroni's configuration. Patroni is lax about types (`on`, `'10MB'`,
 * `"5"` are all fine where a bool or int is expected), so the parsers here accept what Patroni's
 * `parse_bool`/`parse_int` accept and return typed values. Every parser reports problems into an
 * IssueCollector and returns undefined instead of throwing, so one run finds all problems.
 */
import {IssueCollector} from './issues'

/** Parses a present (non-null) value; on failure reports at `path` and returns undefined. */
export type Parser<T> = (value: unknown, path: string, c: IssueCollector) => T | undefined

export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  return path === '' ? key : `${path}.${key}`
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (isPlainObject(v)) return 'a mapping'
  if (typeof v === 'string') return 'a string'
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number'
  if (typeof v === 'boolean') return 'a boolean'
  return typeof v
}

// ---------------------------------------------------------------------------------------------
// Patroni's lax scalar conversions (patroni/utils.py: parse_bool, strtol, strtod, parse_int)

/** `on/true/yes/1` and `off/false/no/0`, case-insensitive, as Patroni's parse_bool; else undefined. */
export function parseBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value !== 'string' && typeof value !== 'number') return undefined
  const s = String(value).trim().toLowerCase()
  if (s === 'on' || s === 'true' || s === 'yes' || s === '1') return true
  if (s === 'off' || s === 'false' || s === 'no' || s === '0') return false
  return undefined
}

const UNIT_FACTORS: Record<string, Record<string, number>> = {
  B: {B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4},
  kB: {B: 1 / 1024, kB: 1, MB: 1024, GB: 1024 ** 2, TB: 1024 ** 3},
  MB: {B: 1 / 1024 ** 2, kB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 ** 2},
  ms: {us: 1 / 1000, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000},
  s: {us: 1 / 1e6, ms: 1 / 1000, s: 1, min: 60, h: 3600, d: 86400},
  min: {us: 1 / 6e7, ms: 1 / 60_000, s: 1 / 60, min: 1, h: 60, d: 1440},
}
// A value given in unit U is rounded to whole units of the next smaller unit first, as
// PostgreSQL (and Patroni after it) does.
const ROUND_TO: Record<string, string> = {TB: 'GB', GB: 'MB', MB: 'kB', kB: 'B', d: 'h', h: 'min', min: 's', s: 'ms', ms: 'us'}

/** Python's round(): half to even, which Patroni's rint mirrors. */
function rint(v: number): number {
  const r = Math.round(v)
  return Math.abs(r - v) === 0.5 ? 2 * Math.round(v / 2) : r
}

function strtol(s: string): {val: number | undefined; rest: string} {
  const hex = /^[-+]?0x[0-9a-f]+/i.exec(s)
  if (hex) return {val: parseSigned(hex[0], 16), rest: s.slice(hex[0].length)}
  const oct = /^[-+]?0[0-7]+/.exec(s)
  if (oct) return {val: parseSigned(oct[0], 8), rest: s.slice(oct[0].length)}
  const dec = /^[-+]?\d+/.exec(s)
  if (dec) return {val: Number(dec[0]), rest: s.slice(dec[0].length)}
  return {val: undefined, rest: s}
}

function parseSigned(text: string, base: number): number {
  const neg = text.startsWith('-')
  const digits = text.replace(/^[-+]/, '').replace(/^0x/i, '')
  const n = parseInt(digits, base)
  return neg ? -n : n
}

function strtod(s: string): {val: number | undefined; rest: string} {
  const m = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(s)
  if (!m) return {val: undefined, rest: s}
  return {val: Number(m[0]), rest: s.slice(m[0].length)}
}

function toBaseUnit(value: number, unit: string, baseUnit: string | undefined): number | undefined {
  if (baseUnit === undefined) return undefined
  let baseValue = 1
  let base = baseUnit
  if (!(base in UNIT_FACTORS)) {
    // PostgreSQL-style base units such as '16kB' or '8kB' (a multiple of a known unit)
    const {val, rest} = strtol(base)
    baseValue = val ?? 1
    base = rest
  }
  const table = UNIT_FACTORS[base]
  const factor = table?.[unit]
  if (table === undefined || factor === undefined) return undefined
  let v = (value * factor) / baseValue
  const smaller = ROUND_TO[unit]
  const step = smaller === undefined ? undefined : table[smaller]
  if (step !== undefined) v = rint(v / step) * step
  return v
}

/**
 * Patroni's parse_int: integers, hex/octal, floats (rounded), and values with a unit converted to
 * `baseUnit` (`'10MB'` with base `B`, `'5min'` with base `s`). Undefined when unparsable, when a
 * unit is given but no base unit applies, or for booleans.
 */
export function parseIntLax(value: unknown, baseUnit?: string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? rint(value) : undefined
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  let {val, rest} = strtol(s)
  if ((val === undefined && rest.startsWith('.')) || (rest !== '' && '.eE'.includes(rest[0] ?? ''))) {
    ;({val, rest} = strtod(s))
  }
  if (val === undefined) return undefined
  const unit = rest.trim()
  if (unit === '') return rint(val)
  const converted = toBaseUnit(val, unit, baseUnit)
  return converted === undefined ? undefined : rint(converted)
}

// ---------------------------------------------------------------------------------------------
// host:port

export interface HostPort {
  /** First host: the one Patroni itself connects to. */
  host: string
  /** All hosts (`h1,h2:port` listen addresses); one element otherwise. */
  hosts: string[]
  port: number
}

const HOST_CHARS = /^[A-Za-z0-9._\-:%]+$/

/**
 * `host:port`, `[v6]:port`, and with `multiple` `h1,h2:port` (PostgreSQL `listen`). A bare host
 * gets `defaultPort` when one is given. Returns an error message instead of a value on failure.
 */
export function parseHostPort(text: string, opts: {multiple?: boolean; defaultPort?: number} = {}): HostPort | string {
  const s = text.trim()
  if (s === '') return 'must be host:port, not empty'
  let hostPart: string
  let portPart: string | undefined
  const bracketOnly = /^\[[^\]]*\]$/.test(s)
  const idx = s.lastIndexOf(':')
  const unbracketedV6 = !s.includes('[') && s.indexOf(':') !== idx
  if (idx < 0 || bracketOnly || (unbracketedV6 && opts.defaultPort !== undefined && !/:\d+$/.test(s))) {
    hostPart = s
    portPart = undefined
  } else {
    hostPart = s.slice(0, idx)
    portPart = s.slice(idx + 1).trim()
  }
  let port: number
  if (portPart === undefined) {
    if (opts.defaultPort === undefined) return 'must be host:port (the :port part is missing)'
    port = opts.defaultPort
  } else {
    if (!/^\d+$/.test(portPart)) return `port ${JSON.stringify(portPart)} is not a number`
    port = Number(portPart)
    if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`
  }
  const items = (opts.multiple ? hostPart.split(',') : [hostPart]).map((h) => h.trim().replace(/^\[(.*)\]$/, '$1'))
  for (const h of items) {
    if (h === '') return 'has an empty host name'
    if (h === '*') {
      if (items.length > 1) return "'*' must be the only host"
      continue
    }
    if (!HOST_CHARS.test(h)) return `host ${JSON.stringify(h)} is not a valid host name or IP address`
  }
  return {host: items[0] ?? '', hosts: items, port}
}

// ---------------------------------------------------------------------------------------------
// parsers

export function str(opts: {nonEmpty?: boolean} = {}): Parser<string> {
  return (v, path, c) => {
    // YAML turns `password: 1234` into a number; Patroni passes it on as text, so do we.
    if (typeof v === 'number' && Number.isFinite(v)) return String(v)
    if (typeof v !== 'string') {
      c.error(path, `must be a string, not ${typeName(v)}`, v)
      return undefined
    }
    if (opts.nonEmpty && v.trim() === '') {
      c.error(path, 'must not be empty', v)
      return undefined
    }
    return v
  }
}

export function bool(): Parser<boolean> {
  return (v, path, c) => {
    const b = parseBool(v)
    if (b === undefined) c.error(path, 'must be a boolean (true/false, on/off, yes/no, 1/0)', v)
    return b
  }
}

export interface IntOptions {
  min?: number
  max?: number
  /** Base unit for values given with a unit: 'B', 'kB', 'MB', 's', 'ms', 'min'. */
  unit?: string
}

export function int(opts: IntOptions = {}): Parser<number> {
  return (v, path, c) => {
    if (typeof v === 'boolean' || (typeof v !== 'number' && typeof v !== 'string')) {
      c.error(path, `must be an integer${unitHint(opts.unit)}, not ${typeName(v)}`, v)
      return undefined
    }
    const n = parseIntLax(v, opts.unit)
    if (n === undefined) {
      c.error(path, `must be an integer${unitHint(opts.unit)}`, v)
      return undefined
    }
    if (opts.min !== undefined && n < opts.min) {
      c.error(path, `must be at least ${opts.min}${opts.unit === 's' ? ' seconds' : ''}`, v)
      return undefined
    }
    if (opts.max !== undefined && n > opts.max) {
      c.error(path, `must be at most ${opts.max}`, v)
      return undefined
    }
    return n
  }
}

function unitHint(unit: string | undefined): string {
  if (unit === 's') return ' number of seconds (units allowed: 30s, 5min, 1h)'
  if (unit === 'ms') return ' number of milliseconds (units allowed: 500ms, 2s)'
  if (unit === 'B') return ' number of bytes (units allowed: 16MB, 1GB)'
  return ''
}

/** Seconds, accepting Patroni's unit suffixes (`30s`, `5min`). */
export function duration(opts: {min?: number; max?: number} = {}): Parser<number> {
  return int({...opts, unit: 's'})
}

/** Case-insensitive enum; returns the canonical spelling from `values`. */
export function oneOf<const V extends string>(values: readonly V[]): Parser<V> {
  return (v, path, c) => {
    if (typeof v === 'string') {
      const hit = values.find((x) => x.toLowerCase() === v.trim().toLowerCase())
      if (hit !== undefined) return hit
    }
    c.error(path, `must be one of ${values.join(', ')}`, v)
    return undefined
  }
}

export interface AddressOptions {
  /** `h1,h2:port` (PostgreSQL listen). */
  multiple?: boolean
  /** An address other members connect to: wildcard hosts are refused, loopback warned about. */
  connect?: boolean
  defaultPort?: number
}

export function address(opts: AddressOptions = {}): Parser<HostPort> {
  return (v, path, c) => {
    if (typeof v !== 'string') {
      c.error(path, `must be a host:port string, not ${typeName(v)}`, v)
      return undefined
    }
    const r = parseHostPort(v, opts)
    if (typeof r === 'string') {
      c.error(path, r, v)
      return undefined
    }
    if (opts.connect) {
      if (['*', '0.0.0.0', '::'].includes(r.host)) {
        c.error(path, `must be an address other members can connect to, not the wildcard ${r.host}`, v)
        return undefined
      }
      if (['127.0.0.1', '::1', 'localhost'].includes(r.host)) {
        c.warn(path, 'is a loopback address: other members on other hosts cannot reach it', v)
      }
    }
    return r
  }
}

export function list<T>(item: Parser<T>, opts: {nonEmpty?: boolean} = {}): Parser<T[]> {
  return (v, path, c) => {
    if (!Array.isArray(v)) {
      c.error(path, `must be a list, not ${typeName(v)}`, v)
      return undefined
    }
    if (opts.nonEmpty && v.length === 0) {
      c.error(path, 'must not be an empty list', v)
      return undefined
    }
    const out: T[] = []
    v.forEach((x, i) => {
      const p = joinPath(path, i)
      if (x === null || x === undefined) {
        c.error(p, 'is empty', x)
        return
      }
      const r = item(x, p, c)
      if (r !== undefined) out.push(r)
    })
    return out
  }
}

/** A list, or a comma-separated string of items (Patroni's `hosts: a:2379,b:2379`). */
export function listOrCsv<T>(item: Parser<T>): Parser<T[]> {
  const asList = list(item, {nonEmpty: true})
  return (v, path, c) => {
    if (typeof v === 'string') {
      const parts = v.split(',').map((x) => x.trim()).filter((x) => x !== '')
      return asList(parts.length === 0 ? [] : parts, path, c)
    }
    return asList(v, path, c)
  }
}

/** A mapping with arbitrary keys; values checked by `value` when given. */
export function dict<T = unknown>(value?: Parser<T>): Parser<Record<string, T>> {
  return (v, path, c) => {
    if (!isPlainObject(v)) {
      c.error(path, `must be a mapping, not ${typeName(v)}`, v)
      return undefined
    }
    const out: Record<string, T> = {}
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__') {
        c.error(joinPath(path, k), 'is not an allowed key')
        continue
      }
      if (value === undefined) {
        out[k] = x as T
        continue
      }
      if (x === null || x === undefined) continue
      const r = value(x, joinPath(path, k), c)
      if (r !== undefined) out[k] = r
    }
    return out
  }
}

/** Accepts anything; used where Patroni passes values through untouched. */
export function anything(): Parser<unknown> {
  return (v) => v
}

/** Tries parsers in order against a scratch collector; reports `message` when none accepts. */
export function either<A, B>(a: Parser<A>, b: Parser<B>, message: string): Parser<A | B> {
  return (v, path, c) => {
    for (const p of [a, b] as Parser<A | B>[]) {
      const scratch = new IssueCollector(c.requireKeys, c.strict)
      const r = p(v, path, scratch)
      if (r !== undefined && !scratch.hasErrors()) {
        for (const w of scratch.warnings) c.issues.push(w)
        return r
      }
    }
    c.error(path, message, v)
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// objects

export interface Field<T, Opt extends boolean> {
  readonly parse: Parser<T>
  readonly optional: Opt
  readonly required: boolean
  readonly fallback?: () => T
  /** Older spellings read when the key itself is absent (`master_start_timeout`). */
  readonly aliases?: readonly string[]
}

export type AnyField = Field<any, boolean>
export type Shape = Record<string, AnyField>
type FieldType<F> = F extends Field<infer T, boolean> ? T : never
type Simplify<T> = {[K in keyof T]: T[K]} & {}
export type Out<S extends Shape> = Simplify<
  {[K in keyof S as S[K] extends Field<any, true> ? never : K]: FieldType<S[K]>} & {
    [K in keyof S as S[K] extends Field<any, true> ? K : never]?: FieldType<S[K]>
  }
>

/** Missing -> error naming the key (unless the collector has `requireKeys` off). */
export function required<T>(parse: Parser<T>, opts: {aliases?: readonly string[]} = {}): Field<T, false> {
  return {parse, optional: false, required: true, aliases: opts.aliases}
}

export function optional<T>(parse: Parser<T>, opts: {aliases?: readonly string[]} = {}): Field<T, true> {
  return {parse, optional: true, required: false, aliases: opts.aliases}
}

/** Missing or invalid -> the default (invalid values are still reported). */
export function withDefault<T>(parse: Parser<T>, fallback: NoInfer<T> | (() => NoInfer<T>), opts: {aliases?: readonly string[]} = {}): Field<T, false> {
  const fb = typeof fallback === 'function' ? (fallback as () => T) : () => structuredClone(fallback)
  return {parse, optional: false, required: false, fallback: fb, aliases: opts.aliases}
}

export interface ObjOptions<O> {
  /**
   * What to do with keys not in the shape: warn "unknown key" (default), keep them in the output
   * untouched (custom tags), or hand them to `extra`, which returns true when it claimed the key
   * (dropped from the output) or 'keep' (claimed, and copied to the output as it is).
   */
  unknown?: 'warn' | 'keep'
  extra?: (key: string, value: unknown, path: string, c: IssueCollector, raw: Record<string, unknown>) => boolean | 'keep'
  /** Cross-field rules, run after the fields were parsed. */
  check?: (out: O, path: string, c: IssueCollector, raw: Record<string, unknown>) => void
}

export function obj<S extends Shape>(shape: S, opts: ObjOptions<Out<S>> = {}): Parser<Out<S>> {
  return (v, path, c) => {
    if (!isPlainObject(v)) {
      c.error(path, `must be a mapping, not ${typeName(v)}`, v)
      return undefined
    }
    const out: Record<string, unknown> = {}
    const claimed = new Set<string>()
    for (const [key, field] of Object.entries(shape)) {
      claimed.add(key)
      let rawKey = key
      let raw = v[key]
      if ((raw === undefined || raw === null) && field.aliases) {
        for (const a of field.aliases) {
          claimed.add(a)
          if (v[a] !== undefined && v[a] !== null) {
            rawKey = a
            raw = v[a]
            break
          }
        }
      } else if (field.aliases) {
        for (const a of field.aliases) claimed.add(a)
      }
      const p = joinPath(path, rawKey)
      if (raw === undefined || raw === null) {
        if (field.required && c.requireKeys) {
          c.error(p, raw === null ? 'is required but empty' : 'is required but missing')
        } else if (field.fallback) {
          out[key] = field.fallback()
        }
        continue
      }
      const parsed = field.parse(raw, p, c)
      if (parsed !== undefined) out[key] = parsed
      else if (field.fallback) out[key] = field.fallback()
    }
    for (const [key, value] of Object.entries(v)) {
      if (claimed.has(key)) continue
      if (key === '__proto__') {
        // Would replace the output object's prototype if copied; never a real setting.
        c.error(joinPath(path, key), 'is not an allowed key')
        continue
      }
      const claim = opts.extra?.(key, value, path, c, v)
      if (claim === 'keep') out[key] = value
      if (claim) continue
      if (opts.unknown === 'keep') out[key] = value
      else c.warn(joinPath(path, key), 'unknown key; Patroni and hactl ignore it (typo?)')
    }
    const result = out as Out<S>
    opts.check?.(result, path, c, v)
    return result
  }
}
