import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, test} from 'node:test'
import {decodeCluster, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'
import {clusterJson} from '../../../src/api/cluster'
import type {ClusterView} from '../../../src/core/cluster'
import {LSN_COLUMNS_BY_DEFAULT, renderMembers} from '../../../src/ctl/members'

/**
 * Goldens rendered by Patroni 4.1.4's own output_members and cluster_as_json
 * (test/fixtures/patroni-4.1/generate.py) from the 3.0.2 etcd dump with scenario.json's keys over
 * it: a member that publishes receive_lsn/replay_lsn (4.1, hactl), members that publish only
 * xlog_location while streaming or replaying from the archive (3.x/4.0), a stopped one without
 * positions, and one ahead of the leader's last known position.
 */
const dir = 'test/fixtures/patroni-4.1/'
const fixture = (f: string) => readFileSync(dir + f, 'utf8')
const dump = JSON.parse(readFileSync('test/fixtures/patroni-3.0.2/etcd-dump.json', 'utf8')) as {
  prefix: string
  keys: Array<{key: string; value: string; mod_revision: string; lease: string}>
}

function view(): ClusterView {
  const nodes = new Map<string, RawNode>()
  for (const k of dump.keys) {
    const rel = k.key.slice(dump.prefix.length)
    nodes.set(rel, {key: rel, value: k.value, modRevision: Number(k.mod_revision), lease: k.lease === '0' ? null : k.lease})
  }
  let rev = 1000
  for (const [rel, value] of Object.entries(JSON.parse(fixture('scenario.json')) as Record<string, string>)) {
    nodes.set(rel, {key: rel, value, modRevision: rev++, lease: null})
  }
  return decodeCluster(nodes)
}

describe("Patroni 4.1's LSN columns and /cluster keys", () => {
  test('GET /cluster members equal cluster_as_json of 4.1.4, key order included', () => {
    const {scope, ...rest} = clusterJson(view(), 'demo')
    assert.equal(scope, 'demo')
    assert.equal(JSON.stringify(rest, null, 2) + '\n', fixture('rest-cluster.json'))
  })

  test('list --lsn (pretty, topology, -e) is byte-identical to patronictl 4.1.4', () => {
    const o = {lsnColumns: true}
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'pretty', ...o}), fixture('patronictl-list.txt'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'topology', ...o}), fixture('patronictl-topology.txt'))
    assert.equal(renderMembers(view(), 'demo', {extended: true, fmt: 'pretty', ...o}), fixture('patronictl-list-extended.txt'))
  })

  test('list --lsn -f json / yaml / tsv are byte-identical to patronictl 4.1.4', () => {
    const o = {lsnColumns: true}
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'json', ...o}), fixture('patronictl-list.json'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'yaml', ...o}), fixture('patronictl-list.yaml'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'tsv', ...o}), fixture('patronictl-list.tsv'))
  })

  test('without --lsn the table is the 3.3.1 one (Lag in MB), as hactl reports Patroni 3.3.1', () => {
    assert.equal(LSN_COLUMNS_BY_DEFAULT, false)
    const text = renderMembers(view(), 'demo', {extended: false, fmt: 'pretty'})
    const header = text.split('\n')[1]!
    assert.equal(header.replace(/ +/g, ' '), '| Member | Host | Role | State | TL | Lag in MB |')
    // 3.3.1's Lag in MB of the member 2 MiB behind the leader's optime, of the one ahead and of the stopped one.
    assert.match(text, /\| pg2 +\|.*\| +2 \|\n/)
    assert.match(text, /\| pg5 +\|.*\| +unknown \|\n/)
    assert.match(text, /\| pg6 +\|.*\| +0 \|\n/)
  })
})
