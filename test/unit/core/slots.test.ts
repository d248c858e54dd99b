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

import {enforceHotStandbyFeedback, ignored, slotNameOnPrimary, slotPlan, type SlotPlanInput} from '../../../src/core/slots'

const cluster = (over: Partial<SlotPlanInput> = {}): SlotPlanInput => ({
  self: 'pg1',
  selfTags: {},
  role: 'primary',
  leader: 'pg1',
  members: [
    {name: 'pg1', tags: {}, lsn: 900},
    {name: 'pg2', tags: {}, lsn: 800},
    {name: 'pg3', tags: {replicatefrom: 'pg2'}, lsn: 700},
    {name: 'pg4', tags: {nostream: true}, lsn: 600},
  ],
  useSlots: true,
  memberSlotsTtlS: 1800,
  pgVersion: 150000,
  standbyCluster: false,
  permanent: {cdc: {type: 'logical', database: 'app', plugin: 'test_decoding'}, archiver: {type: 'physical'}},
  statusSlots: {cdc: 5000, pg2: 800, pg3: 100},
  ...over,
})

test('primary: member slots (none for nostream), the cascading one not expected active and at its own position, permanent ones', () => {
  const p = slotPlan(cluster())
  assert.deepEqual(p.slots, {
    pg2: {type: 'physical', lsn: 800, expectedActive: true},
    pg3: {type: 'physical', lsn: 700, expectedActive: false},
    cdc: {type: 'logical', database: 'app', plugin: 'test_decoding', lsn: 5000},
    archiver: {type: 'physical', expectedActive: true},
  })
  assert.deepEqual(p.errors, [])
})

test('member_slots_ttl 0: the primary keeps no slot for a member cascading from another; its source does', () => {
  const onPrimary = slotPlan(cluster({memberSlotsTtlS: 0})).slots
  assert.deepEqual(Object.keys(onPrimary).sort(), ['archiver', 'cdc', 'pg2'])
  const onSource = slotPlan(cluster({memberSlotsTtlS: 0, self: 'pg2', role: 'replica'})).slots
  assert.deepEqual(onSource.pg3, {type: 'physical', lsn: 700, expectedActive: true})
  assert.equal(onSource.pg1, undefined)
  assert.equal(onSource.pg4, undefined, 'nostream never gets a slot')
})

test('replicas: the cascade source expects its cascading member to stream from it; logical slots at the published position', () => {
  const onSource = slotPlan(cluster({self: 'pg2', role: 'replica'})).slots
  assert.equal(onSource.pg3?.expectedActive, true)
  assert.equal(onSource.pg1?.expectedActive, false)
  assert.deepEqual(onSource.cdc, {type: 'logical', database: 'app', plugin: 'test_decoding', lsn: 5000})
  assert.equal(onSource.archiver?.expectedActive, false, 'a permanent physical slot is not expected active on a replica')
  // pg3 cascades from pg2 and streams nothing to anyone: still keeps the permanent slots (it can be promoted).
  assert.ok(slotPlan(cluster({self: 'pg3', selfTags: {replicatefrom: 'pg2'}, role: 'replica'})).slots.cdc)
})

test('a nostream node and its cascading followers keep no logical slots; a nofailover node no permanent slots', () => {
  const members = cluster().members.map((m) => (m.name === 'pg3' ? {...m, tags: {replicatefrom: 'pg4'}} : m))
  const nostream = slotPlan(cluster({self: 'pg4', selfTags: {nostream: true}, role: 'replica'})).slots
  assert.equal(nostream.cdc, undefined)
  assert.ok(nostream.archiver, 'permanent physical slots stay')
  const follower = slotPlan(cluster({members, self: 'pg3', selfTags: {replicatefrom: 'pg4'}, role: 'replica'})).slots
  assert.equal(follower.cdc, undefined)
  const nofailover = slotPlan(cluster({self: 'pg2', selfTags: {nofailover: true}, role: 'replica'})).slots
  assert.deepEqual(Object.keys(nofailover), ['pg3'], 'only the member cascading from it')
})

test('cluster_type: a physical slot only in its kind of cluster; a standby cluster keeps no logical slots', () => {
  const permanent = {
    cdc: {type: 'logical' as const, database: 'app', plugin: 'pgoutput'},
    onlyprimary: {type: 'physical' as const, cluster_type: 'primary' as const},
    onlystandby: {type: 'physical' as const, cluster_type: 'standby' as const},
    both: {type: 'physical' as const},
  }
  const primary = Object.keys(slotPlan(cluster({permanent})).slots)
  assert.ok(primary.includes('onlyprimary') && primary.includes('both') && primary.includes('cdc'))
  assert.ok(!primary.includes('onlystandby'))
  const standby = Object.keys(slotPlan(cluster({permanent, standbyCluster: true, role: 'standby_leader'})).slots)
  assert.ok(standby.includes('onlystandby') && standby.includes('both'))
  assert.ok(!standby.includes('onlyprimary') && !standby.includes('cdc'))
})

test('no slot for my own name; a permanent logical slot named like a member is refused; before PG 11 no logical slots on replicas', () => {
  const mine = slotPlan(cluster({permanent: {pg1: {type: 'physical'}}})).slots
  assert.equal(mine.pg1, undefined)
  const clash = slotPlan(cluster({permanent: {pg2: {type: 'logical', database: 'a', plugin: 'b'}}}))
  assert.deepEqual(clash.slots.pg2, {type: 'physical', lsn: 800, expectedActive: true})
  assert.match(clash.errors[0]!, /pg2 is conflicting/)
  assert.equal(slotPlan(cluster({pgVersion: 100000, self: 'pg2', role: 'replica'})).slots.cdc, undefined)
  assert.equal(slotPlan(cluster({pgVersion: 100000, self: 'pg2', role: 'replica'})).slots.archiver, undefined)
  const pg10primary = slotPlan(cluster({pgVersion: 100000})).slots
  assert.equal(pg10primary.cdc, undefined, 'no permanent logical slot before PostgreSQL 11')
  assert.ok(pg10primary.archiver)
  assert.equal(slotPlan(cluster({useSlots: false})).slots.cdc, undefined)
})

test('members sharing a slot name are named in an error', () => {
  const members = [...cluster().members, {name: 'PG2', tags: {}, lsn: null}]
  assert.match(slotPlan(cluster({members})).errors[0]!, /pg2, PG2 map to pg2/)
})

test('slot on the primary follows replicatefrom up the chain; nostream and loops have none', () => {
  const m = cluster().members
  assert.equal(slotNameOnPrimary('pg3', {replicatefrom: 'pg2'}, m), 'pg2')
  assert.equal(slotNameOnPrimary('pg3', {replicatefrom: 'gone'}, m), 'pg3')
  assert.equal(slotNameOnPrimary('pg4', {nostream: true}, m), null)
  const loop = [{name: 'a', tags: {replicatefrom: 'b'}, lsn: null}, {name: 'b', tags: {replicatefrom: 'a'}, lsn: null}]
  assert.equal(slotNameOnPrimary('a', {replicatefrom: 'b'}, loop), null)
})

test('hot_standby_feedback is enforced where logical slots are kept or fed, not in a standby cluster', () => {
  assert.equal(enforceHotStandbyFeedback(cluster({self: 'pg2', role: 'replica'})), true)
  assert.equal(enforceHotStandbyFeedback(cluster({self: 'pg2', role: 'replica', permanent: {}})), false)
  // pg2 is nofailover (no permanent slots) but feeds pg3, which keeps the logical slot.
  assert.equal(enforceHotStandbyFeedback(cluster({self: 'pg2', selfTags: {nofailover: true}, role: 'replica'})), true)
  assert.equal(enforceHotStandbyFeedback(cluster({self: 'pg2', standbyCluster: true})), false)
})

test('ignore_slots: every attribute given must match; an empty one matches anything', () => {
  const cdc = {name: 'cdc', type: 'logical' as const, plugin: 'pgoutput', database: 'app', active: false}
  assert.equal(ignored(cdc, [{name: 'cdc'}]), true)
  assert.equal(ignored(cdc, [{type: 'logical', database: 'app'}]), true)
  assert.equal(ignored(cdc, [{type: 'logical', database: 'other'}]), false)
  assert.equal(ignored(cdc, [{name: 'cdc', plugin: 'wal2json'}]), false)
  assert.equal(ignored(cdc, [{plugin: '', database: 'app'}]), true)
  assert.equal(ignored(cdc, [{name: 'x'}, {type: 'physical'}]), false)
})

import {retainSlots} from '../../../src/core/slots'

test('retain_slots (Patroni 4 _build_retain_slots): published member slots, remembered for member_slots_ttl; not nostream, not permanent physical', () => {
  const members = [
    {name: 'Node-1', tags: {}},
    {name: 'n2', tags: {}},
    {name: 'n3', tags: {nostream: true}},
    {name: 'perm', tags: {}},
  ]
  const base = {self: 'Node-1', members, permanentPhysical: new Set(['perm']), ttlS: 60}
  const slots = {node_1: 10, n2: 5, n3: 5, perm: 1, cdc: 7}
  const a = retainSlots({...base, now: 1000, slots, seen: {}})
  assert.deepEqual(a.names, ['n2', 'node_1'])
  // n2's member leaves: its slot is no longer published, yet listed until member_slots_ttl has passed.
  const b = retainSlots({...base, members: members.filter((m) => m.name !== 'n2'), now: 60_999, slots: {node_1: 11}, seen: a.seen})
  assert.deepEqual(b.names, ['n2', 'node_1'])
  const c = retainSlots({...base, now: 61_000, slots: {node_1: 12}, seen: b.seen})
  assert.deepEqual(c.names, ['node_1'])
  // Nothing published (PostgreSQL < 11): only the expiry runs.
  assert.equal(retainSlots({...base, now: 200_000, slots: null, seen: c.seen}).names, null)
  // Our own key is missing: our slot name is listed meanwhile.
  assert.deepEqual(retainSlots({...base, members: [], now: 0, slots: {node_1: 1}, seen: {}}).names, ['node_1'])
})
