/**
 * Builds the real adapters from a validated local configuration. The only place that knows how
 * config keys map onto adapter options, so the agent, tests and future commands agree on it.
 */
import {homedir} from 'node:os'
import {join} from 'node:path'
import {createEtcd3Dcs} from './adapters/dcs-etcd3'
import {systemClock} from './adapters/clock/system-clock'
import {PostgresAdapter} from './adapters/postgres'
import {NodeProcessRunner} from './adapters/process'
import type {LocalConfig} from './config/load'
import type {DynamicConfig} from './config/dynamic-schema'
import {HactlError} from './errors'
import type {Logger, LogSettings} from './log/logger'
import {DEFAULT_LOG_SETTINGS, parseLevel} from './log/logger'
import type {Clock} from './ports/clock'
import type {Dcs, DcsTiming} from './ports/dcs'
import type {ConnParams} from './ports/postgres'

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

export function createDcs(config: LocalConfig, timing: DcsTiming, log: Logger, clock: Clock = systemClock): Dcs {
  if (!config.etcd3) throw new HactlError('CONFIG_INVALID', 'etcd3 is required but missing: add an etcd3: section with hosts: [host:port, ...]')
  const lv = {debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR'} as const
  return createEtcd3Dcs({
    section: {
      hosts: config.etcd3.endpoints,
      protocol: config.etcd3.scheme,
      username: config.etcd3.username,
      password: config.etcd3.password,
      cacert: config.etcd3.cacert,
      cert: config.etcd3.cert,
      key: config.etcd3.key,
    },
    clock,
    name: config.name,
    scope: config.scope,
    namespace: config.namespace,
    timing,
    watch: true,
    log: (level, msg) => log.log(lv[level], msg),
  })
}

/** The superuser connection the agent uses for its own queries (TCP on the first listen address). */
export function localConn(config: LocalConfig): ConnParams {
  const pg = config.postgresql
  const su = pg.authentication.superuser
  const host = pg.listen.host === '*' || pg.listen.host === '0.0.0.0' || pg.listen.host === '' ? '127.0.0.1' : pg.listen.host
  return {host, port: pg.listen.port, user: su.username, password: su.password, dbname: pg.database}
}

export function createPostgres(config: LocalConfig, log: Logger): PostgresAdapter {
  const pg = config.postgresql
  const env: Record<string, string> = {PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: process.env.LANG ?? 'C.UTF-8'}
  for (const k of ['HOME', 'LC_ALL', 'TZ']) if (process.env[k]) env[k] = process.env[k]!
  return new PostgresAdapter({
    dataDir: pg.data_dir,
    configDir: pg.config_dir,
    binDir: pg.bin_dir,
    runner: new NodeProcessRunner(),
    env,
    local: localConn(config),
    pgpassPath: pg.pgpass ?? join(process.env.HOME ?? homedir(), '.pgpass'),
    logger: log,
  })
}
