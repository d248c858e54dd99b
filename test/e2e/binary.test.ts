import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {test} from 'node:test'
import {promisify} from 'node:util'

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
  // vm.compileFunction (how the lazy chunks are compiled) cannot import(); a surviving
  // `import("node:http")` fails only at run time, inside the executable.
  const files = ['dist/hactl.js', ...readdirSync(resolve('dist/chunks')).map((f) => `dist/chunks/${f}`)]
  assert.ok(files.length >= 4, `the entry and its chunks: ${files}`)
  for (const f of files) assert.doesNotMatch(readFileSync(resolve(f), 'utf8'), /\bimport\(["'`]node:/, f)
})

test('the entry script stays small: oclif, the agent and yaml are chunks compiled only when used', () => {
  const entry = readFileSync(resolve('dist/hactl.js'), 'utf8')
  assert.ok(entry.length < 600_000, `dist/hactl.js is ${entry.length} bytes`)
  assert.doesNotMatch(entry, /ModuleLoadError/, "no oclif code in the entry script (package.json's oclif section aside)")
  assert.match(readFileSync(resolve('dist/chunks/main.js'), 'utf8'), /ModuleLoadError/, 'oclif is in the main chunk')
})
