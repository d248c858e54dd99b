/**
 * `hactl haproxy render`: members from one source, through the renderer, to stdout or to a file
 * with check-before-install and a reload, once or (--watch) on every membership change.
 */
import {readFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'
import {HactlError, errorMessage} from '../errors'
import {parseHaproxyOptions, renderHaproxy, type HaproxyOptions, type HaproxyOptionsInput} from './haproxy'
import {haproxyCheck, haproxyCheckText, installStaged, readIfExists, removeQuietly, runReload, stageFile} from './install'
import {membersFromFlags, membersFromInventory, type LoadedMembers} from './members'
import {compileTemplate, type CompiledTemplate} from './template'
import type {MemberSource, RenderPorts} from './dcs-source'

/** Exit codes; the command help and README list them. */
export const RENDER_EXIT = {
  /** Rendered to stdout, or --output already had exactly this content. */
  unchanged: 0,
  error: 1,
  /** Bad flag or value. */
  usage: 2,
  /** --output was replaced (and the reload command succeeded); with --dry-run: would be replaced. */
  changed: 3,
  /** --output was replaced but the reload command failed: HAProxy still runs the old config. */
  reloadFailed: 4,
} as const

export type MemberSourceSpec =
  | {kind: 'inventory'; file: string}
  | {kind: 'members'; values: string[]}
  | {kind: 'dcs'; configFile?: string; dcsUrl?: string; etcd?: string; scope?: string; namespace?: string; insecure?: boolean}

export interface RenderRunOptions {
  source: MemberSourceSpec
  haproxy: HaproxyOptionsInput
  template?: string
  output?: string
  /** undefined: on with --watch, off otherwise. */
  check?: boolean
  dryRun: boolean
  /** '' runs nothing. */
  reloadCmd: string
  watch: boolean
  /** --watch: full re-read at least this often, in seconds, even without a change event. */
  interval: number
  haproxyBin: string
}

export interface RenderIo {
  out(text: string): void
  err(text: string): void
  env: Record<string, string | undefined>
  /** Aborted on SIGINT/SIGTERM: --watch returns 0. */
  signal?: AbortSignal
}

function reportError(io: RenderIo, e: unknown, prefix = 'Error: '): number {
  io.err(`${prefix}${errorMessage(e)}\n`)
  if (e instanceof HactlError) {
    for (const h of e.hints) io.err(`  hint: ${h}\n`)
    return e.exitCode === RENDER_EXIT.usage ? RENDER_EXIT.usage : RENDER_EXIT.error
  }
  return RENDER_EXIT.error
}

function loadTemplate(path: string | undefined): CompiledTemplate | undefined {
  if (path === undefined) return undefined
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new HactlError('USAGE', `--template ${JSON.stringify(path)}: cannot read it: ${errorMessage(e)}`, {exitCode: 2})
  }
  return compileTemplate(text, path)
}

function loadStatic(spec: MemberSourceSpec): LoadedMembers {
  if (spec.kind === 'members') return membersFromFlags(spec.values)
  if (spec.kind !== 'inventory') throw new Error('not a static source')
  let text: string
  try {
    text = readFileSync(spec.file, 'utf8')
  } catch (e) {
    throw new HactlError('USAGE', `--inventory ${JSON.stringify(spec.file)}: cannot read it: ${errorMessage(e)}`, {exitCode: 2})
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new HactlError('USAGE', `--inventory ${JSON.stringify(spec.file)}: not valid YAML: ${errorMessage(e)}`, {exitCode: 2})
  }
  return membersFromInventory(doc, spec.file)
}

async function openDcs(ports: RenderPorts, spec: Extract<MemberSourceSpec, {kind: 'dcs'}>, io: RenderIo, watch: boolean): Promise<MemberSource> {
  const {loadCtlContext, clusterName} = await import('../ctl/context')
  const {oneShotSource, requireEtcd, watchedSource} = await import('./dcs-source')
  const ctx = loadCtlContext({'config-file': spec.configFile, 'dcs-url': spec.dcsUrl, insecure: spec.insecure}, io.env)
  if (spec.etcd !== undefined) {
    const hosts = spec.etcd.split(',').map((h) => h.trim()).filter(Boolean)
    if (!hosts.length) throw new HactlError('USAGE', `--etcd ${JSON.stringify(spec.etcd)}: give host:port[,host:port...]`, {exitCode: 2})
    // Bare host:port takes the configuration's scheme, so --etcd keeps an https etcd on TLS.
    const scheme = ctx.config.etcd3?.scheme ?? 'http'
    ctx.config.etcd3 = {...ctx.config.etcd3, endpoints: hosts.map((h) => (/^https?:\/\//.test(h) ? h : `${scheme}://${h}`))}
  }
  if (spec.namespace !== undefined) ctx.config.namespace = spec.namespace
  const scope = clusterName(ctx, spec.scope)
  requireEtcd(ctx)
  if (!watch) return oneShotSource(await ports.openDcs(ctx, scope, {watch: false}), scope)
  return watchedSource(await ports.openDcs(ctx, scope, {watch: true, log: (m) => io.err(`warning: ${m}\n`)}), scope)
}

function describe(loaded: LoadedMembers): string {
  return `${loaded.members.length} member(s): ${loaded.members.map((m) => m.name).sort().join(', ')}`
}

function refuseEmpty(loaded: LoadedMembers, spec: MemberSourceSpec): void {
  if (loaded.members.length > 0) return
  const where = spec.kind === 'dcs' ? `the DCS has no usable member for scope ${JSON.stringify(loaded.scope)}` : 'no members given'
  throw new HactlError('USAGE', `${where}: refusing to render a haproxy.cfg without servers`, {exitCode: 1})
}

type Outcome = 'unchanged' | 'changed' | 'reload-failed'

/** Compare, check, install, reload. */
async function apply(text: string, o: RenderRunOptions, check: boolean, output: string, io: RenderIo): Promise<Outcome> {
  if (readIfExists(output) === text) return 'unchanged'
  if (o.dryRun) {
    if (check) await haproxyCheckText(o.haproxyBin, text)
    return 'changed'
  }
  const staged = stageFile(dirname(resolve(output)), output, text)
  try {
    if (check) await haproxyCheck(o.haproxyBin, staged)
    installStaged(staged, output)
  } finally {
    removeQuietly(staged)
  }
  return (await reload(o, io)) ? 'changed' : 'reload-failed'
}

async function reload(o: RenderRunOptions, io: RenderIo): Promise<boolean> {
  if (o.reloadCmd === '') return true
  const r = await runReload(o.reloadCmd)
  if (r.code === 0) return true
  const why = r.spawnError ?? (r.code === null ? `killed by ${r.signal}` : `exit ${r.code}`)
  io.err(`Error: --reload-cmd ${JSON.stringify(o.reloadCmd)} failed (${why}); ${o.output} is installed but HAProxy still runs the old configuration\n`)
  for (const line of r.output.trim().split('\n').filter(Boolean).slice(-20)) io.err(`  ${line}\n`)
  return false
}

function checkCombination(o: RenderRunOptions): void {
  const bad = (msg: string) => new HactlError('USAGE', msg, {exitCode: 2})
  if (o.watch && o.source.kind !== 'dcs') throw bad('--watch follows the DCS; it cannot be combined with --inventory or --member')
  if (o.watch && o.output === undefined) throw bad('--watch needs --output FILE (the file it keeps up to date)')
  if (o.watch && o.dryRun) throw bad('--watch and --dry-run exclude each other')
  if (o.dryRun && o.output === undefined) throw bad('--dry-run compares with --output FILE; give --output')
  if (!(o.interval > 0)) throw bad(`--interval: ${o.interval} must be a positive number of seconds`)
}

/** `ports` reach the DCS (src/wiring/render.ts builds the real ones); static sources need none. */
export async function runHaproxyRender(ports: RenderPorts, o: RenderRunOptions, io: RenderIo): Promise<number> {
  let options: HaproxyOptions
  let template: CompiledTemplate | undefined
  try {
    checkCombination(o)
    options = parseHaproxyOptions(o.haproxy)
    template = loadTemplate(o.template)
  } catch (e) {
    return reportError(io, e)
  }
  const check = o.check ?? o.watch
  if (o.watch) return watch(ports, o, options, template, check, io)
  let source: MemberSource | undefined
  try {
    let loaded: LoadedMembers
    if (o.source.kind === 'dcs') {
      source = await openDcs(ports, o.source, io, false)
      loaded = await source.load()
    } else {
      loaded = loadStatic(o.source)
    }
    for (const w of loaded.warnings) io.err(`warning: ${w}\n`)
    refuseEmpty(loaded, o.source)
    const text = renderHaproxy(loaded, options, template)
    if (o.output === undefined) {
      if (check) await haproxyCheckText(o.haproxyBin, text)
      io.out(text)
      return RENDER_EXIT.unchanged
    }
    const outcome = await apply(text, o, check, o.output, io)
    if (outcome === 'unchanged') io.err(`${o.output}: unchanged (${describe(loaded)})\n`)
    else if (o.dryRun) io.err(`${o.output}: would change (${describe(loaded)})\n`)
    else io.err(`${o.output}: updated (${describe(loaded)})${outcome === 'changed' && o.reloadCmd ? '; reloaded' : ''}\n`)
    return outcome === 'unchanged' ? RENDER_EXIT.unchanged : outcome === 'changed' ? RENDER_EXIT.changed : RENDER_EXIT.reloadFailed
  } catch (e) {
    return reportError(io, e)
  } finally {
    await source?.close()
  }
}

/**
 * confd's loop without confd: render on every member/leader change (and every `interval` as a
 * safety net), install only what `haproxy -c` accepts, reload after each install. Failures are
 * reported and waited out; the installed file is never replaced by a refused or empty render.
 */
async function watch(ports: RenderPorts, o: RenderRunOptions, options: HaproxyOptions, template: CompiledTemplate | undefined, check: boolean, io: RenderIo): Promise<number> {
  const output = o.output!
  const signal = io.signal ?? new AbortController().signal
  let source: MemberSource
  try {
    if (o.source.kind !== 'dcs') throw new Error('unreachable: checked in checkCombination')
    source = await openDcs(ports, o.source, io, true)
  } catch (e) {
    return reportError(io, e)
  }
  let lastProblem = ''
  let lastRefused: string | undefined
  let reloadPending = false
  const problem = (msg: string, e?: unknown) => {
    // One report per distinct problem, not one per wake-up.
    const key = msg + (e === undefined ? '' : errorMessage(e))
    if (key === lastProblem) return
    lastProblem = key
    if (e === undefined) io.err(`warning: ${msg}\n`)
    else reportError(io, e, `Error: ${msg}: `)
  }
  io.err(`watching ${o.source.scope ?? 'the cluster'} for member changes; keeping ${output} up to date\n`)
  try {
    while (!signal.aborted) {
      try {
        const loaded = await source.load()
        if (signal.aborted) break
        for (const w of loaded.warnings) problem(w)
        if (loaded.members.length === 0) {
          problem(`the DCS has no usable member for scope ${JSON.stringify(loaded.scope)}; keeping ${output} as it is`)
        } else {
          const text = renderHaproxy(loaded, options, template)
          if (text !== lastRefused) {
            try {
              const outcome = await apply(text, o, check, output, io)
              lastProblem = ''
              lastRefused = undefined
              if (outcome === 'unchanged' && reloadPending) reloadPending = !(await reload(o, io))
              else if (outcome !== 'unchanged') {
                reloadPending = outcome === 'reload-failed'
                io.err(`${output}: updated (${describe(loaded)})${outcome === 'changed' && o.reloadCmd ? '; reloaded' : ''}\n`)
              }
            } catch (e) {
              if (e instanceof HactlError && e.code === 'CONFIG_INVALID') lastRefused = text
              problem(`not installed`, e)
            }
          }
        }
      } catch (e) {
        problem('reading the members failed', e)
      }
      await source.waitForChange(o.interval * 1000, signal)
    }
  } finally {
    await source.close()
  }
  return RENDER_EXIT.unchanged
}
