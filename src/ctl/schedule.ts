/**
 * Small value rules of the write commands: `--scheduled` timestamps (patronictl's
 * parse_scheduled, which sends Python's isoformat()), `--pg-version`, and the timestamps
 * patronictl prints before REST answers. They read the local time zone, nothing else.
 */
import {HactlError} from '../errors'

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+'
  const m = Math.abs(minutes)
  return `${sign}${pad(Math.floor(m / 60))}:${pad(m % 60)}`
}

const ISO =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i

/**
 * parse_scheduled: null for no value or `now`; else the timestamp as isoformat() with an offset
 * (the local one when none is given). Accepts ISO 8601 dates and times, `T` or a blank between.
 */
export function parseScheduled(text: string | undefined): string | null {
  if ((text || 'now') === 'now') return null
  const bad = () =>
    new HactlError('USAGE', `Unable to parse scheduled timestamp (${text}). It should be in an unambiguous format (e.g. ISO 8601)`)
  const m = ISO.exec(text!.trim())
  if (!m) throw bad()
  const [y, mo, d, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? undefined : Number(x))) as number[]
  const frac = m[7] ? m[7].padEnd(6, '0') : ''
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h > 23 || mi > 59 || s > 59) throw bad()
  const probe = new Date(Date.UTC(y!, mo! - 1, d!))
  if (probe.getUTCDate() !== d) throw bad()
  let offset: number
  const tz = m[8]
  if (tz === undefined) {
    offset = -new Date(y!, mo! - 1, d!, h, mi, s).getTimezoneOffset()
  } else if (/^(Z|UTC|GMT)$/i.test(tz)) {
    offset = 0
  } else {
    const t = /^([+-])(\d{2}):?(\d{2})?$/.exec(tz)!
    offset = (t[1] === '-' ? -1 : 1) * (Number(t[2]) * 60 + Number(t[3] ?? 0))
  }
  const fracText = frac && Number(frac) !== 0 ? `.${frac}` : ''
  return `${y}-${pad(mo!)}-${pad(d!)}T${pad(h)}:${pad(mi)}:${pad(s)}${fracText}${offsetText(offset)}`
}

/** Patroni's postgres_version_to_int: `9.6.24` -> 90624, `15.4` -> 150004. */
export function postgresVersionToInt(v: string): number {
  const parts = v.split('.')
  if (!parts.every((p) => /^\s*[-+]?\d+\s*$/.test(p))) throw new HactlError('USAGE', `Invalid PostgreSQL version: ${v}`)
  const c = parts.map(Number)
  if (c.length < 2 || (c.length === 2 && c[0]! < 10) || c.length > 3) {
    throw new HactlError('USAGE', `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${v}`)
  }
  if (c.length === 2) c.splice(1, 0, 0)
  return Number(c.map((x) => pad(x)).join(''))
}

/** patronictl's timestamp(precision): local `YYYY-MM-DD HH:MM:SS` and `precision - 1` digits of the second. */
export function pyTimestamp(ms: number, precision = 6): string {
  const d = new Date(ms)
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  if (precision <= 0) return base
  return `${base}.${(pad(d.getMilliseconds(), 3) + '000').slice(0, precision - 1)}`
}

/** The example in the switchover/restart questions: an hour from now, `%Y-%m-%dT%H:%M`. */
export function nextHourExample(ms: number): string {
  const d = new Date(ms + 3600_000)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}
