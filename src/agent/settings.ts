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
    ...(typeof l.format === 'string' ? {format: l.format} : {}),
    dateformat: l.dateformat,
    dir: l.dir,
    fileNum: l.file_num,
    fileSize: l.file_size,
  }
}

export function timingOf(d: Pick<DynamicConfig, 'ttl' | 'loop_wait' | 'retry_timeout'>): DcsTiming {
  return {ttl: d.ttl, loopWait: d.loop_wait, retryTimeout: d.retry_timeout}
}

/** The superuser connection the agent uses for its own queries (TCP on the first listen address). */
export function localConn(config: LocalConfig): ConnParams {
  const pg = config.postgresql
  const su = pg.authentication.superuser
  const host = pg.listen.host === '*' || pg.listen.host === '0.0.0.0' || pg.listen.host === '' ? '127.0.0.1' : pg.listen.host
  return {host, port: pg.listen.port, user: su.username, password: su.password, dbname: pg.database}
}
