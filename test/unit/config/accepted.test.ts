/**
 * The accepted-config corpus: configurations Patroni takes (possibly adjusting a value and
 * warning) that hactl must take too. Each file in test/fixtures/config/accepted lists, in
 * `# warn:` lines, the key paths its warnings must point at; it must load without errors.
 */
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {formatIssues, loadConfig} from '../../../src/config/load'
import {decideConfig} from '../../../src/agent/helpers'
import {defaultDynamicConfig} from '../../../src/config/dynamic-schema'

const DIR = join(__dirname, '../../fixtures/config/accepted')

describe('configs Patroni accepts', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yml')).sort()
  for (const f of files) {
    const file = join(DIR, f)
    const warn = [...readFileSync(file, 'utf8').matchAll(/^# warn: ?(.*)$/gm)].map((m) => (m[1] ?? '').trim())
    it(`${f} loads${warn.length ? `, warning about ${warn.join(', ')}` : ''}`, () => {
      let loaded
      try {
        loaded = loadConfig(file, {})
      } catch (e) {
        assert.fail(`refused: ${e instanceof Error ? e.message : String(e)}\n${formatIssues((e as {issues?: never[]}).issues ?? [])}`)
      }
      assert.deepEqual(loaded.warnings.map((w) => w.path).sort(), [...warn].sort())
    })
  }

  it('contradictory tags: the boolean decides, as in Patroni, with its wording', () => {
    const {config, warnings} = loadConfig(join(DIR, 'contradictory-tags.yml'), {})
    assert.deepEqual(warnings.map((w) => w.message).sort(), [
      'Conflicting configuration between nofailover: True and failover_priority: 2. Defaulting to nofailover: True',
      'Conflicting configuration between nosync: False and sync_priority: 0. Defaulting to nosync: False',
    ])
    assert.equal(config.tags.nofailover, true)
    const d = decideConfig(config, defaultDynamicConfig())
    assert.equal(d.tags.nofailover, true)
    assert.equal(d.tags.failoverPriority, 0)
  })
})
