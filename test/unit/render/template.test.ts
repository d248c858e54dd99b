import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {HactlError} from '../../../src/errors'
import {compileTemplate, renderTemplate} from '../../../src/render/template'

const render = (t: string, model: unknown) => renderTemplate(compileTemplate(t, 't.mustache'), model)

function fails(f: () => unknown, ...fragments: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof HactlError, String(e))
    for (const s of fragments) assert.ok(e.message.includes(s), `${JSON.stringify(e.message)} lacks ${JSON.stringify(s)}`)
    return true
  })
}

describe('render templates (strict Mustache subset)', () => {
  it('variables, dotted names, lists, inverted sections, comments', () => {
    const model = {a: {b: 'x'}, n: 0, list: [{v: 1}, {v: 2}], empty: [], t: true, obj: {k: 'in'}}
    assert.equal(render('{{a.b}}|{{n}}|{{#list}}{{v}};{{/list}}|{{^empty}}none{{/empty}}|{{#t}}T{{/t}}|{{#obj}}{{k}}{{a.b}}{{/obj}}{{! gone }}', model), 'x|0|1;2;|none|T|inx')
    assert.equal(render('{{#list}}{{.}}{{/list}}', {list: ['a', 'b']}), 'ab')
    assert.equal(render('{{{a}}}{{&a}}', {a: '<&>'}), '<&><&>', 'no HTML escaping in config files')
  })

  it('a standalone section or comment line leaves no blank line behind', () => {
    const t = 'x\n  {{#list}}\n- {{.}}\n  {{/list}}\n{{! note }}\ny\n'
    assert.equal(render(t, {list: [1, 2]}), 'x\n- 1\n- 2\ny\n')
    assert.equal(render('a {{#t}}b{{/t}} c\n', {t: true}), 'a b c\n', 'inline sections keep their line')
  })

  it('a name the model lacks is an error with the line, never an empty string', () => {
    fails(() => render('ok\n{{servres}}\n', {servers: []}), 't.mustache, line 2', '"servres"')
    fails(() => render('{{#a}}{{/b}}', {a: 1}), 'closes {{#a}}')
    fails(() => render('{{#a}}', {a: 1}), 'never closed')
    fails(() => render('{{/a}}', {}), 'closes nothing')
    fails(() => render('{{ a b }}', {}), 'is not a name')
    fails(() => render('x {{a', {a: 1}), 'unclosed')
    fails(() => render('{{list}}', {list: []}), 'is a list')
  })
})
