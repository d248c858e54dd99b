/**
 * The recovery settings a replica should run with (docs/ha-rules.md#following). Pure, and used by
 * the HA loop (agent/ha-loop.ts), which hands the result to PostgresControl (ports/postgres.ts), so
 * it lives outside the adapter; src/adapters/postgres re-exports it.
 */
import type {ConnParams} from '../ports/postgres'

/**
 * The recovery settings (recovery.conf before PostgreSQL 12; Patroni's recovery_parameters of
 * patroni/postgresql/available_parameters/0_postgres.yml): never written into the main parameter
 * block of postgresql.conf.
 */
export const RECOVERY_PARAMETERS: ReadonlySet<string> = new Set([
  'archive_cleanup_command',
  'pause_at_recovery_target',
  'primary_conninfo',
  'primary_slot_name',
  'promote_trigger_file',
  'recovery_end_command',
  'recovery_min_apply_delay',
  'recovery_target',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_lsn',
  'recovery_target_name',
  'recovery_target_time',
  'recovery_target_timeline',
  'recovery_target_xid',
  'restore_command',
  'standby_mode',
  'trigger_file',
])

/**
 * Recovery settings given among the server `parameters` (restore_command in
 * bootstrap.dcs.postgresql.parameters, as Patroni's own tests do): Patroni takes them out and uses
 * them as the whole `recovery_conf` (patroni/postgresql/config.py
 * ConfigHandler._adjust_recovery_parameters). Undefined when there are none.
 */
export function recoveryConfFromParameters(parameters: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const found = Object.entries(parameters).filter(([k, v]) => RECOVERY_PARAMETERS.has(k.toLowerCase()) && v !== undefined && v !== null)
  return found.length ? Object.fromEntries(found) : undefined
}

export interface RecoveryParamsInput {
  serverVersion: number
  /** This member's name: application_name (what synchronous replication keys on). */
  name: string
  /** The node to follow (host/port from its conn_url); absent: no primary_conninfo. */
  upstream?: {host: string; port: number | string}
  /** postgresql.authentication.replication (+ ssl* keys). */
  replication?: ConnParams & {username?: string}
  /** `postgresql.recovery_conf` */
  recoveryConf?: Record<string, unknown>
  /** primary_slot_name, when use_slots (already turned into a valid slot name). */
  slotName?: string
  /** Extra values from standby_cluster (restore_command, archive_cleanup_command, recovery_min_apply_delay). */
  extra?: Record<string, string>
  krbsrvname?: string
}

/**
 * Desired recovery settings for following `upstream` (patroni/postgresql/config.py
 * ConfigHandler.build_recovery_params): recovery_conf without targets, latest timeline, blanked
 * targets on PG12+ (so a stray setting in an included file cannot pause, promote or stop the
 * standby), and a primary_conninfo naming this member.
 */
export function recoveryParameters(input: RecoveryParamsInput): {parameters: Record<string, string>; primaryConninfo?: ConnParams} {
  const parameters: Record<string, string> = {}
  for (const [k, v] of Object.entries(input.recoveryConf ?? {})) {
    const lk = k.toLowerCase()
    if (lk.startsWith('recovery_target') || lk === 'primary_conninfo' || lk === 'primary_slot_name' || lk === 'standby_mode') continue
    if (v === undefined || v === null) continue
    parameters[lk] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)
  }
  parameters.recovery_target_timeline = 'latest'
  if (input.serverVersion >= 120000) {
    for (const k of ['recovery_target', 'recovery_target_name', 'recovery_target_time', 'recovery_target_xid', 'recovery_target_lsn']) {
      parameters[k] = ''
    }
  } else {
    parameters.standby_mode = 'on'
  }
  let primaryConninfo: ConnParams | undefined
  if (input.upstream) {
    const {username, ...rep} = input.replication ?? {}
    primaryConninfo = {...rep, user: rep.user ?? username, host: input.upstream.host, port: input.upstream.port, application_name: input.name}
    delete primaryConninfo.dbname
    primaryConninfo.sslmode ??= 'prefer'
    if (input.serverVersion >= 120000) primaryConninfo.gssencmode ??= 'prefer'
    if (input.serverVersion >= 130000) primaryConninfo.channel_binding ??= 'prefer'
    if (input.serverVersion >= 170000) primaryConninfo.sslnegotiation ??= 'postgres'
    if (input.krbsrvname) primaryConninfo.krbsrvname = input.krbsrvname
    if (input.slotName) parameters.primary_slot_name = input.slotName
  }
  for (const [k, v] of Object.entries(input.extra ?? {})) if (v) parameters[k] = v
  return {parameters, primaryConninfo}
}
