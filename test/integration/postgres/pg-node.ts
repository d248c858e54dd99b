/**
 * One PostgreSQL node for the adapter's integration tests: a temp dir owned by the
 * unprivileged account, a free port, the socket in the temp dir, small settings for speed.
 */
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {NodeProcessRunner} from '../../../src/adapters/process'
import {PostgresAdapter} from '../../../src/adapters/postgres'
import {serverParameters} from '../../../src/core/pg-params'
import type {ConfigFiles, ConnParams, RecoveryConfig} from '../../../src/ports/postgres'
import {PG_BIN_DIR} from '../../harness/postgres-bin'
import {freePort} from '../../harness/ports'
import {ownedTempDir, runAs} from '../../harness/unprivileged'

export const SUPERUSER = {username: 'postgres', password: "su'per\\secret"}
/** Quotes, a backslash, a colon and a space: every escaping rule on the way to libpq. */
export const REPLICATION = {username: 'replicator', password: "rep pass:'x\\y"}

export const PG_HBA = [
  'local all all trust',
  'local replication all trust',
  `host replication ${REPLICATION.username} 127.0.0.1/32 scram-sha-256`,
  'host all all 127.0.0.1/32 scram-sha-256',
]

/** TCP connection parameters of a node's superuser and of its replication role. */
export const superOn = (n: PgNode): ConnParams => ({host: '127.0.0.1', port: n.port, user: SUPERUSER.username, password: SUPERUSER.password})
export const replOn = (n: PgNode): ConnParams => ({host: '127.0.0.1', port: n.port, user: REPLICATION.username, password: REPLICATION.password})

export class PgNode {
  readonly runner = new NodeProcessRunner()
  readonly pg: PostgresAdapter
  private constructor(
    readonly name: string,
    readonly base: string,
    readonly port: number,
  ) {
    const who = runAs()
    this.pg = new PostgresAdapter({
      dataDir: join(base, 'data'),
      binDir: PG_BIN_DIR,
      runner: this.runner,
      owner: who ? {uid: who.uid, gid: who.gid} : undefined,
      env: {HOME: base, LANG: 'C.UTF-8'},
      local: {host: base, port, user: SUPERUSER.username, dbname: 'postgres'},
      pgpassPath: join(base, 'pgpass'),
      postmasterLog: join(base, 'postmaster.log'),
      pollMs: 50,
    })
  }

  static async create(name: string): Promise<PgNode> {
    return new PgNode(name, ownedTempDir(`hactl-pg-${name}-`), await freePort())
  }

  params(extra: Record<string, unknown> = {}, dynamicExtra: Record<string, unknown> = {}) {
    return serverParameters({
      serverVersion: 150000,
      scope: 'pgtest',
      listen: `127.0.0.1:${this.port}`,
      dynamicParameters: {max_connections: 30, max_wal_senders: 5, max_replication_slots: 5, max_worker_processes: 4, ...dynamicExtra},
      localParameters: {
        shared_buffers: '16MB',
        fsync: 'off',
        full_page_writes: 'on',
        unix_socket_directories: this.base,
        password_encryption: 'scram-sha-256',
        logging_collector: 'off',
        max_wal_size: '64MB',
        ...extra,
      },
    })
  }

  files(recovery: RecoveryConfig | null = null, extra: Record<string, unknown> = {}): ConfigFiles {
    return {serverVersion: 150000, parameters: this.params(extra).parameters, pgHba: PG_HBA, pgIdent: [], recovery}
  }

  cmdline(): Record<string, string> {
    return this.params().cmdline
  }

  async destroy(): Promise<void> {
    try {
      await this.pg.close()
      const st = await this.pg.state()
      if (st.kind === 'running') await this.pg.stop({mode: 'immediate', timeoutMs: 5000})
    } finally {
      rmSync(this.base, {recursive: true, force: true})
    }
  }
}
