/**
 * Man pages (roff) and bash/zsh/fish completion, generated from the command classes that serve
 * `--help` (src/commands.ts, with the specs of src/commands/shared): one source for all four.
 * The release pipeline (scripts/release/pipeline.ts) puts them into the packages; nothing
 * generated is committed.
 *
 *   node --import tsx scripts/docs.ts --out DIR [--date YYYY-MM-DD]
 *     writes DIR/man/man1/*.1, DIR/completions/{hactl.bash,_hactl,hactl.fish}
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import pjson from '../package.json'
import {COMMANDS} from '../src/commands'
import {ENVIRONMENT, GLOBAL_OPTIONS} from '../src/commands/shared/root-doc'

export const BIN = 'hactl'

export interface FlagDoc {
  name: string
  char?: string
  /** Only `-X` exists (patronictl's -W). */
  shortOnly: boolean
  boolean: boolean
  allowNo: boolean
  multiple: boolean
  value?: string
  description: string
  env?: string
  default?: string
  options?: readonly string[]
  aliases: readonly string[]
  group?: string
}

export interface ArgDoc {
  name: string
  description: string
  required: boolean
  multiple: boolean
  options?: readonly string[]
}

export interface CommandDoc {
  /** `list`, `haproxy render` */
  id: string
  summary: string
  /** Paragraphs. */
  description: string[]
  args: ArgDoc[]
  flags: FlagDoc[]
  examples: string[]
}

interface RawFlag {
  type: 'boolean' | 'option'
  char?: string
  description?: string
  summary?: string
  env?: string
  default?: unknown
  options?: readonly string[]
  helpValue?: string | string[]
  helpLabel?: string
  hidden?: boolean
  allowNo?: boolean
  multiple?: boolean
  aliases?: string[]
  helpGroup?: string
}

interface RawArg {
  description?: string
  required?: boolean
  multiple?: boolean
  options?: readonly string[]
  hidden?: boolean
}

const render = (s: string) => s.replaceAll('<%= config.bin %>', BIN)

/** Every registered command, in id order, as the help shows it. */
export function commandDocs(): CommandDoc[] {
  return Object.entries(COMMANDS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, cls]) => {
      const c = cls as unknown as {summary?: string; description?: string; examples?: string[]; flags?: Record<string, RawFlag>; args?: Record<string, RawArg>}
      const flags = Object.entries(c.flags ?? {})
        .filter(([, f]) => !f.hidden)
        .map(([name, f]): FlagDoc => {
          const value = Array.isArray(f.helpValue) ? f.helpValue.join(' ') : f.helpValue
          return {
            name,
            char: f.char,
            shortOnly: f.helpLabel !== undefined && f.char !== undefined && f.helpLabel === `-${f.char}`,
            boolean: f.type === 'boolean',
            allowNo: f.allowNo === true,
            multiple: f.multiple === true,
            value: f.type === 'boolean' ? undefined : value ?? (f.options ? f.options.join('|') : 'VALUE'),
            description: render(f.summary ?? f.description ?? ''),
            env: f.env,
            default: f.type === 'option' && f.default !== undefined && f.default !== '' ? String(f.default) : undefined,
            options: f.options,
            aliases: f.aliases ?? [],
            group: f.helpGroup,
          }
        })
        .sort((a, b) => a.name.localeCompare(b.name))
      const args = Object.entries(c.args ?? {})
        .filter(([, a]) => !a.hidden)
        .map(([name, a]): ArgDoc => ({name, description: render(a.description ?? ''), required: a.required === true, multiple: a.multiple === true, options: a.options}))
      const description = [c.summary, c.description]
        .filter((s): s is string => typeof s === 'string' && s !== '')
        .join('\n\n')
        .split(/\n\n+/)
      return {
        id: key.replaceAll(':', ' '),
        summary: render(c.summary ?? description[0] ?? ''),
        description: description.slice(c.summary ? 1 : 0).map(render),
        args,
        flags,
        examples: (c.examples ?? []).map(render),
      }
    })
}

/** `-c, --config-file=FILE`, `-W`, `--[no-]verbose` */
export function flagLabel(f: FlagDoc): string {
  if (f.shortOnly) return `-${f.char}`
  const long = `--${f.allowNo ? '[no-]' : ''}${f.name}${f.value === undefined ? '' : `=${f.value}`}`
  return f.char === undefined ? long : `-${f.char}, ${long}`
}

export function synopsis(c: CommandDoc): string {
  const args = c.args.map((a) => {
    const n = `${a.name.toUpperCase()}${a.multiple ? '...' : ''}`
    return a.required ? n : `[${n}]`
  })
  const flags = c.flags.map((f) => {
    const name = f.char !== undefined ? `-${f.char}` : `--${f.name}`
    return `[${name}${f.value === undefined ? '' : ` ${f.value}`}]`
  })
  return [BIN, c.id, ...args, ...flags].join(' ')
}

// ---------------------------------------------------------------------------------------------
// man pages

/** Text for roff: backslashes escaped, no line starting with a control character. */
function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n')
}

/** A summary as a sentence: patronictl's have no final period. */
const sentence = (s: string) => s.replace(/([^.])$/, '$1.')
const bold = (s: string) => `\\fB${roff(s)}\\fR`

function header(page: string, date: string, version: string): string {
  return `.\\" Generated by scripts/docs.ts from the command specs; do not edit.\n.TH ${page.toUpperCase()} 1 "${date}" "${BIN} ${version}" "hactl manual"\n`
}

export function manPageName(c: CommandDoc): string {
  return `${BIN}-${c.id.replaceAll(' ', '-')}`
}

export function commandManPage(c: CommandDoc, opts: {date: string; version: string}): string {
  const page = manPageName(c)
  let out = header(page, opts.date, opts.version)
  out += `.SH NAME\n${roff(page)} \\- ${roff(c.summary)}\n`
  out += `.SH SYNOPSIS\n.nh\n.ad l\n${roff(synopsis(c))}\n.ad\n.hy\n`
  out += `.SH DESCRIPTION\n${roff(sentence(c.summary))}\n`
  for (const p of c.description) out += `.PP\n${roff(p)}\n`
  if (c.args.length > 0) {
    out += '.SH ARGUMENTS\n'
    for (const a of c.args) {
      const extra = a.options ? ` (one of: ${a.options.join(', ')})` : ''
      out += `.TP\n${bold(a.name.toUpperCase() + (a.multiple ? '...' : ''))}\n${roff(a.description + extra)}\n`
    }
  }
  if (c.flags.length > 0) {
    out += '.SH OPTIONS\n'
    for (const f of c.flags) {
      const notes = [
        f.options ? `One of: ${f.options.join(', ')}.` : undefined,
        f.default !== undefined ? `Default: ${JSON.stringify(f.default).slice(1, -1)}.` : undefined,
        f.env !== undefined ? `Environment: ${f.env}.` : undefined,
        f.multiple ? 'May be given more than once.' : undefined,
        f.aliases.length > 0 ? `Also: ${f.aliases.map((a) => `--${a}`).join(', ')}.` : undefined,
      ].filter((s): s is string => s !== undefined)
      const text = [sentence(f.description), ...notes].join(' ')
      out += `.TP\n${bold(flagLabel(f))}\n${roff(text)}\n`
    }
  }
  if (c.examples.length > 0) {
    out += '.SH EXAMPLES\n'
    for (const e of c.examples) out += `.PP\n.nf\n.RS 4\n${roff(e)}\n.RE\n.fi\n`
  }
  out += `.SH SEE ALSO\n${bold(BIN)}(1)\n`
  return out
}

export function rootManPage(commands: CommandDoc[], opts: {date: string; version: string; description: string}): string {
  let out = header(BIN, opts.date, opts.version)
  out += `.SH NAME\n${BIN} \\- ${roff(opts.description)}\n`
  out += `.SH SYNOPSIS\n${bold(BIN)} [\\fB\\-c\\fR \\fIFILE\\fR] [\\fB\\-d\\fR \\fIURL\\fR] [\\fB\\-k\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...\n.br\n${bold(BIN)} \\fICOMMAND\\fR \\fB\\-\\-help\\fR\n.br\n${bold(BIN)} \\fB\\-\\-version\\fR\n`
  out += `.SH DESCRIPTION\n${roff(opts.description)}.\n`
  out += '.PP\n'
  out += roff("The agent (hactl agent) replaces Patroni and reads its configuration; the control commands take patronictl's options and print what patronictl prints; hactl vip replaces vip-manager; hactl haproxy render writes HAProxy's configuration from the cluster's members.") + '\n'
  out += '.SH COMMANDS\n'
  for (const c of commands) out += `.TP\n${bold(`${BIN} ${c.id}`)}\n${roff(sentence(c.summary))} See \\fB${roff(manPageName(c))}\\fR(1).\n`
  out += '.SH GLOBAL OPTIONS\n'
  out += roff("patronictl's group options; hactl takes them before or after the command name.") + '\n'
  for (const o of GLOBAL_OPTIONS) {
    out += `.TP\n${bold(o.label)}\n${roff(sentence(o.description) + (o.env ? ` Environment: ${o.env}.` : ''))}\n`
  }
  out += '.SH ENVIRONMENT\n'
  for (const e of ENVIRONMENT) out += `.TP\n${bold(e.name)}\n${roff(e.description)}\n`
  out += '.SH EXIT STATUS\n'
  out += roff('0 on success, 1 on an error, 2 on bad usage (an unknown option or command); some commands document more (hactl haproxy render).') + '\n'
  out += '.SH SEE ALSO\n'
  out += commands.map((c) => `\\fB${roff(manPageName(c))}\\fR(1)`).join(',\n') + ',\n\\fBpatroni\\fR(1), \\fBpatronictl\\fR(1)\n'
  return out
}

// ---------------------------------------------------------------------------------------------
// completion

/** The words that complete a flag: `-c --config-file`, or `-W` alone. */
function flagWords(f: FlagDoc): string[] {
  const words: string[] = []
  if (f.char !== undefined) words.push(`-${f.char}`)
  if (!f.shortOnly) {
    words.push(`--${f.name}`)
    if (f.allowNo) words.push(`--no-${f.name}`)
    for (const a of f.aliases) words.push(`--${a}`)
  }
  return words
}

const isPath = (f: FlagDoc) => f.value !== undefined && /^(FILE|PATH)$/.test(f.value)

export function bashCompletion(commands: CommandDoc[]): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
  const cases = commands.map((c) => {
    const takesValue = c.flags.filter((f) => !f.boolean).flatMap(flagWords)
    const choices = c.flags
      .filter((f) => f.options)
      .map((f) => `      ${flagWords(f).join('|')}) COMPREPLY=($(compgen -W ${q(f.options!.join(' '))} -- "$cur")); return ;;`)
    const files = c.flags.filter(isPath)
    const argChoices = c.args.flatMap((a) => a.options ?? [])
    return `    ${q(c.id)})
      flags=${q(c.flags.flatMap(flagWords).join(' '))}
      valued=${q(' ' + takesValue.join(' ') + ' ')}
      words=${q(argChoices.join(' '))}
      case "$prev" in
${[...choices, ...(files.length ? [`      ${files.flatMap(flagWords).join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : [])].join('\n')}
      esac
      ;;`
  })
  const top = commands.map((c) => c.id.split(' ')[0]).filter((v, i, a) => a.indexOf(v) === i)
  const globals = GLOBAL_OPTIONS.flatMap((o) => o.label.split(/, /).map((w) => w.replace(/=.*$/, '')))
  return `# bash completion for ${BIN}; generated by scripts/docs.ts from the command specs.
_${BIN}() {
  local cur prev cmd="" i w flags="" valued="" words=""
  cur=\${COMP_WORDS[COMP_CWORD]}
  prev=\${COMP_WORDS[COMP_CWORD-1]}
  # The command: the first word that is not an option or a global option's value.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case "$w" in
      -c|--config-file|-d|--dcs-url|--dcs) ((i++)); continue ;;
      -*) continue ;;
    esac
    if [[ -z $cmd ]]; then cmd=$w; [[ $w == haproxy ]] || break
    else cmd="$cmd $w"; break
    fi
  done
  case "$prev" in
    -c|--config-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case "$cmd" in
    '') COMPREPLY=($(compgen -W ${q(top.join(' ') + ' ' + globals.join(' '))} -- "$cur")); return ;;
    haproxy) COMPREPLY=($(compgen -W 'render' -- "$cur")); return ;;
${cases.join('\n')}
    *) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ $valued != *" $prev "* ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -o default -F _${BIN} ${BIN}
`
}

export function zshCompletion(commands: CommandDoc[]): string {
  const esc = (s: string) => s.replaceAll('\\', '\\\\').replaceAll("'", `'\\''`).replaceAll('[', '\\[').replaceAll(']', '\\]').replaceAll(':', '\\:')
  const fn = (c: CommandDoc) => `_${BIN}_${c.id.replaceAll(/[ -]/g, '_')}`
  const specs = (c: CommandDoc) =>
    c.flags.map((f) => {
      const action = f.boolean ? '' : `:${esc(f.value ?? 'VALUE')}:${f.options ? `(${f.options.join(' ')})` : isPath(f) ? '_files' : ''}`
      const words = flagWords(f)
      const names = words.length === 1 ? words[0] : `{${words.join(',')}}`
      const rep = f.multiple ? '*' : ''
      return `    ${rep}${words.length === 1 ? `'${names}` : `${names}'`}[${esc(f.description)}]${action}'`
    })
  const funcs = commands.map(
    (c) => `${fn(c)}() {
  _arguments -s \\
${[...specs(c), "    '*:argument:_default'"].join(' \\\n')}
}`,
  )
  const list = commands.filter((c) => !c.id.includes(' ')).map((c) => `    '${c.id}:${esc(c.summary)}'`)
  return `#compdef ${BIN}
# zsh completion for ${BIN}; generated by scripts/docs.ts from the command specs.
${funcs.join('\n\n')}

_${BIN}() {
  local -a commands
  commands=(
${list.join('\n')}
    'haproxy:${esc(commands.find((c) => c.id === 'haproxy render')?.summary ?? 'HAProxy')}'
  )
  local i=2 cmd
  while (( i < CURRENT )); do
    case \${words[i]} in
      -c|--config-file|-d|--dcs-url|--dcs) (( i += 2 )); continue ;;
      -*) (( i++ )); continue ;;
    esac
    break
  done
  if (( i >= CURRENT )); then
    _describe -t commands '${BIN} command' commands
    return
  fi
  cmd=\${words[i]}
  if [[ $cmd == haproxy ]]; then
    if (( i + 1 >= CURRENT )); then compadd render; return; fi
    cmd='haproxy render'; (( i++ ))
  fi
  (( CURRENT -= i - 1 )); words=("\${(@)words[i,-1]}")
  case $cmd in
${commands.map((c) => `    '${c.id}') ${fn(c)} ;;`).join('\n')}
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _${BIN} "$@"; else compdef _${BIN} ${BIN}; fi
`
}

export function fishCompletion(commands: CommandDoc[]): string {
  const q = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
  const top = commands.filter((c) => !c.id.includes(' '))
  const names = [...top.map((c) => c.id), 'haproxy']
  const lines = [
    `# fish completion for ${BIN}; generated by scripts/docs.ts from the command specs.`,
    `complete -c ${BIN} -f`,
    `set -l ${BIN}_commands ${names.join(' ')}`,
    ...top.map((c) => `complete -c ${BIN} -n "not __fish_seen_subcommand_from \$${BIN}_commands" -a ${c.id} -d ${q(c.summary)}`),
    `complete -c ${BIN} -n "not __fish_seen_subcommand_from \$${BIN}_commands" -a haproxy -d 'HAProxy configuration'`,
    `complete -c ${BIN} -n "__fish_seen_subcommand_from haproxy; and not __fish_seen_subcommand_from render" -a render -d ${q(commands.find((c) => c.id === 'haproxy render')?.summary ?? '')}`,
  ]
  for (const c of commands) {
    const cond = c.id === 'haproxy render' ? '__fish_seen_subcommand_from render' : `__fish_seen_subcommand_from ${c.id}`
    for (const f of c.flags) {
      const parts = [`complete -c ${BIN} -n ${q(cond)}`]
      if (f.char !== undefined) parts.push(`-s ${f.char}`)
      if (!f.shortOnly) parts.push(`-l ${f.name}`)
      if (!f.boolean) parts.push(isPath(f) ? '-r -F' : '-x')
      if (f.options) parts.push(`-a ${q(f.options.join(' '))}`)
      parts.push(`-d ${q(f.description)}`)
      lines.push(parts.join(' '))
      if (f.allowNo) lines.push(`complete -c ${BIN} -n ${q(cond)} -l no-${f.name} -d ${q(f.description)}`)
    }
    for (const a of c.args) if (a.options) lines.push(`complete -c ${BIN} -n ${q(cond)} -a ${q(a.options.join(' '))}`)
  }
  return lines.join('\n') + '\n'
}

// ---------------------------------------------------------------------------------------------

export interface DocFile {
  /** Relative path: man/man1/hactl-list.1, completions/hactl.bash, ... */
  path: string
  text: string
}

/** Every generated file; `date` is YYYY-MM-DD (the commit's, for reproducible packages). */
export function generateDocs(date: string, version: string = pjson.version): DocFile[] {
  const commands = commandDocs()
  const opts = {date, version}
  return [
    {path: `man/man1/${BIN}.1`, text: rootManPage(commands, {...opts, description: pjson.description})},
    ...commands.map((c) => ({path: `man/man1/${manPageName(c)}.1`, text: commandManPage(c, opts)})),
    {path: `completions/${BIN}.bash`, text: bashCompletion(commands)},
    {path: `completions/_${BIN}`, text: zshCompletion(commands)},
    {path: `completions/${BIN}.fish`, text: fishCompletion(commands)},
  ]
}

if (require.main === module) {
  const {values} = parseArgs({options: {out: {type: 'string'}, date: {type: 'string'}}, strict: true})
  const out = resolve(values.out ?? 'dist/share')
  const date = values.date ?? new Date().toISOString().slice(0, 10)
  for (const f of generateDocs(date)) {
    mkdirSync(dirname(join(out, f.path)), {recursive: true})
    writeFileSync(join(out, f.path), f.text)
  }
  process.stdout.write(`docs: wrote man pages and completions to ${out}\n`)
}
