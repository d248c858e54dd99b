/**
 * core/shutdown.ts: what the agent does with PostgreSQL and the leader key when it stops, as two
 * pure steps (shutdownPlan, then releaseAfterStop once the stop is known to have worked or not).
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {releaseAfterStop, shutdownPlan, type ShutdownFacts, type StopStep} from '../../../src/core/shutdown'

function facts(over: Partial<ShutdownFacts> = {}): ShutdownFacts {
  return {cause: 'signal', paused: false, holdsLock: true, pgRunning: true, synchronousMode: false, primaryStopTimeout: 0, ...over}
}

interface PlanRow {
  name: string
  f: Partial<ShutdownFacts>
  stop: StopStep | null
  mayRelease: boolean
  reason: string | RegExp
}

const planRows: PlanRow[] = [
  // paused: maintenance mode is how the agent is restarted without a failover
  {name: 'paused leader: PostgreSQL keeps running, key kept', f: {paused: true}, stop: null, mayRelease: false, reason: 'Leader key is not deleted and Postgresql is not stopped due paused state'},
  {name: 'paused replica: PostgreSQL keeps running', f: {paused: true, holdsLock: false}, stop: null, mayRelease: false, reason: /paused state/},
  {name: 'paused, sync mode with primary_stop_timeout: still no stop', f: {paused: true, synchronousMode: true, primaryStopTimeout: 30}, stop: null, mayRelease: false, reason: /paused state/},
  {name: 'paused with PostgreSQL down: key kept all the same', f: {paused: true, pgRunning: false}, stop: null, mayRelease: false, reason: /paused state/},
  // fatal exits that are about the data directory leave PostgreSQL alone
  {name: 'join aborted: no stop', f: {cause: 'join-aborted', holdsLock: false}, stop: null, mayRelease: false, reason: 'PostgreSQL is left running (the join was aborted)'},
  {name: 'join aborted, not paused, sync + timeout: no stop', f: {cause: 'join-aborted', holdsLock: false, synchronousMode: true, primaryStopTimeout: 10}, stop: null, mayRelease: false, reason: /the join was aborted/},
  {name: 'join aborted while (somehow) holding the lock: key not released', f: {cause: 'join-aborted'}, stop: null, mayRelease: false, reason: /the join was aborted/},
  {name: 'sysid mismatch: no stop', f: {cause: 'sysid-mismatch', holdsLock: false}, stop: null, mayRelease: false, reason: 'PostgreSQL is left running (system ID mismatch)'},
  {name: 'sysid mismatch and paused: no stop', f: {cause: 'sysid-mismatch', paused: true, holdsLock: false}, stop: null, mayRelease: false, reason: /system ID mismatch/},
  {name: 'sysid mismatch holding the lock: key not released', f: {cause: 'sysid-mismatch'}, stop: null, mayRelease: false, reason: /system ID mismatch/},
  // not paused: a fast stop that waits for the shutdown checkpoint however long it takes
  {name: 'leader, running: fast stop, no timeout', f: {}, stop: {mode: 'fast', timeoutMs: null}, mayRelease: true, reason: 'stopping PostgreSQL'},
  {name: 'leader, async with primary_stop_timeout: no timeout (sync mode only)', f: {primaryStopTimeout: 30}, stop: {mode: 'fast', timeoutMs: null}, mayRelease: true, reason: 'stopping PostgreSQL'},
  {name: 'leader, sync mode without primary_stop_timeout: no timeout', f: {synchronousMode: true, primaryStopTimeout: 0}, stop: {mode: 'fast', timeoutMs: null}, mayRelease: true, reason: 'stopping PostgreSQL'},
  {name: 'leader, sync mode with primary_stop_timeout 30: 30 s', f: {synchronousMode: true, primaryStopTimeout: 30}, stop: {mode: 'fast', timeoutMs: 30_000}, mayRelease: true, reason: 'stopping PostgreSQL'},
  {name: 'leader, sync mode with primary_stop_timeout 1: 1 s', f: {synchronousMode: true, primaryStopTimeout: 1}, stop: {mode: 'fast', timeoutMs: 1000}, mayRelease: true, reason: 'stopping PostgreSQL'},
  {name: 'replica, running: fast stop, nothing to release', f: {holdsLock: false}, stop: {mode: 'fast', timeoutMs: null}, mayRelease: false, reason: 'stopping PostgreSQL'},
  {name: 'replica, sync mode with primary_stop_timeout: the timeout applies to the stop', f: {holdsLock: false, synchronousMode: true, primaryStopTimeout: 5}, stop: {mode: 'fast', timeoutMs: 5000}, mayRelease: false, reason: 'stopping PostgreSQL'},
  {name: 'leader, PostgreSQL not running: no stop, may release', f: {pgRunning: false}, stop: null, mayRelease: true, reason: 'PostgreSQL is not running'},
  {name: 'replica, PostgreSQL not running: no stop, nothing to release', f: {pgRunning: false, holdsLock: false}, stop: null, mayRelease: false, reason: 'PostgreSQL is not running'},
  // hand-over (package upgrade): nothing stopped or released, paused or not
  {name: 'hand-over, leader: PostgreSQL keeps running, key stays', f: {cause: 'handover'}, stop: null, mayRelease: false, reason: 'hand-over: PostgreSQL is left running and the leader key in place for the next agent process'},
  {name: 'hand-over, replica: PostgreSQL keeps running', f: {cause: 'handover', holdsLock: false}, stop: null, mayRelease: false, reason: 'hand-over: PostgreSQL is left running for the next agent process'},
  {name: 'hand-over, sync mode with primary_stop_timeout: still no stop', f: {cause: 'handover', synchronousMode: true, primaryStopTimeout: 30}, stop: null, mayRelease: false, reason: /^hand-over: /},
  {name: 'hand-over while paused: the hand-over (same outcome)', f: {cause: 'handover', paused: true}, stop: null, mayRelease: false, reason: /^hand-over: /},
]

describe('shutdownPlan', () => {
  for (const r of planRows) {
    test(r.name, () => {
      const p = shutdownPlan(facts(r.f))
      assert.deepEqual(p.stop, r.stop)
      assert.equal(p.mayRelease, r.mayRelease)
      if (typeof r.reason === 'string') assert.equal(p.reason, r.reason)
      else assert.match(p.reason, r.reason)
    })
  }

  test('never escalates unless primary_stop_timeout > 0 in synchronous mode', () => {
    for (const synchronousMode of [false, true]) {
      for (const primaryStopTimeout of [0, 1, 30]) {
        for (const holdsLock of [false, true]) {
          const p = shutdownPlan(facts({synchronousMode, primaryStopTimeout, holdsLock}))
          const want = synchronousMode && primaryStopTimeout > 0 ? primaryStopTimeout * 1000 : null
          assert.deepEqual(p.stop, {mode: 'fast', timeoutMs: want}, JSON.stringify({synchronousMode, primaryStopTimeout, holdsLock}))
        }
      }
    }
  })
})

interface ReleaseRow {
  name: string
  f: Partial<ShutdownFacts>
  stopped: boolean
  release: boolean
  reason: string | RegExp
}

const releaseRows: ReleaseRow[] = [
  {name: 'leader, stop worked: release', f: {}, stopped: true, release: true, reason: 'PostgreSQL is stopped: releasing the leader key'},
  {name: 'leader, sync mode with timeout, stop worked: release', f: {synchronousMode: true, primaryStopTimeout: 30}, stopped: true, release: true, reason: /releasing the leader key/},
  {name: 'leader, stop failed: key kept', f: {}, stopped: false, release: false, reason: 'PostgreSQL shutdown failed, leader key not removed'},
  {name: 'leader, sync mode with timeout, stop failed: key kept', f: {synchronousMode: true, primaryStopTimeout: 30}, stopped: false, release: false, reason: 'PostgreSQL shutdown failed, leader key not removed'},
  {name: 'replica, stop worked: nothing to release', f: {holdsLock: false}, stopped: true, release: false, reason: 'not the leader: nothing to release'},
  {name: 'replica, stop failed: nothing to release', f: {holdsLock: false}, stopped: false, release: false, reason: 'not the leader: nothing to release'},
  {name: 'leader, PostgreSQL was already down: release', f: {pgRunning: false}, stopped: true, release: true, reason: /releasing the leader key/},
  {name: 'replica, PostgreSQL was already down: nothing to release', f: {pgRunning: false, holdsLock: false}, stopped: true, release: false, reason: 'PostgreSQL is not running'},
  {name: 'paused leader: never released, whatever the stop says', f: {paused: true}, stopped: true, release: false, reason: 'Leader key is not deleted and Postgresql is not stopped due paused state'},
  {name: 'paused leader, PostgreSQL running: key kept', f: {paused: true}, stopped: false, release: false, reason: /paused state/},
  {name: 'join aborted: never released', f: {cause: 'join-aborted'}, stopped: true, release: false, reason: /the join was aborted/},
  {name: 'sysid mismatch: never released', f: {cause: 'sysid-mismatch'}, stopped: true, release: false, reason: /system ID mismatch/},
  {name: 'hand-over: never released', f: {cause: 'handover'}, stopped: false, release: false, reason: /^hand-over: /},
]

describe('releaseAfterStop', () => {
  for (const r of releaseRows) {
    test(r.name, () => {
      const v = releaseAfterStop(shutdownPlan(facts(r.f)), r.stopped)
      assert.equal(v.release, r.release)
      if (typeof r.reason === 'string') assert.equal(v.reason, r.reason)
      else assert.match(v.reason, r.reason)
    })
  }

  test('the key goes only for the lock holder and only once PostgreSQL is down', () => {
    for (const cause of ['signal', 'join-aborted', 'sysid-mismatch', 'handover'] as const) {
      for (const paused of [false, true]) {
        for (const holdsLock of [false, true]) {
          for (const pgRunning of [false, true]) {
            for (const synchronousMode of [false, true]) {
              for (const stopped of [false, true]) {
                const f = facts({cause, paused, holdsLock, pgRunning, synchronousMode, primaryStopTimeout: 10})
                const v = releaseAfterStop(shutdownPlan(f), stopped)
                const want = cause === 'signal' && !paused && holdsLock && stopped
                assert.equal(v.release, want, JSON.stringify({...f, stopped}))
                // An armed watchdog is left to the next agent only by a hand-over; otherwise it is
                // disarmed once PostgreSQL is down or left running on purpose.
                const plan = shutdownPlan(f)
                assert.equal(v.disableWatchdog, cause === 'handover' ? false : !plan.stop || stopped, JSON.stringify({...f, stopped}))
              }
            }
          }
        }
      }
    }
  })
})
