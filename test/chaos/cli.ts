/**
 * npm run chaos -- [--agent hactl|patroni3|patroni4|all] [--seed S | --seeds S1,S2,...] [--faults N]
 *                  [--mode sync|async|both] [--kinds k1,k2,...] [--json FILE]
 *
 * Runs the chaos suite (test/chaos/run.ts) for each agent and seed, one cluster at a time, and
 * prints a markdown table per agent. Exit 1 when any run failed; each failed run prints the
 * command that replays it. Default mode: sync for even seeds, async for odd ones.
 */
import {writeFileSync} from 'node:fs'
import {KINDS, type Kind} from './faults'
import type {AgentKind} from './lab'
import {runSeed, STUCK_MS, TIMING, type RunResult} from './run'
import {reportTable} from './report'

function usage(msg: string): never {
  process.stderr.write(`chaos: ${msg}\nusage: npm run chaos -- [--agent hactl|patroni3|patroni4|all] [--seed S | --seeds S1,S2] [--faults N] [--mode sync|async|both] [--kinds k1,k2] [--json FILE]\n`)
  process.exit(2)
}

const argv = process.argv.slice(2)
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  if (i < 0) return undefined
  const v = argv[i + 1]
  if (v === undefined || v.startsWith('--')) usage(`--${name} needs a value`)
  return v
}
for (const a of argv) if (a.startsWith('--') && !['--agent', '--seed', '--seeds', '--faults', '--mode', '--kinds', '--json'].includes(a)) usage(`unknown option ${a}`)
const agentArg = opt('agent') ?? 'hactl'
const agents: AgentKind[] = agentArg === 'all' ? ['hactl', 'patroni3', 'patroni4'] : (agentArg.split(',') as AgentKind[])
for (const a of agents) if (!['hactl', 'patroni3', 'patroni4'].includes(a)) usage(`--agent: unknown agent ${JSON.stringify(a)} (hactl, patroni3, patroni4 or all)`)
const seeds = (opt('seeds') ?? opt('seed') ?? String(Date.now() % 100000)).split(',').map((s) => {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 0) usage(`--seed: not a non-negative integer: ${JSON.stringify(s)}`)
  return n
})
const faults = Number(opt('faults') ?? '5')
if (!Number.isInteger(faults) || faults < 1) usage('--faults: a positive integer')
const mode = opt('mode')
if (mode !== undefined && !['sync', 'async', 'both'].includes(mode)) usage(`--mode: sync, async or both, not ${JSON.stringify(mode)}`)
const kinds = opt('kinds')?.split(',') as Kind[] | undefined
for (const k of kinds ?? []) if (!KINDS.includes(k)) usage(`--kinds: unknown fault ${JSON.stringify(k)} (${KINDS.join(', ')})`)

process.stdout.write(`chaos: agents ${agents.join(',')}, seeds ${seeds.join(',')}, ${faults} faults each; ttl ${TIMING.ttl}s loop_wait ${TIMING.loopWait}s retry_timeout ${TIMING.retryTimeout}s; primary bound after heal ${STUCK_MS / 1000}s\n`)
async function main(): Promise<void> {
const results: RunResult[] = []
for (const seed of seeds) {
  const syncs = mode === 'both' ? [true, false] : mode === 'sync' ? [true] : mode === 'async' ? [false] : [seed % 2 === 0]
  for (const sync of syncs) {
    for (const agent of agents) {
      const r = await runSeed({agent, seed, faults, sync, kinds})
      results.push(r)
      // after every run, so that an interrupted long run keeps what it measured
      if (opt('json')) writeFileSync(opt('json')!, JSON.stringify(results, null, 2))
      const status = r.failures.length ? 'FAIL' : 'ok'
      process.stdout.write(`chaos: ${agent} seed ${seed} ${r.mode}: ${status}, ${r.faultsRun} faults, ${r.acked} acknowledged, ${r.lost} lost\n`)
      if (r.failures.length) {
        for (const f of r.failures) process.stdout.write(`  FAILURE: ${f}\n`)
        process.stdout.write(`  logs: ${r.dir}\n  replay: ${r.replay}\n`)
      }
    }
  }
}
process.stdout.write(`\n${reportTable(results)}\n`)
const json = opt('json')
if (json) writeFileSync(json, JSON.stringify(results, null, 2))
const failed = results.filter((r) => r.failures.length)
if (failed.length) {
  process.stdout.write(`\nchaos: ${failed.length} failed run(s); replay with:\n${failed.map((r) => `  ${r.replay}`).join('\n')}\n`)
  process.exit(1)
}
process.exit(0)
}
void main()
