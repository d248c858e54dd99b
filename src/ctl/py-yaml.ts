/**
 * `yaml.safe_dump(data, default_flow_style=..., allow_unicode=True, width=200)` as PyYAML
 * writes it, which is how patronictl prints show-config, `list -f yaml` and member tags. The
 * `yaml` package formats differently (quoting of `on`/`yes`, sequence indentation, folding), so
 * this is a small emitter that follows PyYAML's rules: keys sorted, scalars plain when they
 * read back as the same string, otherwise single- then double-quoted, sequences inside
 * mappings not indented, empty collections as `{}`/`[]`, lines folded past the width. Pure.
 */
import type {PyValue} from './py-format'
import {pyFloatRepr} from './py-format'

const BREAKS = '\n\x85\u2028\u2029'
const SPACE_OR_BREAK = '\0 \t\r\n\x85\u2028\u2029'

// PyYAML's implicit resolvers (YAML 1.1): a string that matches one of these must be quoted
// or it would read back as a bool, int, float, null, timestamp, merge key or value key.
const RESOLVERS: ReadonlyArray<[first: string, re: RegExp]> = [
  ['yYnNtTfFoO', /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
  [
    '-+0123456789.',
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  ],
  ['-+0123456789', /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
  ['<', /^(?:<<)$/],
  ['~nN', /^(?:~|null|Null|NULL)$/],
  [
    '0123456789',
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  ],
  ['=', /^(?:=)$/],
]

/** True when the plain form of `s` would read back as something other than this string. */
function resolvesToNonString(s: string): boolean {
  if (s === '') return true
  // Python's `$` also matches before one trailing newline.
  const body = s.endsWith('\n') ? s.slice(0, -1) : s
  for (const [first, re] of RESOLVERS) if (first.includes(s[0]!) && re.test(body)) return true
  return false
}

interface Analysis {
  text: string[]
  empty: boolean
  multiline: boolean
  allowFlowPlain: boolean
  allowBlockPlain: boolean
  allowSingleQuoted: boolean
}

function inRange(cp: number, lo: number, hi: number): boolean {
  return cp >= lo && cp <= hi
}

function analyze(scalar: string): Analysis {
  const text = Array.from(scalar)
  if (text.length === 0) {
    return {text, empty: true, multiline: false, allowFlowPlain: false, allowBlockPlain: true, allowSingleQuoted: true}
  }
  let blockIndicators = false
  let flowIndicators = false
  let lineBreaks = false
  let special = false
  let leadingSpace = false
  let leadingBreak = false
  let trailingSpace = false
  let trailingBreak = false
  let breakSpace = false
  let spaceBreak = false
  if (scalar.startsWith('---') || scalar.startsWith('...')) {
    blockIndicators = true
    flowIndicators = true
  }
  let precededByWhitespace = true
  let followedByWhitespace = text.length === 1 || SPACE_OR_BREAK.includes(text[1]!)
  let previousSpace = false
  let previousBreak = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true
        blockIndicators = true
      }
      if (ch === '?' || ch === ':') {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      }
      if (ch === '-' && followedByWhitespace) {
        flowIndicators = true
        blockIndicators = true
      }
    } else {
      if (',?[]{}'.includes(ch)) flowIndicators = true
      if (ch === ':') {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      }
      if (ch === '#' && precededByWhitespace) {
        flowIndicators = true
        blockIndicators = true
      }
    }
    if (BREAKS.includes(ch)) lineBreaks = true
    const cp = ch.codePointAt(0)!
    if (!(ch === '\n' || inRange(cp, 0x20, 0x7e))) {
      const unicode =
        (cp === 0x85 || inRange(cp, 0xa0, 0xd7ff) || inRange(cp, 0xe000, 0xfffd) || (cp >= 0x10000 && cp < 0x10ffff)) && cp !== 0xfeff
      // allow_unicode=True: printable non-ASCII is written as is.
      if (!unicode) special = true
    }
    if (ch === ' ') {
      if (i === 0) leadingSpace = true
      if (i === text.length - 1) trailingSpace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (BREAKS.includes(ch)) {
      if (i === 0) leadingBreak = true
      if (i === text.length - 1) trailingBreak = true
      if (previousSpace) spaceBreak = true
      previousSpace = false
      previousBreak = true
    } else {
      previousSpace = false
      previousBreak = false
    }
    precededByWhitespace = SPACE_OR_BREAK.includes(ch)
    followedByWhitespace = i + 2 >= text.length || SPACE_OR_BREAK.includes(text[i + 2]!)
  }
  let allowFlowPlain = true
  let allowBlockPlain = true
  let allowSingleQuoted = true
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) allowFlowPlain = allowBlockPlain = false
  if (breakSpace) allowFlowPlain = allowBlockPlain = allowSingleQuoted = false
  if (spaceBreak || special) allowFlowPlain = allowBlockPlain = allowSingleQuoted = false
  if (lineBreaks) allowFlowPlain = allowBlockPlain = false
  if (flowIndicators) allowFlowPlain = false
  if (blockIndicators) allowBlockPlain = false
  return {text, empty: false, multiline: lineBreaks, allowFlowPlain, allowBlockPlain, allowSingleQuoted}
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\0': '0',
  '\x07': 'a',
  '\x08': 'b',
  '\x09': 't',
  '\x0a': 'n',
  '\x0b': 'v',
  '\x0c': 'f',
  '\x0d': 'r',
  '\x1b': 'e',
  '"': '"',
  '\\': '\\',
  '\x85': 'N',
  '\xa0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
}

interface NodeContext {
  root?: boolean
  mapping?: boolean
  simpleKey?: boolean
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a)
  const y = Array.from(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!
    if (d !== 0) return d
  }
  return x.length - y.length
}

function isCollection(v: PyValue): v is PyValue[] | {[key: string]: PyValue} {
  return v !== null && typeof v === 'object'
}

function scalarText(v: Exclude<PyValue, PyValue[] | {[key: string]: PyValue}>): {text: string; isString: boolean} {
  if (v === null) return {text: 'null', isString: false}
  if (typeof v === 'boolean') return {text: v ? 'true' : 'false', isString: false}
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return {text: String(v), isString: false}
    if (Number.isNaN(v)) return {text: '.nan', isString: false}
    if (!Number.isFinite(v)) return {text: v > 0 ? '.inf' : '-.inf', isString: false}
    let t = pyFloatRepr(v).toLowerCase()
    if (!t.includes('.') && t.includes('e')) t = t.replace('e', '.0e')
    return {text: t, isString: false}
  }
  return {text: v, isString: true}
}

class Emitter {
  out = ''
  private column = 0
  private whitespace = true
  private indention = true
  private openEnded = false
  private indent: number | null = null
  private readonly indents: Array<number | null> = []
  private flowLevel = 0

  constructor(
    private readonly width: number,
    private readonly flowStyle: boolean,
  ) {}

  document(v: PyValue): string {
    this.node(v, {root: true})
    this.writeIndent()
    if (this.openEnded) {
      this.writeIndicator('...', true)
      this.writeIndent()
    }
    return this.out
  }

  private write(s: string): void {
    this.out += s
    this.column += Array.from(s).length
  }

  private increaseIndent(flow: boolean, indentless = false): void {
    this.indents.push(this.indent)
    if (this.indent === null) this.indent = flow ? 2 : 0
    else if (!indentless) this.indent += 2
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? null
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, whitespace = false, indention = false): void {
    const data = this.whitespace || !needWhitespace ? indicator : ' ' + indicator
    this.whitespace = whitespace
    this.indention = this.indention && indention
    this.openEnded = false
    this.write(data)
  }

  private writeIndent(): void {
    const indent = this.indent ?? 0
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.lineBreak()
    if (this.column < indent) {
      this.whitespace = true
      this.write(' '.repeat(indent - this.column))
    }
  }

  private lineBreak(data = '\n'): void {
    this.whitespace = true
    this.indention = true
    this.out += data
    this.column = 0
  }

  private node(v: PyValue, ctx: NodeContext): void {
    if (!isCollection(v)) return this.scalar(v, ctx)
    const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0
    const flow = this.flowLevel > 0 || this.flowStyle || empty
    if (Array.isArray(v)) return flow ? this.flowSequence(v) : this.blockSequence(v, ctx)
    const entries = Object.entries(v).sort(([a], [b]) => compareCodePoints(a, b))
    return flow ? this.flowMapping(entries) : this.blockMapping(entries)
  }

  private isSimpleKey(k: string): boolean {
    const a = analyze(k)
    return a.text.length < 128 && !a.empty && !a.multiline
  }

  private blockSequence(items: PyValue[], ctx: NodeContext): void {
    this.increaseIndent(false, !!ctx.mapping && !this.indention)
    for (const item of items) {
      this.writeIndent()
      this.writeIndicator('-', true, false, true)
      this.node(item, {})
    }
    this.popIndent()
  }

  private blockMapping(entries: Array<[string, PyValue]>): void {
    this.increaseIndent(false)
    for (const [k, v] of entries) {
      this.writeIndent()
      if (this.isSimpleKey(k)) {
        this.node(k, {mapping: true, simpleKey: true})
        this.writeIndicator(':', false)
      } else {
        this.writeIndicator('?', true, false, true)
        this.node(k, {mapping: true})
        this.writeIndent()
        this.writeIndicator(':', true, false, true)
      }
      this.node(v, {mapping: true})
    }
    this.popIndent()
  }

  private flowSequence(items: PyValue[]): void {
    this.writeIndicator('[', true, true)
    this.flowLevel++
    this.increaseIndent(true)
    items.forEach((item, i) => {
      if (i > 0) this.writeIndicator(',', false)
      if (this.column > this.width) this.writeIndent()
      this.node(item, {})
    })
    this.popIndent()
    this.flowLevel--
    this.writeIndicator(']', false)
  }

  private flowMapping(entries: Array<[string, PyValue]>): void {
    this.writeIndicator('{', true, true)
    this.flowLevel++
    this.increaseIndent(true)
    entries.forEach(([k, v], i) => {
      if (i > 0) this.writeIndicator(',', false)
      if (this.column > this.width) this.writeIndent()
      if (this.isSimpleKey(k)) {
        this.node(k, {mapping: true, simpleKey: true})
        this.writeIndicator(':', false)
      } else {
        this.writeIndicator('?', true)
        this.node(k, {mapping: true})
        if (this.column > this.width) this.writeIndent()
        this.writeIndicator(':', true)
      }
      this.node(v, {mapping: true})
    })
    this.popIndent()
    this.flowLevel--
    this.writeIndicator('}', false)
  }

  private scalar(v: Exclude<PyValue, PyValue[] | {[key: string]: PyValue}>, ctx: NodeContext): void {
    const {text, isString} = scalarText(v)
    const a = analyze(text)
    const implicitPlain = !isString || !resolvesToNonString(text)
    let style: '' | "'" | '"' = '"'
    if (
      implicitPlain &&
      !(ctx.simpleKey && (a.empty || a.multiline)) &&
      (this.flowLevel > 0 ? a.allowFlowPlain : a.allowBlockPlain)
    ) {
      style = ''
    } else if (a.allowSingleQuoted && !(ctx.simpleKey && a.multiline)) {
      style = "'"
    }
    this.increaseIndent(true)
    const split = !ctx.simpleKey
    if (style === '') this.writePlain(a.text, split, !!ctx.root)
    else if (style === "'") this.writeSingleQuoted(a.text, split)
    else this.writeDoubleQuoted(a.text, split)
    this.popIndent()
  }

  private writeBreaks(chars: string[]): void {
    if (chars[0] === '\n') this.lineBreak()
    for (const br of chars) this.lineBreak(br)
    this.writeIndent()
  }

  private writePlain(text: string[], split: boolean, root: boolean): void {
    if (root) this.openEnded = true
    if (text.length === 0) return
    if (!this.whitespace) this.write(' ')
    this.whitespace = false
    this.indention = false
    let spaces = false
    let breaks = false
    let start = 0
    for (let end = 0; end <= text.length; end++) {
      const ch = end < text.length ? text[end]! : null
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > this.width && split) {
            this.writeIndent()
            this.whitespace = false
            this.indention = false
          } else {
            this.write(text.slice(start, end).join(''))
          }
          start = end
        }
      } else if (breaks) {
        if (ch === null || !BREAKS.includes(ch)) {
          this.writeBreaks(text.slice(start, end))
          this.whitespace = false
          this.indention = false
          start = end
        }
      } else if (ch === null || ' \n\x85\u2028\u2029'.includes(ch)) {
        this.write(text.slice(start, end).join(''))
        start = end
      }
      if (ch !== null) {
        spaces = ch === ' '
        breaks = BREAKS.includes(ch)
      }
    }
  }

  private writeSingleQuoted(text: string[], split: boolean): void {
    this.writeIndicator("'", true)
    let spaces = false
    let breaks = false
    let start = 0
    for (let end = 0; end <= text.length; end++) {
      const ch = end < text.length ? text[end]! : null
      if (spaces) {
        if (ch === null || ch !== ' ') {
          if (start + 1 === end && this.column > this.width && split && start !== 0 && end !== text.length) this.writeIndent()
          else this.write(text.slice(start, end).join(''))
          start = end
        }
      } else if (breaks) {
        if (ch === null || !BREAKS.includes(ch)) {
          this.writeBreaks(text.slice(start, end))
          start = end
        }
      } else if (ch === null || ' \n\x85\u2028\u2029'.includes(ch) || ch === "'") {
        if (start < end) {
          this.write(text.slice(start, end).join(''))
          start = end
        }
      }
      if (ch === "'") {
        this.write("''")
        start = end + 1
      }
      if (ch !== null) {
        spaces = ch === ' '
        breaks = BREAKS.includes(ch)
      }
    }
    this.writeIndicator("'", false)
  }

  private writeDoubleQuoted(text: string[], split: boolean): void {
    this.writeIndicator('"', true)
    let start = 0
    for (let end = 0; end <= text.length; end++) {
      const ch = end < text.length ? text[end]! : null
      const cp = ch === null ? 0 : ch.codePointAt(0)!
      if (
        ch === null ||
        '"\\\x85\u2028\u2029\ufeff'.includes(ch) ||
        !(inRange(cp, 0x20, 0x7e) || inRange(cp, 0xa0, 0xd7ff) || inRange(cp, 0xe000, 0xfffd))
      ) {
        if (start < end) {
          this.write(text.slice(start, end).join(''))
          start = end
        }
        if (ch !== null) {
          const esc = ESCAPES[ch]
          const hex = cp.toString(16).toUpperCase()
          const data = esc !== undefined ? '\\' + esc : cp <= 0xff ? '\\x' + hex.padStart(2, '0') : cp <= 0xffff ? '\\u' + hex.padStart(4, '0') : '\\U' + hex.padStart(8, '0')
          this.write(data)
          start = end + 1
        }
      }
      if (end > 0 && end < text.length - 1 && (ch === ' ' || start >= end) && this.column + (end - start) > this.width && split) {
        const data = text.slice(start, end).join('') + '\\'
        if (start < end) start = end
        this.write(data)
        this.writeIndent()
        this.whitespace = false
        this.indention = false
        if (text[start] === ' ') this.write('\\')
      }
    }
    this.writeIndicator('"', false)
  }
}

/**
 * PyYAML's `safe_dump(v, default_flow_style=flow, allow_unicode=True, width=200)`, the text
 * patronictl's format_config_for_editing returns (ends with a newline).
 */
export function pyYamlDump(v: PyValue, opts: {flow?: boolean; width?: number} = {}): string {
  const width = opts.width !== undefined && opts.width > 4 ? opts.width : 200
  return new Emitter(width, opts.flow ?? false).document(v)
}
