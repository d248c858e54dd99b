/**
 * Helpers of the failover actions (promote, write-history, rewind): the pre_promote failure, the
 * timeline history file and `/history` lines, and the connection parameters of the rewind user.
 */
import type {LocalConfig} from '../config/load'
import type {HistoryLine} from '../core/cluster'
import {parseTimelineHistory} from '../core/timeline-history'
import type {ConnParams} from '../ports/postgres'
import type {ProcessRunner} from '../ports/process-runner'

/** The pre_promote script exited non-zero (or could not run): nothing was promoted. */
export class PrePromoteFailed extends Error {}

/** Patroni writes the newest entry's time as an ISO timestamp with an explicit +00:00 offset. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00')
}

/**
 * `/history` lines for a timeline history file: every entry as [tl, lsn, reason], the
 * timestamp/leader already stored for the same (tl, lsn) carried over, the newest entry stamped
 * with `stampMs` and `me` unless it already had a stamp. `max` > 0 keeps only the last `max`.
 */
export function historyLinesFrom(text: string, existing: readonly HistoryLine[], me: string, stampMs: number, max = 0): HistoryLine[] {
  const entries = parseTimelineHistory(text)
  const known = new Map(existing.map((l) => [`${l[0]}/${l[1]}`, l]))
  let lines: HistoryLine[] = entries.map((e) => {
    const old = known.get(`${e.parentTimeline}/${e.switchpoint}`)
    const line: HistoryLine = [e.parentTimeline, e.switchpoint, e.reason]
    if (old && old.length >= 4 && old[3] !== undefined) {
      line.push(old[3])
      if (old[4] !== undefined) line.push(old[4])
    }
    return line
  })
  const last = lines[lines.length - 1]
  if (last && last.length < 5) lines[lines.length - 1] = [last[0], last[1], last[2], last[3] ?? isoUtc(stampMs), me]
  if (max > 0 && lines.length > max) lines = lines.slice(-max)
  return lines
}

/** Credentials for pg_rewind: `authentication.rewind` when configured, else the superuser. */
export function rewindConn(config: LocalConfig, target: {host: string; port: number}): ConnParams {
  const a = config.postgresql.authentication
  const {username, ...rest} = (a.rewind ?? a.superuser) as {username: string} & Record<string, unknown>
  return {...(rest as ConnParams), user: username, host: target.host, port: target.port, dbname: config.postgresql.database}
}

/** Replication credentials pointed at `target` (IDENTIFY_SYSTEM, TIMELINE_HISTORY). */
export function replicationConn(config: LocalConfig, target: {host: string; port: number}): ConnParams {
  const {username, ...rest} = config.postgresql.authentication.replication as {username: string} & Record<string, unknown>
  return {...(rest as ConnParams), user: username, host: target.host, port: target.port}
}

/**
 * Runs argv without a shell through the ProcessRunner port and resolves with its exit code (-1
 * for a signal, a timeout or a program that cannot start) and the tail of its output. Rejects
 * only when `signal` aborts. `timeoutMs` null: no time limit.
 */
export async function runArgv(runner: Pick<ProcessRunner, 'run'>, argv: string[], env: Record<string, string>, signal?: AbortSignal, timeoutMs: number | null = 600_000): Promise<{code: number; output: string}> {
  try {
    const r = await runner.run(argv[0], argv.slice(1), {env, maxOutputBytes: 2000, ...(timeoutMs !== null ? {timeoutMs} : {}), ...(signal ? {signal} : {})})
    return {code: r.code ?? -1, output: `${r.stdout}${r.stderr}`.slice(-2000)}
  } catch (e) {
    if (signal?.aborted) throw e
    return {code: -1, output: (e as Error).message}
  }
}
