/**
 * Patroni's DCS key layout (docs/ha-rules.md#dcs-keys; the paths of patroni/dcs/__init__.py
 * AbstractDCS). Pure: no I/O.
 *
 * Base path is `/<namespace>/<scope>`, the namespace stripped of leading and trailing slashes
 * (default `service`) and repeated slashes collapsed, so `namespace: /service/` and `service`
 * name the same keys. With Citus/MPP a group number adds one level.
 */

export const KEY = {
  leader: 'leader',
  config: 'config',
  initialize: 'initialize',
  status: 'status',
  optime: 'optime/leader',
  history: 'history',
  sync: 'sync',
  failover: 'failover',
  failsafe: 'failsafe',
  membersDir: 'members/',
} as const

export interface KeyLayoutOptions {
  /** Patroni `namespace`; default `/service/`. */
  namespace?: string
  /** Patroni `scope` (cluster name). */
  scope: string
  /** Citus group; keys move to `/<ns>/<scope>/<group>/`. */
  group?: number
}

/** `/<ns>/<scope>/` (or `/<ns>/<scope>/<group>/`), always with the trailing slash. */
export function clusterPrefix({namespace = '/service/', scope, group}: KeyLayoutOptions): string {
  if (!scope || scope.includes('/')) {
    throw new Error(`scope must be a non-empty name without '/', got ${JSON.stringify(scope)}`)
  }
  const ns = namespace.split('/').filter(Boolean).join('/')
  const parts = [ns, scope, group === undefined ? undefined : String(group)].filter((p) => p !== undefined && p !== '')
  return '/' + parts.join('/') + '/'
}

export function memberKey(name: string): string {
  return KEY.membersDir + name
}

/**
 * The member name when `relative` is `members/<name>` with exactly one slash, as Patroni
 * reads it; undefined for anything else (`members/a/b` is ignored, not a member).
 */
export function memberNameOf(relative: string): string | undefined {
  if (!relative.startsWith(KEY.membersDir)) return undefined
  const name = relative.slice(KEY.membersDir.length)
  return name && !name.includes('/') ? name : undefined
}

/** Citus coordinator view: splits `<group>/<rest>` relative keys by group; other keys are skipped. */
export function splitGroups<T>(relative: Map<string, T>): Map<number, Map<string, T>> {
  const out = new Map<number, Map<string, T>>()
  for (const [k, v] of relative) {
    const slash = k.indexOf('/')
    if (slash < 0) continue
    const head = k.slice(0, slash)
    if (!/^(0|[1-9][0-9]*)$/.test(head)) continue
    const g = Number(head)
    let m = out.get(g)
    if (!m) out.set(g, (m = new Map()))
    m.set(k.slice(slash + 1), v)
  }
  return out
}
