import assert from 'node:assert/strict'
import {test} from 'node:test'
import {hostPortOf} from '../../../src/agent/helpers'

// hostPortOf remembers the last URL it parsed (a replica asks for its leader's every HA cycle):
// each answer must still be the one for the URL given, and a caller's copy its own.
test("a member's conn_url gives its host and port, the same when asked again", () => {
  assert.deepEqual(hostPortOf('postgres://10.0.0.1:5433/postgres'), {host: '10.0.0.1', port: 5433})
  const again = hostPortOf('postgres://10.0.0.1:5433/postgres')
  assert.deepEqual(again, {host: '10.0.0.1', port: 5433})
  again!.port = 1
  assert.deepEqual(hostPortOf('postgres://10.0.0.1:5433/postgres'), {host: '10.0.0.1', port: 5433}, "a caller's change does not stick")
  assert.deepEqual(hostPortOf('postgres://[fe80::1]/postgres'), {host: 'fe80::1', port: 5432})
  assert.equal(hostPortOf('not a url'), undefined)
  assert.equal(hostPortOf('not a url'), undefined)
  assert.equal(hostPortOf('postgres:///postgres'), undefined, 'no host')
  assert.deepEqual(hostPortOf('postgres://db.example.com/postgres'), {host: 'db.example.com', port: 5432})
  assert.equal(hostPortOf(null), undefined)
  assert.equal(hostPortOf(''), undefined)
})
