/**
 * PostgreSQL's timeline history files (`0000000N.history`), parsed. Pure: the agent turns them
 * into `/history` lines (agent/execute-failover.ts) and the PostgreSQL adapter decides rewinds
 * with them (adapters/postgres/timeline.ts).
 */
import {parseLsn} from './lsn'

export interface HistoryEntry {
  /** The timeline that ended here. */
  parentTimeline: number
  /** Where it ended: the first position of the next timeline, in bytes. */
  switchpoint: number
  reason: string
}

/** `<tli>\t<X/Y>\t<reason>` lines of a `0000000N.history` file; comments and junk are skipped. */
export function parseTimelineHistory(text: string): HistoryEntry[] {
  const out: HistoryEntry[] = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split('\t')
    if (fields.length !== 3 || !/^\d+$/.test(fields[0])) continue
    const switchpoint = parseLsn(fields[1])
    if (switchpoint === undefined) continue
    out.push({parentTimeline: Number(fields[0]), switchpoint, reason: fields[2]})
  }
  return out
}
