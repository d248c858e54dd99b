import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {describe, test} from 'node:test'
import {decodeCluster, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'
import type {ClusterView} from '../../../src/core/cluster'
import {explainRefusal, explanationLines, leaderPosition} from '../../../src/ctl/explain'
import {PromptAborted, linePrompter, linesInput, promptTimeoutMs, terminalPrompter, type CtlInput} from '../../../src/ctl/prompt'
import {HactlError} from '../../../src/errors'

/** A cluster as etcd holds it: c1 leads at 0/5000000, c2 and c3 replicate. */
function view(over: {members?: Record<string, Record<string, unknown> | undefined>; config?: Record<string, unknown>; sync?: unknown; status?: unknown} = {}): ClusterView {
  const members: Record<string, Record<string, unknown> | undefined> = {
    c1: {role: 'master', state: 'running', xlog_location: 0x5000000, timeline: 2},
    c2: {role: 'replica', state: 'running', xlog_location: 0x5000000, timeline: 2},
    c3: {role: 'replica', state: 'running', xlog_location: 0x5000000, timeline: 2},
    ...over.members,
  }
  const keys: Record<string, unknown> = {
    initialize: '7000000000000000001',
    leader: 'c1',
    config: {ttl: 20, loop_wait: 2, maximum_lag_on_failover: 1048576, ...over.config},
    status: over.status ?? {optime: 0x5000000},
  }
  if (over.sync !== undefined) keys['sync'] = over.sync
  for (const [name, m] of Object.entries(members)) {
    if (m) keys[`members/${name}`] = {conn_url: `postgres://127.0.0.1:5432/postgres`, api_url: `http://127.0.0.1:8008/patroni`, ...m}
  }
  const nodes = new Map<string, RawNode>()
  for (const [k, v] of Object.entries(keys)) nodes.set(k, {key: k, value: typeof v === 'string' ? v : JSON.stringify(v), modRevision: 7})
  return decodeCluster(nodes)
}

describe('why a switchover cannot happen', () => {
  test('lag beyond maximum_lag_on_failover, with the positions and both numbers', () => {
    const v = view({members: {c2: {role: 'replica', state: 'running', xlog_location: 0x5000000 - 25165824}}})
    const e = explainRefusal({view: v, action: 'switchover', leader: 'c1', candidate: 'c2'})
    assert.deepEqual(e.cluster, [])
    assert.equal(e.maximumLag, 1048576)
    assert.deepEqual(explanationLines(e), [
      '  c2: 24.0 MB behind the leader (25165824 bytes: leader at 0/5000000, c2 at 0/3800000), more than maximum_lag_on_failover 1048576 bytes (1.0 MB)',
    ])
  })

  test('the leader position is the newer of the status optime and its own xlog_location', () => {
    assert.equal(leaderPosition(view({status: {optime: 100}})), 0x5000000)
    assert.equal(leaderPosition(view({status: {optime: 0x6000000}})), 0x6000000)
    const lagging = explainRefusal({view: view({status: {optime: 0x5300000}}), action: 'switchover', leader: 'c1', candidate: 'c3'})
    assert.match(lagging.candidates[0]!.obstacles[0]!, /^3\.0 MB behind the leader \(3145728 bytes: leader at 0\/5300000, c3 at 0\/5000000\)/)
  })

  test('every candidate when none was named: nofailover, not running, unreachable, and the healthy one', () => {
    const v = view({
      members: {
        c2: {role: 'replica', state: 'stopped', tags: {nofailover: true}},
        c3: {role: 'replica', state: 'running', xlog_location: 0x5000000, tags: {failover_priority: 0}},
        c4: {role: 'replica', state: 'running', xlog_location: 0x4ff0000},
      },
    })
    const probes = new Map([
      ['c2', {ok: false as const, error: 'http://127.0.0.1:8008/patroni: connect ECONNREFUSED 127.0.0.1:8008'}],
      ['c4', {ok: true as const, state: 'running'}],
    ])
    const lines = explanationLines(explainRefusal({view: v, action: 'switchover', leader: 'c1', candidate: null, probes}))
    assert.deepEqual(lines, [
      '  c2: tagged nofailover; not running (state stopped); its REST API does not answer (http://127.0.0.1:8008/patroni: connect ECONNREFUSED 127.0.0.1:8008); publishes no WAL position (xlog_location)',
      '  c3: failover_priority 0: never promoted',
      '  c4: nothing in etcd stands in the way (running, 65536 bytes behind the leader (maximum_lag_on_failover 1048576))',
    ])
  })

  test('synchronous mode: a candidate outside /sync; paused without a candidate; a custom maximum lag', () => {
    const v = view({config: {synchronous_mode: true, pause: true, maximum_lag_on_failover: 10}, sync: {leader: 'c1', sync_standby: 'c3'}})
    const e = explainRefusal({view: v, action: 'switchover', leader: 'c1', candidate: null})
    assert.deepEqual(e.cluster, ['cluster management is paused: a switchover needs a named candidate (--candidate)'])
    assert.equal(e.maximumLag, 10)
    assert.deepEqual(e.candidates.map((c) => [c.name, c.obstacles]), [
      ['c2', ['not in the synchronous standby set (synchronous_mode is on; /sync lists c3)']],
      ['c3', []],
    ])
  })

  test('a candidate that is not a member, and a leader that is not the leader', () => {
    const e = explainRefusal({view: view(), action: 'switchover', leader: 'c2', candidate: 'c9'})
    assert.deepEqual(explanationLines(e), ['  c2 is not the leader; c1 holds the leader key', '  c9: not a member of the cluster (members: c1, c2, c3)'])
  })
})

describe('questions without a terminal: an abort says why, an open pipe does not hang', () => {
  test('end of input aborts with the option that skips the question', async () => {
    let out = ''
    const ask = linePrompter(linesInput('\n'), (s) => (out += s))
    assert.equal(await ask.prompt('Primary', {default: 'c1', skip: 'pass --leader NAME'}), 'c1')
    const e = await ask.prompt("Candidate ['c2', 'c3']", {default: '', skip: 'pass --candidate NAME'}).then(
      () => assert.fail('answered'),
      (x: unknown) => x,
    )
    assert.ok(e instanceof PromptAborted)
    assert.equal(e.message, 'Aborted!')
    assert.equal(e.hint, `stdin is not a terminal and ended before an answer to "Candidate ['c2', 'c3'] []:"; pass --candidate NAME, or give the answers on stdin, one line each`)
    assert.equal(out, "Primary [c1]: Candidate ['c2', 'c3'] []: ")
    const c = await linePrompter(linesInput(''), () => {}).confirm('Apply these changes?').catch((x: unknown) => x)
    assert.match((c as PromptAborted).hint!, /"Apply these changes\? \[y\/N\]:"; pass --force, or/)
  })

  test('a pipe that stays open: an error after the timeout, naming the question', async () => {
    const silent: CtlInput = {isTTY: false, readLine: () => new Promise(() => {}), readAll: async () => '', close() {}}
    let out = ''
    const t0 = Date.now()
    const e = await linePrompter(silent, (s) => (out += s), {timeoutMs: 150})
      .prompt('Primary', {default: 'c1', skip: 'pass --leader NAME'})
      .catch((x: unknown) => x)
    assert.ok(Date.now() - t0 >= 140)
    assert.ok(e instanceof HactlError)
    assert.equal(e.message, 'no answer to "Primary [c1]:" on stdin within 0.15 s')
    assert.match(e.hints[0]!, /stayed open without a line before an answer to "Primary \[c1\]:"; pass --leader NAME/)
    assert.equal(out, 'Primary [c1]: \n')
  })

  test('HACTL_PROMPT_TIMEOUT: seconds, 60 by default, 0 for ever, garbage refused', () => {
    assert.equal(promptTimeoutMs({}), 60_000)
    assert.equal(promptTimeoutMs({HACTL_PROMPT_TIMEOUT: '2.5'}), 2500)
    assert.equal(promptTimeoutMs({HACTL_PROMPT_TIMEOUT: '0'}), 0)
    assert.throws(() => promptTimeoutMs({HACTL_PROMPT_TIMEOUT: 'soon'}), /HACTL_PROMPT_TIMEOUT=soon is not a number of seconds/)
  })
})

describe('questions on a terminal: click texts through readline', () => {
  function tty() {
    const input = new PassThrough() as PassThrough & {isTTY: boolean}
    input.isTTY = true
    let screen = ''
    const output = new PassThrough() as PassThrough & {columns: number; isTTY: boolean}
    output.columns = 200
    output.isTTY = true
    output.on('data', (d: Buffer) => (screen += d.toString()))
    return {input, output, screen: () => screen.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')}
  }

  test('prompt, typed-ahead answers, confirm, and a hidden answer that is not echoed', async () => {
    const t = tty()
    /** Types once the screen shows the question, as a person (or tmux) does. */
    const typeAt = async (shown: RegExp, keys: string) => {
      for (let i = 0; !shown.test(t.screen()); i++) {
        assert.ok(i < 1000, `never shown: ${shown}\n${t.screen()}`)
        await new Promise((r) => setImmediate(r))
      }
      t.input.write(keys)
    }
    const ask = terminalPrompter(t.input as never, t.output as never)
    try {
      const first = ask.prompt('Primary', {default: 'c1'})
      // two lines at once: the second waits for the next question
      await typeAt(/^Primary \[c1\]: $/, '\rc2\r')
      assert.equal(await first, 'c1')
      assert.equal(await ask.prompt("Candidate ['c2', 'c3']", {default: ''}), 'c2')
      const sure = ask.confirm('Are you sure you want to switchover cluster demo, demoting current leader c1?')
      await typeAt(/\[y\/N\]: $/, 'y\r')
      assert.equal(await sure, true)
      const pw = ask.prompt('Password', {hide: true})
      await typeAt(/Password: $/, 's3cret\r')
      assert.equal(await pw, 's3cret')
      await new Promise((r) => setImmediate(r))
      assert.match(t.screen(), /^Primary \[c1\]: \r?\n/)
      assert.match(t.screen(), /Candidate \['c2', 'c3'\] \[\]: /)
      assert.match(t.screen(), /Are you sure you want to switchover cluster demo, demoting current leader c1\? \[y\/N\]: y\r?\n/)
      assert.match(t.screen(), /Password: \n$/)
      assert.ok(!t.screen().includes('s3cret'))
    } finally {
      ask.close?.()
    }
  })

  test('Ctrl-C and Ctrl-D abort like click', async () => {
    for (const key of ['\x03', '\x04']) {
      const t = tty()
      const ask = terminalPrompter(t.input as never, t.output as never)
      const q = ask.prompt('Primary', {default: 'c1'})
      t.input.write(key)
      await assert.rejects(q, PromptAborted)
      ask.close?.()
    }
  })
})
