/**
 * `hactl createconfig` against Debian's own pg_createconfig_patroni (package patroni): both run
 * on the same dcs.yml and template, and the files must be the same bytes; with hactl's built-in
 * template (hosts without the patroni package) the same settings. pg_createconfig_patroni only
 * writes to /etc/patroni, so it runs in a private mount namespace with a temp directory mounted
 * there: the host's /etc/patroni is never touched (needs root, as CI runs).
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {parse} from 'yaml'
import {runHactl} from '../../harness/hactl-cli'

const DEBIAN_TEMPLATE = '/etc/patroni/config.yml.in'
const DCS = `# etcd of the test
etcd3:
  hosts:
  - 127.0.0.1:23790
  - 127.0.0.2:23790

`

/** Runs pg_createconfig_patroni with `dir` mounted on /etc/patroni; the file it wrote. */
function debianCreateConfig(dir: string, args: string[]): string {
  const script = 'mount --bind "$0" /etc/patroni && exec pg_createconfig_patroni "$@"'
  execFileSync('unshare', ['-m', 'sh', '-c', script, dir, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  const [version, cluster] = args.slice(-2)
  return readFileSync(join(dir, `${version}-${cluster}.yml`), 'utf8')
}

function configDir(withTemplate: boolean): string {
  const d = mkdtempSync(join(tmpdir(), 'hactl-cc-'))
  writeFileSync(join(d, 'dcs.yml'), DCS)
  if (withTemplate) copyFileSync(DEBIAN_TEMPLATE, join(d, 'config.yml.in'))
  return d
}

describe('hactl createconfig writes what pg_createconfig_patroni writes', () => {
  const dirs: string[] = []
  const mk = (t: boolean) => {
    const d = configDir(t)
    dirs.push(d)
    return d
  }
  before(() => assert.equal(process.getuid?.(), 0, 'this test needs root (a private mount namespace over /etc/patroni), as CI runs'))
  after(() => dirs.forEach((d) => rmSync(d, {recursive: true, force: true})))

  const flags = ['--hostip=127.0.0.1', '--network=127.0.0.1/32', '--port=6543']

  test('same template: the same bytes, mode 0660, owned by postgres', async () => {
    const deb = debianCreateConfig(mk(true), [...flags, '15', 'cctest'])
    const d = mk(true)
    const r = await runHactl(['createconfig', ...flags, `--config-dir=${d}`, '15', 'cctest'])
    assert.equal(r.code, 0, r.stderr)
    const path = join(d, '15-cctest.yml')
    assert.equal(readFileSync(path, 'utf8'), deb)
    const st = statSync(path)
    assert.equal(st.mode & 0o777, 0o660)
    assert.equal(st.uid, Number(execFileSync('id', ['-u', 'postgres'], {encoding: 'utf8'}).trim()))
  })

  test('built-in template: the same settings as Debian\'s template', async () => {
    const deb = parse(debianCreateConfig(mk(true), [...flags, '15', 'cctest']))
    const d = mk(false)
    const r = await runHactl(['createconfig', ...flags, `--config-dir=${d}`, '15', 'cctest'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /config\.yml\.in not found: using hactl's built-in template/)
    const ours = parse(readFileSync(join(d, '15-cctest.yml'), 'utf8'))
    assert.deepEqual(ours, deb)
    assert.equal(ours.bootstrap.method, 'pg_createcluster')
    assert.equal(ours.restapi.listen, '127.0.0.1:9119') // 8008 + (6543 - 5432)
    assert.deepEqual(ours.etcd3.hosts, ['127.0.0.1:23790', '127.0.0.2:23790'])
    // and hactl takes the file as it is
    const v = await runHactl(['agent', '--validate-config', join(d, '15-cctest.yml')])
    assert.equal(v.code, 0, v.stdout + v.stderr)
    assert.doesNotMatch(v.stdout + v.stderr, /error/i)
  })

  test('the port Debian picks when none is given is the one hactl picks', async () => {
    const deb = parse(debianCreateConfig(mk(true), ['--hostip=127.0.0.1', '--network=127.0.0.1/32', '15', 'ccport']))
    const d = mk(false)
    const r = await runHactl(['createconfig', '--hostip=127.0.0.1', '--network=127.0.0.1/32', `--config-dir=${d}`, '15', 'ccport'])
    assert.equal(r.code, 0, r.stderr)
    const ours = parse(readFileSync(join(d, '15-ccport.yml'), 'utf8'))
    assert.equal(ours.postgresql.listen, deb.postgresql.listen)
    assert.equal(ours.restapi.listen, deb.restapi.listen)
  })

  test('refusals: an existing file without --force, no DCS, a bad version', async () => {
    const d = mk(false)
    assert.equal((await runHactl(['createconfig', ...flags, `--config-dir=${d}`, '15', 'again'])).code, 0)
    const again = await runHactl(['createconfig', ...flags, `--config-dir=${d}`, '15', 'again'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /Patroni configuration file already exists/)
    assert.equal((await runHactl(['createconfig', ...flags, '--force', `--config-dir=${d}`, '15', 'again'])).code, 0)

    const empty = mkdtempSync(join(tmpdir(), 'hactl-cc-'))
    dirs.push(empty)
    const nodcs = await runHactl(['createconfig', ...flags, `--config-dir=${empty}`, '15', 'x'])
    assert.equal(nodcs.code, 1)
    assert.match(nodcs.stderr, /DCS not configured yet, edit .*dcs\.yml/)
    const withEndpoint = await runHactl(['createconfig', ...flags, '--endpoint=http://127.0.0.1:23790', `--config-dir=${empty}`, '15', 'x'])
    assert.equal(withEndpoint.code, 0, withEndpoint.stderr)
    assert.deepEqual(parse(readFileSync(join(empty, '15-x.yml'), 'utf8')).etcd3, {hosts: ['127.0.0.1:23790']})

    const badVersion = await runHactl(['createconfig', ...flags, `--config-dir=${d}`, 'x15', 'main'])
    assert.equal(badVersion.code, 1)
    assert.match(badVersion.stderr, /invalid version x15/)
    const noInitdb = await runHactl(['createconfig', ...flags, `--config-dir=${d}`, '8.1', 'main'])
    assert.equal(noInitdb.code, 1)
    assert.match(noInitdb.stderr, /no initdb program for version 8\.1 found/)
  })
})
