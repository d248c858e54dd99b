/**
 * Debian's patroni package ships two wrapper scripts that its generated configuration names as
 * commands (pg_createconfig_patroni, /etc/patroni/config.yml.in): the custom bootstrap
 * `pg_createcluster_patroni` and the replica method `pg_clonecluster_patroni`. On a host with
 * hactl but without the patroni package they do not exist; hactl then takes the same steps
 * itself (docs/ha-rules.md#data-directory-and-bootstrap):
 *
 * - pg_createcluster_patroni: `pg_createcluster --start-conf=manual [--datadir=DIR] VERSION CLUSTER`
 * - pg_clonecluster_patroni: `pg_dropcluster VERSION CLUSTER` (when one is registered),
 *   `pg_createcluster --start-conf=manual --datadir=DIR VERSION CLUSTER`, the data directory
 *   removed, `/usr/lib/postgresql/VERSION/bin/pg_basebackup --pgdata DIR -X stream --dbname=CONNSTR`
 *
 * VERSION and CLUSTER come from --scope as each script splits it ("15-main", or "15/main").
 */

export const DEBIAN_CREATECLUSTER = '/usr/share/patroni/pg_createcluster_patroni'
export const DEBIAN_CLONECLUSTER = '/usr/share/patroni/pg_clonecluster_patroni'

export type WrapperStep =
  /** A program; `ignoreFailure`: its exit status does not matter (pg_dropcluster of no cluster). */
  | {kind: 'run'; argv: string[]; ignoreFailure?: boolean}
  | {kind: 'remove-data-dir'}

/** `--key=value` arguments as the scripts read them (the last of a key wins, others ignored). */
function options(params: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of params) {
    const m = /^--([^=]+)=(.*)$/s.exec(p)
    if (m) out[m[1]] = m[2]
  }
  return out
}

/** pg_createcluster_patroni: VERSION before the first separator, CLUSTER all after it (cut -f2-). */
function splitCreate(scope: string): [string, string] {
  const sep = scope.includes('-') ? '-' : '/'
  const i = scope.indexOf(sep)
  return i < 0 ? [scope, scope] : [scope.slice(0, i), scope.slice(i + 1)]
}

/** pg_clonecluster_patroni: VERSION before the first separator, CLUSTER after the last (sed). */
function splitClone(scope: string): [string, string] {
  const sep = scope.includes('-') ? '-' : '/'
  const i = scope.indexOf(sep)
  return i < 0 ? [scope, scope] : [scope.slice(0, i), scope.slice(scope.lastIndexOf(sep) + 1)]
}

/**
 * The steps that stand in for `command` run with `params`, or null when `command` is not one of
 * Debian's wrappers (or has arguments of its own).
 */
export function debianWrapperPlan(command: string[], params: string[]): WrapperStep[] | null {
  if (command.length !== 1) return null
  const o = options(params)
  if (command[0] === DEBIAN_CREATECLUSTER) {
    const [version, cluster] = splitCreate(o['scope'] ?? '')
    const datadir = o['datadir'] ? [`--datadir=${o['datadir']}`] : []
    return [{kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', ...datadir, version, cluster]}]
  }
  if (command[0] === DEBIAN_CLONECLUSTER) {
    const [version, cluster] = splitClone(o['scope'] ?? '')
    const datadir = o['datadir'] ?? ''
    return [
      {kind: 'run', argv: ['pg_dropcluster', version, cluster], ignoreFailure: true},
      {kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', `--datadir=${datadir}`, version, cluster]},
      {kind: 'remove-data-dir'},
      {kind: 'run', argv: [`/usr/lib/postgresql/${version}/bin/pg_basebackup`, '--pgdata', datadir, '-X', 'stream', `--dbname=${o['connstring'] ?? ''}`]},
    ]
  }
  return null
}
