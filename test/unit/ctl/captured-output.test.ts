import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, test} from 'node:test'
import {historyJson} from '../../../src/api/cluster'
import {decodeCluster, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'
import type {ClusterView} from '../../../src/core/cluster'
import {renderMembers} from '../../../src/ctl/members'
import {printOutput} from '../../../src/ctl/print-output'
import type {PyValue} from '../../../src/ctl/py-format'
import {pyYamlDump} from '../../../src/ctl/py-yaml'

/**
 * Golden tests against what Debian's patronictl 3.0.2 printed for a real cluster
 * (test/fixtures/patroni-3.0.2), rendered from the etcd keys captured at the same moment.
 * Documented differences, because hactl prints what 3.3.1 prints:
 * - the title carries the system identifier (` Cluster: demo (7711...) `); 3.0.2 printed ` Cluster: demo `;
 * - `list -e` has a `Pending restart reason` column (added in 3.1).
 */
const dir = 'test/fixtures/patroni-3.0.2/'
const fixture = (f: string) => readFileSync(dir + f, 'utf8')
const dump = JSON.parse(fixture('etcd-dump.json')) as {prefix: string; keys: Array<{key: string; value: string; mod_revision: string; lease: string}>}

function view(replace: Record<string, string | undefined> = {}): ClusterView {
  const nodes = new Map<string, RawNode>()
  for (const k of dump.keys) {
    const rel = k.key.slice(dump.prefix.length)
    nodes.set(rel, {key: rel, value: k.value, modRevision: Number(k.mod_revision), lease: k.lease === '0' ? null : k.lease})
  }
  for (const [rel, value] of Object.entries(replace)) {
    if (value === undefined) nodes.delete(rel)
    else nodes.set(rel, {key: rel, value, modRevision: 999, lease: null})
  }
  return decodeCluster(nodes)
}

const sysid = () => view().initialize!

/** 3.0.2's first line with the 3.3.1 title written over it instead. */
function with331Title(text: string, name = 'demo'): string {
  const [first, ...rest] = text.split('\n')
  const title = ` Cluster: ${name} (${sysid()}) `
  assert.ok(first!.startsWith(`+ Cluster: ${name} -`), first)
  const border = '+' + first!.slice(1).replace(/[^+]/g, '-')
  return [border[0] + title + border.slice(1 + title.length), ...rest].join('\n')
}

describe('list/topology/history/show-config against captured patronictl output', () => {
  test('the fixture cluster decodes cleanly and has a system identifier', () => {
    const v = view()
    assert.deepEqual(v.warnings, [])
    assert.match(sysid(), /^\d{19}$/)
  })

  test('list (pretty) equals patronictl except the 3.3.1 title', () => {
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'pretty'}), with331Title(fixture('patronictl-list.txt')))
  })

  test('list -f json / yaml / tsv are byte-identical', () => {
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'json'}), fixture('patronictl-list.json'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'yaml'}), fixture('patronictl-list.yaml'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'yml'}), fixture('patronictl-list.yaml'))
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'tsv'}), fixture('patronictl-list.tsv'))
  })

  test('topology equals patronictl except the title', () => {
    assert.equal(renderMembers(view(), 'demo', {extended: false, fmt: 'topology'}), with331Title(fixture('patronictl-topology.txt')))
  })

  test('list -e: patronictl 3.0.2 plus the 3.1+ Pending restart reason column', () => {
    const ours = renderMembers(view(), 'demo', {extended: true, fmt: 'pretty'}).split('\n')
    const header = ours[1]!
    const start = header.indexOf('| Pending restart reason ')
    assert.ok(start > 0, header)
    const width = header.indexOf('|', start + 1) - start
    const without = ours.map((l) => l.slice(0, start) + l.slice(start + width)).join('\n')
    assert.equal(without, with331Title(fixture('patronictl-list-extended.txt')))
  })

  test('a scheduled switchover adds the footer lines', () => {
    const failover = JSON.parse(fixture('etcd-failover-scheduled.json')) as {value: string}
    assert.equal(renderMembers(view({failover: failover.value}), 'demo', {extended: false, fmt: 'pretty'}), with331Title(fixture('patronictl-list-scheduled.txt')))
    // machine formats never carry the footer
    assert.equal(renderMembers(view({failover: failover.value}), 'demo', {extended: false, fmt: 'json'}), fixture('patronictl-list.json'))
  })

  test('maintenance mode footer, and the titles of a cluster being or not yet initialized', () => {
    const paused = JSON.stringify({...view().config!.data, pause: true})
    const text = renderMembers(view({config: paused}), 'demo', {extended: false, fmt: 'pretty'})
    assert.ok(text.endsWith('+\n Maintenance mode: on\n'), text)
    assert.ok(renderMembers(view({initialize: ''}), 'demo', {extended: false, fmt: 'pretty'}).startsWith('+ Cluster: demo (initializing) '))
    assert.ok(renderMembers(view({initialize: undefined}), 'demo', {extended: false, fmt: 'pretty'}).startsWith('+ Cluster: demo (uninitialized) '))
  })

  test('history in every format equals patronictl', () => {
    const rows = (historyJson(view()) as PyValue[][]).map((l) => [...l, '', '', '', '', ''].slice(0, 5))
    const cols = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader']
    assert.equal(printOutput(cols, rows, {fmt: 'pretty', align: {TL: 'r', LSN: 'r'}}), fixture('patronictl-history.txt'))
    assert.equal(printOutput(cols, rows, {fmt: 'json', align: {TL: 'r', LSN: 'r'}}), fixture('patronictl-history.json'))
  })

  test('show-config equals patronictl', () => {
    assert.equal(pyYamlDump(view().config!.data as PyValue) + '\n', fixture('patronictl-show-config.txt'))
  })
})
