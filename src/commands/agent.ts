import {Args, Command, Flags} from '@oclif/core'
import {AGENT_SPEC} from './shared/agent-spec'

/** `hactl agent`: runs through src/agent-main.ts without oclif; this class serves help, man page and completion. */
export default class Agent extends Command {
  static override summary = AGENT_SPEC.summary
  static override description = AGENT_SPEC.description
  static override examples = [...AGENT_SPEC.examples]
  static override args = {
    [AGENT_SPEC.arg.name]: Args.string({description: AGENT_SPEC.arg.description, required: false}),
  }
  static override flags = {
    'validate-config': Flags.boolean({description: AGENT_SPEC.flags['validate-config'].description, default: false}),
    strict: Flags.boolean({description: AGENT_SPEC.flags.strict.description, default: false}),
    version: Flags.boolean({description: AGENT_SPEC.flags.version.description}),
  }

  async run(): Promise<void> {
    const {runAgentCli} = await import('../agent-main')
    process.exitCode = await runAgentCli(this.argv)
  }
}
