import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {Presence} from '../../../src/ports/vip'
import {reconcile, stateLine, type Desired, type Phase, type ReconcileInput, type VipAction} from '../../../src/vip/reconcile'

const GRACE = 2000
const DESIRED: Record<string, Desired> = {
  leader: {kind: 'leader', detail: 'k = "me"'},
  'not-leader': {kind: 'not-leader', detail: 'k = "other"'},
  unknown: {kind: 'unknown', detail: 'etcd read failed'},
  pending: {kind: 'pending'},
}
const OBSERVED: Record<string, Presence> = {present: 'present', absent: 'absent', unknown: {unknown: 'ip failed'}}
const PHASES: Phase[] = ['running', 'stopping-release', 'stopping-keep']
/** Time since start: within the start-up grace, or past it. */
const AGES: Record<string, number> = {early: GRACE - 1, late: GRACE}

/**
 * The whole decision table, written out by hand: [desired, observed, phase, age] -> action.
 * `*` rows below are expanded; every combination must be listed exactly once.
 */
const TABLE: Array<[string, string, Phase | '*', string | '*', VipAction]> = [
  // Stopping: release removes anything not known to be absent; keep never touches.
  ['*', 'present', 'stopping-release', '*', 'remove'],
  ['*', 'unknown', 'stopping-release', '*', 'remove'],
  ['*', 'absent', 'stopping-release', '*', 'none'],
  ['*', 'present', 'stopping-keep', '*', 'none'],
  ['*', 'unknown', 'stopping-keep', '*', 'none'],
  ['*', 'absent', 'stopping-keep', '*', 'none'],
  // Leader: the address must be up.
  ['leader', 'present', 'running', '*', 'none'],
  ['leader', 'absent', 'running', '*', 'add'],
  ['leader', 'unknown', 'running', '*', 'add'],
  // Not leader, and unknown leadership (unknown is not leader): the address must be down.
  ['not-leader', 'present', 'running', '*', 'remove'],
  ['not-leader', 'unknown', 'running', '*', 'remove'],
  ['not-leader', 'absent', 'running', '*', 'none'],
  ['unknown', 'present', 'running', '*', 'remove'],
  ['unknown', 'unknown', 'running', '*', 'remove'],
  ['unknown', 'absent', 'running', '*', 'none'],
  // No answer yet: nothing moves during the grace (no start-up blip); afterwards pending is unknown.
  ['pending', 'present', 'running', 'early', 'none'],
  ['pending', 'absent', 'running', 'early', 'none'],
  ['pending', 'unknown', 'running', 'early', 'none'],
  ['pending', 'present', 'running', 'late', 'remove'],
  ['pending', 'unknown', 'running', 'late', 'remove'],
  ['pending', 'absent', 'running', 'late', 'none'],
]

function input(d: string, o: string, phase: Phase, age: string): ReconcileInput {
  return {desired: DESIRED[d]!, observed: OBSERVED[o]!, phase, startedAt: 1000, now: 1000 + AGES[age]!, startupGraceMs: GRACE}
}

describe('vip reconcile: decision table', () => {
  it('covers every combination exactly once and matches it', () => {
    let checked = 0
    for (const d of Object.keys(DESIRED)) {
      for (const o of Object.keys(OBSERVED)) {
        for (const phase of PHASES) {
          for (const age of Object.keys(AGES)) {
            const rows = TABLE.filter(([rd, ro, rp, ra]) => (rd === '*' || rd === d) && ro === o && (rp === '*' || rp === phase) && (ra === '*' || ra === age))
            assert.equal(rows.length, 1, `rows for ${d}/${o}/${phase}/${age}: ${rows.length}`)
            const got = reconcile(input(d, o, phase, age))
            assert.equal(got.action, rows[0]![4], `${d}/${o}/${phase}/${age}: ${got.reason}`)
            checked++
          }
        }
      }
    }
    assert.equal(checked, 4 * 3 * 3 * 2)
  })

  it('safety: never adds unless leadership says leader and the node is running', () => {
    for (const d of Object.keys(DESIRED)) {
      for (const o of Object.keys(OBSERVED)) {
        for (const phase of PHASES) {
          for (const age of Object.keys(AGES)) {
            const r = reconcile(input(d, o, phase, age))
            if (r.action === 'add') assert.ok(d === 'leader' && phase === 'running', `${d}/${o}/${phase}`)
            // wantUp agrees with the action
            if (r.action === 'add') assert.equal(r.wantUp, true)
            if (r.action === 'remove') assert.equal(r.wantUp, false)
          }
        }
      }
    }
  })

  it('same input, same output', () => {
    const i = input('leader', 'absent', 'running', 'late')
    assert.deepEqual(reconcile(i), reconcile({...i}))
  })

  it('the grace edge: pending keeps the address until exactly startupGraceMs', () => {
    const base = {desired: DESIRED.pending!, observed: 'present' as Presence, phase: 'running' as Phase, startedAt: 0, startupGraceMs: 1500}
    assert.equal(reconcile({...base, now: 1499}).action, 'none')
    assert.equal(reconcile({...base, now: 1500}).action, 'remove')
    assert.match(reconcile({...base, now: 1500}).reason, /no DCS answer within 1500 ms/)
  })

  it('reasons carry the facts used', () => {
    assert.match(reconcile(input('unknown', 'present', 'running', 'late')).reason, /unknown, treated as not leader \(etcd read failed\)/)
    assert.match(reconcile(input('leader', 'unknown', 'running', 'late')).reason, /ip failed/)
  })

  it("keeps vip-manager's state line", () => {
    assert.equal(stateLine('10.0.2.123/32', 'absent', true), 'IP address 10.0.2.123/32 is down, must be up')
    assert.equal(stateLine('10.0.2.123/32', 'present', false), 'IP address 10.0.2.123/32 is up, must be down')
    assert.equal(stateLine('10.0.2.123/32', {unknown: 'x'}, false), 'IP address 10.0.2.123/32 is unknown, must be down')
  })
})
