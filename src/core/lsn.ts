/**
 * PostgreSQL WAL positions. Patroni exchanges them as integers in bytes
 * (`pg_wal_lsn_diff(lsn, '0/0')`); PostgreSQL prints them as `X/Y` in hex.
 * A JS number holds byte positions exactly up to 2^53 (8 PiB of WAL), far beyond any cluster.
 */
const LSN_RE = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

export function parseLsn(text: string): number | undefined {
  const m = LSN_RE.exec(text.trim())
  if (!m) return undefined
  return parseInt(m[1], 16) * 2 ** 32 + parseInt(m[2], 16)
}

export function formatLsn(lsn: number): string {
  if (!Number.isSafeInteger(lsn) || lsn < 0) throw new RangeError(`not a WAL position: ${lsn}`)
  const hi = Math.floor(lsn / 2 ** 32)
  const lo = lsn - hi * 2 ** 32
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`
}

/** Bytes to whole MB as patronictl's `Lag in MB` column shows them (rounded to nearest). */
export function bytesToMb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024)
}
