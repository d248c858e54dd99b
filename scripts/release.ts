/**
 * npm run release [-- options]: builds every artifact the release file declares into its
 * `dist` directory (dist/release). See README "Install and release".
 *
 *   --config FILE     release file (default .goreleaser-like-release.yml)
 *   --out DIR         write here instead (must be empty or absent)
 *   --targets a,b     only these build ids (default: all)
 *   --skip-before     do not run the before hooks (use the executable already built)
 *   --check           validate the release file and exit
 *   --json            print the result as JSON on stdout
 */
import {resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {formatIssues, ConfigError} from '../src/config/issues'
import {loadReleaseConfig, RELEASE_FILE} from './release/config'
import {release} from './release/pipeline'
import {ReleaseError} from './release/run'

async function main(): Promise<number> {
  const root = resolve(__dirname, '..')
  let values
  try {
    ;({values} = parseArgs({
      options: {
        config: {type: 'string'},
        out: {type: 'string'},
        targets: {type: 'string'},
        'skip-before': {type: 'boolean', default: false},
        check: {type: 'boolean', default: false},
        json: {type: 'boolean', default: false},
      },
      strict: true,
    }))
  } catch (e) {
    process.stderr.write(`release: ${(e as Error).message}\n`)
    return 2
  }
  const file = resolve(values.config ?? resolve(root, RELEASE_FILE))
  try {
    const {config, warnings} = loadReleaseConfig(file, root)
    if (warnings.length > 0) process.stderr.write(formatIssues(warnings) + '\n')
    if (values.check) {
      process.stdout.write(`release file OK: ${file}\n`)
      return 0
    }
    const result = await release(config, {
      root,
      out: values.out === undefined ? undefined : resolve(values.out),
      targets: values.targets?.split(',').map((t) => t.trim()).filter((t) => t !== ''),
      skipBefore: values['skip-before'],
    })
    if (values.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    } else {
      for (const e of result.executables) process.stdout.write(`executable ${e.build}: ${e.size} bytes sha256 ${e.sha256}\n`)
      for (const a of result.artifacts) process.stdout.write(`${a.file}: ${a.size} bytes sha256 ${a.sha256}\n`)
      process.stdout.write(`release ${result.version} (commit ${result.commit}, SOURCE_DATE_EPOCH=${result.epoch}) in ${result.outDir}\n`)
    }
    return 0
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`release: invalid release file ${file}:\n${formatIssues(e.issues)}\n`)
      return 1
    }
    if (e instanceof ReleaseError) {
      process.stderr.write(`release: ${e.message}\n`)
      return 1
    }
    throw e
  }
}

main().then((code) => {
  process.exitCode = code
})
