import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {compactJson, decodeCluster, encodeFailover, encodeStatus, encodeSync, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'
import {JsonObjectStream} from '../../../src/adapters/dcs-etcd3/json-stream'
import {prefixRangeEndBytes} from '../../../src/adapters/dcs-etcd3/kv'
import {syncMatches, timelineFromHistory} from '../../../src/core/cluster'
import {clusterPrefix, memberNameOf} from '../../../src/core/keys'

const view = (kv: Record<string, string>) => {
  const m = new Map<string, RawNode>()
  let rev = 10
  for (const [key, value] of Object.entries(kv)) m.set(key, {key, value, modRevision: rev++, lease: key === 'leader' ? '7' : null})
  return decodeCluster(m)
}

describe('codec', () => {
  it('writes Python compact JSON with non-ASCII escaped', () => {
    assert.equal(compactJson({a: 'é', b: [1, {c: null}]}), '{"a":"\\u00e9","b":[1,{"c":null}]}')
    assert.equal(encodeFailover({leader: 'a', member: '', scheduled_at: null}), '{"leader":"a"}')
    assert.equal(encodeFailover({}), '{}')
    assert.equal(encodeSync({leader: 'a', sync_standby: null}), '{"leader":"a","sync_standby":null}')
    assert.equal(encodeStatus({optime: 5, slots: {}}), '{"optime":5}')
  })

  it('reads legacy and edge formats as Patroni does', () => {
    const c = view({
      status: '67395656',
      history: '[]',
      failover: '{"leader":"a","scheduled_at":"2023-09-13T18:00:00-03:00"}',
      sync: '{"leader":"pg1","sync_standby":"PG2,pg3","quorum":1}',
      initialize: '',
      leader: 'ghost',
      'members/pg1': '{"role":"primary","version":"4.0.1"}',
    })
    assert.equal(c.status.lastLsn, 67395656)
    assert.equal(timelineFromHistory(c.history), 1)
    assert.equal(c.failover?.scheduledAtMs, Date.UTC(2023, 8, 13, 21))
    assert.equal(syncMatches(c.sync, 'pg2'), true)
    assert.equal(c.sync.quorum, 1)
    assert.equal(c.initialize, '')
    assert.equal(c.leader?.member.version, -1, 'a leader without member key gets a stub')
    assert.deepEqual(c.members[0].patroniVersion, [4, 0, 1])
    assert.deepEqual(c.warnings, [])
  })

  it('falls back to optime/leader and never throws on garbage', () => {
    assert.equal(view({'optime/leader': '42'}).status.lastLsn, 42)
    const c = view({config: 'null', history: '[["x"]]', failsafe: '[]', status: '"s"', 'members/a': 'true'})
    assert.equal(c.config?.valid, false)
    assert.equal(c.config?.modifyVersion, 0)
    assert.equal(timelineFromHistory(c.history), 0)
    assert.equal(c.failsafe, null)
    assert.equal(c.status.lastLsn, 0)
    assert.deepEqual(c.warnings.map((w) => w.key).sort(), ['config', 'failsafe', 'history', 'members/a', 'status'])
  })
})

describe('keys and wire helpers', () => {
  it('builds the prefix like Patroni', () => {
    assert.equal(clusterPrefix({scope: 'batman'}), '/service/batman/')
    assert.equal(clusterPrefix({namespace: '//ns//', scope: 'b', group: 0}), '/ns/b/0/')
    assert.throws(() => clusterPrefix({scope: ''}), /scope/)
    assert.equal(memberNameOf('members/a'), 'a')
    assert.equal(memberNameOf('members/a/b'), undefined)
    assert.equal(prefixRangeEndBytes('/service/batman/').toString(), '/service/batman0')
  })

  it('splits concatenated and chunked JSON objects', () => {
    const s = new JsonObjectStream()
    assert.deepEqual(s.push('{"a":"}{"}\n{"b'), [{a: '}{'}])
    assert.deepEqual(s.push('":1}{"c":{"d":2}}'), [{b: 1}, {c: {d: 2}}])
    assert.throws(() => s.push('x'), /unexpected/)
  })

  it('splits whole messages, parts of messages and whitespace alike, whichever way each chunk is read', () => {
    const s = new JsonObjectStream()
    // One whole message per chunk (the usual case: JSON.parse takes it whole).
    assert.deepEqual(s.push('{"result":{"events":[1]}}\n'), [{result: {events: [1]}}])
    assert.deepEqual(s.push('{"result":{"events":[2]}}\n'), [{result: {events: [2]}}])
    // A message split in two after a whole one, then a newline alone, then two in one chunk.
    assert.deepEqual(s.push('{"result":{"ev'), [])
    assert.deepEqual(s.push('ents":[3]}}\n'), [{result: {events: [3]}}])
    assert.deepEqual(s.push('\n'), [])
    assert.deepEqual(s.push('{"a":1}\n{"b":"}"}\n'), [{a: 1}, {b: '}'}])
    assert.deepEqual(s.push('  {"c":2}\n'), [{c: 2}])
    // Valid JSON that is not an object is no message.
    assert.throws(() => new JsonObjectStream().push('[1]'), /unexpected/)
    assert.throws(() => new JsonObjectStream().push('7\n'), /unexpected/)
  })
})
