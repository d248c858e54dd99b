import assert from 'node:assert/strict'
import {test} from 'node:test'
import {TaskSlot, type TaskOutcome} from '../../../src/agent/task-slot'
import {FakeClock, settle} from '../../fakes/fake-clock'

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return {promise, resolve, reject}
}

test('one task at a time; the outcome is handed out once and wakes the loop', async () => {
  const clock = new FakeClock()
  const done: TaskOutcome[] = []
  const slot = new TaskSlot(clock, (o) => done.push(o))
  const d = deferred<string>()
  assert.equal(slot.start('basebackup', 'cloning from node1', () => d.promise), true)
  assert.equal(slot.busy, true)
  assert.equal(slot.current?.kind, 'basebackup')
  assert.equal(slot.start('restart', 'restart', async () => 'x'), false, 'a second task is refused while busy')
  await clock.advance(5000)
  d.resolve('ok')
  await slot.settled()
  assert.equal(slot.busy, false)
  const o = slot.takeOutcome()!
  assert.equal(o.ok, true)
  assert.equal(o.value, 'ok')
  assert.equal(o.finishedAt - o.startedAt, 5000)
  assert.equal(slot.takeOutcome(), undefined, 'handed out once')
  assert.equal(done.length, 1)
})

test('a failing task reports its error instead of throwing into the loop', async () => {
  const slot = new TaskSlot(new FakeClock())
  slot.start('rewind', 'pg_rewind', async () => {
    throw new Error('pg_rewind: source and target clusters are from different systems')
  })
  await slot.settled()
  const o = slot.takeOutcome()!
  assert.equal(o.ok, false)
  assert.match(String((o.error as Error).message), /different systems/)
  assert.equal(o.cancelled, false)
})

test('cancel aborts the signal and waits for the task to end', async () => {
  const slot = new TaskSlot(new FakeClock())
  let sawAbort = false
  slot.start('initdb', 'initdb', (signal) => new Promise((_res, rej) => {
    signal.addEventListener('abort', () => {
      sawAbort = true
      rej(signal.reason)
    })
  }))
  await slot.cancel('shutting down')
  assert.equal(sawAbort, true)
  assert.equal(slot.busy, false)
  const o = slot.takeOutcome()!
  assert.equal(o.cancelled, true)
  assert.equal(o.ok, false)
})

// --- the cycle gate: a task never finishes in the middle of an HA cycle ---------------------

test('a task whose work ends during a cycle is still running until endCycle(); then its outcome is there', async () => {
  const clock = new FakeClock()
  const done: TaskOutcome[] = []
  const slot = new TaskSlot(clock, (o) => done.push(o))
  const d = deferred<string>()
  assert.equal(slot.start('restart', 'restart', () => d.promise), true)
  await slot.beginCycle()
  await clock.advance(2000)
  d.resolve('restarted')
  await settle()
  assert.equal(slot.busy, true, 'busy for the rest of the cycle')
  assert.equal(slot.current?.kind, 'restart')
  assert.equal(slot.takeOutcome(), undefined, 'no outcome mid-cycle')
  assert.equal(slot.start('stop', 'stop', async () => 'x'), false, 'still refuses a second task')
  assert.equal(done.length, 0, 'the loop is not woken mid-cycle')
  await clock.advance(500)
  slot.endCycle()
  assert.equal(slot.busy, false)
  assert.equal(slot.current, undefined)
  const o = slot.takeOutcome()!
  assert.equal(o.kind, 'restart')
  assert.equal(o.ok, true)
  assert.equal(o.value, 'restarted')
  assert.equal(o.cancelled, false)
  assert.equal(o.finishedAt - o.startedAt, 2000, 'finishedAt is when the work ended, not when the cycle did')
  await slot.settled()
  await settle()
  assert.equal(done.length, 1, 'onDone once')
  assert.equal(slot.takeOutcome(), undefined, 'handed out once')
})

test('a task started inside a cycle and failing inside it is recorded at endCycle()', async () => {
  const slot = new TaskSlot(new FakeClock())
  await slot.beginCycle()
  slot.start('rewind', 'pg_rewind', async () => {
    throw new Error('boom')
  })
  await settle()
  assert.equal(slot.busy, true)
  assert.equal(slot.takeOutcome(), undefined)
  slot.endCycle()
  assert.equal(slot.busy, false)
  const o = slot.takeOutcome()!
  assert.equal(o.ok, false)
  assert.match(String((o.error as Error).message), /boom/)
})

test('settled() of a task that ended during a cycle waits for endCycle()', async () => {
  const slot = new TaskSlot(new FakeClock())
  const d = deferred<void>()
  slot.start('stop', 'stop', () => d.promise)
  await slot.beginCycle()
  d.resolve()
  let settledSeen = false
  const s = slot.settled().then(() => (settledSeen = true))
  await settle()
  assert.equal(settledSeen, false)
  slot.endCycle()
  await s
  assert.equal(settledSeen, true)
  assert.equal(slot.busy, false)
})

test('a task that ends between cycles is recorded at once; the next cycle sees it', async () => {
  const slot = new TaskSlot(new FakeClock())
  const d = deferred<string>()
  await slot.beginCycle()
  slot.start('restart', 'restart', () => d.promise)
  slot.endCycle()
  d.resolve('ok')
  await settle()
  assert.equal(slot.busy, false)
  await slot.beginCycle()
  assert.equal(slot.takeOutcome()?.value, 'ok')
  slot.endCycle()
})

test('exclusive() called during a cycle runs fn only after endCycle()', async () => {
  const slot = new TaskSlot(new FakeClock())
  await slot.beginCycle()
  let ran = false
  const p = slot.exclusive(new AbortController().signal, async () => {
    ran = true
    return 7
  })
  await settle()
  assert.equal(ran, false, 'fn waits for the cycle')
  slot.endCycle()
  assert.equal(await p, 7)
  assert.equal(ran, true)
})

test('exclusive() outside a cycle runs fn at once', async () => {
  const slot = new TaskSlot(new FakeClock())
  let ran = false
  const p = slot.exclusive(new AbortController().signal, async () => {
    ran = true
    return 'x'
  })
  assert.equal(ran, true, 'fn started synchronously')
  assert.equal(await p, 'x')
})

test('beginCycle() while an exclusive fn runs waits for it to finish', async () => {
  const slot = new TaskSlot(new FakeClock())
  const d = deferred<string>()
  let fnEnded = false
  const ex = slot.exclusive(new AbortController().signal, () => d.promise.then((v) => ((fnEnded = true), v)))
  await settle()
  let began = false
  const b = slot.beginCycle().then(() => {
    began = true
    assert.equal(fnEnded, true, 'the cycle began only after fn ended')
  })
  await settle()
  assert.equal(began, false, 'the cycle waits for the critical section')
  d.resolve('released')
  await b
  assert.equal(began, true)
  assert.equal(await ex, 'released')
  slot.endCycle()
})

test('beginCycle() waits for an exclusive fn that fails, and exclusive() rejects with its error', async () => {
  const slot = new TaskSlot(new FakeClock())
  const d = deferred<void>()
  const ex = slot.exclusive(new AbortController().signal, () => d.promise)
  const exErr = assert.rejects(ex, /etcd down/)
  let began = false
  const b = slot.beginCycle().then(() => (began = true))
  await settle()
  assert.equal(began, false)
  d.reject(new Error('etcd down'))
  await exErr
  await b
  assert.equal(began, true)
  slot.endCycle()
})

test('exclusive() waiting for a cycle rejects with an AbortError when its signal aborts; fn never runs', async () => {
  const slot = new TaskSlot(new FakeClock())
  await slot.beginCycle()
  const ac = new AbortController()
  let ran = false
  const p = slot.exclusive(ac.signal, async () => {
    ran = true
  })
  await settle()
  ac.abort()
  await assert.rejects(p, (e: unknown) => e instanceof Error && e.name === 'AbortError')
  slot.endCycle()
  await settle()
  assert.equal(ran, false)
  // the gate is not left closed: the next cycle begins at once
  await slot.beginCycle()
  slot.endCycle()
})

test('exclusive() with an already aborted signal rejects with an AbortError without running fn', async () => {
  const slot = new TaskSlot(new FakeClock())
  const ac = new AbortController()
  ac.abort()
  let ran = false
  await assert.rejects(
    slot.exclusive(ac.signal, async () => {
      ran = true
    }),
    (e: unknown) => e instanceof Error && e.name === 'AbortError',
  )
  assert.equal(ran, false)
})

test('a task stuck in exclusive() during a cycle is cancelled by cancel() (its signal aborts the wait)', async () => {
  const slot = new TaskSlot(new FakeClock())
  let released = false
  await slot.beginCycle()
  slot.start('switchover-demote', 'demote', async (signal) => {
    await slot.exclusive(signal, async () => {
      released = true
    })
  })
  await settle()
  await slot.cancel('agent shutting down')
  assert.equal(released, false)
  assert.equal(slot.busy, false)
  const o = slot.takeOutcome()!
  assert.equal(o.cancelled, true)
  assert.equal(o.ok, false)
  assert.equal((o.error as Error).name, 'AbortError')
  slot.endCycle()
})

test('cancel() inside a cycle records the outcome at once', async () => {
  const done: TaskOutcome[] = []
  const slot = new TaskSlot(new FakeClock(), (o) => done.push(o))
  slot.start('initdb', 'initdb', (signal) => new Promise((_res, rej) => signal.addEventListener('abort', () => rej(signal.reason))))
  await slot.beginCycle()
  await slot.cancel('lost the lock')
  assert.equal(slot.busy, false, 'not busy right after cancel(), mid-cycle')
  assert.equal(slot.current, undefined)
  const o = slot.takeOutcome()!
  assert.equal(o.cancelled, true)
  assert.equal(o.kind, 'initdb')
  assert.equal(done.length, 1)
  slot.endCycle()
  await settle()
  assert.equal(done.length, 1, 'endCycle() does not record it a second time')
  assert.equal(slot.takeOutcome(), undefined)
  assert.equal(slot.start('clone', 'clone', async () => 'ok'), true, 'the slot is free for the next task')
})
