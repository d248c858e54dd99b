// Entry point of the executable. Keep this file's static imports tiny: everything heavy
// (oclif, command modules) is loaded lazily so that fast paths start in a few milliseconds.
import {versionLine} from './build-info'
import {FAST_CTL_SPECS} from './commands/shared/ctl-specs'
import {hoistGlobalFlags} from './ctl/argv'
import {startAsDaemon} from './daemon-start'

async function entry(argv: string[]): Promise<void> {
  // Installed as `vip-manager`: behave as `hactl vip` (vip-manager reads --version only first).
  if (/(^|\/)vip-manager$/.test(process.argv0)) {
    if (argv[0] === '--version') return void process.stdout.write((await import('./vip/version')).vipVersionText())
    argv = ['vip', ...argv]
  }
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(versionLine() + '\n')
    return
  }
  // patronictl takes -c/-d/-k before the command; oclif only after it.
  argv = hoistGlobalFlags(argv)
  // The read commands skip oclif (~60 ms of startup); oclif still serves their --help.
  const id = argv[0]
  if (id !== undefined && Object.hasOwn(FAST_CTL_SPECS, id) && !wantsHelp(argv)) {
    const {runCtl} = await import('./wiring/ctl')
    process.exitCode = await runCtl(id, argv.slice(1))
    return
  }
  if (isDaemon(argv)) startAsDaemon()
  if (id === 'agent' && !wantsHelp(argv)) {
    const {runAgentCli} = await import('./agent-main')
    process.exitCode = await runAgentCli(argv.slice(1))
    return
  }
  const {main} = await import('./main')
  await main(argv)
}

/**
 * `hactl agent CONFIG`, `hactl vip` and `hactl haproxy render --watch`: processes that live for
 * weeks (src/daemon-start.ts).
 */
function isDaemon(argv: string[]): boolean {
  const options = beforeDashes(argv)
  const watching = argv[0] === 'haproxy' && argv[1] === 'render' && options.includes('--watch')
  if (argv[0] !== 'agent' && argv[0] !== 'vip' && !watching) return false
  return !options.some((a) => a === '--help' || a === '--version' || a === '--validate-config' || a === '-h')
}

function wantsHelp(argv: string[]): boolean {
  return beforeDashes(argv).includes('--help')
}

/** The options part of the command line: what comes before a `--`. */
function beforeDashes(argv: string[]): string[] {
  const end = argv.indexOf('--')
  return end < 0 ? argv : argv.slice(0, end)
}

entry(process.argv.slice(2)).catch(async (error: unknown) => {
  const {reportFatal} = await import('./main')
  await reportFatal(error)
})
