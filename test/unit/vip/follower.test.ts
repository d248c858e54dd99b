import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {HANDOVER_MARGIN_MS, VipFollower, type VipLog} from '../../../src/vip/follower'
import {FakeClock, settle} from '../../fakes/fake-clock'
import {FakeLeaderSource, FakeVipControl} from './fakes'

const LEADER = {kind: 'leader', detail: 'k = "me"'} as const
const OTHER = {kind: 'not-leader', detail: 'k = "other"'} as const
const UNKNOWN = {kind: 'unknown', detail: 'etcd read failed'} as const

function setup({interval = 1000, grace = 2000}: {interval?: number; grace?: number} = {}) {
  const clock = new FakeClock()
  const source = new FakeLeaderSource()
  const control = new FakeVipControl('10.0.2.123', 32)
  const lines: string[] = []
  const log: VipLog = {
    debug: () => {},
    info: (m) => lines.push(`INFO ${m}`),
    warning: (m) => lines.push(`WARNING ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  }
  const follower = new VipFollower({source, control, clock, log, intervalMs: interval, startupGraceMs: grace})
  return {clock, source, control, lines, follower, has: () => control.addresses.has('10.0.2.123/32')}
}

describe('VipFollower', () => {
  it('adds on leader (with GARP), removes on another value, logging vip-manager lines', async () => {
    const t = setup()
    t.follower.start()
    await settle()
    assert.equal(t.has(), false)
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), true)
    assert.equal(t.control.announcements, 1)
    assert.ok(t.lines.includes('INFO Configuring address 10.0.2.123/32 on eth0'))
    assert.ok(t.lines.some((l) => l.startsWith('INFO IP address 10.0.2.123/32 is down, must be up')))
    t.source.emit(OTHER)
    await settle()
    assert.equal(t.has(), false)
    assert.ok(t.lines.includes('INFO Removing address 10.0.2.123/32 on eth0'))
    await t.follower.stop(true)
  })

  it('hand-over: a node that was told "not leader" a moment ago adds the address only after the margin', async () => {
    const t = setup({interval: 10_000})
    t.follower.start()
    t.source.emit(OTHER)
    await settle()
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), false, 'not yet: the previous holder may still be removing it')
    await t.clock.advance(HANDOVER_MARGIN_MS - 1)
    assert.equal(t.has(), false)
    await t.clock.advance(1)
    assert.equal(t.has(), true)
    // Long after the last not-leader report, leadership gained again still waits the margin: a
    // switchover's delete and re-create of the key can arrive as one change.
    t.source.emit(OTHER)
    await settle()
    assert.equal(t.has(), false, 'removal never waits')
    await t.clock.advance(HANDOVER_MARGIN_MS + 1000)
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), false)
    await t.clock.advance(HANDOVER_MARGIN_MS)
    assert.equal(t.has(), true)
    await t.follower.stop(true)
  })

  it('no start-up blip: a present VIP stays until the first answer, which confirms it', async () => {
    const t = setup()
    t.control.addForeign('10.0.2.123/32')
    t.follower.start()
    await t.clock.advance(1500) // timer passes within the grace
    assert.equal(t.has(), true)
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), true)
    assert.deepEqual(t.control.calls.filter((c) => c !== 'presence'), [], 'neither removed nor re-added')
    await t.follower.stop(false)
  })

  it('no answer within the grace: the VIP is released (unknown is not leader)', async () => {
    const t = setup({grace: 2000})
    t.control.addForeign('10.0.2.123/32')
    t.follower.start()
    await t.clock.advance(1999)
    assert.equal(t.has(), true)
    await t.clock.advance(1001)
    assert.equal(t.has(), false)
    await t.follower.stop(false)
  })

  it('unknown leadership releases at once', async () => {
    const t = setup()
    t.follower.start()
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), true)
    t.source.emit(UNKNOWN)
    await settle()
    assert.equal(t.has(), false)
    assert.ok(t.lines.some((l) => l.includes('unknown (treated as not leader)')))
    await t.follower.stop(true)
  })

  it('repairs within one interval: removed by hand on the leader, added by hand elsewhere', async () => {
    const t = setup({interval: 1000})
    t.follower.start()
    t.source.emit(LEADER)
    await settle()
    t.control.removeForeign('10.0.2.123/32')
    await t.clock.advance(999)
    assert.equal(t.has(), false)
    await t.clock.advance(1)
    assert.equal(t.has(), true)
    assert.equal(t.control.announcements, 2, 'a repair announces again')
    t.source.emit(OTHER)
    await settle()
    t.control.addForeign('10.0.2.123/32')
    await t.clock.advance(1000)
    assert.equal(t.has(), false)
    await t.follower.stop(true)
  })

  it('a failed add is logged and retried on the next tick', async () => {
    const t = setup()
    t.control.failChange = 'Error: permission denied'
    t.follower.start()
    t.source.emit(LEADER)
    await settle()
    assert.equal(t.has(), false)
    assert.ok(t.lines.includes('ERROR Got error Error: permission denied'))
    assert.ok(t.lines.includes('ERROR Failed to configure virtual ip for this machine'))
    t.control.failChange = undefined
    await t.clock.advance(1000)
    assert.equal(t.has(), true)
    await t.follower.stop(true)
  })

  it('an unreadable address state on a non-leader is treated as present and removed', async () => {
    const t = setup()
    t.follower.start()
    t.source.emit(OTHER)
    await settle()
    t.control.failPresence = 'ip crashed'
    await t.clock.advance(1000)
    assert.equal(t.control.calls.at(-1), 'remove')
    await t.follower.stop(false)
  })

  it('stop(release) removes even on the leader and ignores later reports; stop(keep) leaves it', async () => {
    const t = setup()
    t.follower.start()
    t.source.emit(LEADER)
    await settle()
    await t.follower.stop(true)
    assert.equal(t.has(), false)
    assert.equal(t.source.stopped, true)
    t.source.emit(LEADER)
    await t.clock.advance(5000)
    assert.equal(t.has(), false, 'nothing runs after stop')

    const k = setup()
    k.follower.start()
    k.source.emit(LEADER)
    await settle()
    await k.follower.stop(false)
    assert.equal(k.has(), true)
    assert.equal(k.clock.pending, 0, 'no timer left behind')
  })

  it('passes never overlap: reports during a pass coalesce into one more pass', async () => {
    const t = setup()
    let inFlight = 0
    let maxInFlight = 0
    const presence = t.control.presence.bind(t.control)
    t.control.presence = async () => {
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      return presence()
    }
    t.follower.start()
    t.source.emit(LEADER)
    t.source.emit(OTHER)
    t.source.emit(LEADER)
    await settle()
    assert.equal(maxInFlight, 1)
    assert.equal(t.has(), true, 'the last report wins')
    await t.follower.stop(true)
  })
})
