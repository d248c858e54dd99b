/**
 * hactl's help on oclif's: the root help lists every command (`haproxy render` too, not a
 * `haproxy` topic), the global options with their environment variables and the environment.
 * src/main.ts shows every help through it (oclif's loadHelpClass would require() a file, which
 * the single executable cannot: docs/architecture.md#oclif-in-a-single-executable).
 */
import {Help} from '@oclif/core'
import {ENVIRONMENT, GLOBAL_OPTIONS} from './root-doc'

export class HactlHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    const bin = this.config.bin
    const description = this.config.pjson.description ?? ''
    const commands = this.sortedCommands.filter((c) => !c.hidden).map((c): [string, string | undefined] => [c.id.replaceAll(':', ' '), this.summary(c)])
    const options = GLOBAL_OPTIONS.map((o): [string, string] => [o.label, o.env ? `[env: ${o.env}] ${o.description}` : o.description])
    const env = ENVIRONMENT.map((e): [string, string] => [e.name, e.description])
    const list = (rows: [string, string | undefined][]) => this.renderList(rows, {indentation: 2, spacer: '\n', stripAnsi: this.opts.stripAnsi})
    const out = [
      this.wrap(description),
      this.section('VERSION', this.config.userAgent),
      this.section('USAGE', [`$ ${bin} [-c FILE] [-d URL] [-k] COMMAND [ARGS]...`, `$ ${bin} COMMAND --help`].join('\n')),
      this.section('COMMANDS', list(commands)),
      this.section('GLOBAL OPTIONS', list(options)),
      this.section('ENVIRONMENT', list(env)),
      this.section('SEE ALSO', this.wrap(`man ${bin}, man ${bin}-COMMAND (e.g. man ${bin}-list); ${bin} help COMMAND`)),
    ]
    this.log(out.join('\n\n') + '\n')
  }
}
