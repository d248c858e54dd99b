/**
 * A hactl cluster whose PostgreSQL accepts TCP connections only over TLS with a client
 * certificate (pg_hba `hostssl ... cert clientcert=verify-full`, ssl=on, a private CA): the
 * agents' superuser connections, pg_basebackup, the replicas' primary_conninfo and the rewind
 * role all carry postgresql.authentication's sslmode/sslrootcert/sslcert/sslkey. Node 1
 * bootstraps, node 2 clones and streams over TLS as the certificate's role.
 */
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, test} from 'node:test'
import {withClient} from '../../../src/adapters/postgres/sql'
import type {ConnParams} from '../../../src/ports/postgres'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster} from '../../harness/patroni'
import {runHactl} from '../../harness/hactl-cli'
import {TestCa, type CertPair} from '../../harness/tls-certs'
import {ownedTempDir, runAs} from '../../harness/unprivileged'

let etcd: EtcdServer
let cluster: PatroniCluster
let dir: string
let ca: TestCa
const certs: Record<string, CertPair> = {}

before(async () => {
  etcd = await EtcdServer.start()
  dir = ownedTempDir('hactl-tls-agent-')
  ca = new TestCa(dir, runAs())
  const server = ca.issue('server', 'pg.example') // names that do not match 127.0.0.1: verify-ca
  for (const role of ['postgres', 'replicator', 'rewinder']) certs[role] = ca.issue(role, role)
  const tlsOf = (role: string) => ({sslmode: 'verify-ca', sslrootcert: ca.cert, sslcert: certs[role].cert, sslkey: certs[role].key})
  const pgExtra = {
    authentication: {
      superuser: {...PATRONI_TEST_AUTH.superuser, ...tlsOf('postgres')},
      replication: {...PATRONI_TEST_AUTH.replication, ...tlsOf('replicator')},
      rewind: {...PATRONI_TEST_AUTH.rewind, ...tlsOf('rewinder')},
    },
    pg_hba: ['local all all trust', 'hostssl replication replicator 127.0.0.1/32 cert clientcert=verify-full', 'hostssl all all 127.0.0.1/32 cert clientcert=verify-full'],
  }
  cluster = await PatroniCluster.start({
    etcd,
    scope: 'tlscerts',
    nodes: 2,
    impl: 'hactl',
    parameters: {ssl: 'on', ssl_cert_file: server.cert, ssl_key_file: server.key, ssl_ca_file: ca.cert},
    postgresql: {tlscerts1: pgExtra, tlscerts2: pgExtra},
    namePrefix: 'tlscerts',
  })
})

after(async () => {
  await cluster?.destroy()
  await etcd?.stop()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

const asRole = (port: number, role: string, extra: Partial<ConnParams> = {}): ConnParams => ({
  host: '127.0.0.1',
  port,
  user: role,
  sslmode: 'verify-ca',
  sslrootcert: ca.cert,
  sslcert: certs[role].cert,
  sslkey: certs[role].key,
  ...extra,
})

test('the cluster bootstraps and the replica streams over TLS as the replication certificate', async () => {
  const leaderName = await cluster.waitForLeader()
  const leader = cluster.node(leaderName)
  const replica = cluster.nodes.find((n) => n.name !== leaderName)!
  const senders = await withClient(asRole(leader.pgPort, 'postgres'), {}, 'walsenders', async (c) => {
    const r = await c.query(
      `SELECT r.application_name, r.state, s.ssl, s.client_dn FROM pg_catalog.pg_stat_replication r JOIN pg_catalog.pg_stat_ssl s USING (pid)`,
    )
    return r.rows as Array<{application_name: string; state: string; ssl: boolean; client_dn: string}>
  })
  assert.deepEqual(senders, [{application_name: replica.name, state: 'streaming', ssl: true, client_dn: '/CN=replicator'}])
  // The agents' own connections come in as the superuser's certificate too.
  const agents = await withClient(asRole(leader.pgPort, 'postgres'), {}, 'agent sessions', async (c) => {
    const r = await c.query(
      `SELECT DISTINCT s.ssl, s.client_dn FROM pg_catalog.pg_stat_activity a JOIN pg_catalog.pg_stat_ssl s USING (pid) WHERE a.application_name = 'hactl' AND a.client_addr IS NOT NULL`,
    )
    return r.rows as Array<{ssl: boolean; client_dn: string}>
  })
  assert.deepEqual(agents, [{ssl: true, client_dn: '/CN=postgres'}])
  // primary_conninfo names the files (never a key's content).
  const conninfo = await withClient(asRole(replica.pgPort, 'postgres'), {}, 'primary_conninfo', async (c) => {
    const r = await c.query(`SELECT pg_catalog.current_setting('primary_conninfo') AS ci`)
    return String(r.rows[0]?.ci)
  })
  assert.match(conninfo, /sslmode=verify-ca/)
  assert.match(conninfo, new RegExp(`sslcert=${certs['replicator'].cert}`))
  assert.match(conninfo, new RegExp(`sslrootcert=${ca.cert}`))
})

test('without a client certificate the server refuses the connection (the cert rule is what let the agents in)', async () => {
  const leader = cluster.node(await cluster.waitForLeader())
  await assert.rejects(
    withClient({host: '127.0.0.1', port: leader.pgPort, user: 'postgres', password: PATRONI_TEST_AUTH.superuser.password, sslmode: 'require', sslcert: join(dir, 'none.crt')}, {}, 'probe', async () => 1),
    /certificate/i,
  )
})

test('hactl query takes libpq\'s PGSSL* variables, as patronictl\'s psycopg does', async () => {
  const leader = cluster.node(await cluster.waitForLeader())
  const sql = 'SELECT ssl, client_dn FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()'
  const tls = {PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca.cert, PGSSLCERT: certs['postgres'].cert, PGSSLKEY: certs['postgres'].key}
  const ok = await runHactl(['-c', leader.configPath, 'query', '-U', 'postgres', '-c', sql], {env: tls})
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stdout.trim(), 'ssl\tclient_dn\nTrue\t/CN=postgres')
  // Without the client certificate the server turns the session away.
  const refused = await runHactl(['-c', leader.configPath, 'query', '-U', 'postgres', '-c', sql], {env: {PGSSLMODE: 'require', PGSSLCERT: join(dir, 'none.crt')}})
  assert.doesNotMatch(refused.stdout, /True/)
  assert.match(refused.stdout, /ERROR, SQLSTATE: 28000/) // invalid_authorization_specification, printed as patronictl does
})

test('after a switchover the old primary follows the new one over TLS (timeline probes and primary_conninfo with the certificate)', async () => {
  const old = await cluster.waitForLeader()
  const candidate = cluster.nodes.find((n) => n.name !== old)!.name
  const r = await runHactl(['-c', cluster.node(old).configPath, 'switchover', '--leader', old, '--candidate', candidate, '--force'])
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const leader = cluster.node(await cluster.waitForLeader({not: old}))
  assert.equal(leader.name, candidate)
  await cluster.waitForReplicasStreaming(1)
  const senders = await withClient(asRole(leader.pgPort, 'postgres'), {}, 'walsenders', async (c) => {
    const q = await c.query(`SELECT r.application_name, s.ssl, s.client_dn FROM pg_catalog.pg_stat_replication r JOIN pg_catalog.pg_stat_ssl s USING (pid) WHERE r.state = 'streaming'`)
    return q.rows
  })
  assert.deepEqual(senders, [{application_name: old, ssl: true, client_dn: '/CN=replicator'}])
})
