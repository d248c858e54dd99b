import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, test} from 'node:test'
import {printOutput, type OutputFormat} from '../../../src/ctl/print-output'
import {pyFloatRepr, pyJsonDumps, pyRound, pyTitle, type PyValue} from '../../../src/ctl/py-format'
import {pyYamlDump} from '../../../src/ctl/py-yaml'

/**
 * Byte-for-byte against Python itself: fixtures/python-goldens.json holds what Debian's
 * patronictl print_output (PrettyTable 3.6), yaml.safe_dump and json.dumps printed for inputs
 * chosen to hit every rule (multi-line cells, tags, titles, quoting, folding, escapes).
 * Regenerate with fixtures/gen-python-goldens.py.
 */
const goldens = JSON.parse(readFileSync(new URL('./fixtures/python-goldens.json', import.meta.url), 'utf8')) as {
  tables: Array<{columns: string[]; rows: PyValue[][]; align: Record<string, 'l' | 'r'>; fmt: OutputFormat; header: string; out: string}>
  yaml: Array<{data: PyValue; flow: boolean; out: string}>
  json: Array<{data: PyValue; out: string}>
  round: Array<[number, number]>
  repr: Array<[number, string]>
  title: Array<[string, string]>
}

describe('renderers against Python goldens', () => {
  test('print_output: pretty, topology, tsv, json and yaml tables', () => {
    assert.ok(goldens.tables.length >= 15)
    for (const t of goldens.tables) {
      const got = printOutput(t.columns, t.rows, {fmt: t.fmt, align: t.align, header: t.header})
      assert.equal(got, t.out, `format ${t.fmt}, title ${JSON.stringify(t.header)}`)
    }
  })

  test('yaml.safe_dump, block and flow style', () => {
    assert.ok(goldens.yaml.length >= 10)
    for (const y of goldens.yaml) assert.equal(pyYamlDump(y.data, {flow: y.flow}), y.out, `flow=${y.flow} ${JSON.stringify(y.data).slice(0, 80)}`)
  })

  test('json.dumps', () => {
    for (const j of goldens.json) assert.equal(pyJsonDumps(j.data), j.out)
  })

  test('round() ties to even, float repr and str.title()', () => {
    for (const [x, r] of goldens.round) assert.equal(pyRound(x), r, `round(${x})`)
    for (const [x, s] of goldens.repr) assert.equal(pyFloatRepr(x), s, `repr(${x})`)
    for (const [s, t] of goldens.title) assert.equal(pyTitle(s), t)
  })
})
