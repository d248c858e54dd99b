/** pg_controldata output (run with LANG=C) to a typed record. Pure. */
import {parseLsn} from '../../core/lsn'
import type {Controldata} from '../../ports/postgres'

/** `key: value` lines; `Current ` prefixes (older versions) removed as Patroni does. */
export function parseControldataRaw(text: string): Record<string, string> {
  const raw: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const at = line.indexOf(':')
    if (at < 0) continue
    raw[line.slice(0, at).replace(/^Current /, '')] = line.slice(at + 1).trim()
  }
  return raw
}

const num = (v: string | undefined): number | undefined => {
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined
  return Number(v)
}

/**
 * Throws naming the field when the output lacks what every version prints (the system
 * identifier, the cluster state, the checkpoint): that is a broken pg_control or a foreign tool.
 */
export function parseControldata(text: string): Controldata {
  const raw = parseControldataRaw(text)
  const need = (key: string) => {
    const v = raw[key]
    if (v === undefined || v === '') throw new Error(`pg_controldata output has no "${key}" line`)
    return v
  }
  const lsn = (key: string, required: boolean): number | undefined => {
    const v = required ? need(key) : raw[key]
    if (v === undefined) return undefined
    const n = parseLsn(v)
    if (n === undefined) throw new Error(`pg_controldata "${key}" is not a WAL position: ${JSON.stringify(v)}`)
    return n
  }
  const systemIdentifier = need('Database system identifier')
  const clusterState = need('Database cluster state')
  const timeline = num(need("Latest checkpoint's TimeLineID"))
  if (timeline === undefined) throw new Error(`pg_controldata "Latest checkpoint's TimeLineID" is not a number: ${raw["Latest checkpoint's TimeLineID"]}`)
  return {
    raw,
    systemIdentifier,
    clusterState,
    timeline,
    checkpointLsn: lsn('Latest checkpoint location', true)!,
    redoLsn: lsn("Latest checkpoint's REDO location", false),
    minRecoveryLsn: lsn('Minimum recovery ending location', false) ?? 0,
    minRecoveryTimeline: num(raw["Min recovery ending loc's timeline"]) ?? 0,
    walLogHints: raw['wal_log_hints setting'] === 'on',
    dataChecksums: (raw['Data page checksum version'] ?? '0') !== '0',
    maxConnections: num(raw['max_connections setting']),
    maxWorkerProcesses: num(raw['max_worker_processes setting']),
    maxWalSenders: num(raw['max_wal_senders setting']),
    maxPreparedXacts: num(raw['max_prepared_xacts setting']),
    maxLocksPerXact: num(raw['max_locks_per_xact setting']),
    walLevel: raw['wal_level setting'],
  }
}
