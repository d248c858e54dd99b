import assert from 'node:assert/strict'
import {test} from 'node:test'
import {TaskSlot, type TaskOutcome} from '../../../src/agent/task-slot'
import {FakeClock} from '../../fakes/fake-clock'

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
