/**
 * The broken-config corpus: every file in test/fixtures/config/broken names, in `# expect:`
 * lines, the key paths its errors must point at; exactly those paths are reported.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ConfigError, formatIssues, loadConfig} from '../../../src/config/load'

const DIR = join(__dirname, '../../fixtures/config/broken')
const SECRETS = ['Sup3r-Secret-pw', 'Repl-Secret-pw']

function expectedPaths(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^# expect: ?(.*)$/gm)].map((m) => (m[1] ?? '').trim())
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
    it(`${f} -> ${expected.map((p) => p || '(top level)').join(', ')}`, () => {
      assert.ok(expected.length > 0, 'fixture has no # expect: line')
      let err: unknown
      try {
        loadConfig(file, {})
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

  it('the timing message says how to fix it', () => {
    assert.throws(
      () => loadConfig(join(DIR, 'timing-invariant.yml'), {}),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.some(
          (i) =>
            i.message ===
            'loop_wait (10) + 2*retry_timeout (10) = 30 must be <= ttl (25): raise ttl to 30 or lower loop_wait/retry_timeout',
        ),
    )
  })

  it('a secret of the wrong type is reported with its value masked', () => {
    assert.throws(
      () => loadConfig(join(DIR, 'secret-wrong-type.yml'), {}),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.value === '********'),
    )
  })
})
