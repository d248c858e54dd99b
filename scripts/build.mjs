// Bundles src/cli.ts into one CommonJS file for the single executable (docs/architecture.md#single-executable).
import {build} from 'esbuild'
import {execFileSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'

// The date of the commit, not of the build, so that builds stay byte-for-byte reproducible.
function commitDate() {
  if (process.env.SOURCE_DATE_EPOCH) return new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString()
  try {
    return new Date(execFileSync('git', ['log', '-1', '--format=%cI'], {encoding: 'utf8'}).trim()).toISOString()
  } catch {
    return 'unknown'
  }
}

function commit() {
  if (process.env.HACTL_COMMIT) return process.env.HACTL_COMMIT
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {encoding: 'utf8'}).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {encoding: 'utf8'}).trim()
    return dirty ? `${sha}-dirty` : sha
  } catch {
    return 'unknown'
  }
}

// templates/ as {relative path: text}, for src/templates.ts: the executable reads no file beside
// itself. templates/etc/ holds the packages' sample files, which the code never reads.
function templates() {
  const out = {}
  for (const e of readdirSync('templates', {recursive: true, withFileTypes: true})) {
    const rel = `${e.parentPath.slice('templates'.length + 1)}${e.parentPath === 'templates' ? '' : '/'}${e.name}`
    if (e.isFile() && !rel.startsWith('etc/')) out[rel] = readFileSync(`${e.parentPath}/${e.name}`, 'utf8')
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)))
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  // typescript: oclif's dev-mode tsconfig reader requires it lazily; never reached in a bundle.
  // pg-native: optional native addon of pg; never bundled.
  external: ['pg-native', 'typescript', 'ts-node'],
  keepNames: true,
  minify: process.env.HACTL_MINIFY !== '0',
  legalComments: 'none',
  // oclif's index.js require()s its own package.json for an engines check unless this is set;
  // a SEA's require() only loads built-ins, so the check would warn on every run.
  banner: {js: 'process.env.OCLIF_DISABLE_ENGINE_WARNING ??= "1";'},
  define: {__HACTL_COMMIT__: JSON.stringify(commit()), __HACTL_BUILD_DATE__: JSON.stringify(commitDate()), __HACTL_TEMPLATES__: JSON.stringify(templates())},
  logLevel: 'warning',
  // The inputs tell which npm packages end up in the executable (their licences: scripts/release/licenses.ts).
  metafile: true,
  // import() becomes require(): the lazy chunks run through vm.compileFunction, which has no
  // dynamic-import callback ("A dynamic import callback was not specified"), so an `await
  // import('node:http')` left as is fails there at run time, and only in the executable.
  supported: {'dynamic-import': false},
}

// V8 pre-parses every function of a script before running it (~4 ms per 100 KB here), and keeps
// the whole source of a script in memory for as long as the process lives. The entry script is
// only the dispatch of src/cli.ts; each way it goes is a chunk: the fast read commands
// (`hactl list`, src/wiring/ctl.ts, reached by `import('./wiring/ctl')`), oclif and the command
// classes (src/main.ts, `import('./main')`), the agent (`import('./agent-main')`: a daemon that
// should carry neither oclif's source nor the read commands' for weeks) and the `yaml` package
// (the config reader's fallback, src/config/fast-yaml.ts). In the executable each chunk is a SEA
// asset, read from the binary's mapping and compiled only when used; beside dist/hactl.js they
// are files in dist/chunks/. Same text every build.
//
// The chunks the short commands run (CODE_CACHED) also carry V8's code cache, made below by the
// same Node binary: their top-level code then loads as bytecode instead of being parsed (ctl:
// ~14 ms -> ~3 ms here). V8 accepts a cache only under the flags it was made with, and the short
// commands run with none (the daemons' flags: src/daemon-start.ts), so the agent's chunk has none.
// V8 checks a cache against the source's length only: the cache and the chunk come from one
// build, in one executable. HACTL_CODE_CACHE_REPORT=1 makes the loader say on stderr whether
// V8 took each cache (test/e2e/binary.test.ts).
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {'
const WRAP_TAIL = '\n})'
const CODE_CACHED = ['ctl', 'main', 'yaml']
// The loader is an expression that starts with `;`, so that it never continues the statement
// written before it (the lazy yaml module below puts it after an object literal).
const loadChunk = (name) => {
  const cached = CODE_CACHED.includes(name)
  return `;(() => {
  const sea = require('node:sea'), vm = require('node:vm')
  let src, cache
  if (sea.isSea()) {
    src = Buffer.from(sea.getRawAsset(${JSON.stringify(name)})).toString('latin1')
    ${cached ? `cache = Buffer.from(sea.getRawAsset(${JSON.stringify(name + '.cache')}))` : ''}
  } else {
    const fs = require('node:fs'), dir = require('node:path').join(__dirname, 'chunks')
    src = fs.readFileSync(dir + ${JSON.stringify('/' + name + '.js')}, 'latin1')
    ${cached ? `try { cache = fs.readFileSync(dir + ${JSON.stringify('/' + name + '.cache')}) } catch {}` : ''}
  }
  const script = new vm.Script(src, {filename: __filename + ${JSON.stringify('#' + name)}, cachedData: cache})
  if (process.env.HACTL_CODE_CACHE_REPORT === '1') process.stderr.write(${JSON.stringify('hactl: code cache of chunk ' + name + ': ')} + (cache === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted') + '\\n')
  return script.runInThisContext()
})()`
}
// esbuild escapes every non-ASCII character (charset ascii), so latin1 decodes a chunk exactly
// and V8 keeps it as a one-byte string.
const chunkOptions = {...common, charset: 'ascii', write: false}
// The agent's chunk keeps the source's own names instead of minified ones, and so needs no
// keepNames: keepNames calls a helper that defines each function's name every time a named
// closure is created, which an idle agent did in every HA cycle (a member key read, a deadline,
// the executor's context). Two 3-member clusters side by side, idle replicas over 180 s:
// 0.084-0.093 s/min of CPU against 0.094-0.101, and 15.0-15.4 MB of private memory against
// 15.2-16.5, for 96 KB more source (bench/README.md). Stack traces in the agent's log name the
// functions as before.
const agentNaming = process.env.HACTL_MINIFY === '0' ? {keepNames: false} : {keepNames: false, minify: false, minifySyntax: true, minifyWhitespace: true}
const yamlNames = Object.keys(createRequire(import.meta.url)('yaml'))
// `yaml` (117 KB) is bundled once, as its own chunk, and loaded on first use: the agent reads
// Patroni's YAML with src/config/fast-yaml.ts, so an idle agent never needs the full parser, and
// carrying it (its source and the classes its module body defines) cost ~1 MB of private memory
// per agent (bench/README.md). Used by the entry and by the main and agent chunks.
const lazyYaml = {
  name: 'lazy-yaml',
  setup(b) {
    b.onResolve({filter: /^yaml$/}, () => ({path: 'yaml', namespace: 'lazy'}))
    b.onLoad({filter: /^yaml$/, namespace: 'lazy'}, () => ({
      loader: 'js',
      // One copy per process, whichever bundle asks first (the entry or a chunk).
      contents: `const key = Symbol.for('hactl.chunk.yaml')
const load = () => {
  if (!globalThis[key]) {
    const m = {exports: {}};
    ${loadChunk('yaml')}(m.exports, require, m, __filename, __dirname)
    globalThis[key] = m.exports
  }
  return globalThis[key]
}
for (const name of ${JSON.stringify(yamlNames)}) Object.defineProperty(exports, name, {enumerable: true, get: () => load()[name]})`,
    }))
  },
}
// pg's crypto helpers (pg/lib/crypto/utils.js) load node:crypto and its WebCrypto when pg is
// required: ~1.3 MB of private memory in every agent, even one that never hashes a password
// (Debian's configuration connects over the Unix socket without one). src/adapters/postgres/pg-crypto.ts
// has the same exports and loads node:crypto on first use (test/unit/postgres/pg-crypto.test.ts).
const lazyPgCrypto = {
  name: 'lazy-pg-crypto',
  setup(b) {
    const replacement = createRequire(import.meta.url).resolve('../src/adapters/postgres/pg-crypto.ts')
    b.onResolve({filter: /^\.\/(crypto\/)?utils$/}, (args) =>
      /[/\\]node_modules[/\\]pg[/\\]lib[/\\](client\.js|crypto[/\\]sasl\.js)$/.test(args.importer) ? {path: replacement} : undefined,
    )
  },
}
const chunks = {
  main: await build({...chunkOptions, plugins: [lazyYaml, lazyPgCrypto], entryPoints: ['src/main.ts'], outfile: 'dist/chunks/main.js'}),
  agent: await build({...chunkOptions, ...agentNaming, plugins: [lazyYaml, lazyPgCrypto], entryPoints: ['src/agent-main.ts'], outfile: 'dist/chunks/agent.js'}),
  ctl: await build({...chunkOptions, plugins: [lazyYaml, lazyPgCrypto], entryPoints: ['src/wiring/ctl.ts'], outfile: 'dist/chunks/ctl.js'}),
  yaml: await build({...chunkOptions, stdin: {contents: "module.exports = require('yaml')", resolveDir: '.'}, outfile: 'dist/chunks/yaml.js'}),
}
rmSync('dist/chunks', {recursive: true, force: true})
mkdirSync('dist/chunks', {recursive: true})
// Each chunk is written as the function expression the loader compiles: no concatenation (and copy) at run time.
for (const [name, r] of Object.entries(chunks)) writeFileSync(`dist/chunks/${name}.js`, WRAP_HEAD + r.outputFiles[0].text + WRAP_TAIL)
// The code caches of CODE_CACHED, made by this same Node (build.sh runs this script with the pinned
// binary it injects into) under the short commands' flags. --predictable makes V8 write the same
// bytes every build (scripts/repro-check.sh), and V8 takes such a cache in a process without it.
const makeCache = `const vm = require('node:vm'), fs = require('node:fs')
for (const n of process.argv.slice(1)) {
  const src = fs.readFileSync('dist/chunks/' + n + '.js', 'latin1')
  fs.writeFileSync('dist/chunks/' + n + '.cache', new vm.Script(src, {filename: n}).createCachedData())
}`
execFileSync(process.execPath, ['--predictable', '-e', makeCache, ...CODE_CACHED], {stdio: 'inherit'})
const lazyChunks = {
  name: 'lazy-chunks',
  setup(b) {
    b.onResolve({filter: /^\.\/main$/}, (args) => (args.importer.endsWith('src/cli.ts') ? {path: 'main', namespace: 'lazy'} : undefined))
    b.onResolve({filter: /^\.\/agent-main$/}, (args) => (args.importer.endsWith('src/cli.ts') ? {path: 'agent', namespace: 'lazy'} : undefined))
    b.onResolve({filter: /^\.\/wiring\/ctl$/}, (args) => (args.importer.endsWith('src/cli.ts') ? {path: 'ctl', namespace: 'lazy'} : undefined))
    b.onLoad({filter: /^(agent|main|ctl)$/, namespace: 'lazy'}, (args) => ({
      loader: 'js',
      contents: `${loadChunk(args.path)}(exports, require, module, __filename, __dirname)`,
    }))
  },
}

const entry = await build({
  ...common,
  plugins: [lazyChunks, lazyYaml, lazyPgCrypto],
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/hactl.js',
})
// Every node_modules file bundled into the entry script or a chunk, for the packages' copyright files.
const bundled = new Set()
for (const r of [entry, ...Object.values(chunks)]) for (const f of Object.keys(r.metafile.inputs)) if (f.includes('node_modules/')) bundled.add(f)
writeFileSync('dist/bundle-inputs.json', JSON.stringify([...bundled].sort(), null, 1) + '\n')
