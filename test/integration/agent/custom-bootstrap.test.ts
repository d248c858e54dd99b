/**
 * A custom bootstrap method, as Patroni runs it (patroni/postgresql/bootstrap.py
 * Bootstrap._custom_bootstrap, patroni/ha.py Ha.post_bootstrap / cancel_initialization):
 * - a PITR-style restore: the method's command restores a base backup (its own option arrives as
 *   --backup=...), `recovery_conf` makes PostgreSQL replay the WAL archive, it promotes at the end,
 *   and only then post_bootstrap runs. The restored superuser has no password the agent knows:
 *   the trust lines Patroni opens during the bootstrap let the agent in to set it, and the
 *   configured pg_hba is back afterwards.
 * - a failing command: the initialize key is released, the data directory is moved aside and the
 *   agent exits.
 * Real etcd, real PostgreSQL, the real CLI, run as the unprivileged account.
 */
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {stringify} from 'yaml'
import {EtcdServer} from '../../harness/etcd'
import {hactlCommand} from '../../harness/patroni'
import {freePort, waitFor, within} from '../../harness/ports'
import {asUser, ownedDir, PG_BIN_DIR, pgBin, postmasterPid, runCommand, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const AUTH = {
  superuser: {username: 'postgres', password: 'cb-test-su-pw'},
  replication: {username: 'replicator', password: 'cb-test-rep-pw'},
}

let etcd: EtcdServer
let home: string
const agents: Array<{proc: ChildProcess; exit: Promise<number | null>; out: string[]}> = []
const postmasters: string[] = []

function sh(script: string) {
  return runCommand('/bin/sh', ['-c', script], asUser(home))
}

async function mustSh(script: string): Promise<string> {
  const r = await sh(script)
  if (r.code !== 0) throw new Error(`${script}: ${r.stderr}${r.stdout}`)
  return r.stdout.trim()
}

function agentConfig(scope: string, dir: string, pgPort: number, apiPort: number, method: Record<string, unknown>): Record<string, unknown> {
  return {
    scope,
    name: 'node1',
    restapi: {listen: `127.0.0.1:${apiPort}`, connect_address: `127.0.0.1:${apiPort}`},
    etcd3: {hosts: [etcd.endpoint]},
    bootstrap: {
      dcs: {ttl: 20, loop_wait: 2, retry_timeout: 4},
      method: 'restore',
      restore: method,
    },
    postgresql: {
      listen: `127.0.0.1:${pgPort}`,
      connect_address: `127.0.0.1:${pgPort}`,
      data_dir: join(dir, 'data'),
      bin_dir: PG_BIN_DIR,
      pgpass: join(dir, 'pgpass'),
      authentication: AUTH,
      parameters: {unix_socket_directories: ownedDir(join(dir, 'sock')), shared_buffers: '16MB'},
      pg_hba: ['local all all scram-sha-256', 'host replication all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
    },
  }
}

function spawnAgent(cfgPath: string, cfg: Record<string, unknown>) {
  writeOwnedFile(cfgPath, stringify(cfg))
  const proc = spawn(...hactlCommand(cfgPath), {...asUser(home), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
  const a = {proc, exit: new Promise<number | null>((r) => proc.on('exit', (code) => r(code))), out: [] as string[]}
  const keep = (b: Buffer) => {
    a.out.push(b.toString())
    if (a.out.length > 400) a.out.splice(0, 100)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  agents.push(a)
  return a
}

before(async () => {
  etcd = await EtcdServer.start()
  home = ownedTempDir('hactl-custom-bootstrap-')
})

after(async () => {
  for (const a of agents) {
    if (a.proc.exitCode === null && a.proc.signalCode === null) {
      a.proc.kill('SIGTERM')
      await within(a.exit, 30_000)
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL')
    }
  }
  for (const d of postmasters) {
    const pid = postmasterPid(d)
    if (pid) await runCommand(pgBin('pg_ctl'), ['-D', d, 'stop', '-m', 'immediate'], asUser(home)).catch(() => {})
  }
  await etcd?.destroy()
  if (home) rmSync(home, {recursive: true, force: true})
})

test('a PITR restore: the command restores a base backup, recovery_conf replays the archive, post_bootstrap after the promotion', {timeout: 180_000}, async () => {
  // The source cluster: archiving on, a row in the base backup, one more only in the archive.
  const src = join(home, 'source')
  const archive = ownedDir(join(home, 'archive'))
  const backup = join(home, 'backup')
  const srcPort = await freePort()
  ownedDir(src)
  await mustSh(`${pgBin('initdb')} -D ${src}/data -U postgres >/dev/null`)
  postmasters.push(`${src}/data`)
  await mustSh(`${pgBin('pg_ctl')} -D ${src}/data -w -l ${src}/log -o "-p ${srcPort} -k ${src} -c listen_addresses='' -c archive_mode=on -c archive_command='cp %p ${archive}/%f'" start >/dev/null`)
  const psqlSrc = (q: string) => mustSh(`${pgBin('psql')} -X -h ${src} -p ${srcPort} -U postgres -d postgres -Atc "${q}"`)
  await psqlSrc("CREATE TABLE pitr (v text); INSERT INTO pitr VALUES ('in the base backup')")
  await mustSh(`${pgBin('pg_basebackup')} -h ${src} -p ${srcPort} -U postgres -D ${backup} -X none --checkpoint=fast`)
  await psqlSrc("INSERT INTO pitr VALUES ('only in the archive')")
  const walName = await psqlSrc('SELECT pg_walfile_name(pg_current_wal_lsn())')
  await psqlSrc('SELECT pg_switch_wal()')
  await waitFor('the last WAL segment archived', () => existsSync(join(archive, walName)), {timeoutMs: 20_000, intervalMs: 100})
  await mustSh(`${pgBin('pg_ctl')} -D ${src}/data -w -m fast stop >/dev/null`)

  // The restore command: copies the backup named by its own option, records its arguments.
  const dir = ownedDir(join(home, 'restored'))
  const script = join(dir, 'restore.sh')
  writeOwnedFile(script, `#!/bin/sh
echo "$@" > ${dir}/args
for a in "$@"; do case $a in --datadir=*) D=\${a#*=};; --backup=*) B=\${a#*=};; esac; done
mkdir -p "$D" && cp -a "$B"/. "$D"/ && chmod 700 "$D"
`, 0o700)
  const scope = `cb${process.pid}`
  const pgPort = await freePort()
  const cfg = agentConfig(scope, dir, pgPort, await freePort(), {
    command: script,
    backup,
    recovery_conf: {restore_command: `cp ${archive}/%f %p`},
  })
  postmasters.push(join(dir, 'data'))
  const a = spawnAgent(join(dir, 'agent.yml'), cfg)
  const logs = () => a.out.join('').split('\n').slice(-60).join('\n')
  try {
    await waitFor('node1 to hold the leader key', async () => (await etcd.get(`/service/${scope}/leader`)) === 'node1', {timeoutMs: 90_000, intervalMs: 200})
    // The leader key can be seen a moment before the cycle that took it logs the bootstrap's end.
    await waitFor('the bootstrap to be logged as done', () => /initialized a new cluster/.test(a.out.join('')) || undefined, {timeoutMs: 30_000, intervalMs: 100})
    const out = a.out.join('')
    assert.match(out, /Running custom bootstrap script: /)
    assert.equal(readFileSync(join(dir, 'args'), 'utf8').trim(), `--scope=${scope} --datadir=${join(dir, 'data')} --backup=${backup}`)
    // post_bootstrap set the configured password: TCP with scram and that password works.
    const psql = (q: string) => runCommand(pgBin('psql'), ['-X', '-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', q], asUser(home, {PGPASSWORD: AUTH.superuser.password}))
    const rows = await psql('SELECT string_agg(v, \',\' ORDER BY v) FROM pitr')
    assert.equal(rows.code, 0, rows.stderr)
    assert.equal(rows.stdout.trim(), 'in the base backup,only in the archive', 'the archive was replayed')
    assert.equal((await psql('SELECT pg_is_in_recovery()')).stdout.trim(), 'f')
    assert.equal((await psql("SELECT rolcanlogin AND rolreplication FROM pg_roles WHERE rolname = 'replicator'")).stdout.trim(), 't')
    // The trust lines are gone, so are the recovery settings.
    const hba = readFileSync(join(dir, 'data', 'pg_hba.conf'), 'utf8')
    assert.doesNotMatch(hba, /trust/)
    assert.match(hba, /host all all 127\.0\.0\.1\/32 scram-sha-256/)
    assert.equal(existsSync(join(dir, 'data', 'recovery.signal')), false)
    assert.doesNotMatch(readFileSync(join(dir, 'data', 'postgresql.conf'), 'utf8'), /restore_command/)
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${logs()}`, {cause: e})
  }
})

test('a failing custom bootstrap command: initialize released, data directory moved aside, the agent exits', {timeout: 120_000}, async () => {
  const dir = ownedDir(join(home, 'failing'))
  const script = join(dir, 'fail.sh')
  writeOwnedFile(script, `#!/bin/sh\nfor a in "$@"; do case $a in --datadir=*) D=\${a#*=};; esac; done\nmkdir -p "$D" && echo half > "$D/half-restored"\necho "restore failed" >&2\nexit 3\n`, 0o700)
  const scope = `cbfail${process.pid}`
  const a = spawnAgent(join(dir, 'agent.yml'), agentConfig(scope, dir, await freePort(), await freePort(), {command: script}))
  const code = await within(a.exit, 90_000)
  const out = a.out.join('')
  assert.notEqual(code, 0, out)
  assert.notEqual(code, 'timeout', out)
  assert.match(out, /removing initialize key after failed attempt to bootstrap the cluster/)
  assert.match(out, /exited with code 3: restore failed/)
  assert.equal(await etcd.get(`/service/${scope}/initialize`), undefined)
  assert.equal(existsSync(join(dir, 'data')), false)
  const aside = readdirSync(dir).filter((f) => f.startsWith('data_'))
  assert.equal(aside.length, 1, `moved aside: ${readdirSync(dir)}`)
  assert.ok(existsSync(join(dir, aside[0], 'half-restored')))
})
