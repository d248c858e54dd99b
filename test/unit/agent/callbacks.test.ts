import assert from 'node:assert/strict'
import {test} from 'node:test'
import {shellSplit} from '../../../src/agent/callbacks'

test('callback command lines split like Python shlex.split', () => {
  assert.deepEqual(shellSplit('/usr/local/bin/cb.sh'), ['/usr/local/bin/cb.sh'])
  assert.deepEqual(shellSplit('  sudo  /x/y  --flag  '), ['sudo', '/x/y', '--flag'])
  assert.deepEqual(shellSplit(`/bin/cb "a b" 'c d' e\\ f`), ['/bin/cb', 'a b', 'c d', 'e f'])
  assert.deepEqual(shellSplit(`x "say \\"hi\\"" '\\n'`), ['x', 'say "hi"', '\\n'])
  assert.deepEqual(shellSplit(`x ""`), ['x', ''])
  assert.equal(shellSplit(`x "unterminated`), undefined)
  assert.deepEqual(shellSplit(''), [])
})

test('callbacks run through the ProcessRunner port: argv, environment, one at a time, on_reload apart', async () => {
  const {Callbacks} = await import('../../../src/agent/callbacks')
  const {FakeProcessRunner} = await import('../../fakes/fake-process-runner')
  const {FakeClock, settle} = await import('../../fakes/fake-clock')
  const {Logger, DEFAULT_LOG_SETTINGS} = await import('../../../src/log/logger')
  const clock = new FakeClock()
  const runner = new FakeProcessRunner(clock)
  const ended: string[] = []
  runner.program('/cb.sh', async (args, io) => {
    try {
      await io.elapse(60_000)
    } finally {
      ended.push(`${args[0]}${io.signal.aborted ? ' (killed)' : ''}`)
    }
  })
  const lines: string[] = []
  const log = new Logger({...DEFAULT_LOG_SETTINGS, format: '%(levelname)s: %(message)s'}, {write: (l) => void lines.push(l), close() {}})
  const cb = new Callbacks({commands: () => ({on_start: '/cb.sh --x', on_role_change: '/cb.sh', on_reload: '/cb.sh'}), scope: () => 'acme', log, runner, env: () => ({PATH: '/bin', HOME: '/var/lib/postgresql'})})
  assert.equal(cb.fire('on_stop', 'replica'), false, 'nothing configured for on_stop')
  assert.equal(cb.fire('on_start', 'replica'), true)
  assert.equal(cb.fire('on_reload', 'primary'), true)
  await settle()
  assert.deepEqual(runner.callsTo('/cb.sh').map((c) => c.args), [['--x', 'on_start', 'replica', 'acme'], ['on_reload', 'master', 'acme']])
  assert.deepEqual(runner.callsTo('/cb.sh')[0].env, {PATH: '/bin', HOME: '/var/lib/postgresql'}, 'exactly the environment given')
  assert.equal(cb.fire('on_role_change', 'primary'), true, 'a new on_* callback ends the running one')
  await settle()
  assert.deepEqual(ended, ['--x (killed)'], 'on_start was killed; on_reload has its own slot and runs on')
  await clock.advance(60_000)
  assert.deepEqual(ended.sort(), ['--x (killed)', 'on_reload', 'on_role_change'])
  assert.ok(lines.some((l) => l === 'INFO: calling callback on_role_change with role master'))
})

test('the callback role follows the cluster: primary once every member reads it, master before', async () => {
  const {Callbacks} = await import('../../../src/agent/callbacks')
  const {FakeProcessRunner} = await import('../../fakes/fake-process-runner')
  const {FakeClock, settle} = await import('../../fakes/fake-clock')
  const {Logger, DEFAULT_LOG_SETTINGS} = await import('../../../src/log/logger')
  const runner = new FakeProcessRunner(new FakeClock())
  runner.program('/cb.sh', async () => {})
  const log = new Logger({...DEFAULT_LOG_SETTINGS, format: '%(message)s'}, {write: () => {}, close() {}})
  let spelling: 'master' | 'primary' = 'primary'
  const cb = new Callbacks({commands: () => ({on_role_change: '/cb.sh'}), scope: () => 'acme', log, runner, env: () => ({}), primaryRoleName: () => spelling})
  cb.fire('on_role_change', 'primary')
  await settle()
  cb.fire('on_role_change', 'promoted')
  await settle()
  spelling = 'master'
  cb.fire('on_role_change', 'primary')
  await settle()
  cb.fire('on_role_change', 'replica')
  await settle()
  assert.deepEqual(runner.callsTo('/cb.sh').map((c) => c.args[1]), ['primary', 'primary', 'master', 'replica'])
})
