/**
 * A quick reader for the plain YAML most Patroni configuration files are written in: block
 * mappings and sequences, one-line plain or quoted scalars, comments, `[a, b]` lists of plain
 * words. The `yaml` package needs ~20 ms to parse its first document (its parser is compiled on
 * first use), which is a fifth of what `hactl list` may take. Anything outside this subset
 * (anchors, tags, block scalars, multi-line scalars, numbers other than plain decimal integers,
 * odd keys...) returns undefined and the caller uses the full parser, so results are always
 * those of parseYamlText with PYYAML_OPTIONS: test/unit/config/fast-yaml.test.ts checks this on
 * every configuration the repository holds and on generated edge cases.
 */

type Value = null | boolean | number | string | Value[] | {[key: string]: Value}

class Unsupported extends Error {}

const fail = (): never => {
  throw new Unsupported()
}

interface Line {
  indent: number
  text: string
}

const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/
const NULL = /^(?:~|[Nn]ull|NULL)$/
const DEC_INT = /^(?:0|[-+]?[1-9][0-9]*)$/
// Everything YAML 1.1 (as the `yaml` package or PyYAML reads it) may turn into a number, a
// date or a merge key; such scalars go to the full parser.
const NON_STRING = [
  /^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/,
  /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
  /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/,
  /^[-+]?0b[0-1_]+$/,
  /^[-+]?0[0-7_]+$/,
  /^[-+]?[0-9][0-9_]*$/,
  /^[-+]?0x[0-9a-fA-F_]+$/,
  /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/,
  /^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?/,
  /^(?:<<|=)$/,
]

function plainScalar(s: string, flow: boolean): Value {
  if (s === '') return null
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(s) && !/^[-?:][^\s,[\]{}]/.test(s)) fail()
  if (/:(?:\s|$)|\s#|\t/.test(s) || (flow && /[,[\]{}]/.test(s))) fail()
  if (NULL.test(s)) return null
  if (PY_TRUE.test(s)) return true
  if (PY_FALSE.test(s)) return false
  if (DEC_INT.test(s)) {
    const n = Number(s)
    return Number.isSafeInteger(n) ? n : fail()
  }
  if (NON_STRING.some((re) => re.test(s))) fail()
  return s
}

/** A value written on the same line as its key or dash. */
function inlineValue(raw: string): Value {
  let s = raw
  if (s.startsWith("'")) {
    let out = ''
    let i = 1
    for (;;) {
      const q = s.indexOf("'", i)
      if (q < 0) fail()
      out += s.slice(i, q)
      if (s[q + 1] === "'") {
        out += "'"
        i = q + 2
        continue
      }
      if (!/^\s*(?:#.*)?$/.test(s.slice(q + 1))) fail()
      return out
    }
  }
  if (s.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\["\\/nt])*)"\s*(?:#.*)?$/.exec(s)
    if (!m) fail()
    return m![1]!.replace(/\\(["\\/nt])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c))
  }
  s = s.replace(/\s+#.*$/, '').trimEnd()
  if (s === '[]') return []
  if (s === '{}') return {}
  if (s.startsWith('[')) {
    if (!s.endsWith(']')) fail()
    return s
      .slice(1, -1)
      .split(',')
      .map((item) => {
        const t = item.trim()
        if (t === '' || /^['"]/.test(t)) fail()
        return plainScalar(t, true)
      })
  }
  if (s.startsWith('{')) fail()
  return plainScalar(s, false)
}

class Reader {
  i = 0
  constructor(private readonly lines: Line[]) {}

  peek(): Line | undefined {
    return this.lines[this.i]
  }

  /** The node that follows `key:` or `-` with nothing after it on the line. */
  nested(parentIndent: number, allowSameIndentSequence: boolean): Value {
    const next = this.peek()
    if (!next) return null
    if (next.indent > parentIndent) return this.block(next.indent)
    if (allowSameIndentSequence && next.indent === parentIndent && isDash(next.text)) return this.sequence(next.indent)
    return null
  }

  block(indent: number): Value {
    const first = this.peek()!
    return isDash(first.text) ? this.sequence(indent) : this.mapping(indent)
  }

  sequence(indent: number): Value[] {
    const out: Value[] = []
    for (let line = this.peek(); line && line.indent === indent && isDash(line.text); line = this.peek()) {
      this.i++
      const rest = line.text.slice(1)
      const content = rest.trimStart()
      if (content === '' || content.startsWith('#')) {
        out.push(this.nested(indent, false))
        continue
      }
      if (isDash(content)) fail()
      const column = indent + 1 + (rest.length - content.length)
      if (keyOf(content) !== undefined) {
        // `- key: value`: a mapping whose keys line up with this first one
        this.i--
        this.lines[this.i] = {indent: column, text: content}
        out.push(this.mapping(column))
        continue
      }
      out.push(inlineValue(content))
      this.noContinuation(indent)
    }
    const after = this.peek()
    if (after && after.indent > indent) fail()
    return out
  }

  mapping(indent: number): {[key: string]: Value} {
    const out: {[key: string]: Value} = {}
    for (let line = this.peek(); line && line.indent === indent && !isDash(line.text); line = this.peek()) {
      this.i++
      const kv = keyOf(line.text)
      if (kv === undefined) fail()
      const [key, rest] = kv!
      if (rest === '' || rest.startsWith('#')) out[key] = this.nested(indent, true)
      else {
        out[key] = inlineValue(rest)
        this.noContinuation(indent)
      }
    }
    const after = this.peek()
    if (after && after.indent > indent) fail()
    return out
  }

  /** A more-indented line after a one-line value would continue it (multi-line scalar). */
  private noContinuation(indent: number): void {
    const next = this.peek()
    if (next && next.indent > indent) fail()
  }
}

function isDash(text: string): boolean {
  return text === '-' || text.startsWith('- ')
}

/** `key: rest` with a plain string key, or undefined when the line is not a simple entry. */
function keyOf(text: string): [string, string] | undefined {
  const m = /^([A-Za-z_/$][A-Za-z0-9_.\-/$ ]*?|[0-9]*[A-Za-z_][A-Za-z0-9_.\-/$]*)\s*:(?:\s+(.*))?$/.exec(text)
  if (!m) return undefined
  const key = m[1]!
  if (key === '__proto__' || plainScalar(key, false) !== key) fail()
  return [key, (m[2] ?? '').trimEnd()]
}

/**
 * The document as `parseDocument(text, PYYAML_OPTIONS).toJS()` would give it, or undefined when
 * the text uses anything this reader does not handle.
 */
export function parseFastYaml(text: string): unknown {
  if (/[\r\t\ufeff]/.test(text) || text.length > 1_000_000) return undefined
  const lines: Line[] = []
  let first = true
  for (const raw of text.split('\n')) {
    const content = raw.trimStart()
    if (content === '' || content.startsWith('#')) continue
    if (first && raw === '---') {
      first = false
      continue
    }
    first = false
    if (/^(?:---|\.\.\.|%)/.test(raw)) return undefined
    lines.push({indent: raw.length - content.length, text: content.trimEnd()})
  }
  if (lines.length === 0) return null
  try {
    const r = new Reader(lines)
    if (lines[0]!.indent !== 0) return undefined
    const value = r.block(0)
    return r.peek() === undefined ? value : undefined
  } catch (e) {
    if (e instanceof Unsupported) return undefined
    throw e
  }
}
