import {Config, Interfaces, Plugin, run} from '@oclif/core'
import {dirname} from 'node:path'
import pjson from '../package.json'
import {versionLine} from './build-info'
import {COMMANDS} from './commands'

/**
 * Boots oclif with the command classes in memory. oclif's `explicit` strategy would otherwise
 * look for package.json on disk and require() the commands file, which a SEA cannot do
 * (toolchain-notes 1). `commandCache` is a private field of @oclif/core's Plugin: the version
 * is pinned exactly and CI runs `dist/hactl --help` on the built binary.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(versionLine() + '\n')
    return
  }
  const root = dirname(process.execPath === __filename ? process.execPath : __filename)
  const pj = pjson as unknown as Interfaces.PJSON
  const plugin = new Plugin({root, pjson: pj, isRoot: true, ignoreManifest: true})
  ;(plugin as unknown as {commandCache: unknown}).commandCache = COMMANDS
  await plugin.load()
  const config = await Config.load({root, pjson: pj, plugins: new Map([[plugin.name, plugin]])})
  await run(argv, config)
}
