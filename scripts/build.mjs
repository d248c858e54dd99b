// Bundles src/cli.ts into one CommonJS file for the single executable (toolchain-notes 1).
import {build} from 'esbuild'
import {execFileSync} from 'node:child_process'
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
  define: {__HACTL_COMMIT__: JSON.stringify(commit()), __HACTL_BUILD_DATE__: JSON.stringify(commitDate())},
  logLevel: 'warning',
  // import() becomes require(): the lazy chunks run through vm.compileFunction, which has no
  // dynamic-import callback ("A dynamic import callback was not specified"), so an `await
  // import('node:http')` left as is fails there at run time, and only in the executable.
  supported: {'dynamic-import': false},
}

// V8 pre-parses every function of a script before running it (~4 ms per 100 KB here). Code the
// fast read commands (`hactl list`, src/ctl) do not need is bundled apart and embedded as a
// string, compiled only on first use: oclif and the command classes (src/main.ts, reached by
// `import('./main')`), and the `yaml` package (the config reader's fallback, src/config/fast-yaml.ts).
// Same text every build.
const compileCjs = (code) =>
  `require('node:vm').compileFunction(${JSON.stringify(code)}, ['exports', 'require', 'module', '__filename', '__dirname'], {filename: __filename})`
const cold = await build({...common, entryPoints: ['src/main.ts'], write: false, outfile: 'dist/hactl-main.js'})
// The agent (`hactl agent`) runs without oclif: its own chunk, also compiled only when used.
const agentChunk = await build({...common, entryPoints: ['src/agent-main.ts'], write: false, outfile: 'dist/hactl-agent.js'})
const yamlChunk = await build({...common, stdin: {contents: "module.exports = require('yaml')", resolveDir: '.'}, write: false, outfile: 'dist/yaml.js'})
const yamlNames = Object.keys(createRequire(import.meta.url)('yaml'))
const lazyChunks = {
  name: 'lazy-chunks',
  setup(b) {
    b.onResolve({filter: /^\.\/main$/}, (args) => (args.importer.endsWith('src/cli.ts') ? {path: 'main', namespace: 'lazy'} : undefined))
    b.onResolve({filter: /^\.\/agent-main$/}, (args) => (args.importer.endsWith('src/cli.ts') ? {path: 'agent', namespace: 'lazy'} : undefined))
    b.onResolve({filter: /^yaml$/}, () => ({path: 'yaml', namespace: 'lazy'}))
    b.onLoad({filter: /^agent$/, namespace: 'lazy'}, () => ({
      loader: 'js',
      contents: `${compileCjs(agentChunk.outputFiles[0].text)}(exports, require, module, __filename, __dirname)`,
    }))
    b.onLoad({filter: /^main$/, namespace: 'lazy'}, () => ({
      loader: 'js',
      contents: `${compileCjs(cold.outputFiles[0].text)}(exports, require, module, __filename, __dirname)`,
    }))
    b.onLoad({filter: /^yaml$/, namespace: 'lazy'}, () => ({
      loader: 'js',
      contents: `let loaded
const load = () => {
  if (!loaded) {
    const m = {exports: {}}
    ${compileCjs(yamlChunk.outputFiles[0].text)}(m.exports, require, m, __filename, __dirname)
    loaded = m.exports
  }
  return loaded
}
for (const name of ${JSON.stringify(yamlNames)}) Object.defineProperty(exports, name, {enumerable: true, get: () => load()[name]})`,
    }))
  },
}

await build({
  ...common,
  plugins: [lazyChunks],
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/hactl.js',
})
