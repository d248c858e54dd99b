/**
 * Patroni settings that hactl does not support (yet), in one table
 * (docs/architecture.md#unsupported-settings-are-reported: reported, never silently ignored).
 * Severity says whether running without the feature is safe:
 * - warning: hactl runs and behaves as if the setting were off/default, which is safe;
 * - error: ignoring it would change what the cluster does in a way the operator did not ask for
 *   (different DCS key layout, a fresh initdb instead of a restore).
 * Remove a row when the feature lands.
 */
import {type IssueCollector, type Severity} from './issues'
import {isPlainObject, joinPath} from './kit'

export interface SupportEntry {
  /** `local`: path from the YAML root; `dynamic`: path inside the dynamic config (bootstrap.dcs / DCS `config`). */
  scope: 'local' | 'dynamic'
  path: string
  severity: Severity
  /** When absent, any non-null value triggers the entry. */
  when?: (value: unknown) => boolean
  reason: string
}

export const UNSUPPORTED: readonly SupportEntry[] = [
  {scope: 'local', path: 'citus', severity: 'error',
    reason: 'Citus/MPP groups are not supported yet: they use a different DCS key layout (/<namespace>/<scope>/<group>/...); remove the citus section'},
  {scope: 'local', path: 'bootstrap.users', severity: 'warning',
    reason: 'deprecated since Patroni 3.2 and removed in 4.0; hactl does not create these roles: create them in post_bootstrap'},
  {scope: 'local', path: 'bootstrap.pg_hba', severity: 'warning',
    reason: 'old layout, ignored: put the rules in postgresql.pg_hba or bootstrap.dcs.postgresql.pg_hba'},
  {scope: 'local', path: 'bootstrap.pg_ident', severity: 'warning',
    reason: 'old layout, ignored: put the rules in postgresql.pg_ident'},
  {scope: 'local', path: 'log.loggers', severity: 'warning', reason: 'per-module Python log levels do not apply to hactl'},
  {scope: 'local', path: 'thread_pool_size', severity: 'warning', reason: 'Patroni 4.x tuning knob; not applicable to hactl'},
  {scope: 'local', path: 'thread_stack_size', severity: 'warning', reason: 'Patroni 4.x tuning knob; not applicable to hactl'},
  {scope: 'local', path: 'restapi.thread_pool_size', severity: 'warning', reason: 'Patroni 4.x tuning knob; not applicable to hactl'},
  {scope: 'dynamic', path: 'primary_race_backoff', severity: 'warning', reason: 'Patroni 4.x setting; not supported yet (ignored)'},
]

function getPath(root: unknown, path: string): unknown {
  let cur: unknown = root
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined
    cur = cur[part]
  }
  return cur
}

/** Reports every table row whose setting is present in `raw` (the unparsed config). */
export function applySupportTable(scope: 'local' | 'dynamic', raw: unknown, basePath: string, c: IssueCollector): void {
  for (const e of UNSUPPORTED) {
    if (e.scope !== scope) continue
    const v = getPath(raw, e.path)
    if (v === undefined || v === null) continue
    if (e.when && !e.when(v)) continue
    const p = joinPath(basePath, e.path)
    if (e.severity === 'error') c.error(p, e.reason, v)
    else c.warn(p, e.reason)
  }
}
