/**
 * `hactl haproxy render` end to end without a database: members from flags, an inventory file
 * and a real etcd; the real `haproxy -c`; --output replaced atomically only on change; the reload
 * command; exit codes; and --watch following member keys in etcd (confd's job).
 */
import assert from 'node:assert/strict'
import {execFile, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {TRIM_TUNABLE, TUNABLES_MARK} from '../../../src/daemon-start'
import {DEFAULT_TEMPLATE} from '../../../src/render/default-template'
import type {RenderRunOptions} from '../../../src/render/run'
import {RENDER_EXIT, runHaproxyRender} from '../../../src/wiring/render'
import {EtcdServer} from '../../harness/etcd'
import {waitFor} from '../../harness/ports'
import {HAPROXY_BIN} from './haproxy-proc'

const REPO = join(import.meta.dirname, '..', '..', '..')
const GOLDEN_DEFAULT = readFileSync(join(REPO, 'test', 'fixtures', 'render', 'default.cfg'), 'utf8')
const SEED = ['node1=10.20.61.103:5432,8008', 'node2=10.20.61.104:5432,8008', 'node3=10.20.61.105:5432,8008']

interface Captured {
  code: number
  out: string
  err: string
}

async function render(o: Partial<RenderRunOptions>, signal?: AbortSignal): Promise<Captured> {
  let out = ''
  let err = ''
  const code = await runHaproxyRender(
    {source: {kind: 'members', values: SEED}, haproxy: {}, dryRun: false, reloadCmd: '', watch: false, interval: 10, haproxyBin: HAPROXY_BIN, ...o},
    {out: (s) => (out += s), err: (s) => (err += s), env: {}, signal},
  )
  return {code, out, err}
}

/** The CLI as a user runs it (sources through tsx). */
function cli(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  return new Promise((resolve) => {
    execFile(join(REPO, 'node_modules', '.bin', 'node'), ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), 'haproxy', 'render', ...args],
      {cwd: REPO, env: {PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env}},
      (e, stdout, stderr) => resolve({code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: stdout, err: stderr}))
  })
}

const lineCount = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0)

describe('haproxy render: output, check, reload, exit codes', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('prints to stdout (exit 0), checked by haproxy -c when asked', async () => {
    const r = await render({check: true})
    assert.equal(r.code, RENDER_EXIT.unchanged, r.err)
    assert.equal(r.out, GOLDEN_DEFAULT)
  })

  it('--output: changed (3) then unchanged (0); the reload runs once; the file is not rewritten', async () => {
    const out = join(dir, 'haproxy.cfg')
    const reloads = join(dir, 'reloads')
    const first = await render({output: out, check: true, reloadCmd: `echo reload >> '${reloads}'`})
    assert.equal(first.code, RENDER_EXIT.changed, first.err)
    assert.equal(readFileSync(out, 'utf8'), GOLDEN_DEFAULT)
    assert.equal(lineCount(reloads), 1)
    assert.match(first.err, /updated \(3 member\(s\): node1, node2, node3\); reloaded/)
    const inode = statSync(out).ino
    const second = await render({output: out, check: true, reloadCmd: `echo reload >> '${reloads}'`})
    assert.equal(second.code, RENDER_EXIT.unchanged, second.err)
    assert.equal(statSync(out).ino, inode, 'an unchanged file is not replaced')
    assert.equal(lineCount(reloads), 1, 'no reload without a change')
    // A change replaces the file by rename (new inode) and reloads again.
    const third = await render({output: out, haproxy: {replicaLag: '16MB'}, reloadCmd: `echo reload >> '${reloads}'`})
    assert.equal(third.code, RENDER_EXIT.changed, third.err)
    assert.notEqual(statSync(out).ino, inode)
    assert.match(readFileSync(out, 'utf8'), /HEAD \/replica\?lag=16MB/)
    assert.equal(lineCount(reloads), 2)
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.hactl-')), [], 'no staging file left behind')
  })

  it('--check refusal: nothing installed, HAProxy\'s ALERT shown, exit 1, no reload', async () => {
    const out = join(dir, 'refused.cfg')
    writeFileSync(out, 'previous\n')
    const reloads = join(dir, 'refused-reloads')
    // An unresolvable host passes our own checks but not haproxy -c (it resolves names).
    const r = await render({source: {kind: 'members', values: ['a=no-such-host.invalid:5432,8008']}, output: out, check: true, reloadCmd: `echo x >> '${reloads}'`})
    assert.equal(r.code, RENDER_EXIT.error)
    assert.match(r.err, /haproxy -c refused the rendered configuration.*nothing was installed/)
    assert.match(r.err, /hint: ALERT: .*no-such-host\.invalid/)
    assert.equal(readFileSync(out, 'utf8'), 'previous\n')
    assert.equal(lineCount(reloads), 0)
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.hactl-')), [])
  })

  it('a failing reload command exits 4 with its output; a missing haproxy for --check exits 1', async () => {
    const out = join(dir, 'reload-fails.cfg')
    const r = await render({output: out, reloadCmd: 'echo cannot reload >&2; exit 7'})
    assert.equal(r.code, RENDER_EXIT.reloadFailed)
    assert.match(r.err, /--reload-cmd .* failed \(exit 7\)/)
    assert.match(r.err, /cannot reload/)
    assert.equal(readFileSync(out, 'utf8'), GOLDEN_DEFAULT, 'the file is installed even so')
    const m = await render({check: true, haproxyBin: join(dir, 'no-haproxy-here')})
    assert.equal(m.code, RENDER_EXIT.error)
    assert.match(m.err, /--check: cannot run/)
  })

  it('--dry-run tells whether the file would change (3/0) without touching it', async () => {
    const out = join(dir, 'dry.cfg')
    writeFileSync(out, 'old\n')
    assert.equal((await render({output: out, dryRun: true})).code, RENDER_EXIT.changed)
    assert.equal(readFileSync(out, 'utf8'), 'old\n')
    writeFileSync(out, GOLDEN_DEFAULT)
    assert.equal((await render({output: out, dryRun: true})).code, RENDER_EXIT.unchanged)
  })

  it('bad values and combinations exit 2 with the reason', async () => {
    const cases: Array<[Partial<RenderRunOptions>, RegExp]> = [
      [{haproxy: {primaryPort: 99999}}, /--primary-port: "?99999"? is not a port/],
      [{source: {kind: 'members', values: ['a=10.0.0.1', 'a=10.0.0.2']}}, /duplicate member name "a"/],
      [{haproxy: {replicaEndpoint: 'replicas'}}, /unknown endpoint "replicas"/],
      [{watch: true, output: join(dir, 'w.cfg')}, /--watch follows the DCS/],
      [{source: {kind: 'dcs', etcd: '127.0.0.1:1', scope: 'x'}, watch: true}, /--watch needs --output/],
      [{dryRun: true}, /--dry-run compares with --output/],
      [{template: join(dir, 'missing.mustache')}, /--template .*cannot read it/],
    ]
    for (const [o, re] of cases) {
      const r = await render(o)
      assert.equal(r.code, RENDER_EXIT.usage, `${JSON.stringify(o)}: ${r.err}`)
      assert.match(r.err, re)
    }
  })

  it('--inventory: YAML members render like flags; errors name the file and key', async () => {
    const inv = join(dir, 'inventory.yml')
    writeFileSync(inv, 'members:\n' + SEED.map((s) => {
      const [name, rest] = s.split('=')
      return `  - {name: ${name}, host: ${rest!.split(':')[0]}}\n`
    }).join(''))
    const r = await render({source: {kind: 'inventory', file: inv}})
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, GOLDEN_DEFAULT)
    writeFileSync(inv, 'members:\n  - {name: a, host: 10.0.0.1, port: 0}\n')
    const bad = await render({source: {kind: 'inventory', file: inv}})
    assert.equal(bad.code, RENDER_EXIT.usage)
    assert.match(bad.err, /inventory\.yml: members\[0\]\.port: "?0"? is not a port/)
    writeFileSync(inv, 'members: [\n')
    assert.match((await render({source: {kind: 'inventory', file: inv}})).err, /not valid YAML/)
  })

  it('a user template gets the same model', async () => {
    const t = join(dir, 'servers.mustache')
    writeFileSync(t, '{{#listeners}}{{name}} {{port}} {{path}}:{{#servers}} {{name}}={{address}}{{/servers}}\n{{/listeners}}{{#members}}{{name}} {{apiHost}}:{{apiPort}} {{apiScheme}}\n{{/members}}')
    const r = await render({template: t, haproxy: {replicaTags: ['dc=eu west']}})
    assert.equal(r.code, 0, r.err)
    assert.equal(r.out, [
      'primary 5000 /primary: node1=10.20.61.103:5432 node2=10.20.61.104:5432 node3=10.20.61.105:5432',
      'replicas 5001 /replica?tag_dc=eu%20west: node1=10.20.61.103:5432 node2=10.20.61.104:5432 node3=10.20.61.105:5432',
      'node1 10.20.61.103:8008 http', 'node2 10.20.61.104:8008 http', 'node3 10.20.61.105:8008 http', '',
    ].join('\n'))
  })
})

describe('haproxy render from etcd (one read, and --watch)', () => {
  let etcd: EtcdServer
  let dir: string
  const scope = 'render-test'
  const key = (name: string) => `/service/${scope}/members/${name}`
  const value = (host: string, pg: number, api: number) =>
    JSON.stringify({conn_url: `postgres://${host}:${pg}/postgres`, api_url: `http://${host}:${api}/patroni`, state: 'running', role: 'replica', version: '3.0.2'})

  before(async () => {
    etcd = await EtcdServer.start()
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-dcs-'))
    await etcd.put(key('pg2'), value('127.0.0.2', 5433, 8009))
    await etcd.put(key('pg1'), value('127.0.0.1', 5432, 8008))
    await etcd.put(`/service/${scope}/leader`, 'pg1')
  })
  after(async () => {
    await etcd?.destroy()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('reads members/* of the scope, sorted, like confd', async () => {
    const r = await render({source: {kind: 'dcs', etcd: etcd.endpoint, scope}, check: true})
    assert.equal(r.code, 0, r.err)
    const servers = r.out.split('\n').filter((l) => l.startsWith('    server '))
    assert.deepEqual(servers.slice(0, 2), [
      '    server pg1 127.0.0.1:5432 maxconn 100 check port 8008',
      '    server pg2 127.0.0.2:5433 maxconn 100 check port 8009',
    ])
    const none = await render({source: {kind: 'dcs', etcd: etcd.endpoint, scope: 'no-such-scope'}})
    assert.equal(none.code, RENDER_EXIT.error)
    assert.match(none.err, /no usable member for scope "no-such-scope"/)
  })

  it('--watch re-renders on member changes, installs only what haproxy -c accepts, reloads after each install', async () => {
    const out = join(dir, 'watched.cfg')
    const reloads = join(dir, 'reloads')
    const ac = new AbortController()
    let err = ''
    const done = runHaproxyRender(
      {source: {kind: 'dcs', etcd: etcd.endpoint, scope}, haproxy: {}, output: out, dryRun: false, reloadCmd: `echo r >> '${reloads}'`, watch: true, interval: 60, haproxyBin: HAPROXY_BIN},
      {out: () => {}, err: (s) => (err += s), env: {}, signal: ac.signal},
    )
    try {
      const servers = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l.startsWith('    server ')).map((l) => l.trim().split(' ')[1]) : [])
      await waitFor('the first render', () => servers().join() === 'pg1,pg2,pg1,pg2')
      // The reload runs right after the rename, so it may still be under way.
      await waitFor('the first reload', () => lineCount(reloads) === 1)

      await etcd.put(key('pg3'), value('127.0.0.3', 5434, 8010))
      await waitFor('pg3 to appear', () => servers().join() === 'pg1,pg2,pg3,pg1,pg2,pg3', {timeoutMs: 10_000})
      await waitFor('the second reload', () => lineCount(reloads) === 2)

      // haproxy -c refuses an unresolvable host: the file keeps the last good render.
      const good = readFileSync(out, 'utf8')
      await etcd.put(key('pg0'), value('no-such-host.invalid', 5432, 8008))
      await waitFor('the refusal to be reported', () => /not installed: haproxy -c refused/.test(err), {timeoutMs: 10_000})
      assert.equal(readFileSync(out, 'utf8'), good)
      assert.equal(lineCount(reloads), 2, 'a refused render does not reload')

      await etcd.call('/kv/deleterange', {key: Buffer.from(key('pg0')).toString('base64')})
      await etcd.call('/kv/deleterange', {key: Buffer.from(key('pg2')).toString('base64')})
      await waitFor('pg2 to go', () => servers().join() === 'pg1,pg3,pg1,pg3', {timeoutMs: 10_000})
      await waitFor('the third reload', () => lineCount(reloads) === 3)
    } finally {
      ac.abort()
    }
    assert.equal(await done, 0, err)
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.hactl-')), [])
  })
})

describe('haproxy render --watch from the command line', () => {
  let etcd: EtcdServer
  let dir: string
  before(async () => {
    etcd = await EtcdServer.start()
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-daemon-'))
    await etcd.put('/service/daemon/members/pg1', JSON.stringify({conn_url: 'postgres://127.0.0.1:5432/postgres', api_url: 'http://127.0.0.1:8008/patroni', state: 'running', role: 'primary'}))
  })
  after(async () => {
    await etcd?.destroy()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('runs as a daemon in its second start, same PID, with the malloc setting (src/daemon-start.ts), until SIGTERM', async () => {
    const out = join(dir, 'haproxy.cfg')
    const child = spawn(join(REPO, 'node_modules', '.bin', 'node'), ['--import', 'tsx', join(REPO, 'src', 'cli.ts'), 'haproxy', 'render', '--etcd', etcd.endpoint.replace(/^https?:\/\//, ''), '--scope', 'daemon', '-o', out, '--no-check', '--reload-cmd', '', '--watch'], {
      cwd: REPO,
      env: {PATH: process.env.PATH ?? '', HOME: tmpdir()},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr!.on('data', (b: Buffer) => (err += b))
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    try {
      await waitFor('the first render', () => existsSync(out) && readFileSync(out, 'utf8').includes('server pg1 127.0.0.1:5432'), {timeoutMs: 30_000})
      const env = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0')
      assert.ok(env.includes(`GLIBC_TUNABLES=${TRIM_TUNABLE}`), env.join(' '))
      assert.ok(env.includes(`${TUNABLES_MARK}=unset`), env.join(' '))
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0, err)
  })
})

describe('haproxy render CLI', () => {
  it('--help describes every flag', async () => {
    const {default: HaproxyRender} = await import('../../../src/commands/haproxy/render')
    const r = await cli(['--help'])
    assert.equal(r.code, 0, r.err)
    for (const [name, flag] of Object.entries(HaproxyRender.flags)) {
      if ((flag as {hidden?: boolean}).hidden) continue
      assert.ok(r.out.includes(`--${(flag as {allowNo?: boolean}).allowNo ? `[no-]${name}` : name}`), `--help lacks --${name}`)
      assert.ok(((flag as {description?: string}).description ?? '').length > 3, `--${name} has no description`)
    }
    assert.match(r.out, /Exit codes: 0 unchanged/)
  })

  it('exit codes for CI: 3 changed, 0 unchanged, 2 usage; --print-template', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-render-cli-'))
    try {
      const out = join(dir, 'h.cfg')
      const args = [...SEED.flatMap((m) => ['--member', m]), '-o', out, '--reload-cmd', '']
      assert.equal((await cli(args)).code, 3)
      assert.equal(readFileSync(out, 'utf8'), GOLDEN_DEFAULT)
      assert.equal((await cli(args)).code, 0)
      const bad = await cli(['--member', 'a=10.0.0.1:70000'])
      assert.equal(bad.code, 2)
      assert.match(bad.err, /70000/)
      const both = await cli(['--member', 'a=10.0.0.1', '--inventory', 'x.yml'])
      assert.equal(both.code, 2)
      assert.match(both.err, /pick one member source/)
      const t = await cli(['--print-template'])
      assert.equal(t.out, DEFAULT_TEMPLATE)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
