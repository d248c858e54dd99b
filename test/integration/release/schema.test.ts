import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {test} from 'node:test'
import {promisify} from 'node:util'
import {ConfigError, formatIssues} from '../../../src/config/issues'
import {parseReleaseText, RELEASE_FILE} from '../../../scripts/release/config'

const ROOT = resolve('.')
const TEXT = readFileSync(join(ROOT, RELEASE_FILE), 'utf8')
const run = promisify(execFile)

function problems(text: string): string {
  try {
    parseReleaseText(text, ROOT)
  } catch (e) {
    if (e instanceof ConfigError) return formatIssues(e.issues)
    throw e
  }
  assert.fail('the release file was accepted')
}

test('the shipped release file is valid and declares both architectures and both formats', () => {
  const {config, warnings} = parseReleaseText(TEXT, ROOT)
  assert.deepEqual(warnings, [])
  assert.deepEqual(config.builds.map((b) => `${b.id}:${b.arch}`), ['linux-x64:x64', 'linux-arm64:arm64'])
  assert.deepEqual(config.packages.formats, ['deb', 'rpm'])
  assert.equal(config.checksum.algorithm, 'sha256')
  const conf = config.packages.contents.filter((c) => c.type === 'config|noreplace').map((c) => c.dst)
  assert.deepEqual(conf, ['/etc/patroni/config.yml.sample', '/etc/patroni/vip.sample'])
})

test('a misspelt key is an error naming the key and suggesting the right one', () => {
  const out = problems(TEXT.replace('    compression_level: 1\n    depends', '    compresion_level: 1\n    depends'))
  assert.match(out, /^packages\.deb\.compresion_level: unknown key \(did you mean compression_level\?\)/m)
  assert.doesNotMatch(out, /packages\.rpm/)
})

test('a misspelt top-level key and a wrong value are both reported in one run', () => {
  const out = problems(TEXT.replace('\ndist: dist/release', '\ndsit: dist/release').replace('arch: arm64', 'arch: aarch64'))
  assert.match(out, /^dsit: unknown key \(did you mean dist\?\)/m)
  assert.match(out, /^builds\[1\]\.arch: must be one of x64, arm64 \(got "aarch64"\)/m)
})

test('a file under /etc that is not a conffile, and a missing source file, are errors', () => {
  const out = problems(
    TEXT.replace('dst: /etc/patroni/vip.sample\n      type: config|noreplace', 'dst: /etc/patroni/vip.sample').replace(
      'src: packaging/systemd/hactl@.service\n      dst: "{unitdir}',
      'src: packaging/systemd/hactl-typo@.service\n      dst: "{unitdir}',
    ),
  )
  // The index is the vip.sample entry's, wherever it sits in the list.
  assert.match(out, /^packages\.contents\[\d+\]\.type: must be config or config\|noreplace for a file under \/etc \(got "file"\)/m)
  // The missing file is reported only once the structure is valid; fix the first problem.
  const missing = problems(TEXT.replace('src: packaging/systemd/hactl@.service\n      dst: "{unitdir}', 'src: packaging/systemd/hactl-typo@.service\n      dst: "{unitdir}'))
  assert.match(missing, /^packages\.contents\[1\]\.src: names a file that does not exist \(got "packaging\/systemd\/hactl-typo@\.service"\)/m)
})

test('a build needs exactly one of executable or inject', () => {
  const out = problems(TEXT.replace('    executable: dist/hactl\n', ''))
  assert.match(out, /^builds\[0\]: needs exactly one of executable/m)
})

test('npm run release -- --check exits 1 and names the key on a typo, 0 on the real file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-release-schema-'))
  const bad = join(dir, 'release.yml')
  writeFileSync(bad, TEXT.replace('  wrap_in_directory: true', '  wrap_in_dir: true'))
  const err = await run(process.execPath, ['--import', 'tsx', 'scripts/release.ts', '--check', '--config', bad], {cwd: ROOT}).then(
    () => assert.fail('accepted'),
    (e: {code: number; stderr: string}) => e,
  )
  assert.equal(err.code, 1)
  assert.match(err.stderr, /archives\.wrap_in_dir: unknown key \(did you mean wrap_in_directory\?\)/)
  const ok = await run(process.execPath, ['--import', 'tsx', 'scripts/release.ts', '--check'], {cwd: ROOT})
  assert.match(ok.stdout, /^release file OK: /)
})
