/**
 * Member tags as Patroni reads and publishes them (patroni/tags.py Tags).
 */

/** A boolean tag as Patroni reads it (patroni/utils.py parse_bool): true, 1, 'on', 'true', 'yes', '1'. */
export function tagIsTrue(v: unknown): boolean {
  if (v === true) return true
  if (typeof v === 'number') return v === 1
  return typeof v === 'string' && ['on', 'true', 'yes', '1'].includes(v.toLowerCase())
}

const BOOLEAN_TAGS = ['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']

/**
 * The tags a member publishes in its member key and `GET /patroni` (patroni/tags.py
 * Tags._filter_tags): the boolean tags only when set, except `nofailover` next to
 * `failover_priority` and `nosync` next to `sync_priority` (readers need both to know which
 * wins); every other tag as configured.
 */
export function publishedTags(tags: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(tags)) {
    if (v === undefined) continue
    const keep =
      !BOOLEAN_TAGS.includes(k) || pyTruthy(v) || (k === 'nofailover' && tags['failover_priority'] !== undefined) || (k === 'nosync' && tags['sync_priority'] !== undefined)
    if (keep) out[k] = v
  }
  return out
}

/** Python's truth value of a YAML scalar. */
function pyTruthy(v: unknown): boolean {
  return !(v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0))
}
