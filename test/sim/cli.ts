/**
 * `npm run sim -- --seed N` replays one schedule and prints its trace (every agent's log line,
 * every fault and PostgreSQL event, on the virtual clock) and the invariants' verdict.
 * `npm run sim -- --seed N --count K` runs K schedules from N on and prints the figures;
 * `--faults F`, `--sync` (synchronous_mode on), `--quorum` (synchronous_mode quorum), `--async`
 * and `--kinds a,b` narrow what a schedule contains; `--nodes N` and `--sync-count N`
 * (synchronous_node_count) widen it.
 */
import {parseArgs} from 'node:util'
import {FAULT_KINDS, replayCommand, simulate, type FaultKind, type SimOptions} from './simulator'

const {values} = parseArgs({
  options: {
    seed: {type: 'string', default: '1'},
    count: {type: 'string', default: '1'},
    faults: {type: 'string'},
    sync: {type: 'boolean'},
    async: {type: 'boolean'},
    quorum: {type: 'boolean'},
    nodes: {type: 'string'},
    'sync-count': {type: 'string'},
    kinds: {type: 'string'},
    quiet: {type: 'boolean', default: false},
    json: {type: 'boolean', default: false},
  },
})

async function main(): Promise<number> {
  const seed = Number(values.seed)
  const count = Number(values.count)
  if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 1) {
    console.error('usage: npm run sim -- --seed N [--count K] [--faults F] [--sync|--async|--quorum] [--nodes N] [--sync-count N] [--kinds k1,k2] [--quiet]')
    return 2
  }
  const kinds = values.kinds?.split(',').map((k) => k.trim()) as FaultKind[] | undefined
  for (const k of kinds ?? []) {
    if (!FAULT_KINDS.includes(k)) {
      console.error(`unknown fault kind ${k}; known: ${FAULT_KINDS.join(', ')}`)
      return 2
    }
  }
  const base: Omit<SimOptions, 'seed'> = {
    ...(values.faults !== undefined ? {faults: Number(values.faults)} : {}),
    ...(values.quorum ? {sync: true, quorum: true} : values.sync ? {sync: true, quorum: false} : values.async ? {sync: false} : {}),
    ...(kinds ? {kinds} : {}),
    ...(values.nodes !== undefined ? {nodes: Number(values.nodes)} : {}),
    ...(values['sync-count'] !== undefined ? {dcs: {synchronous_node_count: Number(values['sync-count'])}} : {}),
  }
  const started = performance.now()
  let failed = 0
  let steps = 0
  let checks = 0
  let simulated = 0
  const failures: Array<{seed: number; violations: string[]}> = []
  let acked = 0
  let lostAsync = 0
  let maxRecovery = 0
  for (let s = seed; s < seed + count; s++) {
    const r = await simulate({...base, seed: s, trace: count === 1 && !values.quiet})
    steps += r.steps
    checks += r.checks
    simulated += r.simulatedS
    if (count === 1) {
      for (const line of r.trace) console.log(line)
      console.log(`\nseed ${s}: ${r.quorum ? 'quorum commit' : r.sync ? 'synchronous' : 'asynchronous'} mode; faults: ${r.faults.map((f) => `${f.kind}(node${f.node}, +${f.at}s, ${f.duration}s)`).join(', ')}`)
      console.log(`simulated ${r.simulatedS.toFixed(0)}s, ${r.steps} steps, ${r.checks} checks, ${r.ackedCommits} acknowledged commits, ${r.lostAsync} lost (asynchronous), primary back ${r.recoveryS === null ? '-' : `${r.recoveryS.toFixed(1)}s`} after healing`)
    }
    acked += r.ackedCommits
    lostAsync += r.lostAsync
    if (r.recoveryS !== null) maxRecovery = Math.max(maxRecovery, r.recoveryS)
    if (r.violations.length) {
      failures.push({seed: s, violations: r.violations})
      failed++
      if (values.json) continue
      console.log(`seed ${s} FAILED (${replayCommand(s)}):\n  ${r.violations.join('\n  ')}`)
    }
  }
  const ms = performance.now() - started
  if (values.json) {
    console.log(JSON.stringify({schedules: count, failed, failures, steps, checks, simulatedS: Math.round(simulated), acked, lostAsync, maxRecoveryS: maxRecovery, wallMs: Math.round(ms)}))
    return failed ? 1 : 0
  }
  console.log(`${count} schedule(s), ${failed} failed; ${steps} steps, ${checks} checks, ${simulated.toFixed(0)} simulated seconds in ${(ms / 1000).toFixed(1)}s`)
  return failed ? 1 : 0
}

main().then((code) => process.exit(code), (e) => {
  console.error(e)
  process.exit(1)
})
