/**
 * Captures what the real Patroni 3.0.2 writes and answers, so hactl's readers, renderers and
 * REST server can be checked against the genuine article without running Patroni in unit tests.
 *
 *   node --import tsx scripts/capture-patroni-fixtures.ts [out-dir]
 *
 * Runs etcd and a 3-member Patroni cluster on loopback (test/harness), changes the dynamic config
 * with `patronictl edit-config`, switches over with `patronictl switchover --force` (so `history`
 * and the cleared `failover` key exist), then records the etcd keys, REST answers and patronictl
 * output into test/fixtures/patroni-3.0.2/. Everything it starts is stopped by PID at the end.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {EtcdServer} from '../test/harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster, httpRequest, type DcsEntry} from '../test/harness/patroni'
import {waitFor} from '../test/harness/ports'

const SCOPE = 'demo'
const HEALTH_PATHS = ['/primary', '/replica', '/leader', '/read-only', '/health', '/liveness', '/readiness', '/synchronous', '/asynchronous']

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? join(__dirname, '..', 'test', 'fixtures', 'patroni-3.0.2'))
  mkdirSync(out, {recursive: true})
  const written: string[] = []
  const save = (file: string, content: string) => {
    writeFileSync(join(out, file), content)
    written.push(file)
  }
  const saveJson = (file: string, value: unknown) => save(file, JSON.stringify(value, null, 2) + '\n')

  const etcd = await EtcdServer.start()
  let cluster: PatroniCluster | undefined
  try {
    cluster = await PatroniCluster.start({etcd, scope: SCOPE, nodes: 3})
    const c = cluster
    const ctl = async (args: string[], expectOk = true) => {
      const r = await c.patronictl(args)
      if (expectOk && r.code !== 0) throw new Error(`patronictl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`)
      return r
    }
    const entry = async (rel: string) => (await c.dcsEntries()).find((e) => e.key === c.prefix + rel)

    // 1. A dynamic config change through patronictl, as an operator would make it (a CAS write).
    const before = await entry('config')
    const edit = await ctl(['edit-config', SCOPE, '--force', '-s', 'maximum_lag_on_failover=2097152', '-p', 'work_mem=8MB'])
    save('patronictl-edit-config.txt', edit.stdout)
    await waitFor('the config key to change', async () => (await entry('config'))?.mod_revision !== before?.mod_revision)

    // 2. A switchover, so that history, a new timeline and the cleared failover key exist.
    const oldLeader = await c.waitForLeader()
    const candidate = c.nodes.map((n) => n.name).find((n) => n !== oldLeader)!
    const sw = await ctl(['switchover', SCOPE, '--leader', oldLeader, '--candidate', candidate, '--force'])
    save('patronictl-switchover.txt', sw.stdout)
    const leader = await c.waitForLeader({not: oldLeader, timeoutMs: 60_000})
    if (leader !== candidate) throw new Error(`switchover went to ${leader}, not ${candidate}`)
    await settle(c, leader, 2)

    // 3. REST answers of the new leader and of one replica.
    const L = c.node(leader)
    const replica = c.nodes.find((n) => n.name !== leader)!
    const json = async (node: typeof L, path: string) => {
      const r = await node.api('GET', path)
      if (r.status !== 200 || r.json === undefined) throw new Error(`GET ${path} on ${node.name}: ${r.status} ${r.body}`)
      return r.json
    }
    saveJson('rest-patroni-leader.json', await json(L, '/patroni'))
    saveJson('rest-patroni-replica.json', await json(replica, '/patroni'))
    saveJson('rest-cluster.json', await json(L, '/cluster'))
    saveJson('rest-config.json', await json(L, '/config'))
    saveJson('rest-history.json', await json(L, '/history'))

    const health: Record<string, Record<string, unknown>> = {}
    for (const [role, node] of [['leader', L], ['replica', replica]] as const) {
      health[role] = {member: node.name}
      for (const path of HEALTH_PATHS) {
        const r = await node.api('GET', path)
        health[role]![path] = {
          status: r.status,
          content_type: r.headers['content-type'] ?? null,
          body: r.json ?? r.body,
        }
      }
    }
    saveJson('rest-health.json', health)

    // 4. patronictl renderings of the same state.
    save('patronictl-list.txt', (await ctl(['list', SCOPE])).stdout)
    save('patronictl-list.json', (await ctl(['list', SCOPE, '-f', 'json'])).stdout)
    save('patronictl-list.yaml', (await ctl(['list', SCOPE, '-f', 'yaml'])).stdout)
    save('patronictl-list.tsv', (await ctl(['list', SCOPE, '-f', 'tsv'])).stdout)
    save('patronictl-list-extended.txt', (await ctl(['list', SCOPE, '-e'])).stdout)
    save('patronictl-topology.txt', (await ctl(['topology', SCOPE])).stdout)
    save('patronictl-history.txt', (await ctl(['history', SCOPE])).stdout)
    save('patronictl-history.json', (await ctl(['history', SCOPE, '-f', 'json'])).stdout)
    save('patronictl-show-config.txt', (await ctl(['show-config', SCOPE])).stdout)

    // 5. The etcd keys of that state, with revisions and leases as the v3 gateway reports them.
    saveJson('etcd-dump.json', await etcdDump(c, etcd))

    // 6. A scheduled switchover: the failover key with scheduled_at, and how /cluster and list show it.
    const at = new Date(Date.now() + 3600_000)
    at.setUTCMilliseconds(0)
    const target = c.nodes.map((n) => n.name).find((n) => n !== leader)!
    const sched = await ctl(['switchover', SCOPE, '--leader', leader, '--candidate', target, '--scheduled', at.toISOString(), '--force'])
    save('patronictl-switchover-scheduled.txt', sched.stdout)
    const scheduled = await waitFor('the scheduled failover key', async () => {
      const e = await entry('failover')
      return e && JSON.parse(e.value).scheduled_at ? e : undefined
    })
    saveJson('etcd-failover-scheduled.json', scheduled)
    saveJson('rest-cluster-scheduled.json', await json(L, '/cluster'))
    save('patronictl-list-scheduled.txt', (await ctl(['list', SCOPE])).stdout)
    save('patronictl-flush-switchover.txt', (await ctl(['flush', SCOPE, 'switchover', '--force'])).stdout)
    saveJson('etcd-failover-flushed.json', await entry('failover'))

    save('README.md', readme(await versions(c, etcd), written))
    checkNoSecrets(out)
    console.log(`wrote ${written.length + 1} files to ${out}`)
  } catch (e) {
    console.error(e)
    process.exitCode = 1
  } finally {
    await cluster?.destroy()
    await etcd.destroy()
  }
}

/** Waits until the cluster looks the same from every angle, so the captures agree with each other. */
async function settle(c: PatroniCluster, leader: string, timeline: number): Promise<void> {
  await c.waitForReplicasStreaming(c.nodes.length - 1, {timeoutMs: 90_000})
  await waitFor('a settled DCS view after the switchover', async () => {
    const kv = new Map((await c.dcsEntries()).map((e) => [e.key.slice(c.prefix.length), e.value]))
    if (kv.get('leader') !== leader) return false
    const history = JSON.parse(kv.get('history') ?? '[]')
    if (history.length !== timeline - 1) return false
    const failover = kv.get('failover')
    if (failover !== undefined && failover !== '{}') return false
    const optime = JSON.parse(kv.get('status') ?? '{}').optime
    for (const n of c.nodes) {
      const m = JSON.parse(kv.get(`members/${n.name}`) ?? '{}')
      if (m.state !== 'running' || m.timeline !== timeline || m.xlog_location !== optime) return false
    }
    return true
  }, {timeoutMs: 60_000, intervalMs: 250})
}

async function etcdDump(c: PatroniCluster, etcd: EtcdServer) {
  const range = await etcd.call('/kv/range', {key: Buffer.from(c.prefix).toString('base64'), limit: 1})
  const keys: DcsEntry[] = await c.dcsEntries()
  const leases: Record<string, unknown> = {}
  for (const id of new Set(keys.map((k) => k.lease).filter((l) => l !== '0'))) {
    const r = await etcd.call('/kv/lease/timetolive', {ID: id})
    if (r.grantedTTL === undefined) throw new Error(`lease ${id}: ${JSON.stringify(r)}`)
    leases[id] = {granted_ttl: String(r.grantedTTL ?? '0'), owner_keys: keys.filter((k) => k.lease === id).map((k) => k.key)}
  }
  return {
    prefix: c.prefix,
    header_revision: String(range.header?.revision ?? '0'),
    note: 'lease "0" = no lease; int64 fields are strings, as the etcd v3 JSON gateway sends them',
    keys,
    leases,
  }
}

async function versions(c: PatroniCluster, etcd: EtcdServer): Promise<Record<string, string>> {
  const pkgs = execFileSync('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', 'patroni', 'postgresql-15', 'etcd-server', 'python3', 'python3-psycopg2'], {encoding: 'utf8'})
  const etcdVersion = (await httpRequest('GET', `${etcd.url}/version`)).json
  const s = await c.node((await c.leaderName())!).status()
  return {
    packages: pkgs.trim(),
    etcd: `server ${etcdVersion?.etcdserver}, cluster ${etcdVersion?.etcdcluster}`,
    postgres_server_version: String(s?.server_version),
    patroni: String(s?.patroni?.version),
  }
}

function readme(v: Record<string, string>, files: string[]): string {
  return `# Patroni 3.0.2 fixtures

Captured from real processes on loopback by \`node --import tsx scripts/capture-patroni-fixtures.ts\`
(uses test/harness/patroni.ts). Re-run it to refresh; every file here is overwritten.

Versions (Debian 12 packages):

\`\`\`
${v.packages}
\`\`\`

* etcd ${v.etcd}, v3 API through the JSON gateway (Patroni's \`etcd3:\` DCS)
* PostgreSQL server_version ${v.postgres_server_version}, Patroni ${v.patroni}

Cluster: scope \`${SCOPE}\`, namespace \`/service/\`, members pg1..pg3, ttl 10, loop_wait 2, retry_timeout 4,
use_pg_rewind and use_slots on, no REST API authentication. Ports are free ports picked at run time.

Sequence:
1. Bootstrap of 3 members; wait for a leader and 2 replicas streaming.
2. \`patronictl edit-config --force -s maximum_lag_on_failover=2097152 -p work_mem=8MB\` (patronictl-edit-config.txt).
3. \`patronictl switchover --leader <leader> --candidate <replica> --force\` (patronictl-switchover.txt);
   wait until all members run on timeline 2 at the leader's optime and \`failover\` is \`{}\` again.
4. Capture REST (\`rest-*.json\`: leader = new leader, replica = another member; rest-health.json has
   status, content type and body of each health GET on both), patronictl output, then \`etcd-dump.json\`
   (every key under the prefix with value, create/mod revision, version and lease id, and each lease's granted TTL).
5. A scheduled switchover one hour ahead (\`*-scheduled.*\`), then \`patronictl flush <scope> switchover --force\`
   (etcd-failover-flushed.json).

Notes on 3.0.2 behaviour seen here (it differs from Patroni 3.3.1, the version hactl speaks):
* \`GET /patroni\` has no \`replication_state\` and \`patroni\` lacks \`name\`; replicas report state \`running\`.
* \`patronictl list\` shows State \`running\` for replicas and the title has no system identifier
  (\` Cluster: demo \`); 3.0.2 only prints the \`(...)\` part for Citus groups.
* Members write \`role: master\`; \`status\` has no \`slots\` (no permanent slots are configured).
* The \`config\` key is compact JSON when the bootstrap leader writes it, but \`patronictl edit-config\`
  rewrites it with Python's default separators (\`{"ttl": 10, ...}\`), as etcd-dump.json shows: readers
  must accept both.
* \`/liveness\` and \`/readiness\` answer with an empty body and no content type.
* Output with wall-clock times (switchover, history) and all ports differ on every run.

No secrets: the cluster used throwaway test passwords only, and the capture script fails if any of them
appears in a fixture.

Files: ${files.map((f) => `\`${f}\``).join(', ')}.
`
}

function checkNoSecrets(dir: string): void {
  const secrets = Object.values(PATRONI_TEST_AUTH).map((a) => a.password)
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), 'utf8')
    for (const s of secrets) if (text.includes(s)) throw new Error(`fixture ${f} contains a test password`)
    if (f !== 'README.md' && /password/i.test(text)) throw new Error(`fixture ${f} mentions a password field`)
  }
}

main()
