/**
 * The PostgresControl contract (test/contract/postgres-contract.ts) on PostgresAdapter over a
 * real PostgreSQL 15: two PgNodes (free ports, temp dirs owned by the unprivileged account,
 * removed afterwards). What the real server needs and the fake does not model lives here: the
 * data dir created empty and owned, pg_hba with scram for TCP, a superuser password, the
 * replication role, and a table to write into.
 */
import type {ConnParams} from '../../../src/ports/postgres'
import {postgresContract, type PgContractNode} from '../../contract/postgres-contract'
import {ownedDir} from '../../harness/postgres-bin'
import {waitFor} from '../../harness/ports'
import {PgNode, REPLICATION, SUPERUSER} from './pg-node'

postgresContract('PostgresAdapter on real PostgreSQL 15', async () => {
  const [a, b] = await Promise.all([PgNode.create('node_a'), PgNode.create('node_b')])
  const nodes = new Map<PgContractNode, PgNode>()
  const node = (n: PgNode): PgContractNode => {
    const at: ConnParams = {host: '127.0.0.1', port: n.port}
    // The contract starts from an existing, empty data directory (as a provisioned host has).
    ownedDir(n.pg.dataDir)
    const c: PgContractNode = {
      pg: n.pg,
      name: n.name,
      superuser: {...at, user: SUPERUSER.username, password: SUPERUSER.password},
      replication: {...at, user: REPLICATION.username, password: REPLICATION.password},
      initdb: {options: [{encoding: 'UTF8'}, {locale: 'C.UTF-8'}], superuser: SUPERUSER, timeoutMs: 60_000},
      files: (recovery) => n.files(recovery),
      startOptions: () => ({cmdline: n.cmdline(), timeoutMs: 30_000}),
    }
    nodes.set(c, n)
    return c
  }
  return {
    primary: node(a),
    replica: node(b),
    async preparePrimary() {
      await a.pg.createRoles({superuser: SUPERUSER, replication: REPLICATION})
    },
    async write(n) {
      const pg = nodes.get(n)!.pg
      await pg.query('CREATE TABLE IF NOT EXISTS contract_writes (id serial PRIMARY KEY, at timestamptz DEFAULT now())')
      await pg.query('INSERT INTO contract_writes DEFAULT VALUES')
    },
    async waitUntil(what, cond, maxMs) {
      await waitFor(what, cond, {timeoutMs: maxMs, intervalMs: 100})
    },
    async cleanup() {
      await Promise.all([a.destroy(), b.destroy()])
    },
  }
})
