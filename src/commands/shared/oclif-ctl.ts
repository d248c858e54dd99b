/**
 * Turns a CommandSpec (ctl-specs.ts) into an oclif command class: oclif uses it for help
 * (`hactl list --help`, `hactl help list`), and its run() hands the words to the same runner
 * as the fast path, so there is one parser and one behaviour.
 */
import {Args, Command, Flags, type Interfaces} from '@oclif/core'
import {type CommandSpec, type FlagSpec, withGlobalFlags} from './ctl-specs'

type Letter = NonNullable<Interfaces.OptionFlag<string>['char']>

function oclifFlag(f: FlagSpec): Interfaces.Flag<unknown> {
  const common = {
    char: f.char as Letter | undefined,
    aliases: f.aliases ? [...f.aliases] : undefined,
    description: f.description,
    env: f.env,
    helpLabel: f.shortOnly && f.char !== undefined ? `-${f.char}` : undefined,
  }
  if (f.kind === 'boolean') return Flags.boolean(common) as Interfaces.Flag<unknown>
  if (f.multiple) return Flags.string({...common, multiple: true, helpValue: f.helpValue}) as Interfaces.Flag<unknown>
  return Flags.string({
    ...common,
    options: f.options ? [...f.options] : undefined,
    default: f.default === undefined ? undefined : String(f.default),
    helpValue: f.helpValue,
  }) as Interfaces.Flag<unknown>
}

export function ctlCommand(spec: CommandSpec) {
  const flags: Record<string, Interfaces.Flag<unknown>> = {}
  for (const [name, f] of Object.entries(withGlobalFlags(spec))) flags[name] = oclifFlag(f)
  const args: Record<string, Interfaces.Arg<unknown>> = {}
  for (const a of spec.args) {
    // Help only: run() hands the words to the ctl parser, which enforces `required` (exit 2).
    args[a.name] = Args.string({
      description: a.description,
      required: a.required === true,
      multiple: a.variadic === true,
      options: a.options ? [...a.options] : undefined,
    }) as Interfaces.Arg<unknown>
  }
  return class extends Command {
    static override summary = spec.summary
    static override description = spec.description
    static override examples = spec.examples ? [...spec.examples] : []
    static override flags = flags as Interfaces.FlagInput
    static override args = args as Interfaces.ArgInput

    async run(): Promise<void> {
      const {runCtl} = await import('../../wiring/ctl')
      process.exitCode = await runCtl(spec.id, this.argv)
    }
  }
}
