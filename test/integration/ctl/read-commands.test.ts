/**
 * hactl's read commands next to Debian's real patronictl 3.0.2, both pointed at the same real
 * 3-node Patroni 3.0.2 cluster. Outputs must be equal, except where hactl deliberately prints what
 * patronictl 3.3.1 prints (the system identifier in the title, the `hactl version` line).
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {type CtlIo} from '../../../src/ctl/read-commands'
import {runCtl} from '../../../src/wiring/ctl'
import {hoistGlobalFlags} from '../../../src/ctl/argv'
import {EtcdServer} from '../../harness/etcd'
import {PatroniCluster} from '../../harness/patroni'
import {freePort, waitFor} from '../../harness/ports'
import {writeOwnedFile} from '../../harness/postgres-bin'
import {ownedTempDir} from '../../harness/unprivileged'

let etcd: EtcdServer
let cluster: PatroniCluster
let dir: string
let cfg: string

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** `hactl <argv>` in-process, through the same argv handling as src/cli.ts. */
async function hactl(argv: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const io: CtlIo = {out: (s) => (stdout += s), err: (s) => (stderr += s), env, isTTY: false, now: () => Date.now()}
  const [id, ...rest] = hoistGlobalFlags(argv)
  const code = await runCtl(id!, rest, io)
  return {code, stdout, stderr}
}

async function patronictl(args: string[]): Promise<Run> {
  const r = await cluster.patronictl(args)
  return {code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr}
}

/** All but the first line: 3.0.2 writes ` Cluster: name ` over it, hactl (like 3.3.1) adds the sysid. */
function untitled(text: string): string {
  return text.split('\n').slice(1).join('\n')
}

/** PrettyTable's top border (same as the rule under the header) with patronictl's title written over it. */
function titledTop(table: string, title: string): string {
  const rule = table.split('\n')[2]!
  return rule[0] + title + rule.slice(1 + title.length)
}

/** Both sides read the cluster at slightly different moments: retry until one equal pair is seen. */
async function sameAs(ours: () => Promise<Run>, theirs: () => Promise<Run>, normalize: (s: string) => string = (s) => s): Promise<Run> {
  let last = ''
  try {
    return await waitFor(
      'hactl and patronictl to print the same',
      async () => {
        const [a, b] = await Promise.all([ours(), theirs()])
        assert.equal(a.code, 0, a.stderr)
        assert.equal(b.code, 0, b.stderr)
        last = `hactl:\n${a.stdout}\npatronictl:\n${b.stdout}`
        return normalize(a.stdout) === normalize(b.stdout) ? a : undefined
      },
      {timeoutMs: 20_000, intervalMs: 300},
    )
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${last}`)
  }
}

before(async () => {
  etcd = await EtcdServer.start()
  cluster = await PatroniCluster.start({etcd, scope: 'ctlread', nodes: 3, tags: {pg3: {nofailover: true}}})
  // A switchover gives the cluster a history line.
  const leader = await cluster.waitForLeader()
  const candidate = cluster.nodes.map((n) => n.name).find((n) => n !== leader && n !== 'pg3')!
  const r = await cluster.patronictl(['switchover', '--leader', leader, '--candidate', candidate, '--force', 'ctlread'])
  assert.equal(r.code, 0, r.stderr + r.stdout)
  await cluster.waitForLeader({not: leader})
  await cluster.waitForReplicasStreaming(2)
  cfg = cluster.nodes[0]!.configPath
  dir = ownedTempDir('hactl-ctl-')
})

after(async () => {
  await cluster?.destroy()
  await etcd?.destroy()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('read commands against a real Patroni 3.0.2 cluster', () => {
  test('list -f json has the same rows and fields as patronictl', async () => {
    const r = await sameAs(() => hactl(['-c', cfg, 'list', '-f', 'json']), () => patronictl(['list', '-f', 'json']))
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>
    assert.equal(rows.length, 3)
    assert.deepEqual(rows.find((x) => x['Member'] === 'pg3')!['Tags'], {nofailover: true})
    assert.equal(rows.filter((x) => x['Role'] === 'Leader').length, 1)
  })

  test('list (pretty, yaml, tsv) and topology print what patronictl prints, title aside', async () => {
    const init = await etcd.get(`${cluster.prefix}initialize`)
    const r = await sameAs(() => hactl(['list', '-c', cfg]), () => patronictl(['list']), untitled)
    assert.equal(r.stdout.split('\n')[0], titledTop(r.stdout, ` Cluster: ctlread (${init}) `))
    const t = await sameAs(() => hactl(['-c', cfg, 'topology']), () => patronictl(['topology']), untitled)
    assert.equal(t.stdout.split('\n')[0], titledTop(t.stdout, ` Cluster: ctlread (${init}) `))
    assert.match(t.stdout, /\| \+ pg\d /)
    await sameAs(() => hactl(['-c', cfg, 'list', '-f', 'yaml']), () => patronictl(['list', '-f', 'yaml']))
    await sameAs(() => hactl(['-c', cfg, 'list', '-f', 'tsv']), () => patronictl(['list', '-f', 'tsv']))
  })

  test('history, show-config and dsn are identical', async () => {
    const h = await sameAs(() => hactl(['-c', cfg, 'history']), () => patronictl(['history']))
    assert.match(h.stdout, /\|  1 \| +\d+ \| .* \| pg\d +\|/)
    await sameAs(() => hactl(['-c', cfg, 'history', '-f', 'json']), () => patronictl(['history', '-f', 'json']))
    const sc = await sameAs(() => hactl(['-c', cfg, 'show-config']), () => patronictl(['show-config']))
    assert.match(sc.stdout, /^loop_wait: 2\n/)
    const leader = await sameAs(() => hactl(['-c', cfg, 'dsn']), () => patronictl(['dsn']))
    assert.match(leader.stdout, /^host=127\.0\.0\.1 port=\d+\n$/)
    await sameAs(() => hactl(['-c', cfg, 'dsn', '-r', 'replica']), () => patronictl(['dsn', '-r', 'replica']))
    await sameAs(() => hactl(['-c', cfg, 'dsn', '-m', 'pg3', 'ctlread']), () => patronictl(['dsn', '-m', 'pg3', 'ctlread']))
    const both = await hactl(['-c', cfg, 'dsn', '-r', 'any', '-m', 'pg1'])
    assert.deepEqual([both.code, both.stderr], [1, 'Error: --role and --member are mutually exclusive options\n'])
    const none = await hactl(['-c', cfg, 'dsn', '-m', 'pg9'])
    assert.deepEqual([none.code, none.stderr], [1, 'Error: Can not find a suitable member\n'])
  })

  test('version asks every member over REST', async () => {
    const ours = await hactl(['-c', cfg, 'version', 'ctlread'])
    const theirs = await patronictl(['version', 'ctlread'])
    assert.equal(ours.code, 0, ours.stderr)
    assert.match(ours.stdout, /^hactl version \d+\.\d+\.\d+ \(Patroni \d+\.\d+\.\d+\)\n\n/)
    assert.equal(ours.stdout.split('\n').slice(1).join('\n'), theirs.stdout.split('\n').slice(1).join('\n'))
    assert.match(ours.stdout, /pg2: Patroni 3\.0\.2 PostgreSQL 15\.\d+\n/)
    const one = await hactl(['-c', cfg, 'version', 'ctlread', 'pg2'])
    assert.equal(one.stdout.split('\n').filter((l) => l.startsWith('pg')).length, 1)
    assert.equal((await hactl(['-c', cfg, 'version'])).stdout, ours.stdout.split('\n')[0] + '\n')
  })

  test('-d/--dcs-url and PATRONICTL_CONFIG_FILE: a file with only the scope is enough', async () => {
    const scopeOnly = join(dir, 'acme.yml')
    writeOwnedFile(scopeOnly, 'scope: ctlread\n', 0o644)
    const theirs = () => patronictl(['list', '-f', 'json'])
    await sameAs(() => hactl(['-c', scopeOnly, '-d', `etcd3://${etcd.endpoint}`, 'list', '-f', 'json']), theirs)
    await sameAs(() => hactl(['list', '-f', 'json'], {PATRONICTL_CONFIG_FILE: scopeOnly, DCS_URL: `etcd3://${etcd.endpoint}/service`}), theirs)
    const v2 = await hactl(['-c', scopeOnly, '-d', `etcd://${etcd.endpoint}`, 'list'])
    assert.equal(v2.code, 1)
    assert.match(v2.stderr, /the etcd v2 API is not supported; hactl speaks etcd v3 only/)
  })

  test('errors: missing config file, unreachable etcd, no DCS, no scope', async () => {
    const missing = join(dir, 'nope.yml')
    const ours = await hactl(['-c', missing, 'list'])
    assert.deepEqual([ours.code, ours.stdout, ours.stderr], [1, '', `Error: Provided config file ${missing} not existing or no read rights. Check the -c/--config-file parameter\n`])

    const closed = await freePort()
    const dead = join(dir, 'dead.yml')
    writeFileSync(dead, `scope: ctlread\nretry_timeout: 2\netcd3:\n  hosts: [127.0.0.1:${closed}]\n`)
    const t0 = Date.now()
    const down = await hactl(['-c', dead, 'list'])
    const took = Date.now() - t0
    assert.equal(down.code, 1, down.stderr)
    assert.match(down.stderr, new RegExp(`^Error: .*127\\.0\\.0\\.1:${closed}`))
    assert.ok(took >= 1500 && took < 6000, `gave up after ${took} ms with retry_timeout 2 s`)

    const noDcs = join(dir, 'nodcs.yml')
    writeFileSync(noDcs, 'scope: ctlread\n')
    const nd = await hactl(['-c', noDcs, 'show-config'])
    assert.equal(nd.code, 1)
    assert.match(nd.stderr, /^Error: Can not find suitable configuration of distributed configuration store\n  hint: .*etcd3/)

    const noScope = join(dir, 'noscope.yml')
    writeFileSync(noScope, `etcd3:\n  hosts: [${etcd.endpoint}]\n`)
    const ns = await hactl(['-c', noScope, 'list'])
    assert.deepEqual([ns.code, ns.stdout], [0, ''])
    assert.match(ns.stderr, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - WARNING - Listing members: No cluster names were provided\n$/)
    const nsh = await hactl(['-c', noScope, 'history'])
    assert.equal(nsh.code, 1)
    assert.match(nsh.stderr, /no cluster name given and the configuration has no scope/)
    assert.equal((await hactl(['-c', noScope, 'history', 'ctlread', '-f', 'json'])).code, 0)
  })
})

describe('the executable entry', () => {
  function spawnHactl(argv: string[]) {
    const bin = existsSync('dist/hactl') ? ['dist/hactl'] : [process.execPath, '--import', 'tsx', 'src/cli.ts']
    return spawn(bin[0]!, [...bin.slice(1), ...argv], {stdio: ['ignore', 'pipe', 'pipe']})
  }

  test('`hactl -c FILE list -f json` (global option first) equals patronictl', async () => {
    await sameAs(
      () =>
        new Promise<Run>((resolve) => {
          const c = spawnHactl(['-c', cfg, 'list', '-f', 'json'])
          let stdout = ''
          let stderr = ''
          c.stdout.on('data', (d) => (stdout += d))
          c.stderr.on('data', (d) => (stderr += d))
          c.on('close', (code) => resolve({code: code ?? -1, stdout, stderr}))
        }),
      () => patronictl(['list', '-f', 'json']),
    )
  })

  test('-w refreshes until Ctrl-C, which ends it like click (Aborted!, exit 1)', async () => {
    const c = spawnHactl(['-c', cfg, 'list', '-t', '-w', '0.2'])
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d) => (stdout += d))
    c.stderr.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => c.on('close', (code) => resolve(code)))
    try {
      await waitFor('three refreshes', () => (stdout.match(/\+ Cluster: ctlread /g) ?? []).length >= 3, {timeoutMs: 20_000})
    } finally {
      c.kill('SIGINT')
    }
    assert.equal(await exited, 1)
    assert.equal(stderr, 'Aborted!\n')
    assert.match(stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\+ Cluster: ctlread /)
    assert.ok(!stdout.includes('\x1b['), 'no screen clearing when stdout is not a terminal')
  })
})
