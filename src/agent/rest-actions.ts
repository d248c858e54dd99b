/**
 * The agent's side of Patroni's unsafe REST endpoints (patroni/api.py do_POST_switchover,
 * do_POST_failover, do_POST_restart, do_POST_reinitialize, do_POST_reload, do_PATCH_config,
 * do_PUT_config): switchover and failover (through the `failover` key, like Patroni: the HA loops
 * do the work), restart (now or scheduled), reinitialize, reload, and the dynamic configuration
 * (PATCH/PUT /config). Texts and status codes are Patroni's, because patronictl matches on them.
 */
import type {ActionHandlers, ActionResult} from '../api/types'
import {dynamicInForce, parseDynamicConfig} from '../config/dynamic-schema'
import {describeIssue} from '../config/issues'
import {parseBool} from '../config/kit'
import {type ConfigData, patchConfig, pyEqual} from '../ctl/config-edit'
import type {ClusterView} from '../core/cluster'
import {hasFailover} from '../core/cluster'
import {checkManualRequest, membersToAsk, noGoodCandidate} from '../core/preconditions'
import type {Clock} from '../ports/clock'
import type {Dcs} from '../ports/dcs'
import type {Peers} from '../ports/peers'
import type {Logger} from '../log/logger'
import {errText, type HaLoop} from './ha-loop'
import {getPeerStatus, peerStatusFrom} from './helpers'
import {parseFailsafePing} from './failsafe'

export interface RestActionDeps {
  loop: HaLoop
  dcs: Dcs
  clock: Clock
  log: Logger
  /** The other members' REST APIs (the candidates' GET /patroni). */
  peers: Peers
  /** Re-reads the local configuration and applies it (what SIGHUP does). */
  reload: () => Promise<void>
  /** GET an agent's `/patroni` (2 s); injectable for tests of the pure rules. */
  fetchStatus?: (apiUrl: string) => Promise<{status: number; body: unknown}>
  /**
   * `hactl agent --strict`: PATCH/PUT /config refuse (400, naming the key) a document whose values
   * Patroni would adjust or could not use. Without it they store any JSON object, as Patroni does.
   */
  strict?: boolean
}

const text = (status: number, body: string): ActionResult => ({status, body})

type Schedule = {ok: true; iso: string; ms: number} | {ok: false; status: number; message: string}

/**
 * Patroni's parse_schedule: an unambiguous timestamp with a timezone, not in the past. The value
 * is stored as ISO-8601 in the offset it was given in (Python's isoformat()).
 */
export function parseSchedule(value: unknown, action: string, nowMs: number): Schedule {
  const unparsable: Schedule = {ok: false, status: 422, message: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601'}
  if (typeof value !== 'string') return unparsable
  const m = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d\d:?\d\d)?$/i.exec(value.trim())
  if (!m) return unparsable
  const [, y, mo, d, h, mi, sec = '00', frac = '', tz] = m
  if (!tz) return {ok: false, status: 400, message: `Timezone information is mandatory for the scheduled ${action}`}
  const offsetMin = /^z$/i.test(tz) ? 0 : (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(-2)))
  const fields = [y, mo, d, h, mi, sec].map(Number)
  const wall = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5], Number(frac.padEnd(3, '0').slice(0, 3)))
  const check = new Date(wall)
  if (check.getUTCMonth() !== fields[1] - 1 || check.getUTCDate() !== fields[2] || fields[3] > 23 || fields[4] > 59 || fields[5] > 59) return unparsable
  const ms = wall - offsetMin * 60_000
  if (ms < nowMs) return {ok: false, status: 422, message: `Cannot schedule ${action} in the past`}
  const sign = offsetMin < 0 ? '-' : '+'
  const abs = Math.abs(offsetMin)
  const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
  const fracText = frac ? `.${frac.padEnd(6, '0')}` : ''
  return {ok: true, iso: `${y}-${mo}-${d}T${h}:${mi}:${sec}${fracText}${off}`, ms}
}

/** `X.Y` (X >= 10) or `X.Y.Z` to server_version_num; a message when invalid (Patroni's words). */
export function postgresVersionToInt(v: unknown): number | string {
  const s = String(v)
  const parts = s.split('.')
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => /^\d+$/.test(p))) {
    return `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${s}`
  }
  const n = parts.map(Number)
  if (parts.length === 2) {
    if (n[0] < 10) return `Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: ${s}`
    return n[0] * 10000 + n[1]
  }
  if (n[0] >= 10) return `Invalid PostgreSQL version: ${s}`
  return n[0] * 10000 + n[1] * 100 + n[2]
}

/** Seconds with an optional unit (`30`, `30s`, `5min`, `1h`); null when not a number. */
export function parseSeconds(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : null
  if (typeof v !== 'string') return null
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(v)
  if (!m) return null
  const mult: Record<string, number> = {ms: 0.001, s: 1, min: 60, h: 3600, d: 86400}
  return Math.trunc(Number(m[1]) * mult[m[2] ?? 's'])
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

export function createRestActions(d: RestActionDeps): ActionHandlers {
  const fetchStatus =
    d.fetchStatus ??
    ((apiUrl: string) => getPeerStatus(apiUrl, 2000, d.peers))

  // The configuration the agents run with: each usable key of the DCS document, the value in
  // force for an unusable one (as the HA loop applies it), so REST and loop agree on pause.
  const inForce = (c: ClusterView) => (c.config?.valid ? dynamicInForce(d.loop.dynamic, c.config.data, {strict: d.strict}).config : d.loop.dynamic)
  const paused = (c: ClusterView) => inForce(c).pause === true
  const syncMode = (c: ClusterView) => inForce(c).synchronous_mode === true
  /** Patroni's is_failover_possible (REST side): a text when not possible, null otherwise. */
  async function failoverImpossible(c: ClusterView, leader: string | undefined, candidate: string | undefined, action: 'switchover' | 'failover'): Promise<string | null> {
    const ask = membersToAsk(action, leader, candidate, {leaderName: c.leader?.name ?? null, members: c.members, syncMode: syncMode(c), sync: c.sync})
    if ('refusal' in ask) return ask.refusal
    const statuses = await Promise.all(
      ask.members.map(async (m) => {
        if (!m.apiUrl) return peerStatusFrom(0, undefined)
        try {
          const r = await fetchStatus(m.apiUrl)
          return peerStatusFrom(r.status, r.body)
        } catch {
          return peerStatusFrom(0, undefined)
        }
      }),
    )
    return noGoodCandidate(action, statuses)
  }

  async function pollResult(leader: string | null, candidate: string | undefined, action: 'switchover' | 'failover', signal: AbortSignal): Promise<ActionResult> {
    const verb = action === 'switchover' ? 'switched' : 'failed'
    const title = action === 'switchover' ? 'Switchover' : 'Failover'
    const rounds = Math.max(10, d.loop.dynamic.loop_wait) * 2
    for (let i = 0; i < rounds && !signal.aborted; i++) {
      await d.clock.sleep(1000, signal).catch(() => {})
      try {
        const c = await d.dcs.loadCluster({fresh: true})
        const now = c.leader?.name
        if (now && now !== leader) {
          if (!candidate || candidate === now) return text(200, `Successfully ${verb} over to "${now}"`)
          return text(200, `${verb[0].toUpperCase()}${verb.slice(1)} over to "${now}" instead of "${candidate}"`)
        }
        if (!hasFailover(c.failover)) return text(503, `${title} failed`)
      } catch (e) {
        d.log.debug(`polling the ${action} result: ${errText(e)}`)
      }
    }
    return text(503, `${title} status unknown`)
  }

  async function manual(kind: 'switchover' | 'failover', body: Record<string, unknown>, signal: AbortSignal): Promise<ActionResult> {
    const leader = optString(body['leader'])
    const candidate = optString(body['candidate']) ?? optString(body['member'])
    let c: ClusterView
    try {
      c = await d.dcs.loadCluster({fresh: true})
    } catch (e) {
      return text(503, `DCS is not accessible: ${errText(e)}`)
    }
    const isPaused = paused(c)
    d.log.info(`received ${kind} request with leader=${leader ?? 'None'} candidate=${candidate ?? 'None'} scheduled_at=${body['scheduled_at'] ?? 'None'}`)
    const hasSchedule = body['scheduled_at'] !== undefined && body['scheduled_at'] !== null && body['scheduled_at'] !== ''
    let scheduled: string | undefined
    const check = checkManualRequest({kind, leader, candidate, scheduled: hasSchedule}, isPaused, () => {
      const s = parseSchedule(body['scheduled_at'], kind, d.clock.now())
      if (!s.ok) return {status: s.status, message: s.message}
      scheduled = s.iso
      return null
    })
    if (!check.ok) return text(check.status, check.message)
    if (check.warning) d.log.warning(check.warning)
    const action = check.action
    if (!scheduled) {
      const why = await failoverImpossible(c, leader, candidate, action)
      if (why) return text(412, why)
    }
    let written = false
    try {
      written = await d.dcs.setFailover({
        ...(leader ? {leader} : {}),
        ...(candidate ? {member: candidate} : {}),
        ...(scheduled ? {scheduled_at: scheduled} : {}),
      })
    } catch (e) {
      d.log.error(`failed to write the failover key: ${errText(e)}`)
    }
    if (!written) return text(503, 'failed to write failover key into DCS')
    d.dcs.wakeup()
    if (scheduled) return text(202, `${action === 'switchover' ? 'Switchover' : 'Failover'} scheduled`)
    return pollResult(c.leader?.name ?? null, candidate, action, signal)
  }

  return {
    switchover: (body, ctx) => manual('switchover', body, ctx.signal),
    failover: (body, ctx) => manual('failover', body, ctx.signal),

    async cancelSwitchover() {
      const c = await d.dcs.loadCluster({fresh: true})
      if (!c.failover?.scheduledAt) return text(404, 'no switchover is scheduled')
      const ok = await d.dcs.setFailover({}, c.failover.version)
      return ok ? text(200, 'scheduled switchover deleted') : text(409, 'failed to delete the scheduled switchover: it changed meanwhile')
    },

    async restart(body) {
      const c = await d.dcs.loadCluster({fresh: true}).catch(() => null)
      const isPaused = c ? paused(c) : d.loop.dynamic.pause === true
      if (isPaused && 'schedule' in body) return text(500, "Can't schedule restart in the paused state")
      let schedule: string | undefined
      let role: string | undefined
      let version: number | undefined
      let timeoutS: number | undefined
      for (const [k, v] of Object.entries(body)) {
        if (k === 'schedule') {
          const s = parseSchedule(v, 'restart', d.clock.now())
          if (!s.ok) return text(s.status, s.message)
          schedule = s.iso
        } else if (k === 'role') {
          if (v !== 'master' && v !== 'primary' && v !== 'replica') return text(400, 'PostgreSQL role should be either primary or replica')
          role = v
        } else if (k === 'postgres_version') {
          const n = postgresVersionToInt(v)
          if (typeof n === 'string') return text(400, n)
          version = n
        } else if (k === 'timeout') {
          const n = parseSeconds(v)
          if (n === null || n <= 0) return text(400, 'Timeout should be a positive number of seconds')
          timeoutS = n
        } else if (k !== 'restart_pending') {
          return text(400, `Unknown filter for the scheduled restart: ${k}`)
        }
      }
      const pendingOnly = 'restart_pending' in body
      if (schedule) {
        if (d.loop.scheduledRestart) return text(409, 'Another restart is already scheduled')
        d.loop.scheduledRestart = {
          schedule,
          ...(d.loop.lastStatus ? {postmaster_start_time: d.loop.lastStatus.postmasterStartTime} : {}),
          ...(role ? {role} : {}),
          ...(body['postgres_version'] !== undefined ? {postgres_version: String(body['postgres_version'])} : {}),
          ...(pendingOnly ? {restart_pending: true} : {}),
          ...(timeoutS !== undefined ? {timeout: timeoutS} : {}),
        }
        await d.loop.publishMember().catch(() => {})
        return text(202, 'Restart scheduled')
      }
      const why = d.loop.restartMatches(role, version, pendingOnly)
      if (why) {
        d.log.info(`not proceeding with the restart: ${why}`)
        return text(503, 'restart conditions are not satisfied')
      }
      try {
        const r = await d.loop.restartNow(timeoutS ?? null)
        return text(r.ok ? 200 : 503, r.message)
      } catch (e) {
        d.log.error(`exception during restart: ${errText(e)}`)
        return text(400, 'restart failed')
      }
    },

    async cancelRestart() {
      if (!d.loop.scheduledRestart) return text(404, 'no restarts are scheduled')
      d.loop.scheduledRestart = null
      await d.loop.publishMember().catch(() => {})
      return text(200, 'scheduled restart deleted')
    },

    async reload() {
      void d.reload().catch((e) => d.log.error(`reload failed: ${errText(e)}`))
      return text(202, 'reload scheduled')
    },

    /**
     * POST /failsafe from a primary that cannot reach etcd (docs/ha-rules.md#failsafe-mode;
     * patroni/api.py do_POST_failsafe): a replica remembers it as the leader for one ttl and
     * answers `Accepted` with its WAL position in `lsn`; a node running as primary refuses (500),
     * and without failsafe_mode the request is 502.
     */
    async failsafe(body) {
      if (!d.loop.dynamic.failsafe_mode) return text(502, 'failsafe_mode is not enabled')
      const ping = parseFailsafePing(body)
      if (typeof ping === 'string') return text(400, ping)
      const pg = d.loop.lastPg
      if (pg?.process === 'running' && pg.inRecovery === false) return text(500, 'Running as a leader')
      d.loop.failsafe.update(ping)
      const lsn = pg?.walPosition
      return {status: 200, body: 'Accepted', ...(typeof lsn === 'number' ? {headers: {lsn: String(lsn)}} : {})}
    },

    async reinitialize(body) {
      // Patroni 4.1 adds `from_leader` (parse_bool); earlier agents ignore it.
      const why = await d.loop.reinitializeNow(body['force'] === true || body['force'] === 'true', parseBool(body['from_leader']) === true)
      return why ? text(503, why) : text(200, 'reinitialize started')
    },

    // patroni/api.py do_PATCH_config: the stored document patched with Patroni's patch_config
    // (null removes a key, mappings merge, a scalar replaces when its str() differs), stored as
    // it is; the agents adjust what they read (src/config/dynamic-schema.ts).
    async patchConfig(body) {
      const c = await d.dcs.loadCluster({fresh: true})
      if (!c.config?.valid) return text(503, 'configuration is missing or invalid in the DCS')
      const data = structuredClone(c.config.data) as ConfigData
      const changed = patchConfig(data, body as ConfigData)
      const invalid = d.strict ? checkDynamic(data) : null
      if (invalid) return text(400, invalid)
      if (changed && !(await d.dcs.setConfig(data, c.config.modifyVersion))) return text(409, 'Conflict')
      d.dcs.wakeup()
      return {status: 200, body: data}
    },

    // patroni/api.py do_PUT_config: the body replaces the stored document unless equal to it.
    async putConfig(body) {
      const invalid = d.strict ? checkDynamic(body) : null
      if (invalid) return text(400, invalid)
      const c = await d.dcs.loadCluster({fresh: true})
      if (!c.config?.valid || !pyEqual(c.config.data as ConfigData, body as ConfigData)) {
        if (!(await d.dcs.setConfig(body))) return text(502, 'failed to write the configuration into the DCS')
        d.dcs.wakeup()
      }
      return {status: 200, body}
    },
  }
}

/**
 * `--strict`: hactl refuses a dynamic configuration whose values Patroni would adjust or could not
 * use (Patroni stores anything and adjusts or warns later on every node): the errors name each key.
 */
function checkDynamic(data: Record<string, unknown>): string | null {
  const r = parseDynamicConfig(data, '', {strict: true})
  if (r.valid) return null
  const errors = r.issues.filter((i) => i.severity === 'error')
  return `invalid configuration: ${errors.map(describeIssue).join('; ') || 'rejected'}`
}
