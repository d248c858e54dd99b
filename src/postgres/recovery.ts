/**
 * The recovery settings a replica should run with (docs/ha-rules.md#following). Pure, and used by
 * the HA loop (agent/ha-loop.ts), which hands the result to PostgresControl (ports/postgres.ts), so
 * it lives outside the adapter; src/adapters/postgres re-exports it.
 */
import type {ConnParams} from '../ports/postgres'

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
    if (input.krbsrvname) primaryConninfo.krbsrvname = input.krbsrvname
    if (input.slotName) parameters.primary_slot_name = input.slotName
  }
  for (const [k, v] of Object.entries(input.extra ?? {})) if (v) parameters[k] = v
  return {parameters, primaryConninfo}
}
