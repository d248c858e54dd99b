/**
 * Command-line handling for the patronictl-compatible commands, without oclif:
 * - hoistGlobalFlags() lets `hactl -c FILE list` work (oclif only reads options after the
 *   command id) by moving leading global options to the end, in their long form so that they
 *   cannot collide with a command's own short letters (`query -c/--command`).
 * - parseCommandArgv() reads one command's options the way click does (interleaved options
 *   and arguments, `--opt=value`, `-fjson`, `-et`, `--`), from the same FlagSpec table that
 *   gives oclif its help text.
 * Small on purpose: src/cli.ts loads it on every run.
 */
import {type CommandSpec, type FlagSpec, GLOBAL_FLAGS, withGlobalFlags} from '../commands/shared/ctl-specs'

/** A command-line mistake: exit code 2 with click's usage hint, like patronictl. */
export class UsageError extends Error {
  readonly exitCode = 2
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export type FlagValue = string | boolean | number | string[]
export interface ParsedArgv {
  flags: Record<string, FlagValue | undefined>
  args: Record<string, string | string[] | undefined>
}

interface Lookup {
  long: Map<string, string>
  short: Map<string, string>
}

function lookup(flags: Readonly<Record<string, FlagSpec>>): Lookup {
  const long = new Map<string, string>()
  const short = new Map<string, string>()
  for (const [name, f] of Object.entries(flags)) {
    long.set(name, name)
    for (const a of f.aliases ?? []) long.set(a, name)
    if (f.char) short.set(f.char, name)
  }
  return {long, short}
}

const GLOBAL_LOOKUP = lookup(GLOBAL_FLAGS)

/**
 * Moves the global options that come before the command id to the end of argv (before a `--`,
 * if any): `-c F -k list x` becomes `list x --config-file=F --insecure`. Leaves argv alone when
 * it does not start with a global option or nothing follows them.
 */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const hoisted: string[] = []
  let i = 0
  scan: while (i < argv.length) {
    const tok = argv[i]!
    if (tok.startsWith('--') && tok.length > 2) {
      const eq = tok.indexOf('=')
      const name = GLOBAL_LOOKUP.long.get(tok.slice(2, eq < 0 ? undefined : eq))
      if (name === undefined) break
      const spec: FlagSpec = GLOBAL_FLAGS[name as keyof typeof GLOBAL_FLAGS]
      if (spec.kind === 'boolean') {
        if (eq >= 0) break
        hoisted.push(`--${name}`)
        i++
      } else if (eq >= 0) {
        hoisted.push(`--${name}=${tok.slice(eq + 1)}`)
        i++
      } else {
        if (i + 1 >= argv.length) break
        hoisted.push(`--${name}=${argv[i + 1]}`)
        i += 2
      }
      continue
    }
    if (tok.startsWith('-') && tok.length > 1 && !tok.startsWith('--')) {
      const out: string[] = []
      let consumed = 1
      for (let j = 1; j < tok.length; j++) {
        const name = GLOBAL_LOOKUP.short.get(tok[j]!)
        if (name === undefined) break scan
        const spec: FlagSpec = GLOBAL_FLAGS[name as keyof typeof GLOBAL_FLAGS]
        if (spec.kind === 'boolean') {
          out.push(`--${name}`)
          continue
        }
        const rest = tok.slice(j + 1)
        if (rest) out.push(`--${name}=${rest}`)
        else if (i + 1 < argv.length) {
          out.push(`--${name}=${argv[i + 1]}`)
          consumed = 2
        } else break scan
        break
      }
      hoisted.push(...out)
      i += consumed
      continue
    }
    break
  }
  if (hoisted.length === 0 || i >= argv.length) return [...argv]
  const rest = argv.slice(i)
  const dd = rest.indexOf('--')
  return dd < 0 ? [...rest, ...hoisted] : [...rest.slice(0, dd), ...hoisted, ...rest.slice(dd)]
}

function optionLabel(name: string, f: FlagSpec): string {
  return f.char ? `'-${f.char}' / '--${name}'` : `'--${name}'`
}

function convert(name: string, f: FlagSpec, raw: string): FlagValue {
  if (f.options && !f.options.includes(raw)) {
    throw new UsageError(`Invalid value for ${optionLabel(name, f)}: '${raw}' is not one of ${f.options.map((o) => `'${o}'`).join(', ')}.`)
  }
  if (f.kind === 'float') {
    const t = raw.trim()
    const n = /^[-+]?(inf|infinity)$/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : t === '' ? NaN : Number(t)
    if (Number.isNaN(n)) throw new UsageError(`Invalid value for ${optionLabel(name, f)}: '${raw}' is not a valid float.`)
    return n
  }
  return raw
}

/** Parses one command's argv (the words after the command id). */
export function parseCommandArgv(spec: CommandSpec, argv: readonly string[]): ParsedArgv {
  const flags = withGlobalFlags(spec)
  const {long, short} = lookup(flags)
  const values: Record<string, FlagValue | undefined> = {}
  const store = (name: string, f: FlagSpec, raw: string) => {
    const v = convert(name, f, raw)
    if (!f.multiple) values[name] = v
    else values[name] = [...((values[name] as string[] | undefined) ?? []), String(v)]
  }
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!
    if (tok === '--') {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (tok.startsWith('--') && tok.length > 2) {
      const eq = tok.indexOf('=')
      const given = tok.slice(2, eq < 0 ? undefined : eq)
      const name = long.get(given)
      if (name === undefined) throw new UsageError(`No such option: --${given}`)
      const f = flags[name]!
      if (f.kind === 'boolean') {
        if (eq >= 0) throw new UsageError(`Option '--${given}' does not take a value.`)
        values[name] = true
        continue
      }
      let raw: string
      if (eq >= 0) raw = tok.slice(eq + 1)
      else if (i + 1 < argv.length) raw = argv[++i]!
      else throw new UsageError(`Option '--${given}' requires an argument.`)
      store(name, f, raw)
      continue
    }
    if (tok.startsWith('-') && tok.length > 1) {
      for (let j = 1; j < tok.length; j++) {
        const name = short.get(tok[j]!)
        if (name === undefined) throw new UsageError(`No such option: -${tok[j]}`)
        const f = flags[name]!
        if (f.kind === 'boolean') {
          values[name] = true
          continue
        }
        let raw = tok.slice(j + 1)
        if (!raw) {
          if (i + 1 >= argv.length) throw new UsageError(`Option '-${tok[j]}' requires an argument.`)
          raw = argv[++i]!
        }
        store(name, f, raw)
        break
      }
      continue
    }
    positional.push(tok)
  }
  const args: ParsedArgv['args'] = {}
  let p = 0
  spec.args.forEach((a, k) => {
    if (a.variadic) {
      // click gives the arguments after a nargs=-1 one their words from the end first
      const after = spec.args.slice(k + 1).filter((b) => b.required).length
      const take = Math.max(0, positional.length - p - after)
      args[a.name] = positional.slice(p, p + take)
      p += take
      return
    }
    const v = positional[p]
    if (v === undefined) {
      if (a.required) throw new UsageError(`Missing argument '${a.name.toUpperCase()}'.`)
    } else {
      if (a.options && !a.options.includes(v)) {
        throw new UsageError(`Invalid value for '${a.name.toUpperCase()}': '${v}' is not one of ${a.options.map((o) => `'${o}'`).join(', ')}.`)
      }
      p++
    }
    args[a.name] = v
  })
  const extra = positional.slice(p)
  if (extra.length > 0) {
    throw new UsageError(`Got unexpected extra argument${extra.length > 1 ? 's' : ''} (${extra.join(' ')})`)
  }
  for (const [name, f] of Object.entries(flags)) {
    if (values[name] === undefined && f.default !== undefined) values[name] = f.default
  }
  return {flags: values, args}
}

/** `Usage: hactl list [OPTIONS] [CLUSTER_NAMES]...` */
export function usageLine(bin: string, spec: CommandSpec): string {
  const args = spec.args.map((a) => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`) + (a.variadic ? '...' : ''))
  return `Usage: ${bin} ${spec.id} [OPTIONS]${args.length ? ' ' + args.join(' ') : ''}`
}
