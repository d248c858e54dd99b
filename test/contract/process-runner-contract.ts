/**
 * The one ProcessRunner contract suite: what src/ports/process-runner.ts promises.
 * test/unit/process/fake-process-runner-contract.test.ts runs it on FakeProcessRunner with a fake
 * clock; test/integration/process/process-runner-contract.test.ts on NodeProcessRunner with real
 * /bin/sh scripts. Every check here must hold for both, which is what keeps the fake honest:
 * when they disagree, the fake is fixed to behave like the real processes.
 *
 * The suite needs a handful of programs (ContractProgram, each specified below); each env makes
 * them exist its own way (a script in a temp dir, a registered handler) and says which command
 * starts them. Files the programs write (pid files, a detached process's outputFile) are named
 * with env.tempPath and read with env.readFile.
 */
import assert from 'node:assert/strict'
import {basename} from 'node:path'
import {describe, it} from 'node:test'
import {isHactlError} from '../../src/errors'
import type {ProcessRunner} from '../../src/ports/process-runner'

/**
 * - `exit` args [code, out, err]: writes `out` to stdout and `err` to stderr (as given, no newline
 *   added), exits with `code`.
 * - `kill-self`: sends itself SIGTERM, whose default action ends it.
 * - `echo-stdin`: copies stdin to stdout line by line until end of input, then prints `eof\n`.
 * - `print-env`: prints its whole environment, one `NAME=value` line per variable.
 * - `flood` args [lines, stream]: prints `line 0\n` ... `line <lines-1>\n` to stream `stdout` or `stderr`.
 * - `tree` args [pidFile]: starts a child that runs until killed, writes `<own pid> <child pid>\n`
 *   to pidFile, then waits for its child.
 * - `daemon` args [code]: prints `ready\n`, then runs until SIGUSR1, on which it prints `bye\n` and
 *   exits with `code`; other signals have their default action.
 * - `not-executable`: exists, but without execute permission.
 */
export type ContractProgram = 'exit' | 'kill-self' | 'echo-stdin' | 'print-env' | 'flood' | 'tree' | 'daemon' | 'not-executable'

export interface ProcessContractEnv {
  runner: ProcessRunner
  /** Makes `program` exist; returns the command that starts it. */
  define(program: ContractProgram): Promise<string>
  /** A command that does not exist. */
  missing: string
  /** A path for a file the suite's programs write; nothing exists there yet. */
  tempPath(name: string): string
  /** The file's text, undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>
  /** Awaits `p`, letting the env's time pass (fake: advances the clock); fails after `maxMs` of it. */
  finish<T>(p: Promise<T>, maxMs: number): Promise<T>
  /** Lets time pass until `cond` holds; fails after `maxMs` of the env's time. */
  waitUntil(what: string, cond: () => Promise<boolean> | boolean, maxMs: number): Promise<void>
  /** Monotonic ms in the env's time. */
  now(): number
  /** Wall-clock ms since the epoch in the env's time (what ProcessInfo.startTimeMs is on). */
  wallNow(): number
  cleanup(): Promise<void>
}

/** Variables a POSIX shell exports on its own (dash: PWD); the env check ignores them. */
const SHELL_OWN = new Set(['PWD', 'OLDPWD', 'SHLVL', '_'])
/** A variable of the test process that must never reach a child. */
const INHERITED = 'HACTL_CONTRACT_INHERITED'
/** Deadline for anything that should be quick, in the env's time. */
const QUICK_MS = 10_000

const isAbort = (e: unknown) => {
  assert.equal((e as Error)?.name, 'AbortError', String(e))
  return true
}

export function processRunnerContract(label: string, makeEnv: () => Promise<ProcessContractEnv>): void {
  const test = (name: string, fn: (env: ProcessContractEnv) => Promise<void>) =>
    it(name, async () => {
      const env = await makeEnv()
      try {
        await fn(env)
      } finally {
        await env.cleanup()
      }
    })

  /** Reads `<pid> <child pid>` from a `tree` program's pid file, waiting for it. */
  const treePids = async (env: ProcessContractEnv, pidFile: string): Promise<[number, number]> => {
    let pids: number[] = []
    await env.waitUntil('the tree program to write its pids', async () => {
      pids = ((await env.readFile(pidFile)) ?? '').trim().split(/\s+/).map(Number)
      return pids.length === 2 && pids.every((p) => Number.isInteger(p) && p > 1)
    }, QUICK_MS)
    return [pids[0], pids[1]]
  }

  const gone = (env: ProcessContractEnv, pid: number, what: string) =>
    env.waitUntil(`${what} (${pid}) to be gone`, () => !env.runner.isAlive(pid), 5000)

  describe(`ProcessRunner contract: ${label}`, () => {
    test('run: exit code, stdout and stderr are data; a non-zero exit resolves', async (env) => {
      const cmd = await env.define('exit')
      const r = await env.finish(env.runner.run(cmd, ['3', 'out text\n', 'err text\n'], {env: {}, timeoutMs: 30_000}), QUICK_MS)
      assert.equal(r.code, 3)
      assert.equal(r.signal, null)
      assert.equal(r.stdout, 'out text\n')
      assert.equal(r.stderr, 'err text\n')
      assert.equal(r.timedOut, false)
      assert.equal(r.truncated, false)
      assert.ok(r.durationMs >= 0 && r.durationMs < QUICK_MS, `durationMs ${r.durationMs}`)
      const ok = await env.finish(env.runner.run(cmd, ['0', '', '']), QUICK_MS)
      assert.deepEqual([ok.code, ok.signal, ok.stdout, ok.stderr, ok.timedOut], [0, null, '', '', false])
    })

    test('run: a death by signal is data: code null and the signal\'s name', async (env) => {
      const cmd = await env.define('kill-self')
      const r = await env.finish(env.runner.run(cmd, [], {env: {}}), QUICK_MS)
      assert.equal(r.code, null)
      assert.equal(r.signal, 'SIGTERM')
      assert.equal(r.timedOut, false)
    })

    test('a missing program: run and spawnDetached reject with PROCESS_SPAWN naming it', async (env) => {
      const spawnFailed = (e: unknown) => {
        assert.ok(isHactlError(e, 'PROCESS_SPAWN'), String(e))
        assert.ok((e as Error).message.includes(env.missing), (e as Error).message)
        assert.match((e as Error).message, /not found/)
        return true
      }
      await assert.rejects(env.finish(env.runner.run(env.missing, ['x'], {env: {}}), QUICK_MS), spawnFailed)
      await assert.rejects(env.finish(env.runner.spawnDetached(env.missing, ['x'], {env: {}}), QUICK_MS), spawnFailed)
    })

    test('a program without execute permission: PROCESS_SPAWN naming it', async (env) => {
      const cmd = await env.define('not-executable')
      await assert.rejects(env.finish(env.runner.run(cmd, [], {env: {}}), QUICK_MS), (e: unknown) => {
        assert.ok(isHactlError(e, 'PROCESS_SPAWN'), String(e))
        assert.ok((e as Error).message.includes(cmd), (e as Error).message)
        assert.match((e as Error).message, /not executable/)
        return true
      })
    })

    test('stdin: `input` is written then closed; without input stdin is closed at once', async (env) => {
      const cmd = await env.define('echo-stdin')
      const r = await env.finish(env.runner.run(cmd, [], {env: {}, input: 'hello\nsecond line\n'}), QUICK_MS)
      assert.equal(r.code, 0)
      assert.equal(r.stdout, 'hello\nsecond line\neof\n')
      const none = await env.finish(env.runner.run(cmd, [], {env: {}}), QUICK_MS)
      assert.equal(none.stdout, 'eof\n', 'end of input, not a wait for a terminal')
    })

    test('env: the child gets exactly the given environment, nothing of ours', async (env) => {
      const cmd = await env.define('print-env')
      const parse = (text: string) =>
        Object.fromEntries(
          text
            .split('\n')
            .filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
            .filter(([k]) => !SHELL_OWN.has(k)),
        )
      const before = process.env[INHERITED]
      process.env[INHERITED] = 'leaked'
      try {
        const given = {PGPASSFILE: '/tmp/pgpass', LC_ALL: 'C', HACTL_VALUE: 'two words=and an equals sign'}
        const r = await env.finish(env.runner.run(cmd, [], {env: given}), QUICK_MS)
        assert.equal(r.code, 0, r.stderr)
        assert.deepEqual(parse(r.stdout), given)
        const none = await env.finish(env.runner.run(cmd, []), QUICK_MS)
        assert.deepEqual(parse(none.stdout), {}, 'no env given: an empty environment, not ours')
      } finally {
        if (before === undefined) delete process.env[INHERITED]
        else process.env[INHERITED] = before
      }
    })

    test('output is bounded per stream: the tail is kept and truncated is set', async (env) => {
      const cmd = await env.define('flood')
      const out = await env.finish(env.runner.run(cmd, ['2000', 'stdout'], {env: {}, maxOutputBytes: 100}), QUICK_MS)
      assert.equal(out.code, 0)
      assert.equal(out.truncated, true)
      assert.ok(Buffer.byteLength(out.stdout) <= 100, `kept ${out.stdout.length} bytes`)
      assert.ok(out.stdout.length >= 90, `kept only ${out.stdout.length} bytes`)
      assert.match(out.stdout, /line 1998\nline 1999\n$/)
      assert.equal(out.stderr, '')
      const err = await env.finish(env.runner.run(cmd, ['2000', 'stderr'], {env: {}, maxOutputBytes: 100}), QUICK_MS)
      assert.equal(err.truncated, true)
      assert.match(err.stderr, /line 1999\n$/)
      assert.ok(Buffer.byteLength(err.stderr) <= 100)
      assert.equal(err.stdout, '')
      const small = await env.finish(env.runner.run(cmd, ['3', 'stdout'], {env: {}, maxOutputBytes: 100}), QUICK_MS)
      assert.equal(small.truncated, false)
      assert.equal(small.stdout, 'line 0\nline 1\nline 2\n')
    })

    test('timeout: timedOut, SIGKILL, run settles with the child gone and its child killed', async (env) => {
      const cmd = await env.define('tree')
      const pidFile = env.tempPath('timeout.pids')
      const timeoutMs = 1000
      const t0 = env.now()
      const p = env.runner.run(cmd, [pidFile], {env: {}, timeoutMs})
      let pids: number[] = []
      try {
        pids = await treePids(env, pidFile)
        const [pid, child] = pids
        // Looked at the moment run() settles, before anything else can run.
        const aliveAtSettle = p.then(() => env.runner.isAlive(pid))
        const r = await env.finish(p, timeoutMs + QUICK_MS)
        const took = env.now() - t0
        assert.equal(r.timedOut, true)
        assert.equal(r.code, null)
        assert.equal(r.signal, 'SIGKILL')
        assert.ok(r.durationMs >= timeoutMs - 50, `durationMs ${r.durationMs} < timeout ${timeoutMs}`)
        assert.ok(took >= timeoutMs - 50, `settled after ${took} ms, before the ${timeoutMs} ms timeout`)
        assert.equal(await aliveAtSettle, false, 'the direct child has exited when run() settles')
        assert.equal(env.runner.info(pid), undefined)
        await gone(env, child, 'the grandchild')
      } finally {
        for (const x of pids) env.runner.killTree(x)
      }
    })

    test('abort: rejects with an AbortError once the child is gone; its child is killed too', async (env) => {
      const cmd = await env.define('tree')
      const pidFile = env.tempPath('abort.pids')
      const ac = new AbortController()
      const p = env.runner.run(cmd, [pidFile], {env: {}, signal: ac.signal})
      p.catch(() => {}) // asserted below; not unhandled while we wait for the pid file
      let pids: number[] = []
      try {
        pids = await treePids(env, pidFile)
        const [pid, child] = pids
        assert.equal(env.runner.isAlive(pid), true)
        assert.equal(env.runner.isAlive(child), true)
        assert.equal(env.runner.info(child)?.ppid, pid)
        // Looked at the moment run() rejects, before anything else can run.
        const aliveAtSettle = p.then(
          () => assert.fail('resolved; an abort rejects'),
          () => env.runner.isAlive(pid),
        )
        ac.abort()
        await assert.rejects(env.finish(p, QUICK_MS), isAbort)
        assert.equal(await aliveAtSettle, false, 'the direct child has exited when run() rejects')
        await gone(env, child, 'the grandchild')
      } finally {
        for (const x of pids) env.runner.killTree(x)
      }
    })

    test('abort: an already aborted signal rejects at once', async (env) => {
      const cmd = await env.define('tree')
      const pidFile = env.tempPath('never.pids')
      const ac = new AbortController()
      ac.abort()
      const t0 = env.now()
      await assert.rejects(env.finish(env.runner.run(cmd, [pidFile], {env: {}, signal: ac.signal}), QUICK_MS), isAbort)
      assert.ok(env.now() - t0 < 1000, 'at once')
    })

    test('spawnDetached: a live pid until it exits by itself; exited resolves with its code', async (env) => {
      const cmd = await env.define('daemon')
      const out = env.tempPath('daemon.log')
      const p = await env.finish(env.runner.spawnDetached(cmd, ['5'], {env: {}, outputFile: out}), QUICK_MS)
      try {
        assert.ok(Number.isInteger(p.pid) && p.pid > 1)
        assert.equal(p.running(), true)
        assert.equal(env.runner.isAlive(p.pid), true)
        const info = env.runner.info(p.pid)
        assert.ok(info)
        assert.equal(info.pid, p.pid)
        assert.equal(info.comm, basename(cmd).slice(0, 15))
        assert.notEqual(info.state, 'Z')
        assert.ok(Math.abs(info.startTimeMs - env.wallNow()) < 10_000, `startTimeMs ${info.startTimeMs} vs now ${env.wallNow()}`)
        await env.waitUntil('the daemon to be ready', async () => ((await env.readFile(out)) ?? '').includes('ready\n'), QUICK_MS)
        assert.equal(env.runner.isAlive(p.pid), true, 'alive while it runs')
        assert.equal(p.running(), true)
        assert.equal(env.runner.signal(p.pid, 'SIGUSR1'), true)
        const exit = await env.finish(p.exited, QUICK_MS)
        assert.deepEqual(exit, {code: 5, signal: null})
        assert.equal(p.running(), false)
        assert.equal(env.runner.isAlive(p.pid), false)
        assert.equal(env.runner.info(p.pid), undefined)
        assert.equal(await env.readFile(out), 'ready\nbye\n')
      } finally {
        env.runner.killTree(p.pid)
      }
    })

    test('spawnDetached: outputFile is created and appended to, never truncated', async (env) => {
      const cmd = await env.define('daemon')
      const out = env.tempPath('appended.log')
      for (const code of ['1', '2']) {
        const p = await env.finish(env.runner.spawnDetached(cmd, [code], {env: {}, outputFile: out}), QUICK_MS)
        try {
          await env.waitUntil('the daemon to be ready', async () => ((await env.readFile(out)) ?? '').endsWith('ready\n'), QUICK_MS)
          env.runner.signal(p.pid, 'SIGUSR1')
          assert.deepEqual(await env.finish(p.exited, QUICK_MS), {code: Number(code), signal: null})
        } finally {
          env.runner.killTree(p.pid)
        }
      }
      assert.equal(await env.readFile(out), 'ready\nbye\nready\nbye\n')
    })

    test('signal() ends a running detached process (default action); a gone pid: false, not alive, no info', async (env) => {
      const cmd = await env.define('daemon')
      const p = await env.finish(env.runner.spawnDetached(cmd, ['0'], {env: {}}), QUICK_MS)
      try {
        assert.equal(env.runner.isAlive(p.pid), true)
        assert.equal(env.runner.signal(p.pid, 'SIGTERM'), true)
        assert.deepEqual(await env.finish(p.exited, QUICK_MS), {code: null, signal: 'SIGTERM'})
        assert.equal(p.running(), false)
        assert.equal(env.runner.isAlive(p.pid), false)
        assert.equal(env.runner.info(p.pid), undefined)
        assert.equal(env.runner.signal(p.pid, 'SIGTERM'), false)
        assert.deepEqual(env.runner.killTree(p.pid), [])
      } finally {
        env.runner.killTree(p.pid)
      }
    })

    test('killTree: SIGKILLs a detached process and its child, returns both pids', async (env) => {
      const cmd = await env.define('tree')
      const pidFile = env.tempPath('detached-tree.pids')
      const p = await env.finish(env.runner.spawnDetached(cmd, [pidFile], {env: {}}), QUICK_MS)
      let pids: number[] = [p.pid]
      try {
        pids = await treePids(env, pidFile)
        const [pid, child] = pids
        assert.equal(pid, p.pid)
        assert.equal(env.runner.info(child)?.ppid, pid)
        assert.deepEqual(env.runner.killTree(pid), [pid, child])
        assert.deepEqual(await env.finish(p.exited, QUICK_MS), {code: null, signal: 'SIGKILL'})
        assert.equal(env.runner.isAlive(pid), false)
        await gone(env, child, 'the child')
      } finally {
        for (const x of pids) env.runner.killTree(x)
      }
    })
  })
}
