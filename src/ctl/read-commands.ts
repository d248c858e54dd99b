/**
 * The read-only patronictl commands: list, topology, history, show-config, dsn, version.
 * Each reads the cluster with one linearizable range (no REST), except version, which asks
 * each member's GET /patroni. Output is byte for byte what patronictl 3.3.1 prints.
 */
import {historyJson} from '../api/cluster'
import {PATRONI_COMPAT_VERSION, VERSION} from '../build-info'
import {HactlError, errorMessage} from '../errors'
import type {Dcs} from '../ports/dcs'
import type {ParsedArgv} from './argv'
import {clusterName, loadCtlContext, type CtlContext, type CtlPorts} from './context'
import {connKwargs, renderMembers} from './members'
import {type OutputFormat, printOutput} from './print-output'
import {type PyValue, localTimestamp, pyStr} from './py-format'
import type {CtlInput} from './prompt'
import {pyYamlDump} from './py-yaml'
import {restOptions} from './rest'
import {anyMember, membersWithRole, type RoleChoice} from './roles'

export interface CtlIo {
  out(text: string): void
  err(text: string): void
  env: Record<string, string | undefined>
  /** stdout is a terminal: watch mode clears the screen only then. */
  isTTY: boolean
  now(): number
  /** Aborted on Ctrl-C; ends watch loops. */
  signal?: AbortSignal
  /** Answers to the write commands' questions (stdin); none means end of input. */
  input?: CtlInput
}

/** One command: `ports` are the real store and REST client (src/wiring/ctl.ts) or test doubles. */
export type CtlHandler = (p: ParsedArgv, io: CtlIo, ports: CtlPorts) => Promise<number>

function context(p: ParsedArgv, io: CtlIo): CtlContext {
  return loadCtlContext(p.flags, io.env)
}

async function withDcs<T>(ports: CtlPorts, ctx: CtlContext, scope: string, f: (dcs: Dcs) => Promise<T>): Promise<T> {
  const dcs = ports.openDcs(ctx, scope)
  try {
    return await f(dcs)
  } finally {
    await dcs.close()
  }
}

/** Python logging's default line: `2026-11-23 01:12:17,805 - WARNING - message`. */
function logLine(level: string, message: string, ms: number): string {
  return `${localTimestamp(ms)},${String(ms % 1000).padStart(3, '0')} - ${level} - ${message}\n`
}

export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false)
    const onAbort = () => {
      clearTimeout(t)
      resolve(false)
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

const CLEAR_SCREEN = '\x1b[2J\x1b[1;1H'

async function listMembers(p: ParsedArgv, io: CtlIo, ports: CtlPorts, fmt: OutputFormat): Promise<number> {
  const ctx = context(p, io)
  let names = (p.args['cluster_names'] as string[] | undefined) ?? []
  if (names.length === 0) {
    if (typeof ctx.config.scope === 'string' && ctx.config.scope !== '') names = [ctx.config.scope]
    else {
      io.err(logLine('WARNING', 'Listing members: No cluster names were provided', io.now()))
      return 0
    }
  }
  const watch = typeof p.flags['watch'] === 'number' ? p.flags['watch'] : p.flags['W'] === true ? 2 : undefined
  const stores = new Map<string, Dcs>()
  try {
    for (;;) {
      let text = watch && io.isTTY ? CLEAR_SCREEN : ''
      if (p.flags['timestamp'] === true) text += localTimestamp(io.now()) + '\n'
      for (const name of names) {
        let dcs = stores.get(name)
        if (!dcs) stores.set(name, (dcs = ports.openDcs(ctx, name)))
        const view = await dcs.loadCluster({fresh: true})
        text += renderMembers(view, name, {extended: p.flags['extended'] === true, fmt, ...(p.flags['lsn'] === true ? {lsnColumns: true} : {})})
      }
      io.out(text)
      if (!watch) return 0
      if (!(await sleep(watch * 1000, io.signal))) return abortedByUser(io)
    }
  } finally {
    await Promise.all([...stores.values()].map((d) => d.close()))
  }
}

function abortedByUser(io: CtlIo): number {
  io.err('Aborted!\n')
  return 1
}

const list: CtlHandler = (p, io, ports) => listMembers(p, io, ports, (p.flags['format'] as OutputFormat | undefined) ?? 'pretty')
const topology: CtlHandler = (p, io, ports) => listMembers(p, io, ports, 'topology')

const HISTORY_COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader']

const history: CtlHandler = async (p, io, ports) => {
  const ctx = context(p, io)
  const name = clusterName(ctx, p.args['cluster_name'])
  const view = await withDcs(ports, ctx, name, (d) => d.loadCluster({fresh: true}))
  const rows = (historyJson(view) as PyValue[]).map((line) => {
    const cells: PyValue[] = Array.isArray(line) ? [...line] : [line]
    while (cells.length < HISTORY_COLUMNS.length) cells.push('')
    return cells.slice(0, HISTORY_COLUMNS.length)
  })
  const fmt = (p.flags['format'] as OutputFormat | undefined) ?? 'pretty'
  io.out(printOutput(HISTORY_COLUMNS, rows, {fmt, align: {TL: 'r', LSN: 'r'}}))
  return 0
}

const showConfig: CtlHandler = async (p, io, ports) => {
  const ctx = context(p, io)
  const name = clusterName(ctx, p.args['cluster_name'])
  const view = await withDcs(ports, ctx, name, (d) => d.loadCluster({fresh: true}))
  if (view.config) io.out(pyYamlDump(view.config.data as PyValue) + '\n')
  return 0
}

const dsn: CtlHandler = async (p, io, ports) => {
  const role = p.flags['role'] as RoleChoice | undefined
  const member = p.flags['member'] as string | undefined
  if (role !== undefined && member !== undefined) throw new HactlError('USAGE', '--role and --member are mutually exclusive options')
  const ctx = context(p, io)
  const name = clusterName(ctx, p.args['cluster_name'])
  const view = await withDcs(ports, ctx, name, (d) => d.loadCluster({fresh: true}))
  const m = anyMember(view, {role, member})
  if (!m) throw new HactlError('USAGE', 'Can not find a suitable member')
  const ck = connKwargs(m)
  if (!ck) throw new HactlError('DCS_PROTOCOL', `member ${m.name} publishes no usable conn_url in the DCS (got ${JSON.stringify(m.connUrl)})`)
  io.out(`host=${pyStr(ck.host)} port=${pyStr(ck.port as PyValue)}\n`)
  return 0
}

/** 90624 -> 9.6.24, 150020 -> 15.20 */
export function formatPgVersion(v: number): string {
  if (v < 100000) return `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`
  return `${Math.floor(v / 10000)}.${v % 100}`
}

const version: CtlHandler = async (p, io, ports) => {
  // patronictl prints `patronictl version X`; hactl adds the Patroni version it speaks (which its
  // members report as `patroni.version`). The member lines below are patronictl's, byte for byte.
  io.out(`hactl version ${VERSION} (Patroni ${PATRONI_COMPAT_VERSION})\n`)
  const given = p.args['cluster_name']
  if (typeof given !== 'string' || given === '') return 0
  io.out('\n')
  const ctx = context(p, io)
  const view = await withDcs(ports, ctx, given, (d) => d.loadCluster({fresh: true}))
  const only = (p.args['member_names'] as string[] | undefined) ?? []
  const rest = restOptions(ctx)
  const targets = membersWithRole(view, 'any').filter((m) => m.apiUrl && (only.length === 0 || only.includes(m.name)))
  const lines = await Promise.all(
    targets.map(async (m) => {
      try {
        const r = await ports.rest.request(m.apiUrl!, rest)
        const data = JSON.parse(r.body) as Record<string, unknown>
        const patroni = (data['patroni'] ?? {}) as Record<string, unknown>
        const pg = data['server_version']
        const pgText = typeof pg === 'number' && pg ? ` PostgreSQL ${formatPgVersion(pg)}` : ''
        return `${m.name}: Patroni ${pyStr((patroni['version'] ?? null) as PyValue)}${pgText}\n`
      } catch (e) {
        return `${m.name}: failed to get version: ${errorMessage(e)}\n`
      }
    }),
  )
  io.out(lines.join(''))
  return 0
}

export const READ_COMMANDS: Readonly<Record<string, CtlHandler>> = {
  list,
  topology,
  history,
  'show-config': showConfig,
  dsn,
  version,
}
