/** NodeProcessRunner with real processes: limits, cancellation, tree kills, detached children, other users. */
import assert from 'node:assert/strict'
import {existsSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {NodeProcessRunner} from '../../../src/adapters/process'
import {isHactlError} from '../../../src/errors'
import {waitFor} from '../../harness/ports'
import {ownedTempDir, runAs} from '../../harness/unprivileged'

const runner = new NodeProcessRunner()
const env = {PATH: process.env.PATH ?? '/usr/bin:/bin'}
const started: number[] = []

describe('NodeProcessRunner', () => {
  const dir = ownedTempDir('hactl-proc-')
  after(() => {
    for (const pid of started) runner.killTree(pid)
    rmSync(dir, {recursive: true, force: true})
  })

  it('captures exit code, stdout, stderr and feeds stdin', async () => {
    const r = await runner.run('sh', ['-c', 'read x; echo "out $x"; echo err >&2; exit 3'], {env, input: 'hello\n'})
    assert.equal(r.code, 3)
    assert.equal(r.stdout, 'out hello\n')
    assert.equal(r.stderr, 'err\n')
    assert.equal(r.timedOut, false)
  })

  it('keeps only the tail of a large output', async () => {
    const r = await runner.run('sh', ['-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done'], {env, maxOutputBytes: 100})
    assert.equal(r.truncated, true)
    assert.ok(r.stdout.length <= 100)
    assert.match(r.stdout, /line 1999\n$/)
  })

  it('a timeout kills the whole tree, grandchildren included', async () => {
    const pidFile = join(dir, 'grandchild.pid')
    const r = await runner.run('sh', ['-c', `sleep 60 & echo $! > ${pidFile}; wait`], {env, timeoutMs: 300})
    assert.equal(r.timedOut, true)
    assert.equal(r.signal, 'SIGKILL')
    const grandchild = Number(readFileSync(pidFile, 'utf8'))
    await waitFor('grandchild killed', () => !runner.isAlive(grandchild), {timeoutMs: 5000})
  })

  it('abort rejects with an AbortError after killing the child', async () => {
    const ac = new AbortController()
    const pidFile = join(dir, 'abort.pid')
    const p = runner.run('sh', ['-c', `echo $$ > ${pidFile}; exec sleep 60`], {env, signal: ac.signal})
    // Aborted once the child runs (it wrote its pid), then the child must be gone.
    const child = await waitFor('the child to start', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) || undefined : undefined), {timeoutMs: 10_000})
    ac.abort()
    await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError')
    await waitFor('the child killed', () => !runner.isAlive(child), {timeoutMs: 5000})
  })

  it('a missing program is PROCESS_SPAWN naming it', async () => {
    await assert.rejects(runner.run('/nonexistent/pg_ctl', [], {env}), (e: unknown) => isHactlError(e, 'PROCESS_SPAWN') && /\/nonexistent\/pg_ctl: not found/.test((e as Error).message))
  })

  it('runs as another account when asked', async () => {
    const who = runAs()
    const r = await runner.run('id', ['-u'], {env, user: who ? {uid: who.uid, gid: who.gid} : undefined})
    assert.equal(r.stdout.trim(), String(who ? who.uid : process.getuid!()))
  })

  it('spawnDetached starts a session leader whose output goes to an owned file', async () => {
    const who = runAs()
    const out = join(dir, 'detached.log')
    const p = await runner.spawnDetached('sh', ['-c', 'echo started; exec sleep 60'], {env, outputFile: out, user: who ? {uid: who.uid, gid: who.gid} : undefined})
    started.push(p.pid)
    assert.ok(p.running())
    const info = runner.info(p.pid)
    assert.ok(info)
    // Its own session: /proc/<pid>/stat field 6 (session id) is its own PID.
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8')
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])
    assert.equal(sid, p.pid)
    await waitFor('output written', () => readFileSync(out, 'utf8').includes('started'))
    if (who) assert.equal(statSync(out).uid, who.uid)
    assert.deepEqual(runner.killTree(p.pid), [p.pid])
    const exit = await p.exited
    assert.equal(exit.signal, 'SIGKILL')
    assert.equal(runner.isAlive(p.pid), false)
  })
})
