import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, test} from 'node:test'
import {UsageError, parseCommandArgv, usageLine} from '../../../src/ctl/argv'
import {applyConfigChanges, applyYamlDocument, type ConfigData, configText, patchConfig, pgPairs, pyEqual} from '../../../src/ctl/config-edit'
import {PromptAborted, linePrompter, linesInput} from '../../../src/ctl/prompt'
import {configDiffText} from '../../../src/ctl/py-difflib'
import {nextHourExample, parseScheduled, postgresVersionToInt, pyTimestamp} from '../../../src/ctl/schedule'
import {EDIT_CONFIG_SPEC, FAILOVER_SPEC, FLUSH_SPEC, QUERY_SPEC, REINIT_SPEC, RESTART_SPEC, SWITCHOVER_SPEC} from '../../../src/commands/shared/ctl-specs'
import type {PyValue} from '../../../src/ctl/py-format'

/**
 * Pure parts of the write commands. fixtures/write-goldens.json holds what Debian's patronictl
 * 3.0.2 (apply_config_changes, patch_config, format_config_for_editing) and Python's difflib
 * produced; regenerate with fixtures/gen-write-goldens.py.
 */
const goldens = JSON.parse(readFileSync(new URL('./fixtures/write-goldens.json', import.meta.url), 'utf8')) as {
  base: ConfigData
  set: Array<{pairs: string[]; result: ConfigData; text: string}>
  patch: Array<{patch: ConfigData; result: ConfigData; changed: boolean}>
  diff: Array<{a: string; b: string; out: string}>
}

describe('edit-config data rules against patronictl itself', () => {
  test('--set/--pg pairs give the same data and YAML text', () => {
    assert.ok(goldens.set.length >= 15)
    for (const c of goldens.set) {
      const got = applyConfigChanges(goldens.base, c.pairs)
      assert.deepEqual(got, c.result, c.pairs.join(' '))
      assert.equal(configText(got), c.text, c.pairs.join(' '))
    }
  })

  test('the input is not modified, and a pair without = is refused by name', () => {
    const before = structuredClone(goldens.base)
    applyConfigChanges(goldens.base, ['loop_wait=9', 'postgresql.parameters.x=1'])
    assert.deepEqual(goldens.base, before)
    assert.throws(() => applyConfigChanges({}, ['loop_wait']), /^HactlError: Invalid parameter setting loop_wait$/)
    assert.throws(() => applyConfigChanges({}, ['']), /Invalid parameter setting $/)
    assert.throws(() => applyConfigChanges({}, ['a=[1']), /value of a: not valid YAML/)
    assert.deepEqual(pgPairs(['  work_mem=1MB']), ['postgresql.parameters.work_mem=1MB'])
  })

  test('patch_config merges, removes with null and keeps values whose str() is equal', () => {
    for (const c of goldens.patch) {
      const d = structuredClone(goldens.base)
      assert.equal(patchConfig(d, c.patch), c.changed, JSON.stringify(c.patch))
      assert.deepEqual(d, c.result, JSON.stringify(c.patch))
    }
  })

  test('--apply documents: a mapping is required', () => {
    assert.deepEqual(applyYamlDocument({a: 1}, 'b: 2\na: ~\n', '--apply f'), {b: 2})
    assert.throws(() => applyYamlDocument({}, '', '--apply f'), /--apply f: expected a YAML mapping of configuration keys, got an empty document/)
    assert.throws(() => applyYamlDocument({}, '- 1\n', '--replace -'), /--replace -: expected a YAML mapping.*\[1\]/)
  })

  test('Python equality: numbers and booleans compare by value, mappings ignore key order', () => {
    assert.ok(pyEqual({a: 1, b: {c: true}}, {b: {c: 1}, a: 1.0}))
    assert.ok(!pyEqual({a: 1}, {a: '1'}))
    assert.ok(!pyEqual({a: 1}, {a: 1, b: null}))
    assert.ok(!pyEqual([1, 2] as PyValue, [2, 1] as PyValue))
  })
})

describe('unified diff', () => {
  test('same hunks as difflib.unified_diff', () => {
    assert.ok(goldens.diff.length >= 6)
    for (const c of goldens.diff) assert.equal(configDiffText(c.a, c.b), c.out, `${JSON.stringify(c.a.slice(0, 40))}...`)
  })

  test('no difference, no output', () => {
    assert.equal(configDiffText('a: 1\n', 'a: 1\n'), '')
  })
})

describe('write command arguments', () => {
  test('--set and --pg may repeat; short forms too', () => {
    const p = parseCommandArgv(EDIT_CONFIG_SPEC, ['-s', 'a=1', '--set=b=2', '-pwork_mem=1MB', '--pg', 'x=1', '--force', 'demo'])
    assert.deepEqual(p.flags['set'], ['a=1', 'b=2'])
    assert.deepEqual(p.flags['pg'], ['work_mem=1MB', 'x=1'])
    assert.equal(p.flags['force'], true)
    assert.equal(p.args['cluster_name'], 'demo')
  })

  test('flush: members in the middle, the target last and checked', () => {
    const p = parseCommandArgv(FLUSH_SPEC, ['demo', 'pg1', 'pg2', 'restart', '--force'])
    assert.deepEqual(p.args, {cluster_name: 'demo', member_names: ['pg1', 'pg2'], target: 'restart'})
    assert.deepEqual(parseCommandArgv(FLUSH_SPEC, ['demo', 'switchover']).args, {cluster_name: 'demo', member_names: [], target: 'switchover'})
    assert.throws(() => parseCommandArgv(FLUSH_SPEC, ['demo', 'pg1', 'later']), (e: unknown) => {
      assert.ok(e instanceof UsageError)
      assert.equal(e.message, "Invalid value for 'TARGET': 'later' is not one of 'restart', 'switchover'.")
      return true
    })
    assert.throws(() => parseCommandArgv(FLUSH_SPEC, ['demo']), /Missing argument 'TARGET'\./)
    assert.equal(usageLine('hactl', FLUSH_SPEC), 'Usage: hactl flush [OPTIONS] CLUSTER_NAME [MEMBER_NAMES]... TARGET')
  })

  test('restart needs the cluster name; query keeps -c/-d for itself', () => {
    assert.throws(() => parseCommandArgv(RESTART_SPEC, ['--force']), /Missing argument 'CLUSTER_NAME'\./)
    const r = parseCommandArgv(RESTART_SPEC, ['demo', 'pg1', '--any', '--pg-version', '15.4', '-r', 'replica'])
    assert.deepEqual([r.flags['any'], r.flags['pg-version'], r.flags['role'], r.args['member_names']], [true, '15.4', 'replica', ['pg1']])
    assert.equal(parseCommandArgv(RESTART_SPEC, ['demo']).flags['role'], 'any')
    const q = parseCommandArgv(QUERY_SPEC, ['-c', 'SELECT 1', '-d', 'postgres', '--config-file', 'x.yml', '-U', 'me'])
    assert.deepEqual([q.flags['command'], q.flags['dbname'], q.flags['config-file'], q.flags['username'], q.flags['format']], ['SELECT 1', 'postgres', 'x.yml', 'me', 'tsv'])
    const s = parseCommandArgv(SWITCHOVER_SPEC, ['--primary', 'pg1', '--candidate=pg2'])
    assert.deepEqual([s.flags['leader'], s.flags['candidate']], ['pg1', 'pg2'])
    // patronictl 4 spells it --primary, 3.x also --master; switchover and failover take all three.
    for (const spec of [SWITCHOVER_SPEC, FAILOVER_SPEC]) {
      for (const opt of ['--leader', '--primary', '--master']) assert.equal(parseCommandArgv(spec, [opt, 'pg1']).flags['leader'], 'pg1', `${spec.id} ${opt}`)
    }
    // patronictl 4.1's reinit --from-leader
    const ri = parseCommandArgv(REINIT_SPEC, ['demo', 'pg2', '--from-leader', '--force'])
    assert.deepEqual([ri.flags['from-leader'], ri.flags['force'], ri.args['member_names']], [true, true, ['pg2']])
    assert.notEqual(parseCommandArgv(REINIT_SPEC, ['demo']).flags['from-leader'], true)
  })
})

describe('click-style questions over a pipe', () => {
  function run(answers: string) {
    let out = ''
    return {ask: linePrompter(linesInput(answers), (s) => (out += s)), out: () => out}
  }

  test('prompt: default on an empty line, asks again without one', async () => {
    const r = run('\n\npg2\n')
    assert.equal(await r.ask.prompt('Primary', {default: 'pg1'}), 'pg1')
    assert.equal(await r.ask.prompt('Please confirm the cluster name to remove'), 'pg2')
    assert.equal(r.out(), 'Primary [pg1]: Please confirm the cluster name to remove: Please confirm the cluster name to remove: ')
  })

  test('confirm: y/yes/n/no in any case, default no, complains about anything else', async () => {
    const r = run('maybe\n YES \n\nn\n')
    assert.equal(await r.ask.confirm('Apply these changes?'), true)
    assert.equal(await r.ask.confirm('Apply these changes?'), false)
    assert.equal(await r.ask.confirm('Apply these changes?'), false)
    assert.equal(r.out(), 'Apply these changes? [y/N]: Error: invalid input\n' + 'Apply these changes? [y/N]: '.repeat(3))
  })

  test('end of input aborts', async () => {
    const r = run('')
    await assert.rejects(r.ask.confirm('Are you sure?'), PromptAborted)
    await assert.rejects(run('x').ask.prompt('a').then(() => run('').ask.prompt('b')), PromptAborted)
  })
})

describe('schedules, versions and timestamps', () => {
  test('--scheduled: ISO 8601 with or without an offset; now means immediately', () => {
    assert.equal(parseScheduled(undefined), null)
    assert.equal(parseScheduled('now'), null)
    assert.equal(parseScheduled('2030-01-02T03:04+02:00'), '2030-01-02T03:04:00+02:00')
    assert.equal(parseScheduled('2030-01-02 03:04:05.5Z'), '2030-01-02T03:04:05.500000+00:00')
    assert.equal(parseScheduled('2030-01-02T03:04:05-0330'), '2030-01-02T03:04:05-03:30')
    const local = parseScheduled('2030-07-01T12:00')!
    const offset = -new Date(2030, 6, 1, 12).getTimezoneOffset()
    assert.equal(new Date(local).getTime(), new Date(2030, 6, 1, 12).getTime())
    assert.match(local, offset === 0 ? /\+00:00$/ : /[+-]\d\d:\d\d$/)
    for (const bad of ['tomorrow', '2030-02-30T00:00', '2030-13-01', '12:00']) {
      assert.throws(() => parseScheduled(bad), new RegExp(`^HactlError: Unable to parse scheduled timestamp \\(${bad}\\)\\. It should be in an unambiguous format`))
    }
  })

  test('--pg-version as Patroni reads it', () => {
    assert.equal(postgresVersionToInt('9.6.24'), 90624)
    assert.equal(postgresVersionToInt('15.4'), 150004)
    assert.throws(() => postgresVersionToInt('9.6'), /Invalid PostgreSQL version format: X\.Y or X\.Y\.Z is accepted: 9\.6/)
    assert.throws(() => postgresVersionToInt('15'), /X\.Y or X\.Y\.Z is accepted: 15$/)
    assert.throws(() => postgresVersionToInt('a.b'), /^HactlError: Invalid PostgreSQL version: a\.b$/)
  })

  test('timestamps like Python strftime slices', () => {
    const ms = new Date(2030, 0, 2, 3, 4, 5, 678).getTime()
    assert.equal(pyTimestamp(ms), '2030-01-02 03:04:05.67800')
    assert.equal(pyTimestamp(ms, 0), '2030-01-02 03:04:05')
    assert.equal(pyTimestamp(ms, 4), '2030-01-02 03:04:05.678')
    assert.equal(nextHourExample(ms), '2030-01-02T04:04')
  })
})
