/**
 * `hactl agent`'s options as plain data. Two consumers: the oclif command class (help, man page,
 * completion) and the parser of src/agent-main.ts, which runs without oclif and prints the usage
 * from here when it cannot start (as `patroni` prints its argparse help). Keep this file free of
 * imports: the agent loads it on every start.
 */

export interface AgentFlagSpec {
  readonly description: string
}

export const AGENT_SPEC = {
  id: 'agent',
  summary: 'Run the Patroni-compatible HA agent for one PostgreSQL node.',
  description: [
    "Reads Patroni's YAML configuration (a file, or a directory whose *.yml files are merged in order), or, without CONFIG, the PATRONI_CONFIGURATION environment variable or PATRONI_* variables alone, then runs the HA loop until SIGTERM or SIGINT. SIGHUP reloads the configuration.",
    'Dynamic values Patroni adjusts with a warning (ttl, loop_wait and retry_timeout under their minimums or breaking loop_wait + 2*retry_timeout <= ttl, permanent slots it skips) are adjusted the same way and logged; --strict refuses them instead.',
    'With --validate-config it checks the configuration and exits: 0 valid, 1 invalid, 2 when CONFIG cannot be read. Without a usable configuration the agent prints the problems and its usage and exits 1 (2 when CONFIG cannot be read), as patroni does.',
  ].join('\n\n'),
  examples: [
    '<%= config.bin %> agent /etc/patroni/config.yml',
    '<%= config.bin %> agent --validate-config /etc/patroni/config.yml',
    '<%= config.bin %> agent --validate-config --strict /etc/patroni/config.yml',
  ],
  arg: {name: 'config', description: 'Patroni YAML configuration file or directory (default: PATRONI_CONFIGURATION, else PATRONI_* variables)'},
  flags: {
    'validate-config': {description: 'Validate the configuration and exit (0 when valid)'},
    strict: {description: 'Refuse dynamic values Patroni would adjust (timing, permanent slots) instead of adjusting them with a warning'},
    version: {description: 'Print "hactl VERSION" and exit, as patroni --version does'},
  } satisfies Record<string, AgentFlagSpec>,
} as const

/** What `hactl agent` prints when it cannot start, in the shape of patroni's argparse help. */
export function agentUsage(bin = 'hactl'): string {
  const width = Math.max(...Object.keys(AGENT_SPEC.flags).map((n) => n.length + 2), 'CONFIG'.length, '--help'.length) + 2
  const row = (left: string, right: string) => `  ${left.padEnd(width)}${right}\n`
  let out = `usage: ${bin} agent [--help] [--version] [--validate-config] [--strict] [CONFIG]\n\n`
  out += 'arguments:\n' + row('CONFIG', AGENT_SPEC.arg.description)
  out += '\noptions:\n' + row('--help', 'Show the full help and exit')
  for (const [name, f] of Object.entries(AGENT_SPEC.flags)) out += row(`--${name}`, f.description)
  return out
}
