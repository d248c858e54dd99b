/**
 * `hactl createconfig VERSION CLUSTER`: the per-cluster configuration that Debian's
 * `pg_createconfig_patroni` writes (package patroni, /usr/bin/pg_createconfig_patroni), for hosts
 * with or without that package. Everything here is pure: the command gathers the facts (files,
 * addresses, existing clusters) in src/wiring/createconfig.ts and this module turns them into the
 * files' text, following the script step by step:
 * - the template is /etc/patroni/config.yml.in when present (the same bytes come out as from the
 *   script), otherwise the built-in one below, which sets the same keys to the same values;
 * - @VERSION@ @CLUSTER@ @HOSTNAME@ @HOSTIP@ @LISTEN_VIP@ @DATADIR_BASE@ @NETWORK@ @API_PORT@ @PORT@
 *   @DCS_CONFIG@ are replaced everywhere; @DCS_CONFIG@ by dcs.yml without blank and comment lines;
 * - the REST API port is 8008 + (port - 5432), the port the cluster already has, else one above
 *   the highest port in use, else 5432.
 */

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
 * hactl's own comments. Changing a value here changes what `hactl createconfig` writes on hosts
 * without the patroni package; test/integration/createconfig checks it still matches Debian's.
 */
export const BUILTIN_TEMPLATE = `scope: "@VERSION@-@CLUSTER@"
namespace: "/postgresql-common/"
name: @HOSTNAME@

@DCS_CONFIG@

restapi:
  listen: @HOSTIP@:@API_PORT@
  connect_address: @HOSTIP@:@API_PORT@
#  certfile: /etc/ssl/certs/ssl-cert-snakeoil.pem
#  keyfile: /etc/ssl/private/ssl-cert-snakeoil.key
#  authentication:
#    username: username
#    password: password

bootstrap:
  # A new cluster is made by Debian's pg_createcluster (through the wrapper script, which
  # receives --scope= and --datadir=), so that pg_lsclusters and pg_ctlcluster know it.
  method: pg_createcluster
  pg_createcluster:
    command: /usr/share/patroni/pg_createcluster_patroni

  # Written to /<namespace>/<scope>/config when the cluster is first initialized; every member
  # then reads it from there (edit it with: hactl -c FILE edit-config).
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    check_timeline: true
#    primary_start_timeout: 300
#    synchronous_mode: false
#    standby_cluster:
#      host: 127.0.0.1
#      port: 1111
#      primary_slot_name: patroni
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      remove_data_directory_on_diverged_timelines: true
      use_slots: true
      # Parameters set here are passed on the postgres command line and override postgresql.conf.
      parameters:
#        max_wal_senders: 10
#        max_replication_slots: 10
#        wal_log_hints: "on"
#      recovery_conf:
#        restore_command: cp ../wal_archive/%f %p
      # pg_hba.conf after bootstrapping or cloning. Uncomment the fourth rule to let the local
      # network connect (pg_rewind from another member needs it).
      pg_hba:
      - local   all             all                                     peer
      - host    all             all             127.0.0.1/32            md5
      - host    all             all             ::1/128                 md5
#      - host    all             all             @NETWORK@               md5
      - local   replication     all                                     peer
      - host    replication     all             127.0.0.1/32            md5
      - host    replication     all             ::1/128                 md5
      - host    replication     all             @NETWORK@               md5
#  initdb:
#  - encoding: UTF8
#  - data-checksums
#  post_init: /usr/local/bin/setup_cluster.sh

postgresql:
  # A replica is made by Debian's pg_createcluster plus pg_basebackup (through the wrapper script,
  # which receives --scope=, --datadir= and --connstring=).
  create_replica_method:
    - pg_clonecluster
  pg_clonecluster:
    command: /usr/share/patroni/pg_clonecluster_patroni

  # Every interface, so that a virtual IP works without net.ipv4.ip_nonlocal_bind. To listen on
  # chosen addresses only, use the commented line instead.
#  listen: "@HOSTIP@@LISTEN_VIP@,127.0.0.1:@PORT@"
  listen: "*:@PORT@"
  connect_address: @HOSTIP@:@PORT@
  use_unix_socket: true
  # Debian's directory layout
  data_dir: @DATADIR_BASE@/@VERSION@/@CLUSTER@
  bin_dir: /usr/lib/postgresql/@VERSION@/bin
  config_dir: /etc/postgresql/@VERSION@/@CLUSTER@
  pgpass: /var/lib/postgresql/@VERSION@-@CLUSTER@.pgpass
  authentication:
    replication:
      username: "replicator"
      password: "rep-pass"
    # With use_unix_socket and an empty password the superuser connects over the socket with
    # peer authentication and gets no password. The password line must stay. pg_rewind between
    # members then needs a rewind user with a password (below).
    superuser:
      username: "postgres"
      password:
#    rewind:
#      username: "rewind"
#      password: "rewind-pass"

  parameters:
    unix_socket_directories: '/var/run/postgresql/'
    # Debian's usual log location
    logging_collector: 'on'
    log_directory: '/var/log/postgresql'
    log_filename: 'postgresql-@VERSION@-@CLUSTER@.log'
`

/**
 * The VIP file for `--vip`, in the KEY="value" form of Debian's vip.in (read by vip-manager's
 * systemd unit as an environment file and by `hactl vip --config`): each setting under its
 * current name and its vip-manager 0.x name.
 */
export const BUILTIN_VIP_TEMPLATE = `VIP_IP="@VIP_IP@"
VIP_MASK="@VIP_MASK@"
VIP_NETMASK="@VIP_MASK@"
VIP_IFACE="@VIP_IFACE@"
VIP_KEY="@VIP_KEY@"
VIP_TRIGGER_KEY="@VIP_KEY@"
VIP_HOST="@VIP_HOST@"
VIP_TRIGGER_VALUE="@VIP_HOST@"
VIP_TYPE="@VIP_TYPE@"
VIP_ENDPOINT="@VIP_ENDPOINT@"
VIP_DCS_ENDPOINTS="@VIP_ENDPOINT@"
`
