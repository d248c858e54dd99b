import {Args, Command, Flags} from '@oclif/core'

export default class Agent extends Command {
  static override summary = 'Run the Patroni-compatible HA agent for one PostgreSQL node.'
  static override description = `Reads Patroni's YAML configuration (a file or a directory of *.yml files, merged in order)
and PATRONI_* environment overrides, then runs the HA loop until SIGTERM/SIGINT. With --validate-config it
checks the configuration and exits. Dynamic values Patroni adjusts with a warning (ttl, loop_wait and
retry_timeout under their minimums or breaking loop_wait + 2*retry_timeout <= ttl, permanent slots it
skips) are adjusted the same way and logged; --strict refuses them instead.`
  static override examples = [
    '<%= config.bin %> agent /etc/patroni/config.yml',
    '<%= config.bin %> agent --validate-config /etc/patroni/config.yml',
    '<%= config.bin %> agent --validate-config --strict /etc/patroni/config.yml',
  ]
  static override args = {
    config: Args.string({description: 'Patroni YAML configuration file or directory', required: false}),
  }
  static override flags = {
    'validate-config': Flags.boolean({description: 'validate the configuration and exit (0 when valid)', default: false}),
    strict: Flags.boolean({
      description: 'refuse dynamic values Patroni would adjust (timing, permanent slots) instead of adjusting them with a warning',
      default: false,
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Agent)
    const {runValidateConfig} = await import('../config/validate-command')
    if (flags['validate-config']) {
      process.exitCode = runValidateConfig(args.config, process.env, {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
      }, {strict: flags.strict})
      return
    }
    const {runAgent} = await import('../wiring/agent')
    process.exitCode = await runAgent(args.config, process.env, {strict: flags.strict})
  }
}
