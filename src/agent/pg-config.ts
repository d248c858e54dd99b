/**
 * PostgreSQL's configuration as the agent writes it (docs/ha-rules.md#postgresql-configuration):
 * server parameters, pg_hba/pg_ident, recovery settings, the reload when they changed and the
 * pending-restart bookkeeping. Patroni's patroni/postgresql/config.py ConfigHandler.
 */
import {humanSetting, serverParameters} from '../core/pg-params'
import {getMember} from '../core/cluster'
import {isStandbyClusterConfig} from '../core/standby'
import {recoveryConfFromParameters, recoveryParameters} from '../postgres/recovery'
import type {ConnParams, RecoveryConfig} from '../ports/postgres'
import {fireCallback, type AgentContext} from './context'
import {hostPortOf, slotNameFor} from './helpers'
import {publishedRole} from './publish'

export type ServerParams = ReturnType<typeof serverParameters>

export function pgHba(x: AgentContext): string[] | undefined {
  const b = x.config.bootstrap?.pg_hba
  if (Array.isArray(b) && b.every((y) => typeof y === 'string')) return b as string[]
  return x.config.postgresql.pg_hba ?? x.state.dynamic.postgresql.pg_hba
}

export function serverParams(x: AgentContext, version: number): ServerParams {
  const c = x.config
  const dyn = x.state.dynamic
  const p = serverParameters({
    serverVersion: version,
    scope: c.scope,
    listen: `${c.postgresql.listen.hosts.join(',')}:${c.postgresql.listen.port}`,
    dynamicParameters: dyn.postgresql.parameters,
    localParameters: c.postgresql.parameters,
    synchronousMode: dyn.synchronous_mode !== false,
    synchronousModeStrict: dyn.synchronous_mode_strict,
    synchronousStandbyNames: x.state.ssn,
    role: x.state.memory.role,
  })
  for (const w of p.warnings) x.log.warning(w)
  // Permanent logical slots on replicas need feedback to the primary (patroni/postgresql/config.py).
  if (x.state.enforceHotStandbyFeedback) p.parameters.hot_standby_feedback = 'on'
  return p
}

/** How the log names the standby cluster's remote primary. */
export function remoteText(x: AgentContext): string {
  const sc = x.state.dynamic.standby_cluster
  return `the remote primary ${sc?.host ?? ''}:${sc?.port ?? 5432}`
}

/**
 * The recovery settings for following `upstream` (null: a replica without upstream), or with
 * `remote` the standby cluster's remote primary (patroni/ha.py Ha.get_remote_member,
 * patroni/postgresql/config.py ConfigHandler.build_recovery_params): primary_conninfo to
 * standby_cluster host/port, its primary_slot_name (with use_slots), and restore_command,
 * archive_cleanup_command and recovery_min_apply_delay. The other members of a standby cluster
 * take its restore_command and archive_cleanup_command too.
 */
export function recoveryFor(x: AgentContext, version: number, upstream: string | null, remote = false): RecoveryConfig {
  const c = x.config.postgresql
  const dyn = x.state.dynamic
  const lastCluster = x.state.lastCluster
  const sc = isStandbyClusterConfig(dyn.standby_cluster) ? dyn.standby_cluster : undefined
  let up: {host: string; port: number | string} | undefined
  let slotName = dyn.postgresql.use_slots ? slotNameFor(x.config.name) : undefined
  const extra: Record<string, string> = {}
  if (remote && sc) {
    up = sc.host !== undefined || sc.port !== undefined ? {host: sc.host ?? '', port: sc.port ?? 5432} : undefined
    slotName = dyn.postgresql.use_slots && sc.primary_slot_name ? slotNameFor(sc.primary_slot_name) : undefined
    if (sc.recovery_min_apply_delay !== undefined && sc.recovery_min_apply_delay !== '') extra.recovery_min_apply_delay = String(sc.recovery_min_apply_delay)
  } else if (!remote) {
    up = upstream ? hostPortOf(lastCluster ? getMember(lastCluster, upstream)?.connUrl : null) : undefined
  }
  if (sc?.restore_command) extra.restore_command = sc.restore_command
  if (sc?.archive_cleanup_command) extra.archive_cleanup_command = sc.archive_cleanup_command
  const r = recoveryParameters({
    serverVersion: version,
    name: x.config.name,
    upstream: up,
    replication: {...c.authentication.replication, user: c.authentication.replication.username} as ConnParams & {username?: string},
    // Recovery settings among the parameters replace recovery_conf, as Patroni's
    // _adjust_recovery_parameters does (local parameters over dynamic ones, as for the rest).
    recoveryConf: recoveryConfFromParameters({...dyn.postgresql.parameters, ...c.parameters}) ?? c.recovery_conf ?? dyn.postgresql.recovery_conf,
    slotName,
    extra,
  })
  // A standby leader on a slot must reach the remote's primary when several hosts are listed.
  if (remote && slotName && r.primaryConninfo && String(up?.host).includes(',') && version >= 100000) {
    r.primaryConninfo.target_session_attrs = 'read-write'
  }
  return {signal: 'standby', parameters: r.parameters, primaryConninfo: r.primaryConninfo}
}

/**
 * Writes the configuration files (and the recovery settings) and remembers what was written.
 * `opts` is for the custom bootstrap only: a temporary pg_hba (the trust lines Patroni opens
 * while it does not know the restored superuser password) and keep_existing_recovery_conf.
 */
export async function writeConfig(
  x: AgentContext,
  version: number,
  recovery: RecoveryConfig | null,
  opts: {pgHba?: string[]; keepExistingRecovery?: boolean} = {},
): Promise<ServerParams> {
  const params = serverParams(x, version)
  await x.pg.writeConfigFiles({
    serverVersion: version,
    parameters: params.parameters,
    customConf: x.config.postgresql.custom_conf,
    pgHba: opts.pgHba ?? pgHba(x),
    pgIdent: x.config.postgresql.pg_ident,
    recovery,
    ...(opts.keepExistingRecovery ? {keepExistingRecovery: true} : {}),
  })
  x.state.runningRecovery = recovery
  x.state.appliedKey = configKey(x, params)
  return params
}

function configKey(x: AgentContext, params: ServerParams): string {
  return JSON.stringify([params.parameters, pgHba(x) ?? null, x.config.postgresql.pg_ident ?? null, x.config.postgresql.custom_conf ?? null])
}

/**
 * configKey of the parameters wanted now, computed again only when one of its inputs changed:
 * the local and dynamic configurations (replaced as a whole on a change, so compared by
 * identity), the binary's version, synchronous_standby_names, the role and the forced
 * hot_standby_feedback. Their warnings are logged when they are computed.
 */
function wantedKey(x: AgentContext, version: number): string {
  const st = x.state
  const inputs = [version, x.config, st.dynamic, st.ssn, st.memory.role, st.enforceHotStandbyFeedback]
  const m = st.configMemo
  if (m && m.inputs.every((v, i) => v === inputs[i])) return m.key
  const key = configKey(x, serverParams(x, version))
  st.configMemo = {inputs, key}
  return key
}

/**
 * Patroni's reload_config for a running PostgreSQL (patroni/postgresql/config.py
 * ConfigHandler.reload_config; docs/ha-rules.md#postgresql-configuration): when the parameters
 * or pg_hba/pg_ident wanted now differ from what was written, rewrite the files and reload. A command-line parameter (max_connections, wal_level, ...) cannot change
 * without a restart: it becomes pending_restart, and pg_settings adds the file parameters that
 * need one.
 */
export async function applyPgConfigIfChanged(x: AgentContext, force = false): Promise<void> {
  const {pg, log, clock} = x
  const st = x.state
  if (st.pendingCheckAt !== null && clock.now() >= st.pendingCheckAt && st.lastPg?.process === 'running') {
    st.pendingCheckAt = null
    await refreshPendingRestart(x)
  }
  if (st.lastPg?.process !== 'running' || x.slot.busy) return
  if (st.appliedKey === null) {
    await adoptRunningPrimary(x)
    return
  }
  const version = await pg.binaryVersion()
  if (!force && wantedKey(x, version) === st.appliedKey) return
  await writeConfig(x, version, st.runningRecovery)
  await pg.reload()
  log.info('PostgreSQL configuration changed: files rewritten and reloaded')
  fireCallback(x, 'on_reload', publishedRole(st))
  st.pendingCheckAt = clock.now() + 1000
  x.dcs.wakeup()
}

/**
 * A primary this agent process found running instead of starting it (an agent restart, a
 * hand-over: docs/ha-rules.md#hand-over) has no record of what was written, and without one no
 * later configuration change would ever be applied. Like Patroni joining a running primary
 * (patroni/postgresql/__init__.py Postgresql.__init__ -> ConfigHandler.reload_config), the files
 * are written once and PostgreSQL reloaded (nothing a client notices; an unchanged file changes
 * nothing), and a parameter that differs from the running value shows as pending restart. A
 * replica gets the same from its first follow, which also writes its recovery settings.
 */
async function adoptRunningPrimary(x: AgentContext): Promise<void> {
  const st = x.state
  if (st.lastStatus?.inRecovery !== false) return
  const version = await x.pg.binaryVersion()
  await writeConfig(x, version, null)
  await x.pg.reload()
  x.log.info('running primary adopted: configuration files written and reloaded')
  st.pendingCheckAt = x.clock.now() + 1000
}

async function refreshPendingRestart(x: AgentContext): Promise<void> {
  const st = x.state
  const reasons: Record<string, {old_value: string; new_value: string}> = {}
  const params = serverParams(x, await x.pg.binaryVersion())
  const rows = await x.pg.settings()
  for (const [k, v] of Object.entries(params.cmdline)) {
    const was = st.startedCmdline?.[k]
    if (was !== undefined && was !== v) reasons[k] = {old_value: was, new_value: v}
  }
  // pg_settings still shows the running value of a parameter waiting for a restart.
  for (const r of rows) {
    if (r.pendingRestart && !reasons[r.name]) {
      reasons[r.name] = {old_value: humanSetting(r.setting, r.unit), new_value: params.parameters[r.name] ?? '(changed in the configuration files)'}
    }
  }
  const pending = Object.keys(reasons).length > 0
  if (pending && !st.pendingRestart) x.log.info(`pending restart: ${Object.keys(reasons).sort().join(', ')}`)
  st.pendingRestart = pending
  st.pendingRestartReason = pending ? reasons : null
}

/** PostgreSQL (re)starts with `cmdline`: nothing is pending a restart any more. */
export function clearPendingRestart(x: AgentContext, cmdline: Record<string, string>): void {
  const st = x.state
  st.startedCmdline = {...cmdline}
  st.pendingRestart = false
  st.pendingRestartReason = null
  st.pendingCheckAt = null
}
