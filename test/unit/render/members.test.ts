import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {emptyCluster, type ClusterView, type Member} from '../../../src/core/cluster'
import {HactlError} from '../../../src/errors'
import {membersFromCluster, membersFromFlags, membersFromInventory, parseHostPort, parseMemberFlag} from '../../../src/render/members'

/** Asserts a usage error (exit 2) whose message contains every fragment. */
function refused(f: () => unknown, ...fragments: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof HactlError, `not a HactlError: ${String(e)}`)
    assert.equal(e.exitCode, 2, e.message)
    for (const s of fragments) assert.ok(e.message.includes(s), `${JSON.stringify(e.message)} lacks ${JSON.stringify(s)}`)
    return true
  })
}

function member(name: string, data: Record<string, unknown>): Member {
  return {
    name, version: 1, session: null, data, role: (data.role as Member['role']) ?? null, state: String(data.state ?? 'unknown'),
    apiUrl: (data.api_url as string) ?? null, connUrl: (data.conn_url as string) ?? null, lsn: null, timeline: null,
    tags: (data.tags as Record<string, unknown>) ?? {}, patroniVersion: null,
  }
}

describe('--member flags', () => {
  it('takes host:port with the REST port, a REST host:port, or an https URL', () => {
    assert.deepEqual(parseMemberFlag('n1=10.0.0.1:5433,8009'), {name: 'n1', host: '10.0.0.1', port: 5433, apiHost: '10.0.0.1', apiPort: 8009, apiScheme: 'http', role: null, state: null, tags: {}})
    const a = parseMemberFlag('n2=db2.example.com,10.1.0.2:8010')
    assert.deepEqual([a.host, a.port, a.apiHost, a.apiPort], ['db2.example.com', 5432, '10.1.0.2', 8010])
    const b = parseMemberFlag('n3=[fd00::3]:5432,https://[fd00:1::3]:8443')
    assert.deepEqual([b.host, b.apiHost, b.apiPort, b.apiScheme], ['fd00::3', 'fd00:1::3', 8443, 'https'])
    const c = parseMemberFlag('n4=fd00::4')
    assert.deepEqual([c.host, c.port, c.apiPort], ['fd00::4', 5432, 8008])
  })

  it('refuses bad ports, hosts and shapes with the value in the message', () => {
    refused(() => parseMemberFlag('n1=10.0.0.1:99999'), '99999', 'port number')
    refused(() => parseMemberFlag('n1=10.0.0.1:5432,0'), '"0"', 'REST API port')
    refused(() => parseMemberFlag('n1=bad host:5432'), '"bad host"')
    refused(() => parseMemberFlag('10.0.0.1:5432'), 'name=host')
    refused(() => parseMemberFlag('n1=[10.0.0.1]:5432'), 'only IPv6')
    refused(() => parseMemberFlag('n1=10.0.0.1,ftp://x:1'), 'REST API')
  })

  it('refuses duplicate names', () => {
    refused(() => membersFromFlags(['a=10.0.0.1', 'a=10.0.0.2']), 'duplicate member name "a"')
  })

  it('parseHostPort keeps a bare IPv6 address whole', () => {
    assert.deepEqual(parseHostPort('::1', 7, 'x'), {host: '::1', port: 7})
    refused(() => parseHostPort('h', undefined, '--x'), '--x', 'has no port')
  })
})

describe('--inventory documents', () => {
  it('reads host/port members and conn_url/api_url members, with defaults', () => {
    const r = membersFromInventory({scope: 'main', members: [
      {name: 'b', host: '10.0.0.2', tags: {dc: 'eu', nofailover: false, nested: {x: 1}}},
      {name: 'a', conn_url: 'postgres://rep@10.0.0.1:5433/postgres', api_url: 'https://10.9.0.1:8443/patroni'},
      {name: 'c', host: 'db3', port: '6432', api_port: 8010, api_host: 'api3', api_scheme: 'https'},
    ]}, 'inv.yml')
    assert.equal(r.scope, 'main')
    assert.deepEqual(r.members.map((m) => [m.name, m.host, m.port, m.apiHost, m.apiPort, m.apiScheme]), [
      ['b', '10.0.0.2', 5432, '10.0.0.2', 8008, 'http'],
      ['a', '10.0.0.1', 5433, '10.9.0.1', 8443, 'https'],
      ['c', 'db3', 6432, 'api3', 8010, 'https'],
    ])
    // Only scalar tags can be compared by Patroni's tag_ filters.
    assert.deepEqual(r.members[0]!.tags, {dc: 'eu', nofailover: 'false'})
  })

  it('names the file and the key path of every problem', () => {
    refused(() => membersFromInventory([], 'f.yml'), 'f.yml', '(top level)')
    refused(() => membersFromInventory({members: []}, 'f.yml'), 'f.yml: members', 'non-empty')
    refused(() => membersFromInventory({members: [{name: 'a', host: 'h'}], extra: 1}, 'f.yml'), 'f.yml: extra: unknown key')
    refused(() => membersFromInventory({members: [{name: 'a', hots: 'h'}]}, 'f.yml'), 'members[0].hots', 'unknown key')
    refused(() => membersFromInventory({members: [{name: 'a', host: 'h', port: 70000}]}, 'f.yml'), 'members[0].port', '70000')
    refused(() => membersFromInventory({members: [{name: 'a', host: 'h', api_port: 0}]}, 'f.yml'), 'members[0].api_port', '0')
    refused(() => membersFromInventory({members: [{name: 'a', host: 'h'}, {name: 'a', host: 'i'}]}, 'f.yml'), 'members[1].name', 'duplicate member name "a"')
    refused(() => membersFromInventory({members: [{name: 'a', host: 'h', api_scheme: 'ftp'}]}, 'f.yml'), 'members[0].api_scheme', '"ftp"')
    refused(() => membersFromInventory({members: [{name: 'a', conn_url: 'postgres://h/x', host: 'h'}]}, 'f.yml'), 'members[0].host', 'cannot be combined')
    refused(() => membersFromInventory({members: [{name: 'a', conn_url: 'mysql://h/x', api_url: 'http://h:8008'}]}, 'f.yml'), 'conn_url', 'scheme must be postgres')
    refused(() => membersFromInventory({members: [{host: 'h'}]}, 'f.yml'), 'members[0].name')
  })
})

describe('members from the DCS', () => {
  it('reads conn_url/api_url like confd, leaves out what cannot be addressed, and says why', () => {
    const c: ClusterView = {
      ...emptyCluster(),
      leader: {name: 'pg2', version: 3, session: null} as unknown as ClusterView['leader'],
      members: [
        member('pg2', {conn_url: 'postgres://10.0.0.2:5432/postgres', api_url: 'http://10.0.0.2:8008/patroni', role: 'primary', state: 'running', tags: {dc: 'eu'}}),
        member('pg1', {conn_url: 'postgres://[fd00::1]:5433/postgres', api_url: 'http://[fd00::1]:8009/patroni', role: 'replica', state: 'streaming'}),
        member('pg3', {api_url: 'http://10.0.0.3:8008/patroni'}),
        member('pg4', {conn_url: 'postgres://10.0.0.4:99999/postgres', api_url: 'http://10.0.0.4:8008/patroni'}),
      ],
      warnings: [{key: 'members/pg5', message: 'not JSON'}, {key: 'config', message: 'ignored here'}],
    }
    const r = membersFromCluster(c, 'main')
    assert.deepEqual(r.members.map((m) => [m.name, m.host, m.port, m.apiPort, m.role, m.state]), [
      ['pg2', '10.0.0.2', 5432, 8008, 'primary', 'running'],
      ['pg1', 'fd00::1', 5433, 8009, 'replica', 'streaming'],
    ])
    assert.equal(r.leader, 'pg2')
    assert.equal(r.scope, 'main')
    assert.equal(r.warnings.length, 3)
    assert.match(r.warnings[0]!, /"pg3" has no conn_url/)
    assert.match(r.warnings[1]!, /99999.*member left out/)
    assert.match(r.warnings[2]!, /members\/pg5: not JSON/)
  })
})
