import assert from 'node:assert/strict'
import {execFile, spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {test} from 'node:test'
import {promisify} from 'node:util'
import {freePort} from '../harness/ports'

const run = promisify(execFile)
const BIN = resolve('dist/hactl')

/** Runs the binary from an empty directory, so nothing beside it can be loaded. */
async function hactl(args: string[], env: NodeJS.ProcessEnv = {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'hactl-e2e-'))
  try {
    const r = await run(BIN, args, {cwd, env: {PATH: process.env.PATH, ...env}})
    return {code: 0, stdout: r.stdout, stderr: r.stderr}
  } catch (e) {
    const err = e as {code: number; stdout: string; stderr: string}
    return {code: err.code, stdout: err.stdout, stderr: err.stderr}
  }
}

test('--version names hactl, the Node inside and the commit', async () => {
  const r = await hactl(['--version'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^hactl \d+\.\d+\.\d+ \(commit ([0-9a-f]{7,}(-dirty)?|unknown), node v24\.\d+\.\d+, linux-x64\)\n$/)
})

test('--help lists the registered commands and nothing else', async () => {
  const r = await hactl(['--help'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, /\n {2}agent {2}/)
  assert.equal(r.stderr, '')
})

test('NODE_OPTIONS cannot inject code into the executable', async () => {
  const r = await hactl(['--version'], {NODE_OPTIONS: '--require /nonexistent/inject.js'})
  assert.equal(r.code, 0, r.stderr)
})

test('an unknown command exits 2 and says so', async () => {
  const r = await hactl(['no-such-command'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /command no-such-command not found/)
})

test('invoked as vip-manager, --version prints version, commit and the commit date', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-e2e-'))
  symlinkSync(BIN, join(dir, 'vip-manager'))
  const r = await run(join(dir, 'vip-manager'), ['--version'], {cwd: dir, env: {PATH: process.env.PATH}})
  assert.match(r.stdout, /^version: \d+\.\d+\.\d+\ncommit: [0-9a-f]{7,}(-dirty)?\ndate: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$/)
})

test('agent: bad flags exit 2, --validate-config answers 0 or 1, --help goes through the help system', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-e2e-'))
  const bad = await hactl(['agent', '--bogus'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /Nonexistent flag: --bogus/)
  assert.equal((await hactl(['agent', 'a.yml', 'b.yml'])).code, 2)
  const good = join(dir, 'ok.yml')
  writeFileSync(good, 'scope: s\nname: n1\netcd3: {hosts: 127.0.0.1:2379}\npostgresql: {data_dir: /tmp/x, listen: 127.0.0.1:5432, connect_address: 127.0.0.1:5432, authentication: {superuser: {username: postgres, password: pw}, replication: {username: rep, password: pw}}}\nrestapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008}\n')
  const ok = await hactl(['agent', '--validate-config', good])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /configuration OK/)
  const broken = join(dir, 'broken.yml')
  writeFileSync(broken, 'scope: s\nname: n1\netcd3: {hosts: 127.0.0.1:2379}\nbootstrap: {dcs: {ttl: nope}}\n')
  const no = await hactl(['agent', '--validate-config', broken])
  assert.equal(no.code, 1)
  assert.match(no.stderr, /bootstrap\.dcs\.ttl/)
  const help = await hactl(['agent', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--validate-config/)
})

test('no dynamic import() is left in the bundle: the lazy chunks run without an import callback', () => {
  // vm.Script without an import callback (how the lazy chunks are compiled) cannot import(); a surviving
  // `import("node:http")` fails only at run time, inside the executable.
  const files = ['dist/hactl.js', ...readdirSync(resolve('dist/chunks')).filter((f) => f.endsWith('.js')).map((f) => `dist/chunks/${f}`)]
  assert.ok(files.length >= 4, `the entry and its chunks: ${files}`)
  for (const f of files) assert.doesNotMatch(readFileSync(resolve(f), 'utf8'), /\bimport\(["'`]node:/, f)
})

test('the entry script is the dispatch only: the read commands, oclif, the agent and yaml are chunks compiled only when used, yaml in one only', () => {
  const entry = readFileSync(resolve('dist/hactl.js'), 'utf8')
  // An agent keeps its entry script's source for weeks: the read commands' code is not in it.
  assert.ok(entry.length < 64_000, `dist/hactl.js is ${entry.length} bytes`)
  assert.doesNotMatch(entry, /membersTable|prettyTable/, 'no read command code in the entry script')
  assert.match(readFileSync(resolve('dist/chunks/ctl.js'), 'utf8'), /membersTable/, 'the read commands are in the ctl chunk')
  assert.doesNotMatch(entry, /ModuleLoadError/, "no oclif code in the entry script (package.json's oclif section aside)")
  assert.match(readFileSync(resolve('dist/chunks/main.js'), 'utf8'), /ModuleLoadError/, 'oclif is in the main chunk')
  // yaml is bundled once, in its chunk: the agent and main chunks load it on first use (an idle
  // agent never does), so its code is in none of them. The marker is one of yaml's own messages.
  const marker = 'Implicit keys need to be on a single line'
  assert.ok(readFileSync(resolve('dist/chunks/yaml.js'), 'utf8').includes(marker))
  for (const f of ['dist/hactl.js', 'dist/chunks/agent.js', 'dist/chunks/main.js']) assert.ok(!readFileSync(resolve(f), 'utf8').includes(marker), f)
  // pg's crypto helpers are replaced by src/adapters/postgres/pg-crypto.ts (no WebCrypto, node:crypto on first use).
  for (const f of ['dist/chunks/agent.js', 'dist/chunks/ctl.js', 'dist/chunks/main.js']) {
    const text = readFileSync(resolve(f), 'utf8')
    assert.ok(!/getRandomValues|\.subtle\b/.test(text), `${f}: pg's own crypto helpers are bundled`)
    assert.match(text, /postgresMd5PasswordHash/, `${f}: pg's MD5 authentication is there`)
  }
})

test('the short commands compile their chunks from the code cache the build made; the YAML fallback loads too', async () => {
  // scripts/build.mjs: V8 takes a cache only under the flags it was made with (the executable's
  // own: none). A rejected cache still works, only slower, so this is where a change of flags shows.
  const dir = mkdtempSync(join(tmpdir(), 'hactl-e2e-'))
  const report = {HACTL_CODE_CACHE_REPORT: '1'}
  const help = await hactl(['--help'], report)
  assert.equal(help.code, 0, help.stderr)
  assert.match(help.stderr, /^hactl: code cache of chunk main: accepted$/m)
  // An anchor is beyond src/config/fast-yaml.ts: the yaml chunk reads the file, then the command
  // stops at the missing DCS section without a network round trip.
  const anchored = join(dir, 'anchor.yml')
  writeFileSync(anchored, 'scope: &s demo\nname: n1\n')
  const list = await hactl(['-c', anchored, 'list'], report)
  assert.equal(list.code, 1, list.stderr)
  assert.match(list.stderr, /^hactl: code cache of chunk ctl: accepted$/m)
  assert.match(list.stderr, /^hactl: code cache of chunk yaml: accepted$/m)
  assert.match(list.stderr, /Can not find suitable configuration of distributed configuration store/)
  assert.equal((await hactl(['--help'])).stderr, '', 'nothing is reported without HACTL_CODE_CACHE_REPORT')
})

test('agent --version prints "hactl X.Y.Z" like patroni --version; agent without a configuration prints its usage and exits 1', async () => {
  const v = await hactl(['agent', '--version'])
  assert.equal(v.code, 0, v.stderr)
  assert.match(v.stdout, /^hactl \d+\.\d+\.\d+\n$/)
  const none = await hactl(['agent'])
  assert.equal(none.code, 1)
  assert.match(none.stdout, /^usage: hactl agent \[--help\] \[--version\] \[--validate-config\] \[--strict\] \[CONFIG\]\n/)
  assert.match(none.stderr, /^scope: is required but missing$/m)
  assert.doesNotMatch(none.stderr, /ConfigError|Code:/)
})

test('--help shows the global options with their environment variables, and -W alone', async () => {
  const r = await hactl(['--help'])
  assert.match(r.stdout, /GLOBAL OPTIONS\n {2}-c, --config-file=FILE +\[env: PATRONICTL_CONFIG_FILE\]/)
  assert.match(r.stdout, /\n {2}-d, --dcs-url=URL +\[env: DCS_URL\]/)
  assert.match(r.stdout, /\n {2}haproxy render +Render haproxy\.cfg/)
  const list = await hactl(['list', '--help'])
  assert.match(list.stdout, /\n {2}-W {2,}Auto update/)
  assert.doesNotMatch(list.stdout, /--W\b/)
})

/**
 * Starts the agent with JOURNAL_STREAM naming its stderr (as systemd does for a unit whose output
 * goes to the journal) or something else, waits for its first lines (configuration warnings), ends
 * it with SIGTERM and returns everything it wrote to stderr.
 */
async function agentUnderJournal(journal: 'stderr' | 'elsewhere'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-e2e-'))
  const cfg = join(dir, 'a.yml')
  const api = await freePort()
  // etcd on a closed port: the agent logs the loopback warnings, fails to reach the DCS and stops
  // before its first HA cycle, PostgreSQL untouched.
  writeFileSync(cfg, `scope: s\nname: n1\nlog: {level: DEBUG}\netcd3: {hosts: 127.0.0.1:1}\nbootstrap: {dcs: {ttl: 20, loop_wait: 1, retry_timeout: 2}}\npostgresql: {data_dir: ${join(dir, 'data')}, listen: 127.0.0.1:1, connect_address: 127.0.0.1:1, authentication: {superuser: {username: postgres, password: pw}, replication: {username: rep, password: pw}}}\nrestapi: {listen: 127.0.0.1:${api}, connect_address: 127.0.0.1:${api}}\n`)
  const stream = journal === 'stderr' ? '$(stat -L -c %d:%i /proc/self/fd/2)' : '1:1'
  const child = spawn('bash', ['-c', `export JOURNAL_STREAM=${stream}; exec "$0" agent "$1"`, BIN, cfg], {cwd: dir, env: {PATH: process.env.PATH}, stdio: ['ignore', 'ignore', 'pipe']})
  let err = ''
  child.stderr.setEncoding('utf8')
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)))
  await new Promise<void>((res, rej) => {
    const deadline = setTimeout(() => rej(new Error(`no log line within 20 s: ${err}`)), 20_000)
    child.stderr.on('data', (d: string) => {
      err += d
      if (/WARNING: .*loopback/.test(err)) {
        clearTimeout(deadline)
        res()
      }
    })
  })
  child.kill('SIGTERM')
  const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(deadline)
  return err
}

test('under the journal (JOURNAL_STREAM names stderr) every log line carries its priority, so journalctl -p warning works', async () => {
  const lines = (await agentUnderJournal('stderr')).trimEnd().split('\n')
  assert.ok(lines.length >= 3, lines.join('\n'))
  for (const l of lines) assert.match(l, /^<[2-7]>\d{4}-\d\d-\d\d /, l)
  assert.ok(lines.some((l) => /^<4>.* WARNING: configuration: .*loopback/.test(l)), 'warnings are <4>')
  assert.ok(lines.some((l) => /^<6>.* INFO: /.test(l)), 'info is <6>')
  for (const l of lines) assert.equal(l.slice(0, 3), {DEBUG: '<7>', INFO: '<6>', WARNING: '<4>', ERROR: '<3>', CRITICAL: '<2>'}[/ (DEBUG|INFO|WARNING|ERROR|CRITICAL): /.exec(l)![1]], l)
  const plain = (await agentUnderJournal('elsewhere')).trimEnd().split('\n')
  for (const l of plain) assert.match(l, /^\d{4}-\d\d-\d\d /, `JOURNAL_STREAM of another stream: no prefix: ${l}`)
})

test('templates/ is inside the executable: --print-template prints templates/haproxy.cfg.mustache from an empty directory', async () => {
  const r = await hactl(['haproxy', 'render', '--print-template'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, readFileSync(resolve('templates/haproxy.cfg.mustache'), 'utf8'))
  const main = readFileSync(resolve('dist/chunks/main.js'), 'utf8')
  assert.ok(main.includes('VIP_DCS_ENDPOINTS=') && main.includes('pg_clonecluster_patroni'), "createconfig's config.yml.in and vip.in are embedded")
  const sampleLine = readFileSync(resolve('templates/etc/patroni/config.yml.sample'), 'utf8').split('\n').find((l) => l.length > 20 && !/["'\\]/.test(l))!
  assert.ok(!main.includes(sampleLine), `the packages' samples (templates/etc) are not: ${sampleLine}`)
})
