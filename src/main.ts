import {Config, flush, handle, Interfaces, Plugin, run} from '@oclif/core'
import {helpAddition} from '@oclif/core/run'
import {dirname} from 'node:path'
import pjson from '../package.json'
import {COMMANDS} from './commands'
import {HactlHelp} from './commands/shared/help-class'
import {HactlError} from './errors'

/**
 * Boots oclif with the command classes in memory. oclif's `explicit` strategy would otherwise look
 * for package.json on disk and require() the commands file, which a SEA cannot do
 * (docs/architecture.md#oclif-in-a-single-executable). `commandCache` is a private field of
 * @oclif/core's Plugin: the version is pinned exactly and CI runs `dist/hactl --help` on the built
 * binary.
 */
export async function main(argv: string[]): Promise<void> {
  const root = dirname(process.execPath === __filename ? process.execPath : __filename)
  const pj = pjson as unknown as Interfaces.PJSON
  const plugin = new Plugin({root, pjson: pj, isRoot: true, ignoreManifest: true})
  ;(plugin as unknown as {commandCache: unknown}).commandCache = COMMANDS
  await plugin.load()
  const config = await Config.load({root, pjson: pj, plugins: new Map([[plugin.name, plugin]])})
  // Every help through hactl's help class; also `hactl haproxy` (a topic, not a command).
  const topicOnly = argv.length === 1 && config.findCommand(argv[0]) === undefined && config.findTopic(argv[0]) !== undefined
  if (helpAddition(argv, config) || topicOnly) {
    await new HactlHelp(config, pj.oclif.helpOptions).showHelp(argv)
    await flush()
    return
  }
  await run(argv, config)
  await flush()
}

/** The one place a failure that escaped a command becomes text and an exit code. */
export async function reportFatal(error: unknown): Promise<void> {
  await flush()
  if (error instanceof HactlError) {
    process.stderr.write(`Error: ${error.message}\n`)
    for (const hint of error.hints) process.stderr.write(`  hint: ${hint}\n`)
    process.exitCode = error.exitCode
    return
  }
  await handle(error as Error)
}
