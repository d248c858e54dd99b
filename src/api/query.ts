/**
 * Request-target parsing for the REST API: the path Patroni routes on, the query parameters it
 * reads (first value wins, blank values dropped, as Python's parse_qs), and the health-check
 * filters. Pure.
 */
import {parseIntLax} from '../config/kit'

export interface RequestTarget {
  /** Path without the query string, percent-decoding left as sent (Patroni matches raw text). */
  path: string
  /** First path segment: `/patroni/x` -> `patroni`; `''` for `/`. Selects the handler. */
  segment: string
  /** First non-blank value of each parameter. */
  query: Map<string, string>
}

/** Undefined when the target cannot be a path (absolute-form with another scheme, `*`, garbage). */
export function parseTarget(rawUrl: string): RequestTarget | undefined {
  if (!rawUrl.startsWith('/')) return undefined
  const q = rawUrl.indexOf('?')
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q)
  const query = new Map<string, string>()
  if (q >= 0) {
    // URLSearchParams decodes `+` and %XX like parse_qs; it never throws on bad escapes.
    for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) {
      if (v !== '' && !query.has(k)) query.set(k, v)
    }
  }
  const segment = path.replace(/^\/+/, '').split('/')[0] ?? ''
  return {path, segment, query}
}

export interface HealthFilters {
  /** Maximum replay lag in bytes; null means no limit. */
  maxLag: number | null
  /** [4.x] `?replication_state=`: the replica must report this state. */
  replicationState: string | null
  /** `tag_<key>=<value>` pairs, in query order. */
  tags: Array<[key: string, value: string]>
}

export type Parsed<T> = {ok: true; value: T} | {ok: false; error: string}

/**
 * The health-check parameters. Patroni treats an unparsable `lag` as "no limit", which turns a
 * typo in an HAProxy check into a silently disabled lag filter; hactl refuses it with 400 instead.
 */
export function parseHealthFilters(query: Map<string, string>): Parsed<HealthFilters> {
  let maxLag: number | null = null
  const lag = query.get('lag')
  if (lag !== undefined) {
    const n = parseIntLax(lag, 'B')
    if (n === undefined || n < 0) {
      return {ok: false, error: `lag: ${JSON.stringify(lag)} is not a size; use bytes or a unit such as 16kB, 10MB, 1GB`}
    }
    maxLag = n
  }
  const tags: Array<[string, string]> = []
  for (const [k, v] of query) {
    if (k.startsWith('tag_')) tags.push([k.slice(4), v])
  }
  return {ok: true, value: {maxLag, replicationState: query.get('replication_state') ?? null, tags}}
}
