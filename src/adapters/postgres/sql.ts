/**
 * SQL connections for the PostgreSQL adapter, on `pg`. Every connection has a short connect
 * timeout, a server-side statement_timeout and a client-side query timeout, so no call can hang
 * the HA loop; errors become PG_UNAVAILABLE with the server's message (which never contains a
 * password: role DDL errors are redacted by the caller).
 */
import type pg from 'pg'
// The Client alone: pg's index also loads and sets up pg-pool, which nothing here uses, in every
// process that connects (src/types/pg-client.d.ts).
import PgClient from 'pg/lib/client'
import PgQuery from 'pg/lib/query'
import {HactlError} from '../../errors'
import type {ConnParams} from '../../ports/postgres'
import {connectWithTls, type TlsAttempt} from '../../postgres/tls'

export const APPLICATION_NAME = 'hactl'

export interface SqlOptions {
  /** ms; 0 = none. Default 2000 (Patroni's `-c statement_timeout=2000`). */
  statementTimeoutMs?: number
  /** Client-side limit on one query, covering a dead socket; default statement timeout + 3 s. */
  queryTimeoutMs?: number
  connectTimeoutMs?: number
  /** Physical replication protocol (IDENTIFY_SYSTEM, TIMELINE_HISTORY). */
  replication?: boolean
}

/** pg's configuration for one connection attempt; `ssl` is that attempt's TLS (src/postgres/tls.ts). */
export function clientConfig(conn: ConnParams, opts: SqlOptions = {}, ssl: TlsAttempt = false): pg.ClientConfig {
  const statement = opts.statementTimeoutMs ?? 2000
  const cfg: pg.ClientConfig & {replication?: string; sslnegotiation?: string} = {
    host: conn.host,
    port: conn.port === undefined ? undefined : Number(conn.port),
    user: conn.user,
    password: conn.password,
    database: conn.dbname ?? 'postgres',
    application_name: conn.application_name ?? APPLICATION_NAME,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
    query_timeout: opts.queryTimeoutMs ?? (statement > 0 ? statement + 3000 : undefined),
    // `options` rather than the statement_timeout startup key: walsenders accept only `options`.
    options: `-c statement_timeout=${statement}`,
  }
  if (opts.replication) cfg.replication = 'true'
  // Always explicit: pg would otherwise read PGSSLMODE its own way.
  // sslnegotiation too: pg would take PGSSLNEGOTIATION from the environment.
  if (ssl === false) {
    cfg.ssl = false
    cfg.sslnegotiation = 'postgres'
  } else {
    const {sslnegotiation, ...tls} = ssl
    cfg.ssl = tls
    cfg.sslnegotiation = sslnegotiation
  }
  return cfg
}

export function describeConn(conn: ConnParams): string {
  return `${conn.host ?? 'localhost'}:${conn.port ?? 5432}`
}

export function pgError(what: string, conn: ConnParams, e: unknown): HactlError {
  const msg = e instanceof Error ? e.message : String(e)
  return new HactlError('PG_UNAVAILABLE', `${what} on ${describeConn(conn)} failed: ${msg}`, {cause: e, recoverable: true})
}

/** A connected client, with libpq's TLS parameters and sslmode fallbacks (src/postgres/tls.ts). */
export async function connectClient(conn: ConnParams, opts: SqlOptions = {}, onClient?: (c: pg.Client) => void): Promise<pg.Client> {
  try {
    return await connectWithTls(conn, (ssl) => {
      const c = new PgClient(clientConfig(conn, opts, ssl))
      c.on('error', () => {}) // a dropped socket is reported by the pending query instead
      onClient?.(c)
      return c
    })
  } catch (e) {
    // A TLS file libpq would not accept fails the connection as libpq's would (PG_UNAVAILABLE
    // naming the key), not the caller's configuration handling.
    if (e instanceof HactlError && e.code === 'CONFIG_INVALID') throw new Error(e.message)
    throw e
  }
}

/** Connects, runs `fn`, always disconnects. */
export async function withClient<T>(conn: ConnParams, opts: SqlOptions, what: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  let client: pg.Client | undefined
  try {
    client = await connectClient(conn, opts)
    return await fn(client)
  } catch (e) {
    if (e instanceof HactlError) throw e
    throw pgError(what, conn, e)
  } finally {
    await client?.end().catch(() => {})
  }
}

/** A lazily opened connection that is dropped after any error and reopened on the next call. */
export class LocalSql {
  private client: pg.Client | undefined
  private connecting: Promise<pg.Client> | undefined

  constructor(private conn: ConnParams) {}

  setConn(conn: ConnParams): void {
    this.conn = conn
    void this.close()
  }

  get params(): ConnParams {
    return this.conn
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client
    this.connecting ??= (async () => {
      const c = await connectClient(this.conn, {}, (attempt) => {
        attempt.on('error', () => {
          if (this.client === attempt) this.client = undefined
        })
        attempt.on('end', () => {
          if (this.client === attempt) this.client = undefined
        })
      })
      this.client = c
      return c
    })().finally(() => (this.connecting = undefined))
    return this.connecting
  }

  /** Queries sent on this connection so far: tells a caller whether anything ran since its own query. */
  sent = 0

  /**
   * `name`: a statement this connection prepares once and runs again by name (the text is
   * parsed and sent only the first time on each connection). For a constant query run every HA
   * cycle; a name stands for one text only.
   */
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[], what = 'query', name?: string): Promise<T[]> {
    let c: pg.Client | undefined
    this.sent++
    try {
      c = await this.connection()
      if (name === undefined) return (await c.query(sql, params as unknown[] | undefined)).rows as T[]
      // A query config object ({name, text, values}) is copied property by property on every
      // call (pg's normalizeQueryConfig); a Query made from the text and named afterwards is not.
      // pg reads `name` when it sends the query (Query.requiresPreparation, Query.prepare).
      const client = c
      const r = await new Promise<pg.QueryResult>((resolve, reject) => {
        const q = new PgQuery(sql, params ?? [], (err, res) => (err ? reject(err) : resolve(res)))
        q.name = name
        client.query(q as unknown as pg.QueryConfig)
      })
      return r.rows as T[]
    } catch (e) {
      if (c && this.client === c) {
        this.client = undefined
        void c.end().catch(() => {})
      }
      throw pgError(what, this.conn, e)
    }
  }

  async close(): Promise<void> {
    const c = this.client
    this.client = undefined
    if (c) await c.end().catch(() => {})
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** A literal safe under any standard_conforming_strings setting. */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''")
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`
}

/** Text columns from the replication protocol returned raw (TIMELINE_HISTORY's content is not a real bytea). */
export const RAW_TYPES = {getTypeParser: () => (v: string) => v}
