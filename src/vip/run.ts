/**
 * `hactl vip` (and `vip-manager` by argv0): the VIP follower. Loads the configuration, checks
 * the interface, builds the leader source and the address control through its ports (the real
 * ones come from src/wiring/vip.ts), runs until SIGINT or SIGTERM and releases the address on
 * the way out (unless keep-on-term and SIGTERM).
 */
import {readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {VERSION} from '../build-info'
import {errorMessage, isHactlError} from '../errors'
import {DEFAULT_LOG_SETTINGS, Logger, StderrSink} from '../log/logger'
import type {Clock} from '../ports/clock'
import type {LeaderSource, VipControl, VipLogLevel} from '../ports/vip'
import {loadVipConfig, type VipConfig, type VipKey} from './config'
import {VipFollower} from './follower'

/** PEM contents of etcd-ca-file, etcd-cert-file and etcd-key-file. */
export interface VipTls {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

export type VipLog = (level: VipLogLevel, msg: string) => void

/** What the follower runs on; src/wiring/vip.ts builds the real ones from the configuration. */
export interface VipPorts {
  clock: Clock
  /** The address ip/netmask on interface (ip addr, arping). */
  control(c: VipConfig): VipControl
  /** dcs-type patroni: polls GET <first dcs-endpoint><trigger-key> for trigger-value. */
  patroniLeader(c: VipConfig, tls: VipTls | undefined, log: VipLog): LeaderSource
  /**
   * dcs-type etcd: trigger-key from etcd v3 equals trigger-value. Throws when the etcd client
   * cannot be made of the settings; close() frees the client once the follower stopped.
   */
  etcdLeader(c: VipConfig, tls: VipTls | undefined, log: VipLog): {source: LeaderSource; close(): void}
}

export interface RunVipIo {
  out(text: string): void
  err(text: string): void
}

export interface RunVipInput {
  flags: Partial<Record<VipKey, string | boolean | undefined>>
  env: Record<string, string | undefined>
  io: RunVipIo
}

function readPem(key: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined
  try {
    return readFileSync(path)
  } catch (e) {
    throw new Error(`${key}: cannot read ${JSON.stringify(path)}: ${errorMessage(e)}`)
  }
}

function tlsFiles(c: VipConfig): VipTls | undefined {
  const t = {ca: readPem('etcd-ca-file', c.etcdCaFile), cert: readPem('etcd-cert-file', c.etcdCertFile), key: readPem('etcd-key-file', c.etcdKeyFile)}
  return t.ca || t.cert || t.key ? t : undefined
}

/** Returns the exit code. Runs until a signal when the configuration is usable. */
export async function runVip(ports: VipPorts, input: RunVipInput): Promise<number> {
  const {io} = input
  const loaded = loadVipConfig({flags: input.flags, env: input.env, readFile: (p) => readFileSync(p, 'utf8'), hostname})
  for (const n of loaded.notices) io.out(n + '\n')
  for (const w of loaded.warnings) io.err(`WARNING: ${w}\n`)
  if (!loaded.config) {
    for (const e of loaded.errors) io.err(e + '\n')
    if (loaded.errors.some((e) => / is mandatory$/.test(e))) io.err('one or more mandatory settings were not set\n')
    return 1
  }
  const c = loaded.config
  io.out(loaded.dump.join('\n') + '\n')

  const logger = new Logger({...DEFAULT_LOG_SETTINGS, level: c.verbose ? 'DEBUG' : 'INFO'}, new StderrSink(), 'hactl-vip')
  const logAt = (level: VipLogLevel, msg: string) => logger[level](msg)
  const clock = ports.clock
  const control = ports.control(c)

  try {
    const info = await control.inspect()
    if (!info.up) {
      logger.error(`interface ${c.interface} is down; bring it up (ip link set ${c.interface} up) before starting hactl vip`)
      return 1
    }
    if (info.linkType === 'loopback' || !info.mac || /^(00:)*00$/.test(info.mac)) {
      logger.error(`cannot run on the loopback device or on an interface without a MAC address (${c.interface}, ${info.linkType || 'unknown type'}); set interface to the network device the clients reach`)
      return 1
    }
    if (!info.lowerUp) logger.warning(`interface ${c.interface} has no carrier; the address is managed anyway`)
  } catch (e) {
    logger.error(isHactlError(e) ? e.message : `cannot inspect interface ${c.interface}: ${errorMessage(e)}`)
    return 1
  }

  let tls
  try {
    tls = tlsFiles(c)
  } catch (e) {
    logger.error(errorMessage(e))
    return 1
  }

  let source: LeaderSource
  let client: {close(): void} | undefined
  if (c.dcsType === 'patroni') {
    source = ports.patroniLeader(c, tls, logAt)
  } else {
    if (tls && c.dcsEndpoints.some((e) => e.startsWith('http://'))) logger.warning('etcd-ca-file/etcd-cert-file are set but dcs-endpoints use http://; they apply to https:// endpoints only')
    try {
      const etcd = ports.etcdLeader(c, tls, logAt)
      client = etcd
      source = etcd.source
    } catch (e) {
      logger.error(errorMessage(e))
      return 1
    }
  }

  const follower = new VipFollower({source, control, clock, log: logger, intervalMs: c.interval, startupGraceMs: 2 * Math.max(c.interval, 1000)})
  logger.info(`hactl vip ${VERSION}: ${control.cidr} on ${c.interface} follows ${c.dcsType === 'patroni' ? `GET ${c.dcsEndpoints[0]} ${c.triggerKey} == ${c.triggerValue}` : `${c.triggerKey} == ${JSON.stringify(c.triggerValue)}`}`)
  follower.start()

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => () => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve(s)
    }
    const onInt = on('SIGINT')
    const onTerm = on('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
  })
  // A second signal while releasing means "now": leave without waiting.
  const force = () => process.exit(1)
  process.once('SIGINT', force)
  process.once('SIGTERM', force)
  const release = signal === 'SIGINT' || !c.keepOnTerm
  logger.info(`Received exit signal (${signal}); ${release ? `releasing ${control.cidr}` : `keeping ${control.cidr} (keep-on-term)`}`)
  await follower.stop(release)
  client?.close()
  process.off('SIGINT', force)
  process.off('SIGTERM', force)
  logger.info('hactl vip stopped')
  return 0
}
