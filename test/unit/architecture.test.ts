/**
 * The dependency rules of src/, checked on the import statements themselves (a regex over
 * import/export-from/require/import() specifiers, resolved to paths):
 * (a) src/core imports nothing outside src/core (no ports, no node: modules, no packages);
 * (b) only src/adapters and src/wiring import src/adapters: src/wiring is the one composition
 *     root, everything else receives ports;
 * (c) the entry points (src/main.ts, src/cli.ts, src/agent-main.ts, src/commands/) reach the
 *     runners that need real adapters only through src/wiring;
 * (d) nothing but the entry points (and src/wiring itself) imports src/wiring, so no use-case
 *     depends on the composition root.
 * Each failure names the importing file, the import as written and what it resolved to.
 */
import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {describe, test} from 'node:test'

const ROOT = resolve(__dirname, '../..')
const SRC = join(ROOT, 'src')

interface Import {
  /** The importing file, relative to the repository (src/...). */
  file: string
  line: number
  /** As written. */
  spec: string
  /** src/... for files of the project, the specifier itself for packages and node: modules. */
  target: string
  internal: boolean
}

/** Comments out, strings kept (so `'http://x'` and `'/*'` do not start a comment); newlines kept. */
function stripComments(text: string): string {
  return text.replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\[\s\S]|[^`\\])*`|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => {
    if (m.startsWith('/*')) return m.replace(/[^\n]/g, ' ')
    if (m.startsWith('//')) return ''
    return m
  })
}

const PATTERNS = [
  // import x from '...', import {a, type B} from '...', import type X from, export * from, export {a} from
  /^[ \t]*(?:import|export)[ \t]+(?:type[ \t]+)?[\w\s{},*$]*?\bfrom[ \t]*(['"])([^'"\n]+)\1/gm,
  // import '...' (side effects only)
  /^[ \t]*import[ \t]*(['"])([^'"\n]+)\1/gm,
  // require('...'), import('...'), typeof import('...')
  /\b(?:require|import)[ \t]*\([ \t]*(['"])([^'"\n]+)\1[ \t]*\)/g,
]

/** Every module specifier of a TypeScript source, with its line. */
function specifiers(source: string): Array<{spec: string; line: number}> {
  const code = stripComments(source)
  const found = new Map<number, {spec: string; line: number}>()
  for (const re of PATTERNS) {
    for (const m of code.matchAll(re)) {
      const at = m.index! + m[0].lastIndexOf(m[1] + m[2] + m[1])
      // the line where the statement (or the call) starts
      if (!found.has(at)) found.set(at, {spec: m[2], line: code.slice(0, m.index).split('\n').length})
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}

function resolveSpec(fromFile: string, spec: string): {target: string; internal: boolean} {
  if (!spec.startsWith('.')) return {target: spec, internal: false}
  const base = resolve(dirname(fromFile), spec)
  const hit = [`${base}.ts`, join(base, 'index.ts'), base].find((p) => existsSync(p) && statSync(p).isFile())
  return {target: relative(ROOT, hit ?? base).split('\\').join('/'), internal: true}
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return tsFiles(p)
    return e.isFile() && e.name.endsWith('.ts') ? [p] : []
  })
}

function scan(): Import[] {
  return tsFiles(SRC).flatMap((abs) => {
    const file = relative(ROOT, abs).split('\\').join('/')
    return specifiers(readFileSync(abs, 'utf8')).map(({spec, line}) => ({file, line, spec, ...resolveSpec(abs, spec)}))
  })
}

const under = (path: string, dir: string) => path.startsWith(dir + '/')
const isEntry = (file: string) => ['src/main.ts', 'src/cli.ts', 'src/agent-main.ts'].includes(file) || under(file, 'src/commands')
/** The runners that take ports; src/wiring hands them the real ones. */
const RUNNERS = ['src/agent/daemon.ts', 'src/ctl/run.ts', 'src/render/run.ts', 'src/vip/run.ts']

const describeImport = (i: Import) => `${i.file}:${i.line} imports '${i.spec}'${i.internal ? ` (${i.target})` : ''}`

function violations(imports: Import[], broken: (i: Import) => boolean): string {
  return imports.filter(broken).map(describeImport).join('\n')
}

describe('the import scanner', () => {
  test('finds every form of import, and none in comments', () => {
    const source = [
      "import {a, type B} from './one'",
      "import type {C} from '../two'",
      'import {',
      '  d,',
      '  e as f,',
      "} from './three'",
      "import * as ns from 'node:fs'",
      "import './side-effect'",
      "export * from './four'",
      "export {g, type H} from './five'",
      "const six = require('./six') as typeof import('./seven')",
      "const eight = await import('./eight')",
      "const url = 'http://example.com' // import x from './not-this'",
      "/* import y from './nor-this' */",
      " * import z from './nor-that'",
      "export function secondsBetween(from: number, to: number): number {",
      "  return to - from",
      '}',
      "const s = '/*'",
      "import {i} from './nine'",
      "const t = `${s}//`",
      "import {j} from './ten'",
    ].join('\n')
    assert.deepEqual(
      specifiers(source).map((s) => s.spec),
      ['./one', '../two', './three', 'node:fs', './side-effect', './four', './five', './six', './seven', './eight', './nine', './ten'],
    )
    assert.equal(specifiers(source).find((s) => s.spec === './three')?.line, 3)
  })

  test('resolves the imports of src/', () => {
    const all = scan()
    assert.ok(new Set(all.map((i) => i.file)).size > 100, 'every .ts under src/ is read')
    assert.ok(all.some((i) => i.file === 'src/wiring/agent.ts' && i.target === 'src/adapters/postgres/index.ts'), 'directory imports resolve to index.ts')
    assert.ok(all.some((i) => i.file === 'src/cli.ts' && i.target === 'src/wiring/ctl.ts'), 'dynamic imports count')
  })
})

describe('architecture', () => {
  const imports = scan()

  test('(a) src/core imports nothing outside src/core', () => {
    const bad = violations(imports, (i) => under(i.file, 'src/core') && !(i.internal && under(i.target, 'src/core')))
    assert.equal(bad, '', `src/core must stay pure (only src/core):\n${bad}`)
  })

  test('(b) only src/adapters and src/wiring import src/adapters', () => {
    const bad = violations(imports, (i) => i.internal && under(i.target, 'src/adapters') && !under(i.file, 'src/adapters') && !under(i.file, 'src/wiring'))
    assert.equal(bad, '', `build adapters in src/wiring and pass ports; move pure helpers out of src/adapters:\n${bad}`)
  })

  test('(c) entry points reach the runners through src/wiring', () => {
    const bad = violations(imports, (i) => isEntry(i.file) && i.internal && RUNNERS.includes(i.target))
    assert.equal(bad, '', `import the runner from src/wiring instead:\n${bad}`)
  })

  test('(d) only entry points import src/wiring', () => {
    const bad = violations(imports, (i) => i.internal && under(i.target, 'src/wiring') && !under(i.file, 'src/wiring') && !isEntry(i.file))
    assert.equal(bad, '', `use-cases receive ports; they must not depend on the composition root:\n${bad}`)
  })
})
