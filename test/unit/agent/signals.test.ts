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
  s.attach({reload: () => seen.push('reload'), exit: (k) => seen.push(`exit:${k}`)})
  assert.deepEqual(seen, ['exit:stop', 'reload'])
  e.emit('SIGHUP')
  e.emit('SIGTERM')
  assert.deepEqual(seen, ['exit:stop', 'reload', 'reload', 'exit:stop'])
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

test('a SIGTERM is a hand-over exactly when the hand-over check says so as it arrives; SIGINT never', () => {
  const {e, t} = target()
  const s = new AgentSignals(t)
  let marker = false
  let checks = 0
  s.useHandoverCheck(() => {
    checks++
    return marker
  })
  const seen: string[] = []
  s.attach({reload: () => seen.push('reload'), exit: (k) => seen.push(k)})
  e.emit('SIGTERM')
  marker = true
  e.emit('SIGTERM')
  e.emit('SIGINT')
  assert.deepEqual(seen, ['stop', 'handover', 'stop'])
  assert.equal(checks, 2, 'only SIGTERM consults the check')
  s.dispose()
})

test('before attach: a queued hand-over is delivered as one; a stop queued first stays a stop; a throwing check means stop', () => {
  for (const [order, want] of [[['handover'], 'handover'], [['stop', 'handover'], 'stop'], [['throw'], 'stop']] as const) {
    const {e, t} = target()
    const s = new AgentSignals(t)
    let next: string = 'stop'
    s.useHandoverCheck(() => {
      if (next === 'throw') throw new Error('EACCES')
      return next === 'handover'
    })
    for (const o of order) {
      next = o
      e.emit('SIGTERM')
    }
    assert.equal(s.exitRequested, true)
    const seen: string[] = []
    s.attach({reload: () => seen.push('reload'), exit: (k) => seen.push(k)})
    assert.deepEqual(seen, [want], JSON.stringify(order))
    s.dispose()
  }
})
