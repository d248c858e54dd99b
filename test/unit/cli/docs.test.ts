/**
 * Man pages and shell completion (scripts/docs.ts) come from the same command classes as --help:
 * every registered command has its page with every visible flag and argument, groff renders each
 * page without a warning, and the bash completion, run in bash, offers every command and flag.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {test} from 'node:test'
import {commandDocs, generateDocs, manPageName, type FlagDoc} from '../../../scripts/docs'
import {COMMANDS} from '../../../src/commands'

const files = generateDocs('2026-01-02', '9.8.7')
const file = (path: string) => {
  const f = files.find((x) => x.path === path)
  assert.ok(f, `${path} is generated`)
  return f.text
}
const commands = commandDocs()
/** How roff spells a flag in the page: -W, --config-file with escaped hyphens. */
const roffName = (f: FlagDoc) => (f.shortOnly ? `\\-${f.char}` : `\\-\\-${f.allowNo ? '[no\\-]' : ''}${f.name.replaceAll('-', '\\-')}`)

test('every registered command has a man page naming each visible flag and argument; hactl(1) lists them all', () => {
  assert.deepEqual(commands.map((c) => c.id.replace(' ', ':')).sort(), Object.keys(COMMANDS).sort())
  const root = file('man/man1/hactl.1')
  assert.match(root, /^\.TH HACTL 1 "2026-01-02" "hactl 9\.8\.7"/m)
  assert.match(root, /^\\fB\\-c, \\-\\-config\\-file=FILE\\fR\n.*Environment: PATRONICTL_CONFIG_FILE\./m)
  assert.match(root, /^\\fBDCS_URL\\fR$/m)
  for (const c of commands) {
    const cls = COMMANDS[c.id.replace(' ', ':')]
    const visible = Object.entries(cls.flags ?? {}).filter(([, f]) => !f.hidden)
    assert.equal(c.flags.length, visible.length, `${c.id}: every visible flag`)
    const page = file(`man/man1/${manPageName(c)}.1`)
    assert.ok(page.includes(`.SH NAME\n${manPageName(c).replaceAll('-', '\\-')} \\- ${c.summary.slice(0, 10).replaceAll('-', '\\-')}`), `${c.id}: NAME line for whatis`)
    assert.ok(root.includes(`\\fB${manPageName(c).replaceAll('-', '\\-')}\\fR(1)`), `hactl(1) points to ${manPageName(c)}(1)`)
    for (const f of c.flags) assert.ok(page.includes(roffName(f)), `${c.id}: ${f.name} in the man page`)
    for (const a of Object.keys(cls.args ?? {})) assert.ok(page.includes(a.toUpperCase()), `${c.id}: argument ${a}`)
  }
  const agent = file('man/man1/hactl-agent.1')
  assert.match(agent, /\\fB\\-\\-version\\fR/)
  assert.doesNotMatch(file('man/man1/hactl-haproxy-render.1'), /\\-\\-insecure/, 'hidden flags stay hidden')
})

test('groff renders every page without a warning (what lintian checks with man --warnings)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-man-'))
  for (const f of files.filter((x) => x.path.startsWith('man/'))) {
    const path = join(dir, f.path.split('/').pop()!)
    writeFileSync(path, f.text)
    const out = execFileSync('bash', ['-c', 'groff -man -Tutf8 -ww -z "$1" 2>&1', '-', path], {encoding: 'utf8', env: {...process.env, LC_ALL: 'C.UTF-8'}})
    assert.equal(out, '', `${f.path}: ${out}`)
  }
})

/** Runs the generated bash completion for the words typed so far (the last one is being completed). */
function complete(script: string, words: string[]): string[] {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `${script}\nCOMP_WORDS=(${words.map(q).join(' ')}); COMP_CWORD=${words.length - 1}; _hactl; printf '%s\\n' "\${COMPREPLY[@]}"`], {encoding: 'utf8'})
  return out.split('\n').filter((l) => l !== '')
}

test('bash completion offers every command, then every flag of the command, and the choices of a flag', () => {
  const bash = file('completions/hactl.bash')
  const top = complete(bash, ['hactl', ''])
  for (const c of commands) assert.ok(top.includes(c.id.split(' ')[0]), `command ${c.id}`)
  for (const g of ['-c', '--config-file', '-d', '--dcs-url', '-k', '--insecure']) assert.ok(top.includes(g), g)
  assert.deepEqual(complete(bash, ['hactl', 'haproxy', '']), ['render'])
  for (const c of commands) {
    const offered = new Set([...complete(bash, ['hactl', ...c.id.split(' '), '-']), ...complete(bash, ['hactl', '-c', 'x.yml', ...c.id.split(' '), '--'])])
    for (const f of c.flags) {
      if (f.char !== undefined) assert.ok(offered.has(`-${f.char}`), `${c.id}: -${f.char}`)
      if (!f.shortOnly) assert.ok(offered.has(`--${f.name}`), `${c.id}: --${f.name}`)
    }
    assert.ok(!offered.has('--W'), `${c.id}: no --W`)
  }
  assert.deepEqual(complete(bash, ['hactl', 'list', '-f', '']), ['pretty', 'tsv', 'json', 'yaml', 'yml'])
  assert.deepEqual(complete(bash, ['hactl', 'restart', 'demo', '--role', 'st']), ['standby-leader', 'standby'])
  assert.deepEqual(complete(bash, ['hactl', 'flush', 'demo', '']), ['restart', 'switchover'])
})

test('zsh and fish completion name every command and every flag', () => {
  const zsh = file('completions/_hactl')
  const fish = file('completions/hactl.fish')
  assert.match(zsh, /^#compdef hactl$/m)
  for (const c of commands) {
    assert.ok(zsh.includes(`'${c.id}') _hactl_${c.id.replaceAll(/[ -]/g, '_')} ;;`), `zsh: ${c.id}`)
    if (!c.id.includes(' ')) assert.match(fish, new RegExp(`-a ${c.id} -d `), `fish: ${c.id}`)
    for (const f of c.flags) {
      if (!f.shortOnly) assert.ok(zsh.includes(`--${f.name}`) && fish.includes(`-l ${f.name} `), `${c.id}: --${f.name}`)
      if (f.char !== undefined) assert.ok(zsh.includes(`-${f.char}`) && fish.includes(`-s ${f.char} `), `${c.id}: -${f.char}`)
    }
  }
  assert.doesNotMatch(fish, /-l W /)
})
