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

/** pg_controldata's words for pg_control's DBState values (src/include/catalog/pg_control.h). */
const DB_STATES = ['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production']

/**
 * The cluster state and the latest checkpoint's location straight from global/pg_control, in
 * the machine's byte order, without starting pg_controldata: ControlFileData begins with
 * system_identifier (8 bytes), pg_control_version and catalog_version_no (4 each), state (a
 * 4-byte enum, padded to 8), time (8) and checkPoint (8, at offset 32), unchanged from
 * PostgreSQL 9.3 (pg_control_version 937) to 17 (1700). Undefined for anything else (a short
 * file, an unknown version or state): the caller then runs pg_controldata. Pure.
 */
export function readControlFileHead(buf: Buffer, littleEndian: boolean): {clusterState: string; checkpointLsn: number} | undefined {
  if (buf.length < 40) return undefined
  const u32 = (at: number) => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at))
  const version = u32(8)
  if (version < 937 || version > 1799) return undefined
  const clusterState = DB_STATES[u32(16)]
  if (clusterState === undefined) return undefined
  const lsn = littleEndian ? buf.readBigUInt64LE(32) : buf.readBigUInt64BE(32)
  if (lsn > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return {clusterState, checkpointLsn: Number(lsn)}
}
