// Bundles src/cli.ts into one CommonJS file for the single executable (toolchain-notes 1).
import {build} from 'esbuild'
import {execFileSync} from 'node:child_process'

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

await build({
  entryPoints: ['src/cli.ts'],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  outfile: 'dist/hactl.js',
  // typescript: oclif's dev-mode tsconfig reader requires it lazily; never reached in a bundle.
  // pg-native: optional native addon of pg; never bundled.
  external: ['pg-native', 'typescript', 'ts-node'],
  keepNames: true,
  minify: process.env.HACTL_MINIFY !== '0',
  legalComments: 'none',
  // oclif's index.js require()s its own package.json for an engines check unless this is set;
  // a SEA's require() only loads built-ins, so the check would warn on every run.
  banner: {js: 'process.env.OCLIF_DISABLE_ENGINE_WARNING ??= "1";'},
  define: {__HACTL_COMMIT__: JSON.stringify(commit())},
  logLevel: 'warning',
})
