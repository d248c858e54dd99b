/**
 * The ProcessRunner contract (test/contract/process-runner-contract.ts) on FakeProcessRunner with a
 * FakeClock: each contract program is a registered handler doing what the integration test's
 * /bin/sh script does. Below the contract, what only the fake offers (the call record, traps,
 * io.exit, virtual time, basename resolution), which tests of the adapters built on the port use.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {isHactlError} from '../../../src/errors'
import {processRunnerContract, type ContractProgram} from '../../contract/process-runner-contract'
import {drive, FakeClock, settle} from '../../fakes/fake-clock'
import {FAKE_AGENT_PID, FakeProcessRunner, forever, PROGRAM_CRASHED, type Program} from '../../fakes/fake-process-runner'

const STEP_MS = 10


/** The contract's programs, as the integration test's scripts behave. */
const PROGRAMS: Record<Exclude<ContractProgram, 'not-executable'>, Program> = {
  exit: (args) => ({code: Number(args[0]), stdout: args[1], stderr: args[2]}),
  'kill-self': (_args, io) => {
    io.raise('SIGTERM')
    return {code: 0} // never reached: the default action ended it
  },
  'echo-stdin': (_args, io) => {
    const lines = io.input.split('\n')
    if (lines[lines.length - 1] === '') lines.pop()
    return {stdout: lines.map((l) => `${l}\n`).join('') + 'eof\n'}
  },
  'print-env': (_args, io) => ({stdout: Object.entries(io.env).map(([k, v]) => `${k}=${v}\n`).join('')}),
  flood: (args, io) => {
    const write = args[1] === 'stderr' ? io.stderr : io.stdout
    for (let i = 0; i < Number(args[0]); i++) write(`line ${i}\n`)
  },
  tree: async (args, io) => {
    const child = io.spawn('sleep', ['600'])
    io.writeFile(args[0], `${io.pid} ${child}\n`)
    for (;;) await io.elapse(60_000) // `wait`
  },
  daemon: async (args, io) => {
    io.onSignal('SIGUSR1', () => {
      io.stdout('bye\n')
      io.exit(Number(args[0]))
    })
    io.stdout('ready\n')
    for (;;) await io.elapse(100)
  },
}

processRunnerContract('FakeProcessRunner on a fake clock', async () => {
  const clock = new FakeClock()
  const runner = new FakeProcessRunner(clock)
  runner.program('sleep', forever)
  return {
    runner,
    async define(program) {
      if (program === 'not-executable') runner.program(program, () => ({code: 0}), {executable: false})
      else runner.program(program, PROGRAMS[program])
      return `/fake/bin/${program}`
    },
    missing: '/fake/bin/no-such-program',
    tempPath: (name) => `/fake/tmp/${name}`,
    readFile: async (path) => runner.readFile(path),
    finish: (p, maxMs) => drive(clock, p, maxMs),
    async waitUntil(what, cond, maxMs) {
      const end = clock.monotonic() + maxMs
      for (;;) {
        if (await cond()) return
        if (clock.monotonic() >= end) throw new Error(`fake time ran out (${maxMs} ms) waiting for ${what}`)
        await clock.advance(STEP_MS)
      }
    },
    now: () => clock.monotonic(),
    wallNow: () => clock.now(),
    async cleanup() {
      runner.killAll()
      await settle()
    },
  }
})

describe('FakeProcessRunner beyond the contract', () => {
  const setup = () => {
    const clock = new FakeClock()
    return {clock, runner: new FakeProcessRunner(clock)}
  }

  it('records argv, env, cwd, user, input and the result of every call; finds a program by basename', async () => {
    const {clock, runner} = setup()
    runner.program('pg_ctl', async (args, io) => {
      await io.elapse(500)
      return {code: 0, stdout: `${args.join(' ')} as ${io.user?.uid} in ${io.cwd}\n`}
    })
    const user = {uid: 70, gid: 70}
    const r = await drive(clock, runner.run('/usr/lib/postgresql/15/bin/pg_ctl', ['-D', '/data', 'start'], {env: {PGDATA: '/data'}, cwd: '/var/lib', user, input: 'x', timeoutMs: 5000}), 10_000)
    assert.equal(r.stdout, '-D /data start as 70 in /var/lib\n')
    assert.equal(r.durationMs, 500, 'time taken on the clock')
    const [call] = runner.callsTo('pg_ctl')
    assert.deepEqual(call.argv, ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', '/data', 'start'])
    assert.deepEqual(call.env, {PGDATA: '/data'})
    assert.deepEqual(call.user, user)
    assert.equal(call.cwd, '/var/lib')
    assert.equal(call.input, 'x')
    assert.equal(call.timeoutMs, 5000)
    assert.equal(call.ppid, FAKE_AGENT_PID)
    assert.deepEqual(call.exit, {code: 0, signal: null})
    assert.equal(call.result, r)
    await assert.rejects(runner.run('/usr/bin/psql', [], {}), (e: unknown) => isHactlError(e, 'PROCESS_SPAWN'))
    assert.match(runner.callsTo('psql')[0].error ?? '', /^PROCESS_SPAWN: cannot run \/usr\/bin\/psql: not found/)
  })

  it('an exact path registration does not answer for another directory', async () => {
    const {clock, runner} = setup()
    runner.program('/opt/pg/bin/postgres', () => ({code: 0}))
    await assert.rejects(runner.spawnDetached('/usr/bin/postgres', []), (e: unknown) => isHactlError(e, 'PROCESS_SPAWN'))
    const p = await runner.spawnDetached('/opt/pg/bin/postgres', [])
    assert.deepEqual(await drive(clock, p.exited, 1000), {code: 0, signal: null})
  })

  it('a trap gets the signal and decides; SIGKILL and killTree cannot be trapped', async () => {
    const {clock, runner} = setup()
    const seen: string[] = []
    runner.program('postgres', async (_args, io) => {
      io.onSignal('SIGHUP', (s) => void seen.push(s))
      io.onSignal('SIGTERM', async (s) => {
        seen.push(s)
        await io.elapse(200) // a smart shutdown takes a while
        io.exit(0)
      })
      assert.throws(() => io.onSignal('SIGKILL', () => {}))
      await io.elapse(3_600_000)
    })
    const p = await runner.spawnDetached('postgres', ['-D', '/data'])
    await settle()
    assert.equal(runner.signal(p.pid, 'SIGHUP'), true)
    await settle()
    assert.equal(runner.isAlive(p.pid), true, 'SIGHUP trapped: still running')
    runner.signal(p.pid, 'SIGTERM')
    await clock.advance(100)
    assert.equal(runner.isAlive(p.pid), true, 'shutting down')
    assert.deepEqual(await drive(clock, p.exited, 100), {code: 0, signal: null})
    assert.deepEqual(seen, ['SIGHUP', 'SIGTERM'])
    assert.deepEqual(runner.signals.map((s) => [s.signal, s.delivered]), [['SIGHUP', true], ['SIGTERM', true]])

    const q = await runner.spawnDetached('postgres', [])
    await settle()
    assert.deepEqual(runner.killTree(q.pid), [q.pid])
    assert.deepEqual(await drive(clock, q.exited, 1000), {code: null, signal: 'SIGKILL'})
  })

  it('ignored signals do not end a program; a throwing program exits with PROGRAM_CRASHED and says why', async () => {
    const {clock, runner} = setup()
    runner.program('idle', forever)
    runner.program('buggy', () => {
      throw new Error('oops')
    })
    const p = await runner.spawnDetached('idle', [])
    runner.signal(p.pid, 'SIGCHLD')
    runner.signal(p.pid, 'SIGSTOP')
    await settle()
    assert.equal(runner.isAlive(p.pid), true)
    runner.killAll()
    const r = await drive(clock, runner.run('buggy', []), 1000)
    assert.equal(r.code, PROGRAM_CRASHED)
    assert.equal(r.stderr, 'buggy: oops\n')
  })

  it('orphans are reparented to pid 1 and outlive their parent; external processes are not ours', async () => {
    const {clock, runner} = setup()
    let child = 0
    runner.program('forker', (_args, io) => {
      child = io.spawn(forever)
      return {code: 0}
    })
    const r = await drive(clock, runner.run('forker', []), 1000)
    assert.equal(r.code, 0)
    assert.equal(runner.info(child)?.ppid, 1)
    assert.equal(runner.calls.at(-1)?.kind, 'child')
    const ext = runner.external('postgres', ['-D', '/data'])
    assert.equal(runner.info(ext)?.ppid, 1)
    assert.equal(runner.info(ext)?.comm, 'postgres')
    assert.equal(runner.info(ext)?.startTimeMs, clock.now())
    assert.deepEqual(runner.live().map((p) => p.pid).sort(), [child, ext].sort())
    runner.killAll()
    assert.deepEqual(runner.live(), [])
  })

  it('a program honours the abort of run() through io.signal: it sees the kill, does no more', async () => {
    const {clock, runner} = setup()
    let sawAbort = false
    runner.program('pg_basebackup', async (_args, io) => {
      io.signal.addEventListener('abort', () => (sawAbort = true))
      await io.elapse(10_000)
      io.writeFile('/data/PG_VERSION', '15\n') // never: the sleep rejected
    })
    const ac = new AbortController()
    const p = runner.run('pg_basebackup', [], {signal: ac.signal})
    await clock.advance(1000)
    ac.abort()
    await assert.rejects(drive(clock, p, 1000), (e: unknown) => (e as Error).name === 'AbortError')
    await clock.advance(20_000)
    assert.equal(sawAbort, true)
    assert.equal(runner.readFile('/data/PG_VERSION'), undefined)
    assert.equal(runner.callsTo('pg_basebackup')[0].error, 'AbortError')
    assert.equal(clock.pending, 0, 'no timer left behind')
  })
})
