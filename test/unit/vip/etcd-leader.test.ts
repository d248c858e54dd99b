import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {EtcdLeaderSource} from '../../../src/adapters/vip/etcd-leader'
import type {Leadership} from '../../../src/ports/vip'
import {FakeClock, settle} from '../../fakes/fake-clock'
import {FakeKv} from '../../fakes/fake-dcs'

const KEY = '/service/main/leader'

function setup() {
  const clock = new FakeClock()
  const kv = new FakeKv(clock)
  const reports: Leadership[] = []
  const logs: string[] = []
  const source = new EtcdLeaderSource({kv, key: KEY, value: 'node1', clock, intervalMs: 1000, log: (l, m) => logs.push(`${l} ${m}`)})
  const last = () => reports.at(-1)?.kind
  return {clock, kv, reports, logs, source, last}
}

describe('EtcdLeaderSource (FakeKv, the store the DCS contract suite checks against real etcd)', () => {
  it('reads first, then follows the exact key through the watch', async () => {
    const t = setup()
    t.source.start((s) => t.reports.push(s))
    await settle()
    assert.equal(t.last(), 'not-leader')
    assert.match(t.reports[0]!.detail, /does not exist/)
    assert.ok(t.logs.includes(`info No value found for key ${KEY} - DCS may not have set it yet`))
    await t.kv.put(KEY, 'node1')
    await settle()
    assert.equal(t.last(), 'leader')
    const n = t.reports.length
    await t.kv.put(KEY + '2', 'node2') // same prefix, other key: must not count
    await t.kv.put(KEY + '/x', 'other')
    await settle()
    assert.equal(t.reports.length, n)
    await t.kv.put(KEY, 'node10') // not a substring match
    await settle()
    assert.equal(t.last(), 'not-leader')
    await t.kv.put(KEY, 'node1')
    await settle()
    await t.kv.deleteRange(KEY)
    await settle()
    assert.equal(t.last(), 'not-leader')
    assert.match(t.reports.at(-1)!.detail, /deleted/)
    await t.source.stop()
  })

  it('value compare is exact: case and blanks matter', async () => {
    const t = setup()
    await t.kv.put(KEY, 'node1 ')
    t.source.start((s) => t.reports.push(s))
    await settle()
    assert.equal(t.last(), 'not-leader')
    await t.kv.put(KEY, 'Node1')
    await settle()
    assert.equal(t.last(), 'not-leader')
    await t.source.stop()
  })

  it('etcd down: the watch ends, the re-read fails, unknown is reported; back up: re-read, re-watch', async () => {
    const t = setup()
    await t.kv.put(KEY, 'node1')
    t.source.start((s) => t.reports.push(s))
    await settle()
    assert.equal(t.last(), 'leader')
    t.kv.setAvailable(false)
    await settle()
    assert.equal(t.last(), 'unknown')
    assert.ok(t.logs.some((l) => l.startsWith('warning WATCH on key lost, re-establishing and re-syncing state')))
    assert.ok(t.logs.some((l) => l.startsWith('error Failed to get value from etcd')))
    t.kv.setAvailable(true)
    await t.clock.advance(1000)
    assert.equal(t.last(), 'leader')
    // and the new watch works
    await t.kv.put(KEY, 'node2')
    await settle()
    assert.equal(t.last(), 'not-leader')
    await t.source.stop()
  })

  it('the periodic read notices a silent DCS failure without any watch event', async () => {
    const t = setup()
    await t.kv.put(KEY, 'node1')
    t.source.start((s) => t.reports.push(s))
    await settle()
    // Make reads fail but keep the watch open, like a partition that sends no FIN.
    const range = t.kv.range.bind(t.kv)
    t.kv.range = async () => {
      throw new Error('context deadline exceeded')
    }
    await t.clock.advance(1000)
    assert.equal(t.last(), 'unknown')
    t.kv.range = range
    await t.clock.advance(1000)
    assert.equal(t.last(), 'leader')
    await t.source.stop()
  })

  it('no report after stop()', async () => {
    const t = setup()
    t.source.start((s) => t.reports.push(s))
    await settle()
    await t.source.stop()
    const n = t.reports.length
    await t.kv.put(KEY, 'node1')
    await t.clock.advance(5000)
    assert.equal(t.reports.length, n)
    assert.equal(t.clock.pending, 0)
  })
})
