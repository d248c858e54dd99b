import {AgentSignals} from './agent/signals'

/**
 * `hactl agent [--validate-config] [--strict] [CONFIG]` without the CLI framework: the agent is a
 * long-running process, and oclif with every other command class would stay in its memory for
 * nothing. `hactl agent --help` still goes through oclif (src/commands/agent.ts has the help).
 */
export async function runAgentCli(argv: readonly string[]): Promise<number> {
  // Before anything else (even the argument parsing and the imports below): a SIGHUP that
  // systemd sends right after the start must not kill the agent (SIGHUP's default action).
  const signals = isValidateOnly(argv) ? undefined : new AgentSignals()
  let validate = false
  let strict = false
  const positional: string[] = []
  let flagsDone = false
  for (const a of argv) {
    if (!flagsDone && a === '--') flagsDone = true
    else if (!flagsDone && a === '--validate-config') validate = true
    else if (!flagsDone && a === '--strict') strict = true
    else if (!flagsDone && a.startsWith('-') && a !== '-') {
      process.stderr.write(`Error: Nonexistent flag: ${a}\nSee more help with --help\n`)
      signals?.dispose()
      return 2
    } else positional.push(a)
  }
  if (positional.length > 1) {
    process.stderr.write(`Error: Unexpected argument: ${positional[1]}\nSee more help with --help\n`)
    signals?.dispose()
    return 2
  }
  const config = positional[0]
  if (validate) {
    const {runValidateConfig} = await import('./config/validate-command')
    return runValidateConfig(config, process.env, {out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s)}, {strict})
  }
  const {runAgent} = await import('./wiring/agent')
  return runAgent(config, process.env, {strict, signals})
}

function isValidateOnly(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end < 0 ? argv : argv.slice(0, end)).includes('--validate-config')
}
