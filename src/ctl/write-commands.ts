/**
 * The patronictl commands that change a cluster: switchover, failover, edit-config, restart,
 * reload, reinit, pause, resume, remove, query, flush, and Patroni 4.1's demote-cluster and
 * promote-cluster. They ask the members' REST API (the
 * leader first where patronictl does) and fall back to etcd where patronictl does; questions,
 * messages and exit codes follow patronictl 3.0.2 (but for a switchover or failover that an agent
 * refuses or cannot confirm: EXIT_REFUSED, EXIT_IN_PROGRESS), the output tables the read commands' format.
 */
import {isStandbyClusterConfig} from '../core/standby'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {ClusterView, Member} from '../core/cluster'
import {HactlError, errorMessage} from '../errors'
import type {Dcs} from '../ports/dcs'
import type {ParsedArgv} from './argv'
import {applyConfigChanges, applyYamlDocument, type ConfigData, configText, pgPairs, pyEqual} from './config-edit'
import {clusterName, loadCtlContext, type CtlContext, type CtlPorts} from './context'
import {explainRefusal, explanationLines, type Probe} from './explain'
import {connKwargs, renderMembers} from './members'
import {type OutputFormat, printOutput} from './print-output'
import {type Prompter, PromptAborted, makePrompter, promptTimeoutMs} from './prompt'
import {type PyValue, pyRepr, pyStr, pyTitle, pyTruthy} from './py-format'
import {configDiffText} from './py-difflib'
import {type CtlHandler, type CtlIo, sleep} from './read-commands'
import {restOptions, type RestResponse} from './rest'
import {membersWithRole, type RoleChoice} from './roles'
import {nextHourExample, parseScheduled, postgresVersionToInt, pyTimestamp} from './schedule'

export {PromptAborted}

interface Session {
  ctx: CtlContext
  ports: CtlPorts
  name: string
  dcs: Dcs
  view: ClusterView
  io: CtlIo
  ask: Prompter
}

/**
 * Exit codes of switchover and failover once the request reached an agent. patronictl exits 0
 * whatever the agent answered; hactl tells a script what happened to the leader.
 */
export const EXIT_REFUSED = 1
/** The agent timed out waiting for the change (503 "status unknown"): it may still happen. */
export const EXIT_IN_PROGRESS = 3

/** Loads the config, opens the cluster's keys and reads them once; closes the store afterwards. */
async function withCluster(p: ParsedArgv, io: CtlIo, ports: CtlPorts, f: (s: Session) => Promise<number>): Promise<number> {
  const ctx = loadCtlContext(p.flags, io.env)
  const name = clusterName(ctx, p.args['cluster_name'])
  const timeoutMs = promptTimeoutMs(io.env)
  const dcs = ports.openDcs(ctx, name)
  let ask: Prompter | undefined
  try {
    const view = await dcs.loadCluster({fresh: true})
    ask = makePrompter(io.input, io.out, {timeoutMs})
    return await f({ctx, ports, name, dcs, view, io, ask})
  } finally {
    ask?.close?.()
    await dcs.close()
  }
}

function fail(message: string, hints: string[] = []): HactlError {
  return new HactlError('USAGE', message, {hints})
}

function printMembers(s: Session, view: ClusterView = s.view, fmt: OutputFormat = 'pretty'): void {
  s.io.out(renderMembers(view, s.name, {extended: false, fmt}))
}

async function rest(s: Session, m: Member, method: string, endpoint: string, body?: unknown): Promise<RestResponse> {
  if (!m.apiUrl) throw new Error(`member ${m.name} publishes no api_url`)
  return s.ports.rest.request(m.apiUrl, restOptions(s.ctx), {method: method.toUpperCase(), endpoint, body})
}

function isPaused(view: ClusterView): boolean {
  return pyTruthy((view.config?.data['pause'] ?? null) as PyValue)
}

function flag(p: ParsedArgv, name: string): string | undefined {
  const v = p.flags[name]
  return typeof v === 'string' ? v : undefined
}

// --- member selection (patronictl's get_members / confirm_members_action) ---------------------

/**
 * The members an action applies to: those with the role, narrowed to the names given (or, for
 * reinitialize with no names, the one the user types). Prints the member table first.
 */
async function getMembers(
  s: Session,
  names: readonly string[],
  role: RoleChoice,
  force: boolean,
  action: string,
  askConfirmation = true,
): Promise<Member[]> {
  const members = membersWithRole(s.view, role)
  const candidates = members.map((m) => m.name)
  // patronictl tests `not force or role`; every caller passes a role, so the table always shows
  if (names.length === 0 && candidates.length === 0) throw fail(`${s.name} cluster doesn't have any members`)
  printMembers(s)
  let chosen: string[]
  if (names.length > 0) {
    chosen = [...new Set(names)].filter((n) => candidates.includes(n))
    if (chosen.length === 0) throw fail(`No ${role} among provided members`)
  } else chosen = action === 'reinitialize' ? [] : candidates
  if (chosen.length === 0 && !force) {
    chosen = [await s.ask.prompt(`Which member do you want to ${action} [${candidates.join(', ')}]?`, {default: '', skip: 'name the members after the cluster name'})]
  }
  for (const n of chosen) if (!candidates.includes(n)) throw fail(`${n} is not a member of cluster`)
  const picked = members.filter((m) => chosen.includes(m.name))
  if (askConfirmation) await confirmMembersAction(s, picked, force, action)
  return picked
}

async function confirmMembersAction(s: Session, members: Member[], force: boolean, action: string, scheduledAt?: string | null): Promise<void> {
  if (force) return
  const names = members.map((m) => m.name).join(', ')
  if (scheduledAt) {
    if (!(await s.ask.confirm(`Are you sure you want to schedule ${action} of members ${names} at ${scheduledAt}?`))) {
      throw fail(`Aborted scheduled ${action}`)
    }
  } else if (!(await s.ask.confirm(`Are you sure you want to ${action} members ${names}?`))) {
    throw fail(`Aborted ${action}`)
  }
}

function checkResponse(s: Session, r: RestResponse, member: string, action: string, silentSuccess = false): boolean {
  if (r.status >= 400) {
    s.io.out(`Failed: ${action} for member ${member}, status code=${r.status}, (${r.body})\n`)
    return false
  }
  if (!silentSuccess) s.io.out(`Success: ${action} for member ${member}\n`)
  return true
}

/** The leader (when it has an api_url), then every other member with one. */
function membersLeaderFirst(view: ClusterView): Member[] {
  const leader = view.leader?.member.apiUrl ? view.leader.member : undefined
  return [...(leader ? [leader] : []), ...view.members.filter((m) => m.apiUrl && m.name !== leader?.name)]
}

// --- switchover / failover ---------------------------------------------------------------------

function isStandbyCluster(view: ClusterView): boolean {
  return isStandbyClusterConfig(view.config?.data['standby_cluster'])
}

async function failoverOrSwitchover(
  p: ParsedArgv,
  io: CtlIo,
  ports: CtlPorts,
  action: 'switchover' | 'failover',
  given: {leader?: string; candidate?: string; scheduled?: string},
): Promise<number> {
  const force = p.flags['force'] === true
  return withCluster(p, io, ports, async (s) => {
    const {view} = s
    io.out('Current cluster topology\n')
    printMembers(s)
    const leaderName = view.leader?.name ? view.leader.name : null
    if (action === 'switchover' && !leaderName) {
      throw fail('This cluster has no leader', ['with no leader only a failover can help: failover --candidate NAME'])
    }
    let leader: string | null | undefined = given.leader
    if (leader === undefined) {
      if (force || action === 'failover') leader = leaderName
      else leader = await s.ask.prompt(isStandbyCluster(view) ? 'Standby Leader' : 'Primary', {default: view.leader!.member.name, skip: 'pass --leader NAME'})
    }
    if (leader !== null && view.leader && view.leader.member.name !== leader) {
      throw fail(`Member ${leader} is not the leader of cluster ${s.name}`, [`the leader key names ${view.leader.member.name}`])
    }
    const candidateNames = view.members
      .filter((m) => m.name !== leader && !pyTruthy((m.tags['nofailover'] ?? null) as PyValue))
      .map((m) => m.name)
      .sort()
    if (candidateNames.length === 0) throw fail(`No candidates found to ${action} to`, notCandidates(view, leader))
    let candidate = given.candidate
    if (candidate === undefined && !force) {
      candidate = await s.ask.prompt(`Candidate ${pyRepr(candidateNames)}`, {default: '', skip: 'pass --candidate NAME'})
    }
    if (action === 'failover' && !candidate) throw fail('Failover could be performed only to a specific candidate')
    if (candidate === leader) {
      throw fail(`${pyTitle(action)} target and source are the same.`, [`${candidate} is the leader; the candidates are ${candidateNames.join(', ')}`])
    }
    if (candidate && !candidateNames.includes(candidate)) {
      throw fail(`Member ${candidate} does not exist in cluster ${s.name}`, notCandidates(view, leader, candidate, candidateNames))
    }

    let scheduledAt: string | null = null
    if (action === 'switchover') {
      let scheduled = given.scheduled
      if (scheduled === undefined && !force) {
        scheduled = await s.ask.prompt(`When should the switchover take place (e.g. ${nextHourExample(io.now())} ) `, {default: 'now', skip: 'pass --scheduled now'})
      }
      scheduledAt = parseScheduled(scheduled)
      if (scheduledAt && isPaused(view)) throw fail("Can't schedule switchover in the paused state")
    }
    const value = {leader: leader ?? null, candidate: candidate || null, scheduled_at: scheduledAt}
    if (!force) {
      const demote = leader ? `, demoting current leader ${leader}` : ''
      if (scheduledAt) {
        if (!(await s.ask.confirm(`Are you sure you want to schedule ${action} of cluster ${s.name} at ${scheduledAt}${demote}?`))) {
          throw fail(`Aborting scheduled ${action}`)
        }
      } else if (!(await s.ask.confirm(`Are you sure you want to ${action} cluster ${s.name}${demote}?`))) {
        throw fail(`Aborting ${action}`)
      }
    }

    let shown = view
    try {
      const target = view.leader ? view.leader.member : view.members.find((m) => m.name === candidate)
      if (!target) throw new Error(`no member ${candidate} to send the ${action} to`)
      let r = await rest(s, target, 'post', action, value)
      if (r.status === 501 && action === 'switchover' && r.body.includes('Server does not support this operation')) {
        r = await rest(s, target, 'post', 'failover', value)
      }
      if (r.status !== 200 && r.status !== 202) {
        // patronictl 4.x words a timed-out request as "result unknown": it may still happen
        const unknown = r.body.includes('status unknown')
        io.out(`${pyTitle(action)} ${unknown ? 'result unknown' : 'failed'}, details: ${r.status}, ${r.body}\n`)
        if (unknown) return EXIT_IN_PROGRESS
        // patronictl stops here; say why, candidate by candidate
        await explainFailure(s, action, leader ?? null, candidate || null, r)
        // patronictl exits 0 here; a script deserves to know the leader did not move
        return EXIT_REFUSED
      }
      shown = await s.dcs.loadCluster({fresh: true})
      io.out(`${pyTimestamp(io.now())} ${r.body}\n`)
    } catch (e) {
      if (e instanceof HactlError) throw e
      io.err(`${pyTimestamp(io.now(), 4)} - WARNING - Failing over to DCS (${errorMessage(e)})\n`)
      io.out(`${pyTimestamp(io.now())} Could not ${action} using Patroni api, falling back to DCS\n`)
      await s.dcs.setFailover({leader: leader || null, member: candidate || null, scheduled_at: scheduledAt})
    }
    printMembers(s, shown)
    return 0
  })
}

/** Why members are not among the candidates patronictl offers (it names none of them). */
function notCandidates(view: ClusterView, leader: string | null, candidate?: string, offered: string[] = []): string[] {
  const hints: string[] = []
  if (candidate !== undefined) {
    const m = view.members.find((x) => x.name === candidate)
    if (!m) hints.push(`no member key ${candidate} in etcd; members: ${view.members.map((x) => x.name).sort().join(', ') || 'none'}`)
    else hints.push(`${candidate} is tagged nofailover`)
    if (offered.length > 0) hints.push(`the candidates are ${offered.join(', ')}`)
    return hints
  }
  for (const m of view.members) {
    if (m.name === leader) continue
    if (pyTruthy((m.tags['nofailover'] ?? null) as PyValue)) hints.push(`${m.name} is tagged nofailover`)
  }
  if (view.members.every((m) => m.name === leader)) hints.push(`${leader ?? 'the leader'} is the only member in etcd`)
  return hints
}

/** GET /patroni on each candidate (short timeout): does it answer, and in which state. */
async function probeCandidates(s: Session, names: string[]): Promise<Map<string, Probe>> {
  const opts = {...restOptions(s.ctx)}
  opts.timeoutMs = Math.min(opts.timeoutMs, 3000)
  const out = new Map<string, Probe>()
  await Promise.all(
    names.map(async (n) => {
      const m = s.view.members.find((x) => x.name === n)
      if (!m?.apiUrl) return
      try {
        const r = await s.ports.rest.request(m.apiUrl, opts, {endpoint: 'patroni'})
        let body: Record<string, unknown> = {}
        try {
          body = JSON.parse(r.body) as Record<string, unknown>
        } catch {
          // a health answer that is not JSON still answered
        }
        const state = typeof body['state'] === 'string' ? body['state'] : undefined
        out.set(n, state === undefined ? {ok: true} : {ok: true, state})
      } catch (e) {
        out.set(n, {ok: false, error: `${m.apiUrl}: ${errorMessage(e)}`})
      }
    }),
  )
  return out
}

/** After patronictl's `<Action> failed, details: ...`: the obstacles per candidate, with the numbers. */
async function explainFailure(s: Session, action: 'switchover' | 'failover', leader: string | null, candidate: string | null, r: RestResponse): Promise<void> {
  if (r.body.includes('status unknown')) {
    s.io.out(`  the ${action} may still be under way: hactl list shows the outcome\n`)
    return
  }
  let view = s.view
  try {
    view = await s.dcs.loadCluster({fresh: true})
  } catch {
    // the view read before the request still tells most of it
  }
  const names = candidate ? [candidate] : view.members.map((m) => m.name).filter((n) => n !== (view.leader?.name ?? leader))
  const probes = await probeCandidates({...s, view}, names)
  const lines = explanationLines(explainRefusal({view, action, leader, candidate, probes}))
  if (lines.length > 0) s.io.out(`Why, as etcd and the candidates' REST APIs show it:\n${lines.join('\n')}\n`)
}

const switchover: CtlHandler = (p, io, ports) =>
  failoverOrSwitchover(p, io, ports, 'switchover', {leader: flag(p, 'leader'), candidate: flag(p, 'candidate'), scheduled: flag(p, 'scheduled')})

/**
 * `failover --leader/--primary/--master NAME` is a switchover, with the warning patronictl 3.2-3.3
 * prints (red on a terminal; click drops the colour elsewhere). Patroni 4.0 removed the option;
 * hactl keeps accepting it, so scripts written for either generation work.
 */
const FAILOVER_LEADER_DEPRECATED =
  'Supplying a leader name using this command is deprecated and will be removed in a future version of' +
  ' Patroni, change your scripts to use `switchover` instead.\nExecuting switchover!'

const failover: CtlHandler = (p, io, ports) => {
  const leader = flag(p, 'leader')
  if (leader) io.out((io.isTTY ? `\x1b[31m${FAILOVER_LEADER_DEPRECATED}\x1b[0m` : FAILOVER_LEADER_DEPRECATED) + '\n')
  return failoverOrSwitchover(p, io, ports, leader ? 'switchover' : 'failover', {leader, candidate: flag(p, 'candidate')})
}

// --- edit-config -------------------------------------------------------------------------------

async function readSource(io: CtlIo, file: string, option: string): Promise<string> {
  if (file === '-') return io.input ? io.input.readAll() : ''
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    throw fail(`${option} ${file}: ${errorMessage(e)}`)
  }
}

function findOnPath(cmd: string, env: Record<string, string | undefined>): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (!dir) continue
    const r = spawnSync('test', ['-x', join(dir, cmd)])
    if (r.status === 0) return join(dir, cmd)
  }
  return undefined
}

/**
 * Opens $EDITOR (else `editor`, else `vi`) on the config text; returns what was saved. Without a
 * terminal only an explicit $EDITOR is run: patronictl would start vi on a pipe, which hangs.
 */
function invokeEditor(before: string, name: string, env: Record<string, string | undefined>, terminal: boolean): string {
  if (!env['EDITOR'] && !terminal) {
    throw fail('stdin is not a terminal, so no editor can be opened; nothing was changed', [
      'give the change with -s/--set key=value, -p/--pg guc=value, --apply FILE or --replace FILE (- reads stdin)',
      'or set EDITOR to a command that edits the file named as its argument',
    ])
  }
  const editor = env['EDITOR'] || findOnPath('editor', env) || findOnPath('vi', env)
  if (!editor) throw fail('EDITOR environment variable is not set. editor or vi are not available')
  const dir = mkdtempSync(join(tmpdir(), `${name}-config-`))
  const file = join(dir, `${name}-config.yaml`)
  try {
    writeFileSync(file, before, {mode: 0o600})
    const r = spawnSync(editor, [file], {stdio: 'inherit', env: env as NodeJS.ProcessEnv})
    if (r.error) throw fail(`Editor ${editor} could not be started: ${errorMessage(r.error)}`)
    if (r.status) throw fail(`Editor exited with return code ${r.status}`)
    return readFileSync(file, 'utf8')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

function colourDiff(text: string): string {
  return text
    .split('\n')
    .map((l) => (l.startsWith('+') ? `\x1b[32m${l}\x1b[0m` : l.startsWith('-') ? `\x1b[31m${l}\x1b[0m` : l.startsWith('@@') ? `\x1b[36m${l}\x1b[0m` : l))
    .join('\n')
}

const editConfig: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    const force = p.flags['force'] === true
    const quiet = p.flags['quiet'] === true
    const applyFile = flag(p, 'apply')
    const replaceFile = flag(p, 'replace')
    const sets = (p.flags['set'] as string[] | undefined) ?? []
    const pgs = (p.flags['pg'] as string[] | undefined) ?? []
    const original = (s.view.config?.data ?? {}) as ConfigData
    const before = configText(original)
    let changed = original
    let edited: string | undefined
    if (replaceFile) {
      changed = applyYamlDocument({}, await readSource(io, replaceFile, '--replace'), `--replace ${replaceFile}`)
      edited = configText(changed)
    }
    if (applyFile) {
      changed = applyYamlDocument(changed, await readSource(io, applyFile, '--apply'), `--apply ${applyFile}`)
      edited = configText(changed)
    }
    if (sets.length > 0 || pgs.length > 0) {
      changed = applyConfigChanges(changed, [...sets, ...pgPairs(pgs)])
      edited = configText(changed)
    }
    if (edited === undefined) {
      edited = invokeEditor(before, s.name, io.env, io.input?.isTTY === true)
      const doc = (await import('./config-edit')).loadYaml(edited, 'the edited configuration')
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        throw fail('the edited configuration is not a YAML mapping; nothing was changed')
      }
      changed = doc
    }
    if (pyEqual(original, changed)) {
      if (!quiet) io.out('Not changed\n')
      return 0
    }
    if (!quiet) {
      const diff = configDiffText(before, edited)
      io.out(io.isTTY ? colourDiff(diff) : diff)
    }
    if ((applyFile === '-' || replaceFile === '-') && !force) {
      io.out('Use --force option to apply changes\n')
      return 0
    }
    if (force || (await s.ask.confirm('Apply these changes?'))) {
      if (!(await s.dcs.setConfig(changed, s.view.config?.version))) throw fail('Config modification aborted due to concurrent changes')
      io.out('Configuration changed\n')
    }
    return 0
  })

// --- restart / reload / reinit ------------------------------------------------------------------

const restart: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    const force = p.flags['force'] === true
    const role = (flag(p, 'role') ?? 'any') as RoleChoice
    let members = await getMembers(s, (p.args['member_names'] as string[]) ?? [], role, force, 'restart', false)
    let scheduled = flag(p, 'scheduled')
    if (scheduled === undefined && !force) {
      scheduled = await s.ask.prompt(`When should the restart take place (e.g. ${nextHourExample(io.now())}) `, {default: 'now', skip: 'pass --scheduled now'})
    }
    const scheduledAt = parseScheduled(scheduled)
    await confirmMembersAction(s, members, force, 'restart', scheduledAt)
    if (p.flags['any'] === true) members = [members[Math.floor(Math.random() * members.length)]!].filter(Boolean)
    let version = flag(p, 'pg-version')
    if (version === undefined && !force) {
      version = await s.ask.prompt('Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ', {default: '', skip: 'pass --pg-version VERSION or --force'})
    }
    const content: Record<string, unknown> = {}
    if (p.flags['pending'] === true) content['restart_pending'] = true
    if (version) {
      postgresVersionToInt(version)
      content['postgres_version'] = version
    }
    if (scheduledAt) {
      if (isPaused(s.view)) throw fail("Can't schedule restart in the paused state")
      content['schedule'] = scheduledAt
    }
    const timeout = flag(p, 'timeout')
    if (timeout !== undefined) content['timeout'] = timeout
    for (const m of members) {
      if ('schedule' in content && force && m.data.scheduled_restart) {
        checkResponse(s, await rest(s, m, 'delete', 'restart'), m.name, 'flush scheduled restart', true)
      }
      const r = await rest(s, m, 'post', 'restart', content)
      if (r.status === 200) io.out(`Success: restart on member ${m.name}\n`)
      else if (r.status === 202) io.out(`Success: restart scheduled on member ${m.name}\n`)
      else if (r.status === 409) io.out(`Failed: another restart is already scheduled on member ${m.name}\n`)
      else io.out(`Failed: restart for member ${m.name}, status code=${r.status}, (${r.body})\n`)
    }
    return 0
  })

const reload: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    const role = (flag(p, 'role') ?? 'any') as RoleChoice
    const members = await getMembers(s, (p.args['member_names'] as string[]) ?? [], role, p.flags['force'] === true, 'reload')
    for (const m of members) {
      const r = await rest(s, m, 'post', 'reload')
      if (r.status === 200) io.out(`No changes to apply on member ${m.name}\n`)
      else if (r.status === 202) {
        const loopWait = pyStr((s.view.config?.data['loop_wait'] ?? null) as PyValue)
        io.out(`Reload request received for member ${m.name} and will be processed within ${loopWait} seconds\n`)
      } else io.out(`Failed: reload for member ${m.name}, status code=${r.status}, (${r.body})\n`)
    }
    return 0
  })

const reinit: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    const force = p.flags['force'] === true
    const members = await getMembers(s, (p.args['member_names'] as string[]) ?? [], 'replica', force, 'reinitialize')
    const waitOn: Member[] = []
    for (const m of members) {
      // patronictl 4.1 sends from_leader always; hactl only when asked, so the request stays 3.3.1's otherwise.
      const body = p.flags['from-leader'] === true ? {force, from_leader: true} : {force}
      for (;;) {
        const r = await rest(s, m, 'post', 'reinitialize', body)
        const started = checkResponse(s, r, m.name, 'reinitialize')
        if (!started && r.body.endsWith(' already in progress') && !force && (await s.ask.confirm('Do you want to cancel it and reinitialize anyway?'))) {
          body.force = true
          continue
        }
        if (started && p.flags['wait'] === true) waitOn.push(m)
        break
      }
    }
    let shown = ''
    while (waitOn.length > 0) {
      const names = waitOn.map((m) => m.name).join(', ')
      if (names !== shown) {
        io.out(`Waiting for reinitialize to complete on: ${names}\n`)
        shown = names
      }
      if (!(await sleep(2000, io.signal))) {
        io.err('Aborted!\n')
        return 1
      }
      for (const m of [...waitOn]) {
        const r = await rest(s, m, 'get', 'patroni')
        let state: unknown
        try {
          state = (JSON.parse(r.body) as Record<string, unknown>)['state']
        } catch {
          state = undefined
        }
        if (state !== 'creating replica') {
          io.out(`Reinitialize is completed on: ${m.name}\n`)
          waitOn.splice(waitOn.indexOf(m), 1)
        }
      }
    }
    return 0
  })

// --- pause / resume -----------------------------------------------------------------------------

async function waitUntilPauseIsApplied(s: Session, paused: boolean): Promise<void> {
  const word = paused ? 'pause' : 'resume'
  s.io.out(`'${word}' request sent, waiting until it is recognized by all nodes\n`)
  const old = new Map(s.view.members.filter((m) => m.apiUrl).map((m) => [m.name, m.version]))
  const lw = s.view.config?.data['loop_wait']
  const loopWait = typeof lw === 'number' ? lw : 10
  const deadline = s.io.now() + (loopWait + 1) * 1000
  const recognized = (m: Member) => (m.data['pause'] ?? false) === paused
  let view = s.view
  for (;;) {
    view = await s.dcs.loadCluster({fresh: true})
    if (view.members.filter((m) => old.has(m.name)).every(recognized)) break
    if (s.io.now() + 1000 > deadline) {
      const remaining = view.members.filter((m) => !recognized(m) && old.has(m.name) && old.get(m.name) !== m.version)
      if (remaining.length > 0) {
        s.io.out(`${remaining.map((m) => m.name).join(', ')} members didn't recognized pause state after ${loopWait} seconds\n`)
        return
      }
      break
    }
    if (!(await sleep(1000, s.io.signal))) throw new PromptAborted()
  }
  s.io.out(`Success: cluster management is ${paused ? 'paused' : 'resumed'}\n`)
}

function togglePause(paused: boolean): CtlHandler {
  return (p, io, ports) =>
    withCluster(p, io, ports, async (s) => {
      if (isPaused(s.view) === paused) throw fail(`Cluster is ${paused ? 'already' : 'not'} paused`)
      for (const m of membersLeaderFirst(s.view)) {
        let r: RestResponse
        try {
          r = await rest(s, m, 'patch', 'config', {pause: paused || null})
        } catch (e) {
          io.err(`${pyTimestamp(io.now(), 4)} - WARNING - ${errorMessage(e)}\n`)
          io.err(`${pyTimestamp(io.now(), 4)} - WARNING - Member ${m.name} is not accessible\n`)
          continue
        }
        if (r.status === 200) {
          if (p.flags['wait'] === true) await waitUntilPauseIsApplied(s, paused)
          else io.out(`Success: cluster management is ${paused ? 'paused' : 'resumed'}\n`)
        } else {
          io.out(`Failed: ${paused ? 'pause' : 'resume'} cluster management status code=${r.status}, (${r.body})\n`)
        }
        return 0
      }
      throw fail('Can not find accessible cluster member')
    })
}

// --- remove / flush -----------------------------------------------------------------------------

const remove: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    printMembers(s, s.view, (flag(p, 'format') ?? 'pretty') as OutputFormat)
    if ((await s.ask.prompt('Please confirm the cluster name to remove')) !== s.name) throw fail('Cluster names specified do not match')
    const message = 'Yes I am aware'
    if ((await s.ask.prompt(`You are about to remove all information in DCS for ${s.name}, please type: "${message}"`)) !== message) {
      throw fail(`You did not exactly type "${message}"`)
    }
    if (s.view.leader?.name) {
      if ((await s.ask.prompt('This cluster currently is healthy. Please specify the leader name to continue')) !== s.view.leader.name) {
        throw fail('You did not specify the current leader of the cluster')
      }
    }
    await s.dcs.deleteCluster()
    return 0
  })

const flush: CtlHandler = (p, io, ports) =>
  withCluster(p, io, ports, async (s) => {
    const force = p.flags['force'] === true
    const role = (flag(p, 'role') ?? 'any') as RoleChoice
    if (p.args['target'] === 'restart') {
      for (const m of await getMembers(s, (p.args['member_names'] as string[]) ?? [], role, force, 'flush')) {
        if (m.data.scheduled_restart) checkResponse(s, await rest(s, m, 'delete', 'restart'), m.name, 'flush scheduled restart')
        else io.out(`No scheduled restart for member ${m.name}\n`)
      }
      return 0
    }
    const pending = s.view.failover
    if (!pending || !pending.scheduledAt) {
      io.out('No pending scheduled switchover\n')
      return 0
    }
    for (const m of membersLeaderFirst(s.view)) {
      let r: RestResponse | undefined
      try {
        r = await rest(s, m, 'delete', 'switchover')
        if (r.status === 200 || r.status === 404) {
          io.out(`${r.status === 200 ? 'Success' : 'Failed'}: ${r.body}\n`)
          return 0
        }
      } catch (e) {
        io.err(`${pyTimestamp(io.now(), 4)} - WARNING - ${errorMessage(e)}\n`)
        io.err(`${pyTimestamp(io.now(), 4)} - WARNING - Member ${m.name} is not accessible\n`)
      }
      if (r) io.out(`Failed: member=${m.name}, status_code=${r.status}, (${r.body})\n`)
    }
    io.out(`${pyTimestamp(io.now())} Could not find any accessible member of cluster ${s.name}\n`)
    await s.dcs.setFailover({}, pending.version)
    return 0
  })

// --- query --------------------------------------------------------------------------------------

type Row = PyValue[]

/** psycopg2's Python values for the common types; other types print as PostgreSQL's text. */
function typeParser(oid: number): (v: string) => unknown {
  switch (oid) {
    case 16:
      return (v) => v === 't'
    case 20:
    case 21:
    case 23:
    case 26:
      return (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v)
    case 114:
    case 3802:
      return (v) => JSON.parse(v) as unknown
    default:
      return (v) => v
  }
}

interface PgClient {
  query(q: string | {text: string; rowMode: 'array'}): Promise<unknown>
  end(): Promise<void>
}

async function connect(s: Session, m: Member, params: {user?: string; password?: string; dbname?: string}): Promise<PgClient> {
  const ck = connKwargs(m)
  if (!ck || !ck.host) throw new Error(`member ${m.name} publishes no usable conn_url`)
  const {Client} = (await import('pg')).default
  const {connectWithTls, processTlsEnvironment} = await import('../postgres/tls')
  // libpq's TLS parameters as psycopg would take them for patronictl: PGSSLMODE, PGSSLROOTCERT,
  // ... and the ~/.postgresql defaults (src/postgres/tls.ts).
  const envir = {...processTlsEnvironment(), env: s.io.env}
  const client = await connectWithTls(
    {host: ck.host},
    (ssl) => {
      const c = new Client({
        host: ck.host,
        port: Number(ck.port ?? 5432),
        user: params.user ?? s.io.env['PGUSER'] ?? s.io.env['USER'],
        password: params.password ?? s.io.env['PGPASSWORD'],
        database: params.dbname ?? s.io.env['PGDATABASE'],
        application_name: s.io.env['PGAPPNAME'] ?? 'Patroni ctl',
        connectionTimeoutMillis: 5000,
        types: {getTypeParser: ((oid: number) => typeParser(oid)) as never},
        ssl: ssl === false ? false : (({sslnegotiation: _n, ...tls}) => tls)(ssl),
        sslnegotiation: ssl === false ? 'postgres' : ssl.sslnegotiation,
      } as import('pg').ClientConfig)
      c.on('error', () => {
        // a dropped connection surfaces on the next query; an unhandled 'error' event would crash
      })
      return c
    },
    envir,
  )
  return client as unknown as PgClient
}

function pgErrorText(e: unknown): string {
  const code = (e as {code?: unknown}).code
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  return errorMessage(e).replace(/\n/g, ' ')
}

const query: CtlHandler = async (p, io, ports) => {
  let role = flag(p, 'role') as RoleChoice | undefined
  const member = flag(p, 'member')
  if (member !== undefined) {
    if (role !== undefined) throw fail('--role and --member are mutually exclusive options')
    role = 'any'
  }
  role ??= 'leader'
  const file = flag(p, 'file')
  let command = flag(p, 'command')
  if (file !== undefined && command !== undefined) throw fail('--file and --command are mutually exclusive options')
  if (file === undefined && command === undefined) throw fail('You need to specify either --command or --file')
  const watch = typeof p.flags['watch'] === 'number' ? p.flags['watch'] : p.flags['W'] === true ? 2 : undefined
  const fmt = (flag(p, 'format') ?? 'tsv') as OutputFormat
  const delimiter = flag(p, 'delimiter') ?? '\t'
  return withCluster(p, io, ports, async (s) => {
    const params: {user?: string; password?: string; dbname?: string} = {user: flag(p, 'username'), dbname: flag(p, 'dbname')}
    if (p.flags['password'] === true) params.password = await s.ask.prompt('Password', {hide: true, skip: 'set PGPASSWORD instead of --password'})
    if (file !== undefined) command = await readSource(io, file, '--file')
    let client: PgClient | undefined
    try {
      for (;;) {
        const {rows, header} = await queryOnce()
        if (header) io.out(printOutput(header, rows, {fmt, delimiter}))
        else io.out(rows.map((r) => r.map((c) => pyStr(c)).join(delimiter) + '\n').join(''))
        if (!watch) return 0
        if (!(await sleep(watch * 1000, io.signal))) {
          io.err('Aborted!\n')
          return 1
        }
      }
    } finally {
      await client?.end().catch(() => undefined)
    }

    async function queryOnce(): Promise<{rows: Row[]; header: string[] | null}> {
      try {
        if (!client) {
          const view = await s.dcs.loadCluster({fresh: true})
          const m = membersWithRole(view, member !== undefined ? 'any' : role!).find((x) => member === undefined || x.name === member)
          if (m) {
            const c = await connect(s, m, params)
            if (role === 'any' || role === 'leader') client = c
            else {
              const r = (await c.query({text: 'SELECT pg_catalog.pg_is_in_recovery()', rowMode: 'array'})) as {rows: unknown[][]}
              const inRecovery = r.rows[0]?.[0] === true
              const wanted = ['replica', 'standby', 'standby-leader'].includes(role!) ? inRecovery : !inRecovery
              if (wanted) client = c
              else await c.end()
            }
          }
        }
        if (!client) {
          const message = member !== undefined ? `No connection to member ${member} is available` : `No connection to role=${role} is available`
          return {rows: [[pyTimestamp(io.now(), 0), message]], header: null}
        }
        const res = (await client.query({text: command!, rowMode: 'array'})) as unknown
        // several statements: psycopg2's fetchall() sees the last result only
        const last = (Array.isArray(res) ? res[res.length - 1] : res) as {fields?: Array<{name: string}>; rows: PyValue[][]} | undefined
        if (!last || !last.fields || last.fields.length === 0) throw new Error('no results to fetch')
        return {rows: last.rows, header: last.fields.map((f) => f.name)}
      } catch (e) {
        if (client) {
          await client.end().catch(() => undefined)
          client = undefined
        }
        return {rows: [[pyTimestamp(io.now(), 0), `ERROR, SQLSTATE: ${pgErrorText(e)}`]], header: null}
      }
    }
  })
}

// --- demote-cluster / promote-cluster (Patroni 4.1) ------------------------------------------------

/**
 * patronictl's change_cluster_role (patroni/ctl.py): PATCH /config on the leader with
 * `standby_cluster` (demote) or `standby_cluster: null` (promote), then watch the leader key
 * every second until the leader runs in the target role (for a demotion, the old leader too).
 */
function changeClusterRole(demote: boolean): CtlHandler {
  return (p, io, ports) => {
    let standbyConfig: Record<string, string | number> | null = null
    if (demote) {
      const host = flag(p, 'host')
      const port = flag(p, 'port')
      const restore = flag(p, 'restore-command')
      const slot = flag(p, 'primary-slot-name')
      if (port !== undefined && !/^\s*[-+]?\d+\s*$/.test(port)) throw fail(`Invalid value for '--port': '${port}' is not a valid integer.`)
      const portNum = port === undefined ? undefined : Number(port)
      if (!host && !portNum && !restore) throw fail('At least --host, --port or --restore-command should be specified')
      standbyConfig = {}
      if (host) standbyConfig['host'] = host
      if (portNum) standbyConfig['port'] = portNum
      if (slot) standbyConfig['primary_slot_name'] = slot
      if (restore) standbyConfig['restore_command'] = restore
    }
    return withCluster(p, io, ports, async (s) => {
      const action = demote ? 'demot' : 'promot'
      const target = demote ? 'standby_leader' : 'primary'
      const leader = s.view.leader?.name ? s.view.leader : null
      if (!leader) throw fail(`Cluster has no leader, ${action}ion is not possible`)
      if (leader.member.role === target) throw fail('Cluster is already in the required state')
      io.out('Current cluster topology\n')
      printMembers(s)
      if (p.flags['force'] !== true && !(await s.ask.confirm(`Are you sure you want to ${action}e ${s.name} cluster?`))) {
        throw fail(`Aborted cluster ${action}ion`)
      }
      let r: RestResponse
      try {
        r = await rest(s, leader.member, 'patch', 'config', {standby_cluster: standbyConfig})
      } catch (e) {
        throw fail(`Failed to ${action}e ${s.name} cluster: ${errorMessage(e)}`)
      }
      if (r.status !== 200) throw fail(`Failed to ${action}e ${s.name} cluster: /config PATCH status code=${r.status}, (${r.body})`)
      let view = s.view
      for (;;) {
        view = await s.dcs.loadCluster({fresh: true})
        const now = pyTimestamp(io.now(), 0)
        const l = view.leader?.name ? view.leader : null
        const old = view.members.find((m) => m.name === leader.name)
        if (l && l.member.role === target && l.member.state === 'running' && (!demote || old?.state === 'running')) {
          io.out(`${now} cluster is successfully ${action}ed\n`)
          break
        }
        const parts = [`${now} cluster is unlocked: ${l ? 'False' : 'True'}`, `leader role: ${l?.member.role ?? 'None'}`, `leader state: ${l?.member.state ?? 'None'}`]
        if (demote && l && l.name !== leader.name && old?.state) parts.push(`previous leader state: ${pyRepr(old.state)}`)
        io.out(`${parts.join(', ')}\n`)
        if (!(await sleep(1000, io.signal))) throw new PromptAborted()
      }
      printMembers(s, view)
      return 0
    })
  }
}

export const WRITE_COMMANDS: Readonly<Record<string, CtlHandler>> = {
  switchover,
  failover,
  'edit-config': editConfig,
  restart,
  reload,
  reinit,
  pause: togglePause(true),
  resume: togglePause(false),
  remove,
  query,
  flush,
  'demote-cluster': changeClusterRole(true),
  'promote-cluster': changeClusterRole(false),
}
