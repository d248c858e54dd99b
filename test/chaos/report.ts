import type {RunResult} from './run'

/** The side-by-side markdown table: one row per agent and mode, summed over seeds. */
export function reportTable(results: RunResult[]): string {
  const groups = new Map<string, RunResult[]>()
  for (const r of results) {
    const k = `${r.agent} ${r.mode}`
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`
  const lines = [
    '| agent | mode | seeds | faults | acked commits | lost | dual-writable (count, max, unexplained) | dual GET /primary 200 (count, max, unexplained) | max without primary | max heal->primary | members streaming at end | failed seeds |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const [k, rs] of groups) {
    const [agent, mode] = k.split(' ')
    const dw = rs.flatMap((r) => r.dualWritable)
    const dp = rs.flatMap((r) => r.dualPrimary)
    const max = (ws: typeof dw) => (ws.length ? s(Math.max(...ws.map((w) => w.to - w.from))) : '-')
    lines.push(`| ${agent} | ${mode} | ${rs.map((r) => r.seed).join(',')} | ${sum(rs, (r) => r.faultsRun)} | ${sum(rs, (r) => r.acked)} | ${sum(rs, (r) => r.lost)} | ` +
      `${dw.length}, ${max(dw)}, ${dw.filter((w) => !w.explained).length} | ${dp.length}, ${max(dp)}, ${dp.filter((w) => !w.explained).length} | ` +
      `${s(Math.max(0, ...rs.map((r) => r.maxNoPrimaryMs)))} | ${s(Math.max(0, ...rs.map((r) => r.maxRecoveryMs)))} | ` +
      `${rs.filter((r) => r.streamingAtEnd === 2).length}/${rs.length} runs 3/3 | ${rs.filter((r) => r.failures.length).map((r) => r.seed).join(',') || '-'} |`)
  }
  return lines.join('\n')
}

function sum(rs: RunResult[], f: (r: RunResult) => number): number {
  return rs.reduce((a, r) => a + f(r), 0)
}
