import {Command, loadHelpClass} from '@oclif/core'

/**
 * `hactl help [COMMAND]`: oclif's help without @oclif/plugin-help
 * (docs/architecture.md#oclif-in-a-single-executable).
 */
export default class Help extends Command {
  static override description = 'Display help for hactl.'
  static override strict = false
  static override args = {}

  async run(): Promise<void> {
    const {argv} = await this.parse(Help)
    const HelpClass = await loadHelpClass(this.config)
    await new HelpClass(this.config, this.config.pjson.oclif.helpOptions).showHelp(argv as string[])
  }
}
