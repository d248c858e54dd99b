/**
 * The broken-config corpus: every file in test/fixtures/config/broken names, in `# expect:`
 * lines, the key paths its errors must point at; exactly those paths are reported. A file marked
 * `# strict` is broken only for `--strict` (a dynamic value Patroni adjusts or skips): without it
 * the file loads, with a warning at each `# warn:` path.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ConfigError, formatIssues, loadConfig} from '../../../src/config/load'

const DIR = join(__dirname, '../../fixtures/config/broken')
const SECRETS = ['Sup3r-Secret-pw', 'Repl-Secret-pw']

function expectedPaths(file: string, tag = 'expect'): string[] {
  return [...readFileSync(file, 'utf8').matchAll(new RegExp(`^# ${tag}: ?(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim())
}

function strictOnly(file: string): boolean {
  return /^# strict$/m.test(readFileSync(file, 'utf8'))
}

describe('broken configs', () => {
  it('the minimal base config they derive from is valid', () => {
    const {config} = loadConfig(join(DIR, '../minimal.yml'), {})
    assert.equal(config.name, 'node1')
  })

  const files = readdirSync(DIR).filter((f) => f.endsWith('.yml')).sort()
  it('the corpus is not empty', () => assert.ok(files.length >= 20, `only ${files.length} files`))

  for (const f of files) {
    const file = join(DIR, f)
    const expected = expectedPaths(file)
    const strict = strictOnly(file)
    it(`${f} -> ${expected.map((p) => p || '(top level)').join(', ')}${strict ? ' (--strict)' : ''}`, () => {
      assert.ok(expected.length > 0, 'fixture has no # expect: line')
      let err: unknown
      try {
        loadConfig(file, {}, {strict})
      } catch (e) {
        err = e
      }
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
      assert.equal(err.code, 'CONFIG_INVALID')
      const errors = err.issues.filter((i) => i.severity === 'error')
      if (f === 'yaml-syntax.yml') {
        // file:line:column of the mistake
        assert.ok(errors.length >= 1)
        for (const e of errors) assert.match(e.path, /broken\/yaml-syntax\.yml:22:\d+$/)
        assert.match(errors[0]?.message ?? '', /YAML syntax error/)
      } else {
        assert.deepEqual(errors.map((e) => e.path).sort(), [...expected].sort())
      }
      const text = formatIssues(err.issues) + err.message + err.hints.join('\n')
      for (const s of SECRETS) assert.ok(!text.includes(s), `secret leaked in: ${text}`)
    })
  }

  for (const f of files.filter((x) => strictOnly(join(DIR, x)))) {
    const warn = expectedPaths(join(DIR, f), 'warn')
    it(`${f} loads without --strict, with a warning at ${warn.join(', ')}`, () => {
      assert.ok(warn.length > 0, 'a # strict fixture needs a # warn: line')
      const {warnings} = loadConfig(join(DIR, f), {})
      assert.ok(warnings.every((w) => w.severity === 'warning'))
      for (const p of warn) assert.ok(warnings.some((w) => w.path === p), `no warning at ${p}: ${formatIssues(warnings)}`)
    })
  }

  it('the timing message says how to fix it (--strict)', () => {
    assert.throws(
      () => loadConfig(join(DIR, 'timing-invariant.yml'), {}, {strict: true}),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.some(
          (i) =>
            i.message ===
            'loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (25): raise ttl to 30 or lower loop_wait/retry_timeout (--strict)',
        ),
    )
  })

  it('without --strict the timing is adjusted as Patroni adjusts it, with its warning', () => {
    const {config, warnings} = loadConfig(join(DIR, 'timing-invariant.yml'), {})
    const dcs = config.bootstrap?.dcs
    assert.deepEqual([dcs?.ttl, dcs?.loop_wait, dcs?.retry_timeout], [25, 5, 10])
    assert.ok(
      warnings.some(
        (w) =>
          w.path === 'bootstrap.dcs.loop_wait' &&
          w.message === 'Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=25 and retry_timeout=10. Adjusting loop_wait from 10 to 5',
      ),
      formatIssues(warnings),
    )
  })

  it('a secret of the wrong type is reported with its value masked', () => {
    assert.throws(
      () => loadConfig(join(DIR, 'secret-wrong-type.yml'), {}),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.value === '********'),
    )
  })
})
