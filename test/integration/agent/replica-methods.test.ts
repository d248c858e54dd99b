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
    dcs: {slots: {archiver: {type: 'physical'}, r1: {type: 'physical'}}, ignore_slots: [{name: 'manual'}], member_slots_ttl: '4s'},
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

async function psql(name: string, sql: string): Promise<string> {
  const n = cluster.node(name)
  const out = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', n.socketDir, '-p', String(n.pgPort), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atc', sql], {...asUser(cluster.home)})
  assert.equal(out.code, 0, out.stderr)
  return out.stdout.trim()
}

async function slots(name: string): Promise<string[]> {
  return (await psql(name, "select slot_name || ':' || slot_type from pg_replication_slots order by 1")).split('\n').filter(Boolean)
}

test('the primary keeps a slot per replica and the permanent physical slots of the dynamic config', async () => {
  await waitFor('the permanent slot on the primary', async () => ((await slots('r1')).includes('archiver:physical') ? true : undefined), {timeoutMs: 20_000, intervalMs: 250})
  // r1's own name is never a slot on r1 itself
  assert.deepEqual(await slots('r1'), ['archiver:physical', 'r2:physical'])
})

test('a slot nobody uses is dropped after member_slots_ttl, on the primary and on a replica; ignore_slots are kept', {timeout: 60_000}, async () => {
  await psql('r1', "select pg_create_physical_replication_slot('ghost', true)")
  await psql('r2', "select pg_create_physical_replication_slot('ghost_on_replica'), pg_create_physical_replication_slot('manual')")
  const t0 = Date.now()
  await waitFor('both unused slots to be dropped', async () => {
    const [p, r] = [await slots('r1'), await slots('r2')]
    return !p.includes('ghost:physical') && !r.includes('ghost_on_replica:physical') ? true : undefined
  }, {timeoutMs: 30_000, intervalMs: 250})
  assert.ok(Date.now() - t0 >= 3000, 'not before member_slots_ttl (4s)')
  assert.deepEqual(await slots('r1'), ['archiver:physical', 'r2:physical'], 'member and permanent slots stay on the primary')
  assert.deepEqual(await slots('r2'), ['manual:physical'], 'an ignore_slots entry stays')
  assert.match(cluster.node('r1').log, /WARNING: replication slot ghost is used by no member: dropping it in [1-4]s \(member_slots_ttl 4s\)/)
  assert.match(cluster.node('r1').log, /INFO: dropped unused replication slot ghost/)
})
