/**
 * `hactl createconfig VERSION CLUSTER`: the per-cluster configuration that Debian's
 * `pg_createconfig_patroni` writes (package patroni, /usr/bin/pg_createconfig_patroni), for hosts
 * with or without that package. Everything here is pure: the command gathers the facts (files,
 * addresses, existing clusters) in src/wiring/createconfig.ts and this module turns them into the
 * files' text, following the script step by step:
 * - the template is /etc/patroni/config.yml.in when present (the same bytes come out as from the
 *   script), otherwise the built-in one (templates/createconfig/config.yml.in), which sets the
 *   same keys to the same values;
 * - @VERSION@ @CLUSTER@ @HOSTNAME@ @HOSTIP@ @LISTEN_VIP@ @DATADIR_BASE@ @NETWORK@ @API_PORT@ @PORT@
 *   @DCS_CONFIG@ are replaced everywhere; @DCS_CONFIG@ by dcs.yml without blank and comment lines;
 * - the REST API port is 8008 + (port - 5432), the port the cluster already has, else one above
 *   the highest port in use, else 5432.
 */
import {templateText} from '../templates'

export interface CreateConfigFacts {
  version: string
  cluster: string
  hostname: string
  hostIp: string
  /** address/prefix of the host's network (`10.0.0.5/24`), used in the replication pg_hba line. */
  network: string
  port: number
  /** `/var/lib/postgresql` unless createcluster.conf says otherwise. */
  dataDirBase: string
  /** dcs.yml's text (comments and blank lines are dropped here). */
  dcsText: string
  /** config.yml.in's text; undefined: the built-in template. */
  template?: string
  /** --vip: the address listen_addresses also gets (LISTEN_VIP). */
  vipIp?: string
}

export class CreateConfigError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message)
    this.name = 'CreateConfigError'
  }
}

/** The script's version check: digits, optionally one dot (`15`, `9.6`). */
export function checkVersion(version: string): void {
  if (!/^[0-9]+\.?[0-9]+$/.test(version)) throw new CreateConfigError(`invalid version ${version}`)
}

/** A cluster name becomes part of paths and the DCS scope: no slashes, spaces or leading dots. */
export function checkClusterName(cluster: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(cluster)) {
    throw new CreateConfigError(`invalid cluster name ${JSON.stringify(cluster)}: use letters, digits, '_', '-' and '.'`)
  }
}

/**
 * The port: the one given, else the cluster's existing port, else one above the highest in use,
 * else 5432. A given port that another cluster uses is refused, as the script does.
 */
export function choosePort(o: {given?: number; existing?: number; inUse: number[]}): number {
  if (o.given !== undefined) {
    if (o.given !== o.existing && o.inUse.includes(o.given)) throw new CreateConfigError(`Port ${o.given} already in use`)
    return o.given
  }
  if (o.existing !== undefined) return o.existing
  if (o.inUse.length === 0) return 5432
  return Math.max(...o.inUse) + 1
}

/** Patroni REST API port of a PostgreSQL port: 8008 for 5432, one more per port above it. */
export function apiPort(port: number): number {
  return 2576 + port
}

/** dcs.yml as the script inserts it: without blank lines and lines starting with `#` (after spaces). */
export function dcsSection(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\s*$/.test(l) && !/^ *#/.test(l))
    .join('\n')
}

/** dcs.yml counts as configured when a line is neither empty nor starts with `#` (the script's test). */
export function dcsConfigured(text: string | undefined): boolean {
  return text !== undefined && text.split('\n').some((l) => l !== '' && !l.startsWith('#'))
}

/** An etcd3 section for hosts without a dcs.yml: `--endpoint http://10.0.0.1:2379,...`. */
export function etcd3SectionFromEndpoints(endpoints: string): string {
  const hosts = endpoints
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')
    .map((e) => {
      let u: URL
      try {
        u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `http://${e}`)
      } catch {
        throw new CreateConfigError(`--endpoint ${JSON.stringify(e)} is not an etcd URL such as http://10.0.0.1:2379`)
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CreateConfigError(`--endpoint ${JSON.stringify(e)} must use http:// or https://`)
      return {host: u.host.includes(':') ? u.host : `${u.host}:2379`, https: u.protocol === 'https:'}
    })
  if (hosts.length === 0) throw new CreateConfigError('--endpoint names no etcd endpoint')
  const lines = ['etcd3:', '  hosts:', ...hosts.map((h) => `  - ${h.host}`)]
  if (hosts.some((h) => h.https)) lines.push('  protocol: https')
  return lines.join('\n')
}

/** The configuration file's text. */
export function renderConfig(f: CreateConfigFacts): string {
  const values: Record<string, string> = {
    VERSION: f.version,
    CLUSTER: f.cluster,
    HOSTNAME: f.hostname,
    HOSTIP: f.hostIp,
    LISTEN_VIP: f.vipIp === undefined ? '' : `,${f.vipIp}`,
    DATADIR_BASE: f.dataDirBase,
    NETWORK: f.network,
    API_PORT: String(apiPort(f.port)),
    PORT: String(f.port),
    DCS_CONFIG: dcsSection(f.dcsText),
  }
  const template = f.template ?? BUILTIN_TEMPLATE
  return template.replace(/@([A-Z_]+)@/g, (m, name: string) => values[name] ?? m)
}

export interface VipFacts {
  vipIp: string
  /** prefix length of the interface's network. */
  mask: string
  iface: string
  /** `/postgresql-common/<version>-<cluster>/leader` */
  key: string
  hostname: string
  dcsType: string
  endpoints: string
  template?: string
}

/** The VIP file (vip-manager's settings) for `--vip`: /etc/patroni/vip.in when present, else the built-in one. */
export function renderVip(v: VipFacts): string {
  const values: Record<string, string> = {
    VIP_IP: v.vipIp,
    VIP_MASK: v.mask,
    VIP_IFACE: v.iface,
    VIP_KEY: v.key,
    VIP_HOST: v.hostname,
    VIP_TYPE: v.dcsType,
    VIP_ENDPOINT: v.endpoints,
  }
  return (v.template ?? BUILTIN_VIP_TEMPLATE).replace(/@([A-Z_]+)@/g, (m, name: string) => values[name] ?? m)
}

/** The DCS type named in dcs.yml (etcd, etcd3, consul, zookeeper), as the script finds it. */
export function dcsType(dcsText: string): string | undefined {
  const line = dcsSection(dcsText)
    .split('\n')
    .find((l) => /(etcd|consul|zookeeper)/.test(l))
  return line?.replace(/:.*/, '').trim() || undefined
}

/** The endpoints named in dcs.yml, as http://ip:port joined by commas (the script's reading). */
export function dcsEndpoints(dcsText: string): string | undefined {
  const found = dcsSection(dcsText)
    .split('\n')
    .filter((l) => /(host|-)/.test(l) && /[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/.test(l))
    .map((l) => l.replace(/.*host:/, '').replace('-', '').replace(/ /g, '').replace(/^([0-9])/, 'http://$1'))
  return found.length === 0 ? undefined : found.join(',')
}

/**
 * The built-in template: the keys and values of Debian's config.yml.in (patroni package), with
 * hactl's own comments (templates/createconfig/config.yml.in). Changing a value there changes
 * what `hactl createconfig` writes on hosts without the patroni package;
 * test/integration/createconfig checks it still matches Debian's.
 */
export const BUILTIN_TEMPLATE = templateText('createconfig/config.yml.in')

/**
 * The VIP file for `--vip`, in the KEY="value" form of Debian's vip.in (read by vip-manager's
 * systemd unit as an environment file and by `hactl vip --config`): each setting under its
 * current name and its vip-manager 0.x name.
 */
export const BUILTIN_VIP_TEMPLATE = templateText('createconfig/vip.in')
