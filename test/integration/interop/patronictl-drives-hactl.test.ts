/**
 * Interop: Debian's real patronictl (3.0.2) reads a cluster run by three hactl agents and shows
 * it as it would a Patroni cluster; hactl's own `list` agrees field for field.
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {promisify} from 'node:util'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster} from '../../harness/patroni'
import {waitFor} from '../../harness/ports'

const run = promisify(execFile)
const REPO = join(import.meta.dirname, '..', '..', '..')
let etcd: EtcdServer
let cluster: PatroniCluster

type Row = {Cluster: string; Member: string; Host: string; Role: string; State: string; TL?: number; 'Lag in MB'?: number}

async function patronictlList(): Promise<Row[]> {
  const r = await cluster.patronictl(['list', '-f', 'json'])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as Row[]
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'hactl-interop', nodes: 3, namePrefix: 'h', impl: 'hactl', wait: false})
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
})

test('patronictl list shows a 3-node hactl cluster: one leader, two replicas, timeline, no lag', async () => {
  const rows = await waitFor('patronictl to show a leader and two replicas without lag', async () => {
    const rows = await patronictlList()
    const leaders = rows.filter((r) => r.Role === 'Leader' && r.State === 'running')
    const replicas = rows.filter((r) => r.Role === 'Replica' && r.State === 'running' && r['Lag in MB'] === 0)
    return leaders.length === 1 && replicas.length === 2 ? rows : undefined
  }, {timeoutMs: 90_000, intervalMs: 500})
  assert.deepEqual(rows.map((r) => r.Member), ['h1', 'h2', 'h3'])
  for (const r of rows) {
    assert.equal(r.Cluster, 'hactl-interop')
    assert.equal(r.TL, 1, `${r.Member}: timeline`)
    assert.equal(r.Host, `127.0.0.1:${cluster.node(r.Member).pgPort}`)
  }

  // hactl's own list reads the same keys and prints the same rows, except that it shows a
  // replica's replication_state (`streaming`) as patronictl 3.1+ does; 3.0.2 prints `running`.
  // A replica publishes `streaming` in its member key at the first cycle after its walreceiver
  // connected; patronictl 3.0.2's `running` may come a cycle earlier, so wait for that cycle.
  const expected = rows.map((r) => (r.Role === 'Replica' ? {...r, State: 'streaming'} : r))
  let last = ''
  await waitFor('hactl list to show the same rows with both replicas streaming', async () => {
    const ours = await run(join(REPO, 'node_modules', '.bin', 'node'), ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), '-c', cluster.node('h1').configPath, 'list', '-f', 'json'], {cwd: REPO})
    last = ours.stdout
    const seen = JSON.parse(ours.stdout) as Array<Record<string, unknown>>
    return seen.every((r) => r.Role !== 'Replica' || r.State === 'streaming') ? seen : undefined
  }, {timeoutMs: 30_000, intervalMs: 300}).catch((e) => {
    throw new Error(`${(e as Error).message}; last: ${last}`, {cause: e})
  })
  assert.deepEqual(JSON.parse(last), expected)
})

test('each hactl member answers GET /patroni in the shape Patroni peers read', async () => {
  const leader = await cluster.leaderName()
  for (const n of cluster.nodes) {
    const s = await n.status()
    assert.ok(s, `${n.name}: /patroni answers`)
    assert.equal(s.state, 'running')
    // every member is hactl, which reads `primary`: the role is spelled as Patroni 4 spells it
    assert.equal(s.role, n.name === leader ? 'primary' : 'replica')
    assert.equal(s.timeline, 1)
    assert.match(String(s.patroni?.version), /^\d+\.\d+\.\d+$/)
    assert.equal(typeof s.server_version, 'number')
    if (n.name === leader) {
      assert.equal(typeof s.xlog?.location, 'number')
      // Patroni serves client_addr as the address alone (not inet text such as 127.0.0.1/32).
      // the leader lists its walsenders from its last cycle: wait for both replicas to be in it
      const replication = await waitFor('the leader to list both replicas under replication', async () => {
        const r = (await n.status())?.replication as Array<Record<string, unknown>> | undefined
        return r && r.length >= 2 ? r : undefined
      }, {timeoutMs: 20_000, intervalMs: 200})
      assert.ok(replication.every((r) => r.client_addr === '127.0.0.1'), `client_addr of ${JSON.stringify(replication)}`)
    } else {
      assert.equal(typeof s.xlog?.replayed_location, 'number')
    }
  }
})
