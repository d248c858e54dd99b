import assert from 'node:assert/strict'
import {EventEmitter} from 'node:events'
import {test} from 'node:test'
import {AgentSignals} from '../../../src/agent/signals'

function target() {
  const e = new EventEmitter()
  return {e, t: {on: (s: string, l: () => void) => e.on(s, l), off: (s: string, l: () => void) => e.off(s, l)}}
}

test('signals before attach are queued: one reload however many SIGHUPs, the exit first', () => {
  const {e, t} = target()
  const s = new AgentSignals(t)
  assert.equal(e.listenerCount('SIGHUP'), 1)
  e.emit('SIGHUP')
  e.emit('SIGHUP')
  assert.equal(s.exitRequested, false)
  e.emit('SIGINT')
  assert.equal(s.exitRequested, true)
  const seen: string[] = []
  s.attach({reload: () => seen.push('reload'), exit: () => seen.push('exit')})
  assert.deepEqual(seen, ['exit', 'reload'])
  e.emit('SIGHUP')
  e.emit('SIGTERM')
  assert.deepEqual(seen, ['exit', 'reload', 'reload', 'exit'])
  s.dispose()
  for (const n of ['SIGHUP', 'SIGTERM', 'SIGINT']) assert.equal(e.listenerCount(n), 0, n)
})

test('nothing pending: attach delivers nothing', () => {
  const {t} = target()
  const s = new AgentSignals(t)
  const seen: string[] = []
  s.attach({reload: () => seen.push('reload'), exit: () => seen.push('exit')})
  assert.deepEqual(seen, [])
  s.dispose()
})
