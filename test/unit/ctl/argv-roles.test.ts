import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {DSN_SPEC, LIST_SPEC, VERSION_SPEC, withGlobalFlags, type CommandSpec} from '../../../src/commands/shared/ctl-specs'
import {type Member, emptyCluster, normalizeRole, type ClusterView} from '../../../src/core/cluster'
import {UsageError, hoistGlobalFlags, parseCommandArgv} from '../../../src/ctl/argv'
import {parseDcsUrl} from '../../../src/ctl/context'
import {connKwargs, topologySort} from '../../../src/ctl/members'
import {anyMember, membersWithRole} from '../../../src/ctl/roles'

describe('global options before the command id', () => {
  test('are moved after it in their long form', () => {
    assert.deepEqual(hoistGlobalFlags(['-c', 'f.yml', 'list']), ['list', '--config-file=f.yml'])
    assert.deepEqual(hoistGlobalFlags(['-cf.yml', '-k', '-d', 'etcd3://h:1', 'list', '-e', 'x']), ['list', '-e', 'x', '--config-file=f.yml', '--insecure', '--dcs-url=etcd3://h:1'])
    assert.deepEqual(hoistGlobalFlags(['--config-file', 'a b', '--dcs=h', 'history', 'c']), ['history', 'c', '--config-file=a b', '--dcs-url=h'])
    assert.deepEqual(hoistGlobalFlags(['-kc', 'f', 'dsn']), ['dsn', '--insecure', '--config-file=f'])
    assert.deepEqual(hoistGlobalFlags(['-c', 'f', 'query', '-c', 'select 1', '--', '-x']), ['query', '-c', 'select 1', '--config-file=f', '--', '-x'])
  })

  test('anything else is left alone', () => {
    for (const argv of [['list', '-c', 'f'], ['--version'], ['-c', 'f'], ['--help'], ['-e', 'list'], ['-c'], []]) {
      assert.deepEqual(hoistGlobalFlags(argv), argv)
    }
  })
})

describe('command options, click style, from the shared spec', () => {
  test('short, long, =value, clustered and interleaved options', () => {
    const p = parseCommandArgv(LIST_SPEC, ['a', '-et', '-fjson', 'b', '--watch=0.5', '--config-file', 'x.yml', '-k', '--', '-c'])
    assert.deepEqual(p.args, {cluster_names: ['a', 'b', '-c']})
    assert.equal(p.flags['extended'], true)
    assert.equal(p.flags['timestamp'], true)
    assert.equal(p.flags['format'], 'json')
    assert.equal(p.flags['watch'], 0.5)
    assert.equal(p.flags['config-file'], 'x.yml')
    assert.equal(p.flags['insecure'], true)
    assert.equal(parseCommandArgv(LIST_SPEC, []).flags['format'], 'pretty')
    assert.equal(parseCommandArgv(LIST_SPEC, ['-W']).flags['W'], true)
    assert.equal(parseCommandArgv(LIST_SPEC, ['--dcs', 'h:1']).flags['dcs-url'], 'h:1')
    assert.deepEqual(parseCommandArgv(VERSION_SPEC, ['c', 'm1', 'm2']).args, {cluster_name: 'c', member_names: ['m1', 'm2']})
    assert.deepEqual(parseCommandArgv(VERSION_SPEC, []).args, {cluster_name: undefined, member_names: []})
  })

  test('mistakes are usage errors (exit 2) with click wording', () => {
    const err = (spec: CommandSpec, argv: string[], re: RegExp) =>
      assert.throws(() => parseCommandArgv(spec, argv), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message))
    err(LIST_SPEC, ['--nope'], /^No such option: --nope$/)
    err(LIST_SPEC, ['-x'], /^No such option: -x$/)
    err(LIST_SPEC, ['-f', 'xml'], /^Invalid value for '-f' \/ '--format': 'xml' is not one of 'pretty', 'tsv', 'json', 'yaml', 'yml'\.$/)
    err(LIST_SPEC, ['-w', 'soon'], /is not a valid float/)
    err(LIST_SPEC, ['-f'], /^Option '-f' requires an argument\.$/)
    err(LIST_SPEC, ['--extended=yes'], /does not take a value/)
    err(DSN_SPEC, ['a', 'b'], /^Got unexpected extra argument \(b\)$/)
    err(DSN_SPEC, ['-r', 'boss'], /is not one of 'leader', 'primary'/)
  })

  test('a command letter wins over a global one; the global keeps its long name', () => {
    const spec: CommandSpec = {id: 'q', summary: '', args: [], flags: {command: {kind: 'string', char: 'c', description: ''}}}
    const merged = withGlobalFlags(spec)
    assert.equal(merged['command']!.char, 'c')
    assert.equal(merged['config-file']!.char, undefined)
    const p = parseCommandArgv(spec, ['-c', 'select 1', '--config-file=f'])
    assert.equal(p.flags['command'], 'select 1')
    assert.equal(p.flags['config-file'], 'f')
  })
})

describe('-d/--dcs-url', () => {
  test('etcd3 or no scheme; host, port and namespace as patronictl reads them', () => {
    assert.deepEqual(parseDcsUrl('etcd3://10.20.89.56'), {etcd3: {host: '10.20.89.56:2379'}})
    assert.deepEqual(parseDcsUrl('etcd3://Random.com:2399/customnamespace'), {etcd3: {host: 'random.com:2399'}, namespace: '/customnamespace'})
    assert.deepEqual(parseDcsUrl('127.0.0.1:23790'), {etcd3: {host: '127.0.0.1:23790'}})
    assert.deepEqual(parseDcsUrl(':2399'), {etcd3: {host: 'localhost:2399'}})
    assert.deepEqual(parseDcsUrl('etcd3://[::1]:2379/'), {etcd3: {host: '[::1]:2379'}})
  })

  test('other stores are refused by name', () => {
    assert.throws(() => parseDcsUrl('etcd://h:2379'), /etcd v2 API is not supported; hactl speaks etcd v3 only: use etcd3:\/\/host:port/)
    assert.throws(() => parseDcsUrl('consul://h'), /consul is not supported/)
    assert.throws(() => parseDcsUrl('h:8500'), /consul is not supported/)
    assert.throws(() => parseDcsUrl('zk://h'), /^Error$|Unknown dcs scheme: zk/)
    assert.throws(() => parseDcsUrl('etcd3://h:port'), /port "port" is not a number/)
  })
})

function member(name: string, data: Record<string, unknown>): Member {
  return {
    name, version: 1, session: null, data, role: normalizeRole(data['role']), state: String(data['state'] ?? 'unknown'),
    apiUrl: null, connUrl: (data['conn_url'] as string) ?? null, lsn: null, timeline: null, tags: (data['tags'] as Record<string, unknown>) ?? {}, patroniVersion: null,
  }
}

function cluster(leader: string | null, leaderRole: string, names = ['a', 'b', 'c']): ClusterView {
  const v = emptyCluster()
  v.members = names.map((n) => member(n, {conn_url: `postgres://10.0.0.${n.charCodeAt(0) - 96}:54${n.charCodeAt(0) - 96}/postgres`, role: n === leader ? leaderRole : 'replica'}))
  if (leader) v.leader = {name: leader, version: 1, session: null, member: v.members.find((m) => m.name === leader)!}
  return v
}

describe('role filters (dsn, version, member selection)', () => {
  test('leader, primary/master, standby-leader, replica/standby, any', () => {
    const names = (v: ClusterView, r: Parameters<typeof membersWithRole>[1]) => membersWithRole(v, r).map((m) => m.name)
    const primary = cluster('b', 'master')
    assert.deepEqual(names(primary, 'leader'), ['b'])
    assert.deepEqual(names(primary, 'primary'), ['b'])
    assert.deepEqual(names(primary, 'master'), ['b'])
    assert.deepEqual(names(primary, 'standby-leader'), [])
    assert.deepEqual(names(primary, 'replica'), ['a', 'c'])
    assert.deepEqual(names(primary, 'standby'), ['a', 'c'])
    assert.deepEqual(names(primary, 'any'), ['a', 'b', 'c'])
    assert.deepEqual(names(cluster('b', 'primary'), 'standby-leader'), [], '4.x writes primary')
    const standby = cluster('c', 'standby_leader')
    assert.deepEqual(names(standby, 'standby-leader'), ['c'])
    assert.deepEqual(names(standby, 'primary'), [])
    assert.deepEqual(names(standby, 'leader'), ['c'])
    const leaderless = cluster(null, 'master')
    assert.deepEqual(names(leaderless, 'leader'), [])
    assert.deepEqual(names(leaderless, 'replica'), ['a', 'b', 'c'])
  })

  test('dsn picks the first match; role and member exclude each other', () => {
    const v = cluster('b', 'master')
    assert.equal(anyMember(v, {})!.name, 'b')
    assert.equal(anyMember(v, {role: 'replica'})!.name, 'a')
    assert.equal(anyMember(v, {member: 'c'})!.name, 'c')
    assert.equal(anyMember(v, {member: 'zz'}), undefined)
    assert.throws(() => anyMember(v, {role: 'any', member: 'a'}), /--role and --member are mutually exclusive options/)
    assert.deepEqual(connKwargs(anyMember(v, {member: 'c'})!), {host: '10.0.0.3', port: 543})
    assert.deepEqual(connKwargs(member('x', {conn_url: 'postgres://DB.example:/x'})), {host: 'db.example', port: 5432})
    assert.deepEqual(connKwargs(member('x', {conn_url: 'postgres://u@[fe80::1]:6432/x'})), {host: 'fe80::1', port: 6432})
    assert.deepEqual(connKwargs(member('x', {conn_kwargs: {host: 'h', port: 1}, conn_url: 'postgres://o:2/x'})), {host: 'h', port: 1})
    assert.equal(connKwargs(member('x', {})), null)
  })

  test('topology nests replicatefrom chains under the leader and drops cycles', () => {
    const m = (name: string, role: string, from?: string) => ({name, role, tags: from ? {replicatefrom: from} : {}})
    const sorted = topologySort([m('a', 'replica'), m('b', 'leader'), m('c', 'replica', 'a'), m('d', 'replica', 'c'), m('e', 'replica', 'e'), m('f', 'replica', 'nope')])
    assert.deepEqual(sorted.map((x) => x.name), ['b', '+ a', '  + c', '    + d', '+ e', '+ f'])
    const cyc = topologySort([m('l', 'standby_leader'), m('x', 'replica', 'y'), m('y', 'replica', 'x')])
    assert.deepEqual(cyc.map((x) => x.name), ['l'])
    assert.deepEqual(topologySort([m('a', 'replica'), m('b', 'replica')]).map((x) => x.name), ['+ a', '+ b'])
  })
})
