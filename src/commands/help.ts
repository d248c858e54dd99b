import {Command} from '@oclif/core'
import {HactlHelp} from './shared/help-class'

/**
 * `hactl help [COMMAND]`: hactl's help class without @oclif/plugin-help
 * (docs/architecture.md#oclif-in-a-single-executable).
 */
export default class Help extends Command {
  static override summary = 'Display help for hactl or one of its commands.'
  static override strict = false
  static override args = {}
  static override examples = ['<%= config.bin %> help list', '<%= config.bin %> help haproxy render']

  async run(): Promise<void> {
    const {argv} = await this.parse(Help)
    await new HactlHelp(this.config, this.config.pjson.oclif.helpOptions).showHelp(argv as string[])
  }
}
