/**
 * The watchdog section as Patroni reads it (patroni/watchdog/base.py parse_mode, WatchdogConfig):
 * mode aliases, an unknown mode disables the watchdog with a warning, driver and device defaults.
 * Modes required and automatic are accepted (docs/ha-rules.md#watchdog).
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {validateLocalConfig} from '../../../src/config/schema'

const base = {
  scope: 'unit',
  name: 'node1',
  restapi: {listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008'},
  etcd3: {hosts: ['127.0.0.1:2379']},
  postgresql: {listen: '127.0.0.1:5432', connect_address: '127.0.0.1:5432', data_dir: '/tmp/x', authentication: {superuser: {username: 'postgres'}, replication: {username: 'r'}}},
}

function wd(section: unknown) {
  const v = validateLocalConfig({...base, watchdog: section})
  assert.ok(v.config, JSON.stringify(v.issues))
  return {w: v.config.watchdog, issues: v.issues.filter((i) => i.path.startsWith('watchdog'))}
}

describe('config: watchdog', () => {
  test('required and automatic are accepted without a warning; defaults as Patroni', () => {
    assert.deepEqual(wd({mode: 'required'}), {w: {mode: 'required', driver: 'default', device: '/dev/watchdog', safety_margin: 5}, issues: []})
    assert.deepEqual(wd({mode: 'automatic', device: '/dev/watchdog1', safety_margin: -1, driver: 'testing'}).w, {mode: 'automatic', driver: 'testing', device: '/dev/watchdog1', safety_margin: -1})
    assert.deepEqual(wd({mode: 'automatic'}).issues, [])
  })

  test('mode aliases: require, auto, disable(d), false, any case', () => {
    for (const [given, mode] of [['require', 'required'], ['Required', 'required'], ['auto', 'automatic'], ['AUTOMATIC', 'automatic'], ['disable', 'off'], ['disabled', 'off'], ['off', 'off'], [false, 'off']] as const) {
      const r = wd({mode: given})
      assert.equal(r.w?.mode, mode, String(given))
      assert.deepEqual(r.issues, [], String(given))
    }
  })

  test('an unknown mode disables the watchdog with Patroni\'s warning, naming the key', () => {
    const r = wd({mode: 'sometimes'})
    assert.equal(r.w?.mode, 'off')
    assert.equal(r.issues.length, 1)
    assert.equal(r.issues[0]!.path, 'watchdog.mode')
    assert.equal(r.issues[0]!.severity, 'warning')
    assert.match(r.issues[0]!.message, /Watchdog mode sometimes not recognized, disabling watchdog/)
  })

  test('a bad safety_margin is named', () => {
    const v = validateLocalConfig({...base, watchdog: {mode: 'required', safety_margin: -5}})
    assert.ok(v.issues.some((i) => i.path === 'watchdog.safety_margin'), JSON.stringify(v.issues))
  })
})
