/**
 * Real clients against the REST API: Debian's HAProxy health-checking it (OPTIONS checks that
 * close right after the status line), and Debian's patronictl 3.0.2 reading GET /patroni and
 * posting to it through a member key in a real etcd.
 */
import assert from 'node:assert/strict'
import {spawn, execFile, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import * as net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, test} from 'node:test'
import {startRestApi, type RestApi} from '../../../src/api/server'
import type {ApiLog, NodeSnapshot} from '../../../src/api/types'
import {EtcdServer} from '../../harness/etcd'
import {freePort, waitFor} from '../../harness/ports'
import {leaderSnapshot, replicaSnapshot} from '../../unit/api/snapshots'

const run = promisify(execFile)

const warnings: string[] = []
const log: ApiLog = {
  debug: () => {},
  info: () => {},
  warning: (m) => warnings.push(m),
  error: (m) => warnings.push(m),
}

describe('HAProxy health checks against the REST API', () => {
  let api: RestApi
  let haproxy: ChildProcess | undefined
  let dir = ''
  const state: {snap: NodeSnapshot} = {snap: leaderSnapshot({nextRunMs: Date.now()})}

  before(async () => {
    api = await startRestApi({settings: {listen: {host: '127.0.0.1', port: 0}}, source: {snapshot: () => state.snap}, log})
    dir = mkdtempSync(join(tmpdir(), 'hactl-haproxy-'))
    const front = await freePort()
    const cfg = `global
  stats socket ${join(dir, 'stats.sock')} mode 600 level admin
defaults
  mode tcp
  timeout connect 1s
  timeout client 5s
  timeout server 5s
listen primary
  bind 127.0.0.1:${front}
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 100ms fall 2 rise 1
  server pg1 127.0.0.1:${api.address.port} check
listen replicas
  bind 127.0.0.1:${await freePort()}
  option httpchk GET /replica?lag=1MB
  http-check expect status 200
  default-server inter 100ms fall 2 rise 1
  server pg1 127.0.0.1:${api.address.port} check
`
    writeFileSync(join(dir, 'haproxy.cfg'), cfg)
    await run('/usr/sbin/haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')])
    haproxy = spawn('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], {stdio: 'ignore'})
  })

  after(async () => {
    if (haproxy && haproxy.exitCode === null) {
      const exited = new Promise((r) => haproxy!.once('exit', r))
      haproxy.kill('SIGTERM')
      await exited
    }
    await api.close()
    rmSync(dir, {recursive: true, force: true})
  })

  async function status(backend: string): Promise<string | undefined> {
    const out = await new Promise<string>((resolve, reject) => {
      const s = net.connect(join(dir, 'stats.sock'), () => s.end('show stat\n'))
      let got = ''
      s.on('data', (d) => (got += d))
      s.on('end', () => resolve(got))
      s.on('error', reject)
    })
    const line = out.split('\n').find((l) => l.startsWith(`${backend},pg1,`))
    return line?.split(',')[17]
  }

  test('the primary check follows the node: UP as leader, DOWN as replica, and back', async () => {
    await waitFor('primary backend UP', async () => (await status('primary')) === 'UP', {timeoutMs: 10_000})
    assert.equal(await waitFor('replicas backend DOWN', async () => (await status('replicas'))?.startsWith('DOWN'), {timeoutMs: 10_000}), true)
    state.snap = replicaSnapshot({nextRunMs: Date.now()})
    await waitFor('primary backend DOWN', async () => (await status('primary'))?.startsWith('DOWN'), {timeoutMs: 10_000})
    await waitFor('replicas backend UP', async () => (await status('replicas')) === 'UP', {timeoutMs: 10_000})
    state.snap = leaderSnapshot({nextRunMs: Date.now()})
    await waitFor('primary backend UP again', async () => (await status('primary')) === 'UP', {timeoutMs: 10_000})
    // Dozens of checks have run by now; none of them produced a warning or an error.
    assert.deepEqual(warnings, [])
  })
})

describe('patronictl 3.0.2 against the REST API', () => {
  let etcd: EtcdServer
  let api: RestApi
  let dir = ''
  const posted: string[] = []

  before(async () => {
    etcd = await EtcdServer.start()
    api = await startRestApi({
      settings: {listen: {host: '127.0.0.1', port: 0}},
      source: {snapshot: () => leaderSnapshot({nextRunMs: Date.now()})},
      handlers: {
        async restart(body) {
          posted.push(JSON.stringify(body))
          return {status: 200, body: 'restarted successfully'}
        },
      },
      log,
    })
    const member = {conn_url: 'postgres://127.0.0.1:5999/postgres', api_url: `http://127.0.0.1:${api.address.port}/patroni`, state: 'running', role: 'master', version: '3.3.1'}
    await etcd.put('/service/demo/members/pg1', JSON.stringify(member))
    await etcd.put('/service/demo/leader', 'pg1')
    await etcd.put('/service/demo/initialize', '7711154045888340274')
    dir = mkdtempSync(join(tmpdir(), 'hactl-ctl-'))
    writeFileSync(join(dir, 'ctl.yml'), `scope: demo\netcd3:\n  hosts: ${etcd.endpoint.replace(/^https?:\/\//, '')}\n`)
  })

  after(async () => {
    await api.close()
    await etcd.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  const ctl = (...args: string[]) => run('/usr/bin/patronictl', ['-c', join(dir, 'ctl.yml'), ...args], {timeout: 30_000})

  test('`patronictl version` reads patroni.version from GET /patroni', async () => {
    const {stdout} = await ctl('version', 'demo', 'pg1')
    assert.match(stdout, /pg1: Patroni 3\.3\.1 PostgreSQL 15\.20/)
  })

  test('`patronictl restart` posts to the handler; `reload` without a handler reports the 503 text', async () => {
    const r = await ctl('restart', 'demo', 'pg1', '--force')
    assert.match(r.stdout, /Success: restart on member pg1/)
    assert.equal(posted.length, 1)
    const reload = await ctl('reload', 'demo', 'pg1', '--force')
    assert.match(reload.stdout, /Failed: reload for member pg1, status code=503, \(POST \/reload is not supported by this hactl node yet\)/)
  })

  test("a Patroni 3.0.2 peer's leader-race reader (ha._MemberStatus) accepts our GET /patroni", async () => {
    // The same code path Patroni runs on every peer's answer in is_healthiest_node / is_failover_possible.
    const script = [
      'import json, sys, urllib.request',
      'from patroni.ha import _MemberStatus',
      'for url in sys.argv[1:]:',
      '    st = _MemberStatus.from_api_response(None, json.loads(urllib.request.urlopen(url, timeout=5).read()))',
      '    print(json.dumps([st.reachable, st.in_recovery, st.timeline, st.wal_position, st.tags, st.watchdog_failed, st.failover_limitation()]))',
    ].join('\n')
    const replica = await startRestApi({
      settings: {listen: {host: '127.0.0.1', port: 0}},
      source: {snapshot: () => replicaSnapshot({effectiveTags: {nofailover: true}, watchdogFailed: true})},
      log,
    })
    try {
      // Debian's interpreter: the one patroni is installed for.
      const {stdout} = await run('/usr/bin/python3', ['-c', script, `http://127.0.0.1:${api.address.port}/patroni`, `http://127.0.0.1:${replica.address.port}/patroni`], {cwd: tmpdir()})
      const [leader, rep] = stdout.trim().split('\n').map((l) => JSON.parse(l))
      assert.deepEqual(leader, [true, false, 2, false, {}, false, null])
      assert.deepEqual(rep, [true, true, 2, 67109424, {nofailover: true}, true, 'not allowed to promote'])
    } finally {
      await replica.close()
    }
  })
})
