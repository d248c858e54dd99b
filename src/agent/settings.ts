/**
 * What the local configuration says for the agent's logger, DCS timing and own PostgreSQL
 * connection. Pure translations, used by the agent (daemon.ts, ha-loop.ts) and by the
 * composition root (src/wiring/agent.ts), which re-exports them.
 */
import type {LocalConfig} from '../config/load'
import type {DynamicConfig} from '../config/dynamic-schema'
import type {LogSettings} from '../log/logger'
import {DEFAULT_LOG_SETTINGS, parseLevel} from '../log/logger'
import type {DcsTiming} from '../ports/dcs'
import type {ConnParams} from '../ports/postgres'

export function logSettings(config: LocalConfig): LogSettings {
  const l = config.log
  if (!l) return DEFAULT_LOG_SETTINGS
  return {
    ...DEFAULT_LOG_SETTINGS,
    type: l.type,
    level: parseLevel(l.level) ?? 'INFO',
    ...(l.format !== undefined ? {format: l.format} : {}),
    // Patroni: an empty dateformat is no dateformat.
    dateformat: l.dateformat || undefined,
    staticFields: Object.fromEntries(Object.entries(l.static_fields ?? {}).map(([k, v]) => [k, String(v)])),
    dir: l.dir,
    fileNum: l.file_num,
    fileSize: l.file_size,
    mode: l.mode,
    deduplicateHeartbeats: l.deduplicate_heartbeat_logs === true,
  }
}

export function timingOf(d: Pick<DynamicConfig, 'ttl' | 'loop_wait' | 'retry_timeout'>): DcsTiming {
  return {ttl: d.ttl, loopWait: d.loop_wait, retryTimeout: d.retry_timeout}
}

/**
 * The first absolute directory of unix_socket_directories, '' when none is (patroni/postgresql/
 * config.py ConfigHandler._get_unix_local_address: only an absolute path can be connected to).
 */
export function unixLocalAddress(unixSocketDirectories: string): string {
  for (const d of unixSocketDirectories.split(',')) {
    const t = d.trim()
    if (t.startsWith('/')) return t
  }
  return ''
}

/** libpq's and PostgreSQL's compiled-in socket directory when unix_socket_directories is not set. */
export const DEFAULT_SOCKET_DIR = '/var/run/postgresql'

/**
 * The host the agent reaches its own PostgreSQL on (patroni/postgresql/config.py
 * ConfigHandler.resolve_connection_addresses): with `socket` (use_unix_socket, or
 * use_unix_socket_repl for replication connections) the first absolute directory of
 * unix_socket_directories (the TCP address when it names none; libpq's default directory when
 * it is not set), otherwise TCP on the first listen address (loopback for a wildcard).
 */
export function localHost(config: LocalConfig, socket: boolean, dynamicParameters?: Record<string, unknown>): string {
  const pg = config.postgresql
  const tcp = pg.listen.host === '*' || pg.listen.host === '0.0.0.0' || pg.listen.host === '' ? '127.0.0.1' : pg.listen.host
  if (!socket) return tcp
  const dirs = pg.parameters['unix_socket_directories'] ?? dynamicParameters?.['unix_socket_directories']
  if (dirs === undefined || dirs === null) return DEFAULT_SOCKET_DIR
  return unixLocalAddress(String(dirs)) || tcp
}

/** An empty or missing password is no password (peer or trust on the socket; libpq sends none). */
function passwordOf(p: string | null | undefined): {password?: string} {
  return typeof p === 'string' && p !== '' ? {password: p} : {}
}

/** The libpq keys of an authentication section (TLS and friends) that Patroni passes on to its connections. */
const LIBPQ_AUTH_KEYS = ['sslmode', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl', 'sslcrldir', 'gssencmode', 'channel_binding', 'sslnegotiation'] as const

function libpqKeysOf(section: Record<string, unknown>): ConnParams {
  const out: Record<string, string> = {}
  for (const k of LIBPQ_AUTH_KEYS) {
    const v = section[k]
    if (v !== undefined && v !== null) out[k] = String(v)
  }
  return out as ConnParams
}

/** The superuser connection the agent uses for its own queries (Patroni's local_conn_kwargs). */
export function localConn(config: LocalConfig, dynamicParameters?: Record<string, unknown>): ConnParams {
  const pg = config.postgresql
  const su = pg.authentication.superuser
  const host = localHost(config, pg.use_unix_socket, dynamicParameters)
  return {...libpqKeysOf(su as Record<string, unknown>), host, port: pg.listen.port, user: su.username, ...passwordOf(su.password), dbname: pg.database}
}

/** The replication connection to the local server (Patroni's local_replication_address, use_unix_socket_repl). */
export function localReplicationConn(config: LocalConfig, dynamicParameters?: Record<string, unknown>): ConnParams {
  const pg = config.postgresql
  const rep = pg.authentication.replication
  const host = localHost(config, pg.use_unix_socket_repl, dynamicParameters)
  return {...libpqKeysOf(rep as Record<string, unknown>), host, port: pg.listen.port, user: rep.username, ...passwordOf(rep.password), dbname: pg.database}
}
