import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {runValidateConfig} from '../../../src/config/validate-command'

const ROOT = join(__dirname, '../../..')
const FIX = join(ROOT, 'test/fixtures/config')
const SECRETS = ['Sup3r-Secret-pw', 'Repl-Secret-pw', 'EnvOnly-Secret']

function run(path: string | undefined, env: Record<string, string> = {}) {
  let out = ''
  let err = ''
  const code = runValidateConfig(path, env, {out: (s) => (out += s), err: (s) => (err += s)})
  return {code, out, err}
}

describe('runValidateConfig', () => {
  it('valid: exit 0, one OK line on out, warnings on err', () => {
    const r = run(join(FIX, 'seeds/004-p1-config.yml'))
    assert.equal(r.code, 0)
    assert.match(r.out, /^configuration OK: .*004-p1-config\.yml \(scope acme, member p1\.hapat\.vm, 1 warning\)\n$/)
    assert.equal(r.err.split('\n').filter((l) => l.startsWith('warning: ')).length, 1)
  })

  it('invalid: exit 1, every error on its own line as `path: message (got VALUE)`, nothing on out', () => {
    const r = run(join(FIX, 'broken/wrong-types.yml'))
    assert.equal(r.code, 1)
    assert.equal(r.out, '')
    const lines = r.err.trimEnd().split('\n')
    assert.match(lines[0] ?? '', /wrong-types\.yml: 4 errors$/)
    assert.ok(lines.includes('restapi.request_queue_size: must be an integer (got "lots")'), r.err)
    assert.ok(lines.includes('tags.nosync: must be a boolean (true/false, on/off, yes/no, 1/0) (got "maybe")'), r.err)
  })

  it('a timing Patroni adjusts: warnings naming the keys and exit 0; with --strict errors and exit 1', () => {
    const file = join(FIX, 'broken/timing-invariant.yml')
    const lenient = run(file)
    assert.equal(lenient.code, 0, lenient.err)
    assert.match(lenient.out, /^configuration OK: /)
    assert.ok(
      lenient.err.includes(
        'warning: bootstrap.dcs.loop_wait: Violated the rule "loop_wait + 2*retry_timeout <= ttl", where ttl=25 and retry_timeout=10. Adjusting loop_wait from 10 to 5',
      ),
      lenient.err,
    )
    let out = ''
    let err = ''
    const code = runValidateConfig(file, {}, {out: (x) => (out += x), err: (x) => (err += x)}, {strict: true})
    assert.equal(code, 1, out + err)
    assert.equal(out, '')
    assert.match(err, /^bootstrap\.dcs\.ttl: loop_wait \(10\) \+ 2\*retry_timeout \(10\) = 30 must be <= ttl \(25\)/m)
  })

  it('missing file: exit 2', () => {
    const r = run(join(FIX, 'does-not-exist.yml'))
    assert.equal(r.code, 2)
    assert.match(r.err, /does-not-exist\.yml does not exist/)
  })

  it('never prints secrets, from the file or from the env', () => {
    for (const f of ['minimal.yml', 'broken/secret-wrong-type.yml', 'broken/missing-name.yml']) {
      const r = run(join(FIX, f), {PATRONI_REPLICATION_PASSWORD: 'EnvOnly-Secret', PATRONI_ETCD3_URL: 'http://u:EnvOnly-Secret@h:2379'})
      for (const s of SECRETS) assert.ok(!(r.out + r.err).includes(s), `${s} printed for ${f}:\n${r.out}${r.err}`)
    }
  })
})

describe('hactl agent --validate-config (spawned CLI)', () => {
  const cli = (file: string, flags: string[] = []) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'agent', '--validate-config', ...flags, file], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp'},
      timeout: 60_000,
    })

  it('valid file: exit 0 and the OK line', () => {
    const r = cli(join(FIX, 'minimal.yml'))
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /configuration OK: .*minimal\.yml \(scope demo, member node1, 2 warnings\)/)
  })

  it('--strict: ttl 10 in bootstrap.dcs is an error (exit 1); without it a warning (exit 0)', () => {
    const file = join(FIX, 'broken/ttl-too-small.yml')
    const strict = cli(file, ['--strict'])
    assert.equal(strict.status, 1, strict.stdout + strict.stderr)
    assert.match(strict.stderr, /^bootstrap\.dcs\.ttl: must be at least 20 seconds \(--strict\) \(got 10\)$/m)
    const lenient = cli(file)
    assert.equal(lenient.status, 0, lenient.stdout + lenient.stderr)
    assert.match(lenient.stderr, /^warning: bootstrap\.dcs\.ttl: ttl=10 can't be smaller than 20, adjusting\.\.\.$/m)
  })

  it('invalid file: exit 1, the key path on stderr, no secret', () => {
    const r = cli(join(FIX, 'broken/port-out-of-range.yml'))
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /^restapi\.listen: port 70000 is out of range 1-65535 \(got "127\.0\.0\.1:70000"\)$/m)
    for (const s of SECRETS) assert.ok(!r.stderr.includes(s))
  })
})
