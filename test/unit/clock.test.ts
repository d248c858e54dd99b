/**
 * The Clock port's contract (src/ports/clock.ts), the same for the real clock and for the two
 * virtual ones that stand for it (the unit tests' FakeClock, the simulator's SimClock): sleep()
 * ends after its time and rejects with an AbortError when aborted; timer() calls back once after
 * its time and never once cancelled.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {SystemClock} from '../../src/adapters/clock/system-clock'
import {type Clock, isAbortError, SETTLED} from '../../src/ports/clock'
import {FakeClock} from '../fakes/fake-clock'
import {SimClock} from '../sim/sim-clock'

interface Subject {
  clock: Clock
  /** Lets `ms` of the clock's time pass (really, or by moving the virtual time), with callbacks run. */
  pass(ms: number): Promise<void>
}

function clockContract(name: string, make: () => Subject): void {
  describe(`Clock contract: ${name}`, () => {
    test('timer() calls back once, no earlier than its time', async () => {
      const {clock, pass} = make()
      const t0 = clock.monotonic()
      const firedAt: number[] = []
      clock.timer(40, () => firedAt.push(clock.monotonic()))
      await pass(150)
      assert.equal(firedAt.length, 1)
      // Real timers have millisecond granularity; virtual ones fire at their exact time.
      assert.ok(firedAt[0] - t0 >= 39, `fired after ${firedAt[0] - t0} ms`)
      await pass(100)
      assert.equal(firedAt.length, 1, 'only once')
    })

    test('a cancelled timer never calls back; cancelling after it fired is harmless', async () => {
      const {clock, pass} = make()
      let calls = 0
      const cancel = clock.timer(40, () => calls++)
      cancel()
      await pass(120)
      assert.equal(calls, 0)
      const late = clock.timer(10, () => calls++)
      await pass(60)
      assert.equal(calls, 1)
      late()
      assert.equal(calls, 1)
    })

    test('timers of different lengths fire in the order of their times', async () => {
      const {clock, pass} = make()
      const order: string[] = []
      clock.timer(60, () => order.push('late'))
      clock.timer(20, () => order.push('early'))
      await pass(150)
      assert.deepEqual(order, ['early', 'late'])
    })

    test('sleep() resolves after its time; an abort rejects it with the reason given', async () => {
      const {clock, pass} = make()
      let slept = false
      const s = clock.sleep(30).then(() => (slept = true))
      await pass(100)
      await s
      assert.ok(slept)
      const ac = new AbortController()
      const aborted = clock.sleep(10_000, ac.signal)
      ac.abort(SETTLED)
      await assert.rejects(aborted, (e) => isAbortError(e) && e === SETTLED)
    })
  })
}

clockContract('SystemClock', () => {
  const clock = new SystemClock()
  // Real time passes on the clock under test itself.
  return {clock, pass: (ms) => clock.sleep(ms)}
})

clockContract('FakeClock', () => {
  const clock = new FakeClock()
  return {clock, pass: (ms) => clock.advance(ms)}
})

clockContract('SimClock', () => {
  const clock = new SimClock()
  return {clock, pass: (ms) => clock.runUntil(clock.now() + ms)}
})
