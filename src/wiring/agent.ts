/**
 * The composition root of `hactl agent`: builds the real adapters from a validated local
 * configuration. The only place that knows how config keys map onto adapter options, so the
 * agent, tests and future commands agree on it. src/wiring is the only place that imports
 * src/adapters (test/unit/architecture.test.ts).
 */
import {nodeFiles} from '../adapters/fs/node-files'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {createEtcd3Dcs} from '../adapters/dcs-etcd3'
import {systemClock} from '../adapters/clock/system-clock'
import {httpPeers} from '../adapters/http/peers'
import {PostgresAdapter} from '../adapters/postgres'
import {linuxWatchdogs} from '../adapters/watchdog/linux'
import {NodeProcessRunner} from '../adapters/process'
import {handoverRequested} from '../adapters/systemd/handover-marker'
import {sdNotifyServiceManager} from '../adapters/systemd/sd-notify'
import {runAgent as runAgentOn, type AgentPorts} from '../agent/daemon'
import type {AgentSignals} from '../agent/signals'
import {localConn, localReplicationConn} from '../agent/settings'
import type {LocalConfig} from '../config/load'
import {HactlError} from '../errors'
import type {Logger} from '../log/logger'
import type {Clock} from '../ports/clock'
import type {Dcs, DcsTiming} from '../ports/dcs'

// Pure translations of the configuration, defined beside the agent that uses them too.
export {localConn, localReplicationConn, logSettings, timingOf} from '../agent/settings'

export function createDcs(config: LocalConfig, timing: DcsTiming, log: Logger, clock: Clock = systemClock): Dcs {
  if (!config.etcd3) throw new HactlError('CONFIG_INVALID', 'etcd3 is required but missing: add an etcd3: section with hosts: [host:port, ...]')
  const lv = {debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR'} as const
  return createEtcd3Dcs({
    section: {
      hosts: config.etcd3.endpoints.length ? config.etcd3.endpoints : undefined,
      srv: config.etcd3.srv,
      srv_suffix: config.etcd3.srv_suffix,
      proxy: config.etcd3.proxy,
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
    localReplication: localReplicationConn(config),
    pgpassPath: pg.pgpass ?? join(process.env.HOME ?? homedir(), '.pgpass'),
    logger: log,
  })
}

/** The real ports of the agent: system clock, HTTP peers, etcd v3, PostgreSQL through its tools, the Linux watchdog. */
export function agentPorts(): AgentPorts {
  return {
    clock: systemClock,
    peers: httpPeers,
    createDcs,
    createPostgres,
    processes: new NodeProcessRunner(),
    files: nodeFiles,
    watchdogs: linuxWatchdogs(),
    createServiceManager: (log) => sdNotifyServiceManager({env: process.env, warn: (m) => log.warning(m)}),
  }
}

/** `hactl agent [CONFIG]`: runs the agent on the real ports until SIGTERM/SIGINT; the exit code. */
export function runAgent(configPath: string | undefined, env: NodeJS.ProcessEnv = process.env, opts: {strict?: boolean; signals?: AgentSignals} = {}): Promise<number> {
  // A SIGTERM is a hand-over when the package scripts left a marker for this process.
  opts.signals?.useHandoverCheck(() => handoverRequested(env))
  return runAgentOn(agentPorts(), configPath, env, opts)
}
