// Entry point of the executable. Keep this file's static imports tiny: everything heavy
// (oclif, command modules) is loaded lazily so that fast paths start in a few milliseconds.
import {versionLine} from './build-info'

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
  const {main} = await import('./main')
  await main(argv)
}

entry(process.argv.slice(2)).catch(async (error: unknown) => {
  const {reportFatal} = await import('./main')
  await reportFatal(error)
})
