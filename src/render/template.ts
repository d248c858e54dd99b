/**
 * A small, strict subset of Mustache for config files (no dependency: the full language brings
 * partials, lambdas and HTML escaping, none of which a haproxy.cfg wants):
 *
 *   {{name}} {{a.b}} {{.}}        the value (string, number or boolean), written as is
 *   {{#name}} ... {{/name}}       a list: once per item; true or an object: once; else skipped
 *   {{^name}} ... {{/name}}       once when the value is false, null, 0, '' or an empty list
 *   {{! comment }}                nothing
 *
 * A tag alone on its line (section, inverted, close, comment) takes the whole line with it, as
 * in Mustache, so templates can be laid out one directive per line. Unlike Mustache, a name the
 * model does not have is an error (with its line), not an empty string: a typo in a template
 * must not silently drop a server line.
 */
import {HactlError} from '../errors'

type Node =
  | {kind: 'text'; text: string}
  | {kind: 'var'; name: string; line: number}
  | {kind: 'section'; name: string; inverted: boolean; line: number; children: Node[]}

export interface CompiledTemplate {
  /** Where the template came from, for error messages (a path or `built-in`). */
  source: string
  nodes: Node[]
}

const TAG = /\{\{\s*([#^/!&{]?)\s*([^}]*?)\s*\}?\}\}/g
const NAME = /^(\.|[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*)$/

function fail(source: string, line: number, message: string): never {
  throw new HactlError('USAGE', `template ${source}, line ${line}: ${message}`, {exitCode: 1})
}

function lineAt(text: string, index: number): number {
  let n = 1
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++
  return n
}

export function compileTemplate(text: string, source: string): CompiledTemplate {
  interface Tok {
    type: string
    name: string
    start: number
    end: number
  }
  const toks: Tok[] = []
  for (const m of text.matchAll(TAG)) toks.push({type: m[1] ?? '', name: m[2] ?? '', start: m.index, end: m.index + m[0].length})
  const leftover = text.replace(TAG, '')
  if (leftover.includes('{{')) fail(source, lineAt(text, text.indexOf('{{', 0)), 'unclosed {{ tag')

  // Standalone tags: only whitespace around a non-variable tag on its line removes the line.
  const cut: Array<{from: number; to: number}> = []
  for (const t of toks) {
    if (t.type === '' || t.type === '&' || t.type === '{') {
      cut.push({from: t.start, to: t.end})
      continue
    }
    const ls = text.lastIndexOf('\n', t.start - 1) + 1
    let le = text.indexOf('\n', t.end)
    const lineEnd = le < 0 ? text.length : le
    const others = toks.filter((o) => o !== t && o.start >= ls && o.end <= lineEnd)
    const before = text.slice(ls, t.start)
    const after = text.slice(t.end, lineEnd)
    if (others.length === 0 && /^[ \t]*$/.test(before) && /^[ \t]*\r?$/.test(after)) {
      le = le < 0 ? text.length : le + 1
      cut.push({from: ls, to: le})
    } else {
      cut.push({from: t.start, to: t.end})
    }
  }

  const root: Node[] = []
  const stack: Array<{name: string; line: number; children: Node[]}> = [{name: '', line: 0, children: root}]
  let pos = 0
  toks.forEach((t, i) => {
    const c = cut[i]!
    const top = stack[stack.length - 1]!
    if (c.from > pos) top.children.push({kind: 'text', text: text.slice(pos, c.from)})
    pos = Math.max(pos, c.to)
    const line = lineAt(text, t.start)
    if (t.type === '!') return
    if (!NAME.test(t.name)) fail(source, line, `${JSON.stringify(t.name)} is not a name (letters, digits, _ and -, dotted, or .)`)
    if (t.type === '#' || t.type === '^') {
      const children: Node[] = []
      top.children.push({kind: 'section', name: t.name, inverted: t.type === '^', line, children})
      stack.push({name: t.name, line, children})
    } else if (t.type === '/') {
      if (stack.length === 1) fail(source, line, `{{/${t.name}}} closes nothing`)
      if (top.name !== t.name) fail(source, line, `{{/${t.name}}} closes {{#${top.name}}} opened on line ${top.line}`)
      stack.pop()
    } else {
      top.children.push({kind: 'var', name: t.name, line})
    }
  })
  if (pos < text.length) stack[stack.length - 1]!.children.push({kind: 'text', text: text.slice(pos)})
  if (stack.length > 1) {
    const open = stack[stack.length - 1]!
    fail(source, open.line, `{{#${open.name}}} is never closed`)
  }
  return {source, nodes: root}
}

const MISSING = Symbol('missing')

function lookup(stack: unknown[], name: string): unknown {
  if (name === '.') return stack[stack.length - 1]
  const [head, ...rest] = name.split('.')
  let value: unknown = MISSING
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i]
    if (ctx !== null && typeof ctx === 'object' && !Array.isArray(ctx) && Object.hasOwn(ctx, head!)) {
      value = (ctx as Record<string, unknown>)[head!]
      break
    }
  }
  for (const part of rest) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) return MISSING
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

export function renderTemplate(t: CompiledTemplate, model: unknown): string {
  const out: string[] = []
  const walk = (nodes: Node[], stack: unknown[]): void => {
    for (const n of nodes) {
      if (n.kind === 'text') {
        out.push(n.text)
        continue
      }
      const v = lookup(stack, n.name)
      if (v === MISSING) fail(t.source, n.line, `the model has no ${JSON.stringify(n.name)}`)
      if (n.kind === 'var') {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(String(v))
        else if (v !== null && v !== undefined) fail(t.source, n.line, `${JSON.stringify(n.name)} is a ${Array.isArray(v) ? 'list' : 'map'}; use {{#${n.name}}} ... {{/${n.name}}}`)
        continue
      }
      const empty = v === null || v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0)
      if (n.inverted) {
        if (empty) walk(n.children, stack)
      } else if (Array.isArray(v)) {
        for (const item of v) walk(n.children, [...stack, item])
      } else if (!empty) {
        walk(n.children, v === true ? stack : [...stack, v])
      }
    }
  }
  walk(t.nodes, [model])
  return out.join('')
}
