/**
 * The bodies of the long tasks the handlers start in the task slot (docs/ha-rules.md#long-tasks;
 * Patroni runs them in patroni/async_executor.py AsyncExecutor): initdb and the first start,
 * post_bootstrap, cloning (pg_basebackup or create_replica_methods) and the start that follows
 * it, starting PostgreSQL, promotion, pg_rewind, reinitialization and the graceful demotion.
 * Each takes the task's AbortSignal; none decides what to do next (the core does, from the
 * task's outcome).
 */
import {join} from 'node:path'
import {HactlError} from '../../errors'
import {customBootstrap, type BootstrapMethodSection} from '../../config/schema'
import {debianWrapperPlan} from '../debian-wrappers'
import type {ConnParams, RecoveryConfig} from '../../ports/postgres'
import {shellSplit} from '../callbacks'
import {fireCallback, type AgentContext} from '../context'
import {PrePromoteFailed, replicationConn, rewindConn, runArgv} from '../execute-failover'
import {errText, hostPortText} from '../helpers'
import {clearPendingRestart, recoveryFor, remoteText, writeConfig} from '../pg-config'
import {isStandbyClusterConfig} from '../../core/standby'
import {memberToFollow} from '../../core/rules/follow'
import {standbyReplicaMethods} from '../helpers'
import {isLeader} from '../state'
import {localConn} from '../settings'

/**
 * initdb or the custom bootstrap method, the configuration files, the first start
 * (patroni/postgresql/bootstrap.py Bootstrap.bootstrap). A failure ends the task with an error:
 * the core then deletes the initialize key and moves the data directory aside
 * (cancel-initialization, as patroni/ha.py Ha.cancel_initialization).
 */
export async function bootstrapTask(x: AgentContext, signal: AbortSignal): Promise<void> {
  const {pg, config} = x
  const custom = customBootstrap(config.bootstrap)
  if (custom) return customBootstrapTask(x, custom.name, custom.section, signal)
  const su = config.postgresql.authentication.superuser
  await pg.initdb({options: config.bootstrap?.initdb, superuser: {username: su.username, password: su.password}, signal})
  const version = await pg.binaryVersion()
  const params = await writeConfig(x, version, null)
  const r = await pg.start({cmdline: params.cmdline, timeoutMs: config.postgresql.pg_ctl_timeout * 1000, signal})
  if (r.outcome === 'still-starting') throw new Error('PostgreSQL did not accept connections in time after initdb')
  x.state.memory = {...x.state.memory, pgState: 'running'}
}

/**
 * Arguments of a custom bootstrap command (patroni/postgresql/bootstrap.py
 * Bootstrap._custom_bootstrap): `--scope=SCOPE --datadir=DATA_DIR` unless `no_params`, then every
 * other key of the method's section but the reserved ones as `--key=value`, in the section's order.
 */
export function customBootstrapArgs(section: Record<string, unknown>, scope: string, dataDir: string): string[] {
  const params = truthy(section['no_params']) ? [] : [`--scope=${scope}`, `--datadir=${dataDir}`]
  const reserved = new Set(['command', 'no_params', 'keep_existing_recovery_conf', 'recovery_conf', 'scope', 'datadir'])
  for (const [k, v] of Object.entries(section)) if (!reserved.has(k)) params.push(`--${k}=${pyStr(v)}`)
  return params
}

/**
 * The recovery settings of a custom bootstrap's `recovery_conf` (a PITR restore): PostgreSQL
 * starts in archive recovery (or as a standby with standby_mode) and, once recovery ended and
 * it promoted, post_bootstrap runs (patroni/postgresql/config.py ConfigHandler.write_recovery_conf).
 */
export function bootstrapRecovery(rc: Record<string, unknown>): RecoveryConfig {
  const parameters: Record<string, string> = {}
  let standby = false
  for (const [k, v] of Object.entries(rc)) {
    if (v === undefined || v === null) continue
    const lk = k.toLowerCase()
    if (lk === 'standby_mode') {
      standby = v === true || (typeof v === 'string' && ['on', 'true', 'yes', '1'].includes(v.toLowerCase()))
      continue
    }
    parameters[lk] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)
  }
  return {signal: standby ? 'standby' : 'recovery', parameters}
}

/**
 * The pg_hba.conf Patroni writes while a custom bootstrap runs (patroni/postgresql/config.py
 * ConfigHandler.replace_pg_hba): the restored cluster's superuser password is not known, so the
 * superuser and the replication user may connect without one, on the local socket and from
 * the local address the agent uses over TCP. post_bootstrap puts the configured rules back.
 */
export function customBootstrapHba(config: AgentContext['config']): string[] {
  const a = config.postgresql.authentication
  const su = a.superuser.username || 'all'
  const rep = a.replication.username
  const addresses: Array<[string, string]> = [['local', '']]
  const host = localConn(config).host ?? ''
  if (host && !host.startsWith('/')) {
    const cidrs = host === 'localhost' ? ['127.0.0.1/32', '::1/128'] : [host.includes(':') ? `${host}/128` : `${host}/32`]
    for (const cidr of cidrs) addresses.push(['host', cidr])
  }
  return addresses.flatMap(([t, addr]) => [`${t}\treplication\t${rep}\t${addr}\ttrust`, `${t}\tall\t${su}\t${addr}\ttrust`])
}

/** The custom bootstrap: the method's command, the restored configuration, the first start. */
async function customBootstrapTask(x: AgentContext, name: string, section: BootstrapMethodSection, signal: AbortSignal): Promise<void> {
  const {pg, config, log} = x
  const argv = shellSplit(section.command)
  if (!argv?.length) throw new Error(`bootstrap.${name}.command: cannot split the command line: ${section.command}`)
  const params = customBootstrapArgs(section, config.scope, config.postgresql.data_dir)
  log.info(`Running custom bootstrap script: ${section.command}`)
  // A restore may take hours: no time limit but the task's own (the longest a timer can wait).
  const r = await runMethodCommand(x, argv, params, {...x.childEnv}, signal, 2 ** 31 - 1)
  if (r.code !== 0) throw new Error(`custom bootstrap script ${argv[0]} exited with code ${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
  // _post_restore: configuration files the restore did not bring back come from their backups.
  await pg.restoreConfigFiles()
  const version = await pg.binaryVersion()
  const rc = section.recovery_conf
  const recovery = rc !== undefined && rc !== null && typeof rc === 'object' ? bootstrapRecovery(rc) : null
  const keep = recovery === null && truthy(section.keep_existing_recovery_conf)
  const written = await writeConfig(x, version, recovery, {pgHba: customBootstrapHba(config), keepExistingRecovery: keep})
  await pg.saveConfigFiles()
  const s = await pg.start({cmdline: written.cmdline, timeoutMs: config.postgresql.pg_ctl_timeout * 1000, signal})
  if (s.outcome === 'still-starting') throw new Error(`PostgreSQL did not accept connections in time after the custom bootstrap (${name})`)
  x.state.memory = {...x.state.memory, pgState: 'running'}
}

/**
 * A bootstrap or replica method's command with its arguments. When the command is one of
 * Debian's wrapper scripts and is not installed (a host without the patroni package), its
 * steps run instead (debian-wrappers.ts).
 */
async function runMethodCommand(x: AgentContext, argv: string[], params: string[], env: Record<string, string>, signal: AbortSignal, timeoutMs = 600_000): Promise<{code: number; output: string}> {
  const plan = debianWrapperPlan(argv, params)
  if (!plan) return runArgv(x.processes, [...argv, ...params], env, signal, timeoutMs)
  try {
    const r = await x.processes.run(argv[0], [...argv.slice(1), ...params], {env, timeoutMs, maxOutputBytes: 2000, signal})
    return {code: r.code ?? -1, output: `${r.stdout}${r.stderr}`.slice(-2000)}
  } catch (e) {
    if (signal.aborted) throw e
    if (!(e instanceof HactlError && e.code === 'PROCESS_SPAWN' && / not found$/.test(e.message))) return {code: -1, output: errText(e)}
  }
  x.log.warning(`${argv[0]} is not installed (no patroni package on this host): hactl takes its steps itself`)
  for (const step of plan) {
    if (step.kind === 'remove-data-dir') {
      await x.pg.removeDataDir()
      continue
    }
    x.log.info(`running ${step.argv.join(' ')}`)
    const r = await runArgv(x.processes, step.argv, env, signal, timeoutMs)
    if (r.code !== 0 && !step.ignoreFailure) return {code: r.code, output: `${step.argv[0]}: ${r.output}`}
  }
  return {code: 0, output: ''}
}

/** The roles, then bootstrap.post_bootstrap (patroni/postgresql/bootstrap.py Bootstrap.post_bootstrap). */
export async function postBootstrapTask(x: AgentContext): Promise<void> {
  const {pg, config, log} = x
  const a = config.postgresql.authentication
  await pg.createRoles({superuser: a.superuser, replication: a.replication, rewind: a.rewind})
  const cmd = config.bootstrap?.post_bootstrap ?? config.bootstrap?.post_init
  if (typeof cmd === 'string' && cmd.trim()) await runPostBootstrap(x, cmd)
  if (customBootstrap(config.bootstrap)) {
    // After a custom bootstrap: the configured pg_hba instead of the trust lines, no recovery
    // settings any more, and a reload (a restart when hba_file is a parameter, which needs one).
    const version = await pg.binaryVersion()
    const written = await writeConfig(x, version, null)
    if (written.parameters['hba_file'] !== undefined) {
      await pg.restart({mode: 'fast'}, {cmdline: written.cmdline, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
      clearPendingRestart(x, written.cmdline)
    } else {
      await pg.reload()
    }
    await pg.close().catch(() => {})
    log.info('custom bootstrap finished: the configured pg_hba and postgresql.conf are in force')
  }
  x.callbacks.fire('on_start', 'primary')
}

/**
 * Patroni's call_post_bootstrap (patroni/postgresql/bootstrap.py Bootstrap.call_post_bootstrap):
 * `<script...> <dsn>` as the superuser over the local connection, the password in a private
 * passfile (never on the command line), commits local.
 */
async function runPostBootstrap(x: AgentContext, cmd: string): Promise<void> {
  const {config, log} = x
  const argv = shellSplit(cmd)
  if (!argv?.length) throw new Error(`bootstrap.post_bootstrap: cannot split the command line: ${cmd}`)
  const c = localConn(config)
  await x.files.withPrivateFile('pgpass', pgpassLine(c), async (passfile) => {
    const dsn = `dbname=${c.dbname} user=${c.user} host=${c.host} port=${c.port}`
    log.info(`running post_bootstrap: ${argv.join(' ')}`)
    const r = await runArgv(x.processes, [...argv, dsn], {...x.childEnv, PGPASSFILE: passfile, PGOPTIONS: '-c synchronous_commit=local'})
    if (r.code !== 0) throw new Error(`post_bootstrap script ${argv[0]} returned non-zero code ${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
  })
}

/**
 * The pgpass lines for `c` as Patroni writes them (patroni/postgresql/config.py
 * ConfigHandler._pgpass_content): one per comma-separated host, plus `localhost` when a host is a
 * socket directory (libpq matches socket connections against it), `*` for what is missing, `:`
 * and `\\` escaped; empty without a password.
 */
export function pgpassLine(c: {host?: unknown; port?: unknown; user?: unknown; password?: unknown}): string {
  if (typeof c.password !== 'string' || c.password === '') return ''
  const esc = (v: unknown) => String(v === undefined || v === null || v === '' ? '*' : v).replace(/\\/g, '\\\\').replace(/:/g, '\\:')
  const hosts = String(c.host ?? '').split(',').map((h) => h.trim()).filter(Boolean)
  if (hosts.length === 0) hosts.push('*')
  if (hosts.some((h) => h.startsWith('/')) && !hosts.includes('localhost')) hosts.push('localhost')
  return hosts.map((h) => `${h === '*' ? '*' : esc(h)}:${esc(c.port)}:*:${esc(c.user)}:${esc(c.password)}\n`).join('')
}

/**
 * Patroni's create_replica (patroni/postgresql/bootstrap.py Bootstrap.create_replica), then
 * start the copy as a replica: `create_replica_methods` in order until one succeeds.
 * `basebackup` is pg_basebackup from `src`; any other name runs `postgresql.<method>.command`
 * (default: the name) with the method's other keys as `--key=value`, then --scope,
 * --role=replica, --datadir and --connstring (none of them with `no_params`), the replication
 * password in a private PGPASSFILE. Without a source (no leader yet) only methods marked
 * `no_leader` (or `no_master`) are tried.
 */
export async function cloneTask(
  x: AgentContext,
  src: {host: string; port: number} | null,
  signal: AbortSignal,
  opts: {basebackupOnly?: boolean} = {},
): Promise<void> {
  const {pg, config, log} = x
  // In a standby cluster every clone uses standby_cluster.create_replica_methods (patroni/ha.py
  // Ha.clone turns the source into a RemoteMember; patroni/postgresql/bootstrap.py create_replica).
  // Patroni 4.1's reinitialize from the leader uses pg_basebackup whatever is configured.
  const standby = isStandbyClusterConfig(x.state.dynamic.standby_cluster)
  const configured = opts.basebackupOnly ? ['basebackup'] : standby ? standbyReplicaMethods(x.state.dynamic) : config.postgresql.create_replica_methods
  const section = (m: string) => ((config.postgresql as Record<string, unknown>)[m] ?? {}) as Record<string, unknown>
  const methods = src ? configured : configured.filter((m) => m !== 'basebackup' && (truthy(section(m)['no_leader']) || truthy(section(m)['no_master'])))
  if (!methods.length) throw new Error(`no replica method can work without a leader (create_replica_methods: ${configured.join(', ')}; mark one no_leader: true)`)
  const conn = src ? replicationConn(config, src) : null
  let failure: unknown
  let created = false
  for (const m of methods) {
    if (signal.aborted) break
    try {
      if (m === 'basebackup') {
        log.info(`cloning from ${hostPortText(src!)} with pg_basebackup`)
        await pg.basebackup({source: {...conn!, dbname: config.postgresql.database}, options: config.postgresql.basebackup as never, signal})
      } else {
        await runReplicaMethod(x, m, section(m), conn, signal)
      }
      log.info(`replica has been created using ${m}`)
      created = true
      break
    } catch (e) {
      log.error(`Error creating replica using method ${m}: ${errText(e)}`)
      failure = e
    }
  }
  if (!created) {
    // As Patroni does: an empty data dir again, so the next cycle clones afresh instead of
    // taking a half-copied directory for existing data.
    await pg.removeDataDir().catch((e) => log.error(`could not empty ${config.postgresql.data_dir}: ${errText(e)}`))
    throw failure instanceof Error ? failure : new Error(`no replica method succeeded (${methods.join(', ')})`)
  }
  await pg.restoreConfigFiles().catch(() => {})
  // Start the copy as a replica inside the same task, as Patroni does: a fresh base backup's
  // pg_control says "in production", and left stopped it would look like a crashed primary.
  // In a standby cluster with no leader yet (the standby leader's own bootstrap) it follows the
  // remote primary (patroni/ha.py Ha._get_node_to_follow).
  // Otherwise it follows whom core/rules/follow.ts memberToFollow names (patroni/ha.py Ha.clone):
  // nobody with nostream, its replicatefrom member, or the leader.
  const cluster = x.state.lastCluster
  const tags = {nostream: config.tags.nostream === true, replicatefrom: config.tags.replicatefrom ?? null}
  const leader = cluster?.leader?.name ?? null
  const remote = standby && !tags.nostream && (leader === null || leader === config.name)
  const upstream = remote || !cluster ? null : (memberToFollow(cluster, config.name, tags)?.name ?? null)
  log.info(remote ? `starting the clone as a replica of ${remoteText(x)}` : upstream ? `starting the clone as a replica of ${upstream}` : 'starting the clone as a replica without an upstream')
  await startPg(x, 'replica', upstream, config.postgresql.pg_ctl_timeout * 1000, signal, remote)
  // The standby leader's bootstrap ends here: Patroni's post_bootstrap calls on_start with its role.
  if (remote && x.state.memory.bootstrapping) x.callbacks.fire('on_start', 'standby_leader')
  x.state.memory = {...x.state.memory, role: 'replica'}
}

async function runReplicaMethod(x: AgentContext, method: string, options: Record<string, unknown>, conn: ConnParams | null, signal: AbortSignal): Promise<void> {
  const {pg, config, log} = x
  const opts = {...options}
  const dataDir = config.postgresql.data_dir
  const dd = await pg.dataDirState().catch(() => 'missing' as const)
  const empty = dd === 'missing' || dd === 'empty'
  if (!empty) {
    if (truthy(opts['keep_data'])) log.info('Leaving data directory uncleaned')
    else await pg.removeDataDir()
  }
  const command = typeof opts['command'] === 'string' ? opts['command'] : method
  delete opts['command']
  const argv = shellSplit(command)
  if (!argv?.length) throw new Error(`postgresql.${method}.command: cannot split the command line: ${command}`)
  if (!truthy(opts['no_params'])) {
    const connstring = conn ? `dbname=${config.postgresql.database} user=${conn.user} host=${conn.host} port=${conn.port}` : ''
    Object.assign(opts, {scope: config.scope, role: 'replica', datadir: dataDir, connstring})
  } else {
    for (const k of ['no_params', 'no_master', 'no_leader', 'keep_data']) delete opts[k]
  }
  const params = Object.entries(opts).map(([k, v]) => `--${k}=${pyStr(v)}`)
  const run = async (env: Record<string, string>) => {
    log.info(`creating a replica with ${method}: ${[...argv, ...params].join(' ')}`)
    const r = await runMethodCommand(x, argv, params, env, signal)
    if (r.code !== 0) throw new Error(`${command} exited with code=${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
  }
  if (!conn) return run({...x.childEnv})
  await x.files.withPrivateFile('pgpass', pgpassLine(conn), (passfile) => run({...x.childEnv, PGPASSFILE: passfile}))
}

/** Write the configuration (recovery settings for a replica) and start PostgreSQL (docs/ha-rules.md#starting-postgresql). */
export async function startPg(x: AgentContext, as: 'primary' | 'replica', upstream: string | null, timeoutMs: number, signal: AbortSignal, remote = false): Promise<void> {
  const {pg} = x
  const st = x.state
  const version = await pg.binaryVersion()
  const recovery = as === 'replica' ? recoveryFor(x, version, upstream, remote) : null
  const params = await writeConfig(x, version, recovery)
  st.followKey = JSON.stringify(recovery)
  st.upstream = upstream
  st.upstreamRemote = as === 'replica' && remote
  if (as === 'replica') st.ssn = undefined
  clearPendingRestart(x, params.cmdline)
  const before = st.memory.role
  const r = await pg.start({cmdline: params.cmdline, timeoutMs, signal})
  if (r.outcome === 'started') {
    const wasPrimary = before === 'primary' || before === 'promoted' || before === 'demoted'
    // The lock holder of a standby cluster starts as its standby leader.
    const role = as === 'replica' && remote && isLeader(st, x.config.name) ? 'standby_leader' : as
    if (as === 'replica' && wasPrimary) fireCallback(x, 'on_role_change', role)
    else fireCallback(x, 'on_start', role)
  }
}

/**
 * pre_promote (a failure aborts: the core then releases the lock), the promotion (pg.promote), CHECKPOINT
 * (docs/ha-rules.md#promotion; patroni/postgresql/__init__.py Postgresql.promote).
 */
export async function promoteTask(x: AgentContext, signal: AbortSignal): Promise<void> {
  const {pg, config, log} = x
  x.state.failsafe.setActive(0)
  const cmd = config.postgresql.pre_promote
  if (cmd) {
    // Patroni's Postgresql._pre_promote: the command split as a shell would (shlex.split) and run
    // without a shell and without a time limit; a lost lock cancels the task, which kills it.
    const argv = shellSplit(cmd)
    const r = argv?.length ? await runArgv(x.processes, argv, x.childEnv, signal, null) : {code: -1, output: 'unbalanced quotes in the command line'}
    log.info(`pre_promote script \`${cmd}\` exited with ${r.code}`)
    if (r.code !== 0) throw new PrePromoteFailed(`pre_promote script exited with code ${r.code}${r.output.trim() ? `: ${r.output.trim()}` : ''}`)
  }
  // Until the promotion is signalled, a cancel (lock lost) leaves nothing to undo.
  signal.throwIfAborted()
  await pg.promote({timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
  x.state.memory = {...x.state.memory, pgState: 'running'}
  log.info('PostgreSQL promoted')
  fireCallback(x, 'on_role_change', 'primary')
  // pg_rewind on the old primary refuses a source whose pg_control still shows the old timeline.
  await pg.checkpoint().catch((e) => log.warning(`CHECKPOINT after promote failed: ${errText(e)}`))
}

/**
 * The graceful demotion's task (docs/ha-rules.md#demotion; patroni/ha.py Ha.demote): a fast stop
 * with the shutdown checkpoint, then, when the lock was `mine`, the leader key released with
 * that checkpoint's LSN, between cycles. `stopped` records the stop.
 */
export async function gracefulDemoteTask(x: AgentContext, mine: boolean, timeoutMs: number | undefined, stopped: () => void, signal: AbortSignal): Promise<void> {
  const {pg, dcs, log} = x
  await pg.close().catch(() => {})
  const r = await pg.stop({mode: 'fast', checkpoint: true, ...(timeoutMs !== undefined ? {timeoutMs} : {})})
  stopped()
  // The shutdown checkpoint is the last WAL a candidate must have to be eligible.
  const lsn = r.checkpointLsn ?? (await pg.controldata().catch(() => undefined))?.checkpointLsn
  // Never while a cycle runs: its renewal could re-create the key we delete (the cycle
  // that follows sees the task ended and the key gone).
  if (!mine || !(await x.slot.exclusive(signal, () => dcs.deleteLeader(lsn)))) return
  log.info('released the leader key after demotion')
  await awaitNewLeader(x, NEW_LEADER_WAIT_MS, signal)
}

/** How long a demoted primary waits for another member to take the released key (Patroni's sleep). */
export const NEW_LEADER_WAIT_MS = 2000
const NEW_LEADER_POLL_MS = 20

/**
 * After releasing the key, patroni/ha.py Ha.demote sleeps 2 s "to give somebody time to take the
 * leader lock" before it starts PostgreSQL again. This waits as long at most, but ends as soon as
 * the (watch-backed) cluster view names another leader: the next cycle then starts PostgreSQL
 * already following it, and that start does not compete for CPU and disk with the candidate's
 * promotion. A DCS error ends the wait; the next cycle deals with it.
 */
async function awaitNewLeader(x: AgentContext, ms: number, signal: AbortSignal): Promise<void> {
  const until = x.clock.monotonic() + ms
  while (x.clock.monotonic() < until) {
    const leader = await x.dcs.loadCluster().then((c) => c.leader?.name, () => null)
    if (leader === null || (leader !== undefined && leader !== x.config.name)) return
    await x.clock.sleep(NEW_LEADER_POLL_MS, signal)
  }
}

/** pg_rewind from `src` after a fast stop (docs/ha-rules.md#rewind-and-reinitialize; patroni/postgresql/rewind.py Rewind.execute). */
export async function rewindTask(x: AgentContext, src: {host: string; port: number}, signal: AbortSignal): Promise<void> {
  const {pg, config, log} = x
  const st = x.state
  await pg.close().catch(() => {})
  await pg.stop({mode: 'fast', checkpoint: false, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
  st.memory = {...st.memory, pgState: 'stopped'}
  try {
    await pg.rewind({source: rewindConn(config, src), signal})
    st.memory = {...st.memory, rewind: 'success'}
    log.info(`pg_rewind from ${hostPortText(src)} finished`)
  } catch (e) {
    // Aborted, or the source is not ready yet (no checkpoint since promotion): try again later.
    if (signal.aborted || (e instanceof HactlError && e.recoverable)) throw e
    st.memory = {...st.memory, rewind: 'failed'}
    const p = config.postgresql
    if (p.remove_data_directory_on_rewind_failure || p.remove_data_directory_on_diverged_timelines) {
      log.warning('pg_rewind failed: removing the data directory so that the node is cloned again')
      await pg.removeDataDir()
      st.memory = {...st.memory, rewind: 'initial'}
    }
    throw e
  }
}

/** Stop, wipe and clone again from `src` (patroni/ha.py Ha.reinitialize, Ha._do_reinitialize). */
export async function reinitializeFrom(
  x: AgentContext,
  src: {host: string; port: number},
  signal: AbortSignal,
  opts: {basebackupOnly?: boolean} = {},
): Promise<void> {
  const {pg, config} = x
  await pg.close().catch(() => {})
  await pg.stop({mode: 'immediate', checkpoint: false, timeoutMs: config.postgresql.pg_ctl_timeout * 1000})
  x.state.memory = {...x.state.memory, pgState: 'stopped', rewind: 'initial'}
  await pg.removeDataDir()
  await cloneTask(x, src, signal, opts)
}

/** Python's truth value of a YAML setting (Patroni tests method options with `if value`). */
function truthy(v: unknown): boolean {
  return !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0))
}

/** str() of a YAML value as Python prints it into `--key=value` (True, False, None). */
function pyStr(v: unknown): string {
  if (v === true) return 'True'
  if (v === false) return 'False'
  if (v === null || v === undefined) return 'None'
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}
