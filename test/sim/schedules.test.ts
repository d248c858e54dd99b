/**
 * The simulator in CI: SIM_SCHEDULES seeded fault schedules (default 10,000, seeds 1..N, fixed so
 * that a run is reproducible), split over one process per core. Each failing seed is reported
 * with the command that replays it and its trace. Figures go to the test's output.
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {availableParallelism} from 'node:os'
import {test} from 'node:test'

interface Summary {
  schedules: number
  failed: number
  failures: Array<{seed: number; violations: string[]}>
  steps: number
  checks: number
  simulatedS: number
  acked: number
  lostAsync: number
  maxRecoveryS: number
  wallMs: number
}

function run(seed: number, count: number, extra: string[] = []): Promise<Summary> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/sim/cli.ts', '--seed', String(seed), '--count', String(count), '--json', ...extra], {stdio: ['ignore', 'pipe', 'inherit']})
    let out = ''
    p.stdout.on('data', (b: Buffer) => (out += b.toString()))
    p.on('error', reject)
    p.on('close', () => {
      const line = out.trim().split('\n').pop() ?? ''
      try {
        resolve(JSON.parse(line) as Summary)
      } catch {
        reject(new Error(`the simulator printed no summary: ${out.slice(-2000)}`))
      }
    })
  })
}

test(`simulator: seeded fault schedules keep every invariant`, {timeout: 600_000}, async (t) => {
  const total = Number(process.env.SIM_SCHEDULES ?? 10_000)
  const base = Number(process.env.SIM_SEED_BASE ?? 1)
  const workers = Math.max(1, Math.min(availableParallelism(), 4))
  const per = Math.ceil(total / workers)
  const started = performance.now()
  const parts = await Promise.all(Array.from({length: workers}, (_, i) => run(base + i * per, Math.min(per, total - i * per))))
  const wall = (performance.now() - started) / 1000
  const sum = (k: keyof Summary) => parts.reduce((a, p) => a + (p[k] as number), 0)
  const failures = parts.flatMap((p) => p.failures)
  t.diagnostic(
    `${sum('schedules')} schedules, ${sum('steps')} steps, ${sum('checks')} invariant checks, ${sum('simulatedS')} simulated seconds, ` +
      `${sum('acked')} acknowledged commits (${sum('lostAsync')} lost in asynchronous mode, allowed), ` +
      `slowest recovery after healing ${Math.max(...parts.map((p) => p.maxRecoveryS)).toFixed(1)}s; ${wall.toFixed(1)}s wall on ${workers} process(es)`,
  )
  assert.equal(sum('schedules'), total, 'every schedule ran')
  assert.deepEqual(
    failures.map((f) => `seed ${f.seed} (npm run sim -- --seed ${f.seed}): ${f.violations.join('; ')}`),
    [],
    'no schedule violated an invariant',
  )
})

test('simulator: quorum commit with five nodes and synchronous_node_count 2 keeps every invariant', {timeout: 600_000}, async (t) => {
  // A twentieth of SIM_SCHEDULES (at least 20): the three-node schedules above already run quorum
  // commit on a third of their synchronous seeds; these add the resolver's bigger steps.
  const total = Math.max(20, Math.round(Number(process.env.SIM_SCHEDULES ?? 10_000) / 20))
  const base = Number(process.env.SIM_SEED_BASE ?? 1)
  const workers = Math.max(1, Math.min(availableParallelism(), 4))
  const per = Math.ceil(total / workers)
  const extra = ['--quorum', '--nodes', '5', '--sync-count', '2']
  const parts = await Promise.all(Array.from({length: workers}, (_, i) => run(base + i * per, Math.min(per, total - i * per), extra)))
  const sum = (k: keyof Summary) => parts.reduce((a, p) => a + (p[k] as number), 0)
  t.diagnostic(`${sum('schedules')} five-node quorum schedules, ${sum('checks')} invariant checks, ${sum('acked')} acknowledged commits`)
  assert.equal(sum('schedules'), total, 'every schedule ran')
  assert.deepEqual(
    parts.flatMap((p) => p.failures).map((f) => `seed ${f.seed} (npm run sim -- --seed ${f.seed} ${extra.join(' ')}): ${f.violations.join('; ')}`),
    [],
    'no schedule violated an invariant',
  )
})
