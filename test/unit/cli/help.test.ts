/**
 * The help as users see it: `hactl --help`, a command's --help and `hactl agent` without a
 * configuration, run through src/cli.ts as the executable runs it, from the sources with the
 * development launcher bin/hactl (from another directory, as a user would).
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {tmpdir} from 'node:os'
import {resolve} from 'node:path'
import {test} from 'node:test'
import {promisify} from 'node:util'
import pjson from '../../../package.json'
import {COMMANDS} from '../../../src/commands'
import {agentUsage} from '../../../src/commands/shared/agent-spec'
import {FAST_CTL_SPECS, GLOBAL_FLAGS} from '../../../src/commands/shared/ctl-specs'

const execAsync = promisify(execFile)
const LAUNCHER = resolve('bin/hactl')

async function hactl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number; stdout: string; stderr: string}> {
  try {
    const r = await execAsync(LAUNCHER, args, {cwd: tmpdir(), env: {PATH: process.env.PATH, HOME: '/nonexistent', ...env}})
    return {code: 0, stdout: r.stdout, stderr: r.stderr}
  } catch (e) {
    const err = e as {code: number; stdout: string; stderr: string}
    return {code: err.code, stdout: err.stdout, stderr: err.stderr}
  }
}

test('no description breaks a paragraph with a hard newline (the help wraps them itself)', () => {
  for (const [id, cls] of Object.entries(COMMANDS)) {
    for (const text of [cls.summary, cls.description]) {
      if (text === undefined) continue
      assert.doesNotMatch(text, /[^\n]\n[^\n]/, `${id}: a line break inside a paragraph`)
    }
  }
})

test('arguments: only a variadic one is shown with ..., a required one without brackets', () => {
  for (const [id, spec] of Object.entries(FAST_CTL_SPECS)) {
    const args = COMMANDS[id].args as Record<string, {multiple?: boolean; required?: boolean}>
    for (const a of spec.args) {
      assert.equal(args[a.name].multiple === true, a.variadic === true, `${id} ${a.name}: multiple`)
      assert.equal(args[a.name].required === true, a.required === true, `${id} ${a.name}: required`)
    }
  }
})

test('root --help lists every command (haproxy render too), the global options with their environment variables', async () => {
  const r = await hactl(['--help'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /\$ hactl \[-c FILE\] \[-d URL\] \[-k\] COMMAND \[ARGS\]\.\.\./)
  for (const id of Object.keys(COMMANDS)) assert.match(r.stdout, new RegExp(`\\n {2}${id.replace(':', ' ')} +\\S`), id)
  const globals = r.stdout.slice(r.stdout.indexOf('GLOBAL OPTIONS'), r.stdout.indexOf('ENVIRONMENT'))
  assert.match(globals, /-c, --config-file=FILE +\[env: PATRONICTL_CONFIG_FILE\]/)
  assert.match(globals, /-d, --dcs-url=URL +\[env: DCS_URL\]/)
  assert.match(globals, /-k, --insecure +Allow connections/)
  for (const f of Object.values(GLOBAL_FLAGS)) if ('env' in f) assert.match(r.stdout.slice(r.stdout.indexOf('ENVIRONMENT')), new RegExp(`\\n {2}${f.env} `))
  assert.equal(r.stderr, '')
})

test('restart --help: CLUSTER_NAME is one required name, members are any number; list shows -W alone', async () => {
  const r = await hactl(['restart', '--help'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /\$ hactl restart CLUSTER_NAME \[MEMBER_NAMES\.\.\.\]/)
  assert.doesNotMatch(r.stdout, /CLUSTER_NAME\.\.\./)
  assert.match(r.stdout, /-r, --role=<option> +\[default: any\] Restart only members with this role/)
  const reinit = await hactl(['help', 'reinit'])
  assert.doesNotMatch(reinit.stdout, /with the role/, 'reinit has no --role')
  assert.match(reinit.stdout, /\[MEMBER_NAMES\.\.\.\] +members to reinitialize/)
  const list = await hactl(['list', '--help'])
  assert.match(list.stdout, /\n {2}-W {2,}Auto update the screen every 2 seconds/)
  assert.doesNotMatch(list.stdout, /--W\b/)
})

test('hactl agent without a configuration prints the problems and its usage and exits 1, as patroni does', async () => {
  const r = await hactl(['agent'])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, agentUsage())
  assert.match(r.stdout, /^usage: hactl agent \[--help\] \[--version\] \[--validate-config\] \[--strict\] \[CONFIG\]\n/)
  assert.match(r.stderr, /^name: is required but missing$/m)
  assert.doesNotMatch(r.stderr, /ConfigError|Code:/)
})

test('hactl agent --version prints "hactl VERSION" like patroni --version ("patroni 3.0.2")', async () => {
  const r = await hactl(['agent', '--version'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `hactl ${pjson.version}\n`)
  const help = await hactl(['agent', '--help'])
  assert.match(help.stdout, /--version +Print "hactl VERSION"/)
})
