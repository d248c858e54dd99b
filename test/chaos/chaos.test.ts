/**
 * CI's chaos phase (bash scripts/test.sh chaos): a short fixed set of seeds on three hactl agents,
 * one synchronous (strict) and one asynchronous run, each with every fault kind in the draw. A
 * failing seed names the command that replays it. The long runs and the side-by-side table with
 * Patroni 3.0.2 and 4.0.7 are `npm run chaos -- --agent all --seeds ... --faults N`.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {runSeed} from './run'

const SEEDS: Array<{seed: number; faults: number; sync: boolean}> = [
  {seed: 2, faults: 4, sync: true},
  {seed: 7, faults: 3, sync: false},
]

for (const s of SEEDS) {
  test(`chaos seed ${s.seed} (${s.sync ? 'synchronous strict' : 'asynchronous'}, ${s.faults} faults): no acknowledged commit lost, no unexplained dual primary, never stuck, all back streaming`, {timeout: 480_000}, async () => {
    const r = await runSeed({agent: 'hactl', ...s, log: (l) => process.stdout.write(`${l}\n`)})
    assert.equal(r.faultsRun, s.faults, `${r.faultsRun} of ${s.faults} faults ran: ${r.failures.join('; ')}\nreplay: ${r.replay}`)
    assert.deepEqual(r.failures, [], `replay: ${r.replay}\n${r.timeline.join('\n')}`)
    assert.ok(r.acked > 0, 'the writer had acknowledged commits')
    if (s.sync) assert.equal(r.lost, 0)
    assert.equal(r.streamingAtEnd, 2)
  })
}
