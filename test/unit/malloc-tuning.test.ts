import assert from 'node:assert/strict'
import {test} from 'node:test'
import {mallocReexec, restoreTunables, TRIM_TUNABLE, TUNABLES_MARK, type ProcessFacts} from '../../src/malloc-tuning'

const facts = (over: Partial<ProcessFacts> = {}): ProcessFacts => ({
  env: {PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify'},
  platform: 'linux',
  execPath: '/usr/bin/hactl',
  argv0: 'hactl',
  argv: ['/usr/bin/hactl', '/usr/bin/hactl', 'agent', '/etc/patroni/config.yml'],
  execArgv: [],
  isSea: true,
  ...over,
})

test('the executable starts again with the same arguments, its environment and the fixed trim threshold', () => {
  const plan = mallocReexec(facts())
  assert.deepEqual(plan, {
    file: '/usr/bin/hactl',
    args: ['hactl', 'agent', '/etc/patroni/config.yml'],
    env: {PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify', [TUNABLES_MARK]: 'unset', GLIBC_TUNABLES: TRIM_TUNABLE},
  })
})

test('argv0 survives, so that vip-manager stays vip-manager', () => {
  const plan = mallocReexec(facts({argv0: 'vip-manager', argv: ['/usr/bin/hactl', '/usr/bin/hactl', '--config', '/etc/vip.yml']}))
  assert.deepEqual(plan?.args, ['vip-manager', '--config', '/etc/vip.yml'])
})

test('run by node from the bundle: the node flags and the script come along', () => {
  const plan = mallocReexec(facts({isSea: false, execPath: '/opt/node', argv0: 'node', argv: ['/opt/node', '/src/dist/hactl.js', 'vip'], execArgv: ['--lite-mode']}))
  assert.deepEqual(plan?.args, ['node', '--lite-mode', '/src/dist/hactl.js', 'vip'])
})

test("the caller's own tunables are kept and passed on; thresholds they set win", () => {
  const plan = mallocReexec(facts({env: {GLIBC_TUNABLES: 'glibc.malloc.arena_max=2'}}))
  assert.equal(plan?.env.GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${TRIM_TUNABLE}`)
  assert.equal(plan?.env[TUNABLES_MARK], 'set:glibc.malloc.arena_max=2')
  assert.equal(mallocReexec(facts({env: {GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536'}})), undefined)
  assert.equal(mallocReexec(facts({env: {GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0'}})), undefined)
})

test('no second re-exec, and nothing off Linux', () => {
  assert.equal(mallocReexec(facts({env: {[TUNABLES_MARK]: 'unset', GLIBC_TUNABLES: TRIM_TUNABLE}})), undefined)
  assert.equal(mallocReexec(facts({platform: 'darwin'})), undefined)
})

test('the second start gives the children the environment the caller gave', () => {
  const unset: NodeJS.ProcessEnv = {[TUNABLES_MARK]: 'unset', GLIBC_TUNABLES: TRIM_TUNABLE, PATH: '/bin'}
  restoreTunables(unset)
  assert.deepEqual(unset, {PATH: '/bin'})
  const set: NodeJS.ProcessEnv = {[TUNABLES_MARK]: 'set:glibc.malloc.arena_max=2', GLIBC_TUNABLES: `glibc.malloc.arena_max=2:${TRIM_TUNABLE}`}
  restoreTunables(set)
  assert.deepEqual(set, {GLIBC_TUNABLES: 'glibc.malloc.arena_max=2'})
  const plain: NodeJS.ProcessEnv = {GLIBC_TUNABLES: 'x'}
  restoreTunables(plain)
  assert.deepEqual(plain, {GLIBC_TUNABLES: 'x'})
})
