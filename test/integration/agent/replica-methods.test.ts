/**
 * create_replica_methods with custom commands, as Patroni runs them: methods in order until one
 * succeeds; a custom method gets its own options as --key=value, then --scope, --role, --datadir
 * and --connstring, with the replication password in PGPASSFILE (never on the command line).
 * r2 (nofailover, so it never bootstraps) has a failing method first and a working one second.
 */
import assert from 'node:assert/strict'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../../harness/patroni'
import {asUser, PG_BIN_DIR, runCommand, writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
let cluster: PatroniCluster
let dir: string

before(async () => {
  etcd = await EtcdServer.start()
  dir = ownedTempDir('hactl-replica-methods-')
  writeOwnedFile(join(dir, 'broken.sh'), '#!/bin/sh\necho "broken on purpose" >&2\nexit 3\n', 0o755)
  writeOwnedFile(
    join(dir, 'copy.sh'),
    `#!/bin/sh
printf '%s\\n' "$@" > ${dir}/args.txt
if [ -r "$PGPASSFILE" ] && grep -q ':${PATRONI_TEST_AUTH.replication.username}:' "$PGPASSFILE"; then echo pgpass-ok >> ${dir}/args.txt; fi
for a in "$@"; do
  case "$a" in --datadir=*) d="\${a#--datadir=}" ;; --connstring=*) c="\${a#--connstring=}" ;; esac
done
exec ${join(PG_BIN_DIR, 'pg_basebackup')} -D "$d" -X stream -d "$c"
`,
    0o755,
  )
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'replmethods',
    nodes: 2,
    namePrefix: 'r',
    impl: 'hactl',
    tags: {r2: {nofailover: true}},
    dcs: {slots: {archiver: {type: 'physical'}, r1: {type: 'physical'}}},
    postgresql: {
      r2: {
        create_replica_methods: ['broken', 'copy'],
        broken: {command: join(dir, 'broken.sh')},
        copy: {command: join(dir, 'copy.sh'), keep_data: false, label: 'nightly copy'},
      },
    },
    startTimeoutMs: 120_000,
  })
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

test('a failing method is logged and the next one creates the replica, which then streams', async () => {
  assert.equal(await cluster.leaderName(), 'r1')
  assert.deepEqual(await cluster.streamingReplicas(), ['r2'])
  const log = cluster.node('r2').log
  assert.match(log, /ERROR: Error creating replica using method broken: .*broken\.sh exited with code=3: broken on purpose/)
  assert.match(log, /INFO: replica has been created using copy/)
  assert.doesNotMatch(log, /pg_basebackup.*cloning from/, 'the built-in basebackup method was not configured, so not used')
})

test("the custom method got Patroni's arguments, and the password only through PGPASSFILE", () => {
  const args = readFileSync(join(dir, 'args.txt'), 'utf8').trim().split('\n')
  const r1 = cluster.node('r1')
  assert.deepEqual(args, [
    '--keep_data=False',
    '--label=nightly copy',
    '--scope=replmethods',
    '--role=replica',
    `--datadir=${cluster.node('r2').dataDir}`,
    `--connstring=dbname=postgres user=${PATRONI_TEST_AUTH.replication.username} host=127.0.0.1 port=${r1.pgPort}`,
    'pgpass-ok',
  ])
  assert.ok(!args.join(' ').includes(PATRONI_TEST_AUTH.replication.password), 'no password on the command line')
})

test('the primary keeps a slot per replica and the permanent physical slots of the dynamic config', async () => {
  const r1 = cluster.node('r1')
  const slots = async () => {
    const out = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', r1.socketDir, '-p', String(r1.pgPort), '-U', 'postgres', '-Atc', "select slot_name || ':' || slot_type from pg_replication_slots order by 1"], {...asUser(cluster.home)})
    assert.equal(out.code, 0, out.stderr)
    return out.stdout.trim().split('\n')
  }
  await waitFor('the permanent slot on the primary', async () => ((await slots()).includes('archiver:physical') ? true : undefined), {timeoutMs: 20_000, intervalMs: 250})
  // r1's own name is never a slot on r1 itself
  assert.deepEqual(await slots(), ['archiver:physical', 'r2:physical'])
})
