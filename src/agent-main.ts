import {AgentSignals} from './agent/signals'
import {VERSION} from './build-info'
import {agentUsage} from './commands/shared/agent-spec'

/**
 * `hactl agent [--validate-config] [--strict] [CONFIG]` without the CLI framework: the agent is a
 * long-running process, and oclif with every other command class would stay in its memory for
 * nothing. `hactl agent --help` still goes through oclif (src/commands/agent.ts has the help).
 */
export async function runAgentCli(argv: readonly string[]): Promise<number> {
  // `patroni --version` prints "patroni 3.0.2" and exits, whatever else is on the line.
  if (options(argv).includes('--version')) {
    process.stdout.write(`hactl ${VERSION}\n`)
    return 0
  }
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
  const {ConfigError, formatIssue} = await import('./config/issues')
  const {isHactlError} = await import('./errors')
  try {
    return await runAgent(config, process.env, {strict, signals})
  } catch (e) {
    // Patroni (patroni/daemon.py abstract_main) prints the configuration's problems, then its
    // usage, and exits 1: the same here instead of a stack of the error's fields.
    let code: number
    if (e instanceof ConfigError) {
      for (const i of e.issues) process.stderr.write(formatIssue(i) + '\n')
      code = 1
    } else if (isHactlError(e, 'CONFIG_NOT_FOUND')) {
      process.stderr.write(`Error: ${e.message}\n`)
      for (const h of e.hints) process.stderr.write(`  hint: ${h}\n`)
      code = e.exitCode
    } else throw e
    process.stdout.write(agentUsage())
    return code
  }
}

/** The words before `--`. */
function options(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--')
  return end < 0 ? argv : argv.slice(0, end)
}

function isValidateOnly(argv: readonly string[]): boolean {
  return options(argv).includes('--validate-config')
}
