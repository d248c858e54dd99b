import assert from 'node:assert/strict'
import {test} from 'node:test'
import {slotCleanup, type SlotState} from '../../../src/core/slots'

const phys = (name: string, active = false): SlotState => ({name, type: 'physical', plugin: null, database: null, active})
const base = {now: 100_000, wanted: new Set(['node2', 'node3', 'archiver']), ignore: [{name: 'manual'}, {type: 'physical', database: 'x'}], ttlS: 60, unusedSince: {}}

test('only inactive physical slots nobody wants, ignored by nothing, are candidates', () => {
  const slots = [phys('node2'), phys('archiver'), phys('manual'), phys('gone'), phys('busy', true), {name: 'cdc', type: 'logical', plugin: 'pgoutput', database: 'app', active: false} as SlotState]
  const r = slotCleanup({...base, slots})
  assert.deepEqual(r.drop, [])
  assert.deepEqual(r.waiting, [{name: 'gone', leftS: 60}])
  assert.deepEqual(r.unusedSince, {gone: 100_000})
})

test('a candidate is dropped once unused for member_slots_ttl, not before', () => {
  const slots = [phys('gone')]
  assert.deepEqual(slotCleanup({...base, slots, now: 159_000, unusedSince: {gone: 100_000}}).waiting, [{name: 'gone', leftS: 1}])
  const r = slotCleanup({...base, slots, now: 160_000, unusedSince: {gone: 100_000}})
  assert.deepEqual(r.drop, ['gone'])
  assert.deepEqual(r.unusedSince, {})
})

test('member_slots_ttl 0 drops at once, as Patroni 3 does', () => {
  assert.deepEqual(slotCleanup({...base, ttlS: 0, slots: [phys('gone')]}).drop, ['gone'])
})

test('a slot that is used again, or wanted again, starts over', () => {
  const r1 = slotCleanup({...base, slots: [phys('gone', true)], unusedSince: {gone: 1}})
  assert.deepEqual(r1, {drop: [], waiting: [], unusedSince: {}})
  const r2 = slotCleanup({...base, wanted: new Set(['gone']), slots: [phys('gone')], unusedSince: {gone: 1}})
  assert.deepEqual(r2, {drop: [], waiting: [], unusedSince: {}})
})
