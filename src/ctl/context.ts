/**
 * What every patronictl-compatible command starts from: the configuration (patronictl's choice
 * of file, PATRONI_* variables, `-d/--dcs-url` replacing the DCS section), and the ports the
 * composition root (src/wiring/ctl.ts) builds from it: the etcd v3 store of a cluster and the
 * members' REST APIs.
 */
import {accessSync, constants} from 'node:fs'
import {ctlConfigMissingError, readRawConfig, resolveCtlConfigPath, type LocalConfig} from '../config/load'
import {ConfigError} from '../config/issues'
import {type DeepPartial, validateLocalConfig} from '../config/schema'
import {HactlError} from '../errors'
import type {Dcs} from '../ports/dcs'
import type {PatroniRest} from '../ports/patroni-rest'

type Env = Record<string, string | undefined>

const DCS_SECTIONS = ['etcd', 'etcd3', 'consul', 'zookeeper', 'exhibitor', 'kubernetes', 'raft'] as const
const CTL_KEYS = ['scope', 'namespace', 'name', 'ctl', ...DCS_SECTIONS] as const
const PORT_SCHEMES: Record<number, string> = {8500: 'consul', 2181: 'zookeeper', 8181: 'exhibitor'}

/**
 * `-d/--dcs-url [scheme://]host[:port][/namespace]` (patronictl's parse_dcs) as config overrides.
 * hactl speaks etcd v3 only: `etcd3://` or no scheme; other schemes are refused by name.
 */
export function parseDcsUrl(url: string): {etcd3: {host: string}; namespace?: string} {
  const s = url.includes('//') ? url : '//' + url
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?\/\/([^/?#]*)([^?#]*)/.exec(s)
  if (!m) throw new HactlError('USAGE', `-d/--dcs-url ${JSON.stringify(url)} is not [etcd3://]host[:port][/namespace]`)
  const scheme = (m[1] ?? '').toLowerCase()
  const netloc = (m[2] ?? '').replace(/^.*@/, '')
  const path = (m[3] ?? '').trim()
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(netloc)!
  const host = (hp[1] ?? '').replace(/^\[(.*)\]$/, '$1').toLowerCase()
  const portText = hp[2]
  let port: number | undefined
  if (portText !== undefined && portText !== '') {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) {
      throw new HactlError('USAGE', `-d/--dcs-url ${JSON.stringify(url)}: port ${JSON.stringify(portText)} is not a number from 0 to 65535`)
    }
    port = Number(portText)
  }
  const implied = scheme === '' && port !== undefined ? PORT_SCHEMES[port] : undefined
  const refused = implied ?? (scheme === 'etcd3' || scheme === '' ? undefined : scheme)
  if (refused !== undefined) {
    if (!['etcd', 'consul', 'zookeeper', 'exhibitor'].includes(refused)) throw new HactlError('USAGE', `Unknown dcs scheme: ${refused}`)
    const why = refused === 'etcd' ? 'the etcd v2 API is not supported' : `${refused} is not supported`
    throw new HactlError('USAGE', `-d/--dcs-url ${JSON.stringify(url)}: ${why}; hactl speaks etcd v3 only: use etcd3://host:port`, {
      hints: implied ? [`port ${port} is ${implied}'s default port; write etcd3://host:${port} if it really is etcd`] : [],
    })
  }
  const h = host || 'localhost'
  const out: {etcd3: {host: string}; namespace?: string} = {etcd3: {host: `${h.includes(':') ? `[${h}]` : h}:${port ?? 2379}`}}
  if (path && path !== '/') out.namespace = path
  return out
}

export interface CtlContext {
  /** Merged, unvalidated config (what patronictl works from). */
  raw: Record<string, unknown>
  config: DeepPartial<LocalConfig>
  /** `-k` or `ctl.insecure`. */
  insecure: boolean
  /** Seconds; the deadline of each DCS call. */
  retryTimeout: number
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK)
    return true
  } catch {
    return false
  }
}

/** Loads the configuration as patronictl does; throws its error for a missing explicit file. */
export function loadCtlContext(flags: {'config-file'?: unknown; 'dcs-url'?: unknown; insecure?: unknown}, env: Env): CtlContext {
  const flagPath = typeof flags['config-file'] === 'string' ? flags['config-file'] : undefined
  const {path, explicit} = resolveCtlConfigPath(flagPath, env)
  let usePath: string | undefined = path
  if (!readable(path)) {
    if (explicit) throw ctlConfigMissingError(path)
    usePath = undefined
  }
  const r = readRawConfig(usePath, env)
  const dcsUrl = typeof flags['dcs-url'] === 'string' ? flags['dcs-url'] : env['DCS_URL']
  if (dcsUrl) {
    const o = parseDcsUrl(dcsUrl)
    for (const k of DCS_SECTIONS) delete r.raw[k]
    r.raw['etcd3'] = o.etcd3
    if (o.namespace !== undefined) r.raw['namespace'] = o.namespace
  }
  // Like patronictl, care only about what a ctl command uses: a bad postgresql or bootstrap
  // section of the node's file must not stop `hactl list` (patronictl does not validate at all).
  const used: Record<string, unknown> = {}
  for (const k of CTL_KEYS) if (k in r.raw) used[k] = r.raw[k]
  const v = validateLocalConfig(used, {mode: 'ctl'})
  const issues = [...r.issues, ...v.issues]
  if (v.config === undefined || issues.some((i) => i.severity === 'error')) throw new ConfigError(issues)
  const config = v.config as DeepPartial<LocalConfig>
  const rt = r.raw['retry_timeout']
  return {
    raw: r.raw,
    config,
    insecure: flags.insecure === true || config.ctl?.insecure === true,
    retryTimeout: typeof rt === 'number' && rt > 0 ? rt : 10,
  }
}

/** The cluster name a `[cluster]` argument defaults to. */
export function clusterName(ctx: CtlContext, given: unknown): string {
  if (typeof given === 'string' && given !== '') return given
  if (typeof ctx.config.scope === 'string' && ctx.config.scope !== '') return ctx.config.scope
  throw new HactlError('USAGE', 'no cluster name given and the configuration has no scope', {
    hints: ['pass the cluster name as an argument, or set scope in the configuration (or PATRONI_SCOPE)'],
  })
}

/** What the ctl commands use beyond the configuration; src/wiring/ctl.ts builds the real ones. */
export interface CtlPorts {
  /**
   * A read-only view of one cluster's keys: no lease, no watch; each read is one linearizable
   * range. Throws CONFIG_INVALID when the configuration names no etcd.
   */
  openDcs(ctx: CtlContext, scope: string): Dcs
  /** The members' REST APIs (patronictl's PatroniRequest). */
  rest: PatroniRest
}
