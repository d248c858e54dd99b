/**
 * hactl's write commands against a real 3-node Patroni 3.0.2 cluster (REST API with Basic auth)
 * and real etcd, run as a user would: `node --import tsx src/cli.ts`, answers piped to stdin.
 * Each case checks the effect in the cluster; where cheap, the questions and messages are
 * compared with Debian's real patronictl given the same stdin. The cases share one cluster and
 * run in order (remove comes last).
 */
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {runHactl} from '../../harness/hactl-cli'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'
import {ownedTempDir} from '../../harness/unprivileged'

const SCOPE = 'ctlwrite'
let etcd: EtcdServer
let cluster: PatroniCluster
let cfg: string

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

const PG_ENV = {PGPASSWORD: PATRONI_TEST_AUTH.superuser.password}

/** The executable's entry, as a user runs it; never throws on a non-zero exit. */
function hactl(args: string[], {input = '', env = {}, timeoutMs = 60_000}: {input?: string; env?: Record<string, string>; timeoutMs?: number} = {}): Promise<Run> {
  return runHactl(['-c', cfg, ...args], {input, env, timeoutMs})
}

async function patronictl(args: string[], input = '', env: Record<string, string> = {}): Promise<Run> {
  const r = await cluster.patronictl(args, {input, env})
  return {code: r.code, stdout: r.stdout, stderr: r.stderr}
}

/** Drops the table title (patronictl 3.0.2 prints no system identifier there) and 5-digit clock readings. */
function comparable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('+ Cluster: '))
    .join('\n')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?/g, '<time>')
    .replace(/\(e\.g\. \d{4}-\d\d-\d\dT\d\d:\d\d/g, '(e.g. <next hour>')
}

/** hactl's `  hint:` lines come on top of patronictl's error text (patronictl says nothing there). */
function withoutHints(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !l.startsWith('  hint: '))
    .join('\n')
}

async function sameAsPatronictl(args: string[], input: string, env: Record<string, string> = {}): Promise<Run> {
  const [ours, theirs] = [await hactl(args, {input, env}), await patronictl(args, input, env)]
  assert.equal(ours.code, theirs.code, `exit codes differ\nhactl: ${ours.stderr}\npatronictl: ${theirs.stderr}`)
  assert.equal(comparable(ours.stdout), comparable(theirs.stdout))
  assert.equal(withoutHints(ours.stderr), theirs.stderr)
  return ours
}

async function config(): Promise<Record<string, any>> {
  return JSON.parse((await etcd.get(`${cluster.prefix}config`)) ?? '{}') as Record<string, any>
}

function replicaOf(leader: string): string {
  return cluster.nodes.map((n) => n.name).find((n) => n !== leader)!
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({
    etcd,
    scope: SCOPE,
    nodes: 3,
    ttl: 20,
    loopWait: 2,
    restApiAuth: {username: 'ctladmin', password: 'ctl-rest-pw'},
  })
  cfg = cluster.nodes[0]!.configPath
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

describe('write commands against a real Patroni 3.0.2 cluster', () => {
  test('switchover: the same questions as patronictl; answered, it moves the leader', async () => {
    const leader = await cluster.waitForLeader()
    const declined = await sameAsPatronictl(['switchover', SCOPE], '\n\n\nn\n')
    assert.equal(declined.code, 1)
    assert.equal(declined.stderr, 'Error: Aborting switchover\n')
    const eof = await sameAsPatronictl(['switchover', SCOPE], '\n')
    // patronictl's `Aborted!`, then why and how not to be asked
    assert.match(eof.stderr, /^Aborted!\n {2}hint: stdin is not a terminal and ended before an answer to "Candidate \['pg\d', 'pg\d'\] \[\]:"; pass --candidate NAME, or give the answers on stdin, one line each\n$/)
    assert.match(eof.stdout, new RegExp(`Primary \\[${leader}\\]: Candidate \\['pg\\d', 'pg\\d'\\] \\[\\]: $`))

    const candidate = replicaOf(leader)
    const r = await hactl(['switchover', SCOPE], {input: `\n${candidate}\n\ny\n`})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`Are you sure you want to switchover cluster ${SCOPE}, demoting current leader ${leader}\\? \\[y/N\\]: `))
    assert.match(r.stdout, new RegExp(`\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{5} Successfully switched over to "${candidate}"\n`))
    assert.equal(await cluster.waitForLeader({not: leader}), candidate)
    await cluster.waitForReplicasStreaming(2)
  })

  test('failover to a named candidate with --force', async () => {
    const leader = await cluster.waitForLeader()
    const none = await hactl(['failover', '--force'])
    assert.deepEqual([none.code, none.stderr], [1, 'Error: Failover could be performed only to a specific candidate\n'])
    const candidate = replicaOf(leader)
    const r = await hactl(['failover', '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`Successfully failed over to "${candidate}"`))
    assert.equal(await cluster.waitForLeader({not: leader}), candidate)
    await cluster.waitForReplicasStreaming(2)
  })

  test('failover --primary NAME (patronictl 4 spelling) is a switchover with patronictl 3.3\'s warning', async () => {
    const leader = await cluster.waitForLeader()
    const candidate = replicaOf(leader)
    const r = await hactl(['failover', '--primary', leader, '--candidate', candidate, '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok(
      r.stdout.startsWith(
        'Supplying a leader name using this command is deprecated and will be removed in a future version of Patroni, ' +
          'change your scripts to use `switchover` instead.\nExecuting switchover!\n',
      ),
      r.stdout,
    )
    assert.match(r.stdout, new RegExp(`Successfully switched over to "${candidate}"`))
    assert.equal(await cluster.waitForLeader({not: leader}), candidate)
    await cluster.waitForReplicasStreaming(2)
  })

  test('edit-config: the diff patronictl shows; --force writes the config and Patroni applies it', async () => {
    const declined = await sameAsPatronictl(['edit-config', '--set', 'loop_wait=3', '--pg', 'work_mem=8MB', '-p', 'max_connections=41'], 'n\n')
    assert.match(declined.stdout, /^--- \n\+\+\+ \n@@ -1,\d+ \+1,\d+ @@\n-loop_wait: 2\n\+loop_wait: 3\n/)
    assert.match(declined.stdout, /\n\+    work_mem: 8MB\n.*Apply these changes\? \[y\/N\]: $/s)
    assert.equal((await config())['loop_wait'], 2)

    const stdin = await sameAsPatronictl(['edit-config', '--apply', '-'], 'loop_wait: 3\n')
    assert.match(stdin.stdout, /Use --force option to apply changes\n$/)
    assert.equal((await sameAsPatronictl(['edit-config', '--apply', '-'], 'ttl: 20\n')).stdout, 'Not changed\n')

    const r = await hactl(['edit-config', '--pg', 'work_mem=8MB', '--set', 'loop_wait=3', '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\+    work_mem: 8MB\n.*Configuration changed\n$/s)
    const c = await config()
    assert.equal(c['loop_wait'], 3)
    assert.equal(c['postgresql']['parameters']['work_mem'], '8MB')
    // Patroni reloads PostgreSQL with the new parameter on its own
    await waitFor('Patroni to apply work_mem', async () => {
      const q = await hactl(['query', '-U', 'postgres', '-c', 'SHOW work_mem'], {env: PG_ENV})
      return q.stdout === 'work_mem\n8MB\n' ? q : undefined
    }, {timeoutMs: 30_000, intervalMs: 500})

    const bad = await hactl(['edit-config', '--set', 'loop_wait', '--force'])
    assert.deepEqual([bad.code, bad.stderr.split('\n')[0]], [1, 'Error: Invalid parameter setting loop_wait'])
  })

  test('edit-config with no options opens $EDITOR on the YAML and applies what it saved', async () => {
    const dir = ownedTempDir('hactl-ctlw-')
    const editor = join(dir, 'edit.sh')
    writeFileSync(editor, "#!/bin/sh\nsed -i 's/^ttl: 20$/ttl: 21/' \"$1\"\n", {mode: 0o755})
    const r = await hactl(['edit-config', '--force'], {env: {EDITOR: editor}})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^--- \n\+\+\+ \n@@ .* @@\n(.*\n)*-ttl: 20\n\+ttl: 21\nConfiguration changed\n$/)
    assert.equal((await config())['ttl'], 21)
    const failing = await hactl(['edit-config'], {env: {EDITOR: 'false'}})
    assert.deepEqual([failing.code, failing.stderr], [1, 'Error: Editor exited with return code 1\n'])
    const unchanged = await hactl(['edit-config'], {env: {EDITOR: 'true'}})
    assert.deepEqual([unchanged.code, unchanged.stdout], [0, 'Not changed\n'])
  })

  test('query: rows and errors print as patronictl prints them; --password reads stdin', async () => {
    const sql = "SELECT 1 AS a, 'x' AS b, NULL AS c, true AS d, 2.50::numeric AS e, '{\"k\": 1}'::json AS f"
    const r = await sameAsPatronictl(['query', '-U', 'postgres', '-c', sql], '', PG_ENV)
    assert.equal(r.stdout, "a\tb\tc\td\te\tf\n1\tx\tNone\tTrue\t2.50\t{'k': 1}\n")
    const missing = await sameAsPatronictl(['query', '-U', 'postgres', '-c', 'SELECT * FROM nope'], '', PG_ENV)
    assert.match(missing.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\tERROR, SQLSTATE: 42P01\n$/)
    const replica = await hactl(['query', '-U', 'postgres', '-r', 'replica', '--password', '-c', 'SELECT pg_is_in_recovery()'], {
      input: PATRONI_TEST_AUTH.superuser.password + '\n',
    })
    assert.equal(replica.code, 0, replica.stderr)
    assert.equal(replica.stdout, 'Password: pg_is_in_recovery\nTrue\n')
    assert.ok(!replica.stdout.includes(PATRONI_TEST_AUTH.superuser.password))
    const both = await hactl(['query', '-c', 'SELECT 1', '--file', 'x.sql'])
    assert.deepEqual([both.code, both.stderr], [1, 'Error: --file and --command are mutually exclusive options\n'])
  })

  test('pause and resume --wait; list shows maintenance mode', async () => {
    const p = await hactl(['pause', '--wait'])
    assert.equal(p.code, 0, p.stderr)
    assert.equal(p.stdout, "'pause' request sent, waiting until it is recognized by all nodes\nSuccess: cluster management is paused\n")
    assert.equal((await config())['pause'], true)
    const list = await hactl(['list'])
    assert.match(list.stdout, /\n Maintenance mode: on\n$/)
    const again = await hactl(['pause'])
    assert.deepEqual([again.code, again.stderr], [1, 'Error: Cluster is already paused\n'])
    const scheduled = await hactl(['restart', SCOPE, '--scheduled', '2030-01-01T00:00', '--force'])
    assert.deepEqual([scheduled.code, scheduled.stderr], [1, "Error: Can't schedule restart in the paused state\n"])
    const r = await hactl(['resume', '--wait'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Success: cluster management is resumed\n$/)
    assert.equal((await config())['pause'], undefined)
    assert.doesNotMatch((await hactl(['list'])).stdout, /Maintenance mode/)
  })

  test('restart and reload: the questions patronictl asks; restart --force restarts PostgreSQL', async () => {
    await sameAsPatronictl(['restart', SCOPE, '-r', 'replica'], '\nmaybe\nn\n')
    await sameAsPatronictl(['reload', SCOPE, 'pg9', '--force'], '')
    const leader = await cluster.waitForLeader()
    const member = replicaOf(leader)
    const pid = cluster.node(member).postmasterPid
    assert.ok(pid)
    const r = await hactl(['restart', SCOPE, member, '--force'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`\nSuccess: restart on member ${member}\n$`))
    await waitFor('a new postmaster', () => {
      const now = cluster.node(member).postmasterPid
      return now !== undefined && now !== pid
    }, {timeoutMs: 30_000})
    await cluster.waitForNodeState(member, 'running')

    const reload = await hactl(['reload', SCOPE, '--force'])
    assert.equal(reload.code, 0, reload.stderr)
    const lines = reload.stdout.split('\n').filter((l) => l.startsWith('Reload request received'))
    assert.deepEqual(lines.map((l) => l.split(' ')[5]).sort(), ['pg1', 'pg2', 'pg3'])
    assert.ok(lines.every((l) => l.endsWith('will be processed within 3 seconds')), reload.stdout)
  })

  test('scheduled restart and switchover, discarded by flush', async () => {
    await cluster.waitForReplicasStreaming(2)
    const leader = await cluster.waitForLeader()
    const member = replicaOf(leader)
    const r = await hactl(['restart', SCOPE, member, '--scheduled', '2030-01-01T00:00+00:00', '--force'])
    assert.match(r.stdout, new RegExp(`Success: restart scheduled on member ${member}\n$`), r.stderr)
    await waitFor('the scheduled restart in the member key', async () => {
      const m = JSON.parse((await etcd.get(`${cluster.prefix}members/${member}`)) ?? '{}')
      return m.scheduled_restart?.schedule === '2030-01-01T00:00:00+00:00'
    }, {timeoutMs: 15_000, intervalMs: 200})
    const f = await hactl(['flush', SCOPE, member, 'restart', '--force'])
    assert.equal(f.code, 0, f.stderr)
    assert.match(f.stdout, new RegExp(`Success: flush scheduled restart for member ${member}\n$`))

    const s = await hactl(['switchover', '--candidate', member, '--scheduled', '2030-01-01T00:00+00:00', '--force'])
    assert.equal(s.code, 0, s.stderr)
    assert.match(s.stdout, / Switchover scheduled at: 2030-01-01T00:00:00\+00:00\n/)
    assert.match((await etcd.get(`${cluster.prefix}failover`)) ?? '', /2030-01-01T00:00:00\+00:00/)
    const fs = await hactl(['flush', SCOPE, 'switchover'])
    assert.deepEqual([fs.code, fs.stdout], [0, 'Success: scheduled switchover deleted\n'])
    assert.equal((await hactl(['flush', SCOPE, 'switchover'])).stdout, 'No pending scheduled switchover\n')
    const bad = await hactl(['flush', SCOPE, 'later'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /Error: Invalid value for 'TARGET': 'later' is not one of 'restart', 'switchover'\.\n$/)
  })

  test('reinit --wait rebuilds a replica', async () => {
    const leader = await cluster.waitForLeader()
    const member = replicaOf(leader)
    const none = await hactl(['reinit', SCOPE, leader, '--force'])
    assert.deepEqual([none.code, none.stderr], [1, 'Error: No replica among provided members\n'])
    const r = await hactl(['reinit', SCOPE, member, '--force', '--wait'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`Success: reinitialize for member ${member}\nWaiting for reinitialize to complete on: ${member}\n(.*\n)*Reinitialize is completed on: ${member}\n$`))
    await cluster.waitForReplicasStreaming(2)
  })

  test('remove: asks for the name, the phrase and the leader, then deletes the keys', async () => {
    const leader = await cluster.waitForLeader()
    // remove prints the members table, and the two tools run one after the other: the replica
    // that reinit just rebuilt must have reported its WAL position (its lag) before either reads it.
    await waitFor('every replica at 0 MB of lag', async () => {
      const r = await hactl(['list', '-f', 'json'])
      if (r.code !== 0) return false
      const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>
      return rows.length === cluster.nodes.length && rows.every((x) => x['Role'] === 'Leader' || x['Lag in MB'] === 0)
    }, {timeoutMs: 60_000, intervalMs: 250})
    const wrong = await sameAsPatronictl(['remove', SCOPE], `${SCOPE}\nYes I am aware\nnot-${leader}\n`)
    assert.equal(wrong.stderr, 'Error: You did not specify the current leader of the cluster\n')
    assert.match(wrong.stdout, /Please confirm the cluster name to remove: You are about to remove all information in DCS for ctlwrite, please type: "Yes I am aware": This cluster currently is healthy\. Please specify the leader name to continue: $/)
    assert.ok(await etcd.get(`${cluster.prefix}initialize`))
    const usage = await hactl(['remove'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /^Usage: hactl remove \[OPTIONS\] CLUSTER_NAME\n/)

    const before = await cluster.dcsEntries()
    const revision = Math.max(...before.map((e) => Number(e.mod_revision)))
    const r = await hactl(['remove', SCOPE], {input: `${SCOPE}\nYes I am aware\n${leader}\n`})
    assert.equal(r.code, 0, r.stderr)
    // the running members write their keys again at once; none may be older than the removal
    const after = await cluster.dcsEntries()
    assert.ok(before.some((e) => e.key.endsWith('/history')))
    assert.deepEqual(after.filter((e) => Number(e.create_revision) <= revision), [], JSON.stringify(after))
    assert.ok(!after.some((e) => e.key.endsWith('/history')))
  })
})

// A file passed with --apply is read like stdin: edit-config --apply FILE --force
describe('edit-config --apply FILE', () => {
  test('merges the file and refuses a document that is not a mapping', async () => {
    const dir = ownedTempDir('hactl-ctlw-')
    const file = join(dir, 'patch.yml')
    writeFileSync(file, '- not a mapping\n')
    const bad = await hactl(['edit-config', '--apply', file, '--force'])
    assert.equal(bad.code, 1)
    assert.equal(bad.stderr.split('\n')[0], `Error: --apply ${file}: expected a YAML mapping of configuration keys, got ["not a mapping"]`)
  })
})
