import assert from 'node:assert/strict'
import {test} from 'node:test'
import {DAEMON_NODE_FLAGS, daemonReexec, restoreTunables, TRIM_TUNABLE, TUNABLES_MARK, type ProcessFacts} from '../../src/daemon-start'

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

const FLAGS = `--node-options=${DAEMON_NODE_FLAGS.join(' ')}`

test('the executable starts again with the daemon flags, the same arguments, its environment and the fixed trim threshold', () => {
  assert.deepEqual(DAEMON_NODE_FLAGS, ['--max-semi-space-size=1', '--lite-mode', '--single-threaded'])
  const plan = daemonReexec(facts())
  assert.deepEqual(plan, {
    file: '/usr/bin/hactl',
    args: ['hactl', FLAGS, 'agent', '/etc/patroni/config.yml'],
    env: {PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify', [TUNABLES_MARK]: 'unset', GLIBC_TUNABLES: TRIM_TUNABLE},
  })
})

test('argv0 survives, so that vip-manager stays vip-manager', () => {
  const plan = daemonReexec(facts({argv0: 'vip-manager', argv: ['/usr/bin/hactl', '/usr/bin/hactl', '--config', '/etc/vip.yml']}))
  assert.deepEqual(plan?.args, ['vip-manager', FLAGS, '--config', '/etc/vip.yml'])
})

test("Node options the caller gave the executable with --node-options come after the daemon's", () => {
  const plan = daemonReexec(facts({execArgv: ['--lite-mode', '--stack-trace-limit=50']}))
  assert.deepEqual(plan?.args, ['hactl', `${FLAGS} --stack-trace-limit=50`, 'agent', '/etc/patroni/config.yml'])
})

test('run by node from the bundle: the node flags and the script come along', () => {
  const plan = daemonReexec(facts({isSea: false, execPath: '/opt/node', argv0: 'node', argv: ['/opt/node', '/src/dist/hactl.js', 'vip'], execArgv: ['--lite-mode']}))
  assert.deepEqual(plan?.args, ['node', '--lite-mode', '/src/dist/hactl.js', 'vip'])
})

test("the caller's own tunables are kept and passed on; thresholds they set win", () => {
  const plan = daemonReexec(facts({env: {GLIBC_TUNABLES: 'glibc.malloc.arena_max=2'}}))
  assert.equal(plan?.env.GLIBC_TUNABLES, `glibc.malloc.arena_max=2:${TRIM_TUNABLE}`)
  assert.equal(plan?.env[TUNABLES_MARK], 'set:glibc.malloc.arena_max=2')
  // Run by node, which has the caller's flags: nothing left to do.
  const node = {isSea: false, argv: ['/opt/node', '/src/dist/hactl.js', 'agent', 'x.yml']}
  assert.equal(daemonReexec(facts({...node, env: {GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536'}})), undefined)
  assert.equal(daemonReexec(facts({...node, env: {GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0'}})), undefined)
  // The executable still needs its flags: a second start with the caller's tunables untouched.
  const own = daemonReexec(facts({env: {GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0'}}))
  assert.deepEqual(own?.args, ['hactl', FLAGS, 'agent', '/etc/patroni/config.yml'])
  assert.equal(own?.env.GLIBC_TUNABLES, 'glibc.malloc.trim_threshold=0')
  assert.equal(own?.env[TUNABLES_MARK], 'set:glibc.malloc.trim_threshold=0')
  // Started with the flags already (by hand), and the caller's thresholds: nothing to do.
  assert.equal(daemonReexec(facts({execArgv: [...DAEMON_NODE_FLAGS], env: {GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0'}})), undefined)
})

test('no second re-exec, and nothing off Linux', () => {
  assert.equal(daemonReexec(facts({env: {[TUNABLES_MARK]: 'unset', GLIBC_TUNABLES: TRIM_TUNABLE}})), undefined)
  assert.equal(daemonReexec(facts({platform: 'darwin'})), undefined)
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
