import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, symlinkSync} from 'node:fs'
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
