import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {FailsafeState, parseFailsafePing, withFailsafeLeader} from '../../../src/agent/failsafe'
import {emptyCluster, type Member} from '../../../src/core/cluster'

const ping = {name: 'n1', connUrl: 'postgres://10.0.0.1:5432/postgres', apiUrl: 'http://10.0.0.1:8008/patroni', slots: {n1: 100}}

describe('failsafe mode', () => {
  test('a POST /failsafe body is checked field by field', () => {
    assert.deepEqual(parseFailsafePing({name: 'n1', conn_url: ping.connUrl, api_url: ping.apiUrl, slots: {n1: 100}}), ping)
    assert.deepEqual(parseFailsafePing({name: 'n1', conn_url: ping.connUrl, api_url: ping.apiUrl}), {...ping, slots: null})
    assert.equal(parseFailsafePing({conn_url: ping.connUrl, api_url: ping.apiUrl}), 'name: must be a non-empty string')
    assert.equal(parseFailsafePing({name: 'n1', conn_url: 5, api_url: ping.apiUrl}), 'conn_url: must be a non-empty string')
    assert.equal(parseFailsafePing({name: 'n1', conn_url: ping.connUrl, api_url: ping.apiUrl, slots: [1]}), 'slots: must be a mapping of slot name to LSN')
    assert.equal(parseFailsafePing({name: 'n1', conn_url: ping.connUrl, api_url: ping.apiUrl, slots: {a: -1}}), 'slots.a: must be an LSN (a non-negative integer)')
  })

  test('a ping stands for the leader for one ttl; a reset forgets it', () => {
    let now = 1_000_000
    const f = new FailsafeState(() => now)
    assert.equal(f.leader(20), null)
    assert.equal(f.isActive(20), false)
    f.update(ping)
    now += 19_999
    assert.deepEqual(f.leader(20), ping)
    assert.equal(f.isActive(20), true)
    now += 1
    assert.equal(f.leader(20), null, 'not after the ttl')
    f.update(ping)
    f.setActive(0)
    assert.equal(f.leader(20), null, 'reset by a normal cycle or a promotion')
    f.setActive(now)
    assert.equal(f.isActive(20), true, 'the primary is active after a vouched round')
    assert.equal(f.leader(20), null, 'but names no leader of its own')
  })

  test('an unlocked view gets the pinging primary as leader, with its slots as /status slots', () => {
    const m: Member = {name: 'n1', version: 7, session: null, data: {}, role: 'primary', state: 'running', apiUrl: 'http://old/patroni', connUrl: 'postgres://old:1/postgres', lsn: 90, timeline: 2, tags: {x: 1}, patroniVersion: null}
    const view = {...emptyCluster(), members: [m]}
    const v = withFailsafeLeader(view, ping)
    assert.equal(v.leader?.name, 'n1')
    assert.equal(v.leader?.member.apiUrl, ping.apiUrl)
    assert.equal(v.leader?.member.connUrl, ping.connUrl)
    assert.deepEqual(v.leader?.member.tags, {x: 1}, 'the member key still says what it says')
    assert.deepEqual(v.status.slots, {n1: 100})
    assert.equal(view.leader, null, 'the view read from etcd is not changed')
    const stranger = withFailsafeLeader(emptyCluster(), {...ping, slots: null})
    assert.equal(stranger.leader?.member.connUrl, ping.connUrl)
    assert.equal(stranger.status.slots, null)
  })
})
