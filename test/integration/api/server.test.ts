/**
 * The REST API server on 127.0.0.1 with a plain-data AgentStateSource, driven over real sockets
 * with node:http / node:https / node:net: endpoint codes, HEAD/OPTIONS, access control, malformed
 * requests, HAProxy-style resets, TLS with a throwaway certificate, live reconfiguration.
 */
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import * as net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'
import {startRestApi, type RestApi, type RestApiSettings} from '../../../src/api/server'
import {buildStatusDocument} from '../../../src/api/status'
import {COMMIT, VERSION} from '../../../src/build-info'
import type {ActionHandlers, ApiLog, NodeSnapshot, SnapshotRequest} from '../../../src/api/types'
import {isHactlError} from '../../../src/errors'
import {waitFor} from '../../harness/ports'
import {fixture, fixtureCluster, leaderSnapshot, replicaSnapshot, with41MemberKeys} from '../../unit/api/snapshots'

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

function request(
  port: number,
  method: string,
  path: string,
  opts: {body?: string; headers?: Record<string, string>; tls?: {ca: string}; chunked?: boolean} = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {...opts.headers}
    if (opts.body !== undefined && !opts.chunked) headers['Content-Length'] = String(Buffer.byteLength(opts.body))
    const mod = opts.tls ? https : http
    const req = mod.request({host: '127.0.0.1', port, method, path, headers, agent: false, ca: opts.tls?.ca}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (opts.body !== undefined) req.write(opts.body)
    req.end()
  })
}

const basic = (u: string, p: string) => ({Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`})

class CapturingLog implements ApiLog {
  lines: Array<[string, string]> = []
  debug(m: string) {
    this.lines.push(['DEBUG', m])
  }
  info(m: string) {
    this.lines.push(['INFO', m])
  }
  warning(m: string) {
    this.lines.push(['WARNING', m])
  }
  error(m: string) {
    this.lines.push(['ERROR', m])
  }
  above(level: 'INFO' | 'WARNING') {
    const rank = {DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3} as Record<string, number>
    return this.lines.filter(([l]) => rank[l]! >= rank[level]!)
  }
}

/** The fake agent: plain data the test swaps between requests. */
const state: {snap: NodeSnapshot; asked: SnapshotRequest[]} = {snap: leaderSnapshot(), asked: []}
const source = {
  snapshot: (req: SnapshotRequest) => {
    state.asked.push(req)
    return state.snap
  },
}

const handlers: ActionHandlers = {
  async restart(body) {
    return {status: 200, body: `restarted successfully ${JSON.stringify(body)}`}
  },
  async reload() {
    return {status: 202, body: 'reload scheduled'}
  },
  async patchConfig(body) {
    return {status: 200, body: {...fixture('rest-config.json'), ...body}}
  },
}

const settings = (over: Partial<RestApiSettings> = {}): RestApiSettings => ({
  listen: {host: '127.0.0.1', port: 0},
  authentication: {username: 'admin', password: 'topsecret'},
  http_extra_headers: {'X-Extra': 'yes'},
  ...over,
})

describe('REST API over HTTP', () => {
  let api: RestApi
  const log = new CapturingLog()
  let port = 0

  before(async () => {
    api = await startRestApi({settings: settings(), source, handlers, log, patroniVersion: '3.3.1'})
    port = api.address.port
    assert.equal(api.address.protocol, 'http')
  })
  after(() => api.close())

  test('health checks, /patroni and /metrics ask the agent for PostgreSQL now; liveness and readiness take the last cycle', async () => {
    state.snap = leaderSnapshot({nextRunMs: Date.now()})
    const asked = async (method: string, path: string) => {
      state.asked = []
      await request(port, method, path)
      return state.asked.map((q) => `${q.retry ? 'retry' : 'once'}/${q.live ?? q.retry ? 'live' : 'cycle'}`)
    }
    for (const path of ['/primary', '/replica', '/', '/quorum', '/read-only', '/health']) assert.deepEqual(await asked('GET', path), ['once/live'], path)
    assert.deepEqual(await asked('OPTIONS', '/primary'), ['once/live'], 'OPTIONS /primary')
    assert.deepEqual(await asked('GET', '/patroni'), ['retry/live'])
    assert.deepEqual(await asked('GET', '/metrics'), ['retry/live'])
    assert.deepEqual(await asked('GET', '/liveness'), ['once/cycle'])
    assert.deepEqual(await asked('GET', '/readiness'), ['once/cycle'])
  })

  test('every GET endpoint answers with the code patroni/api.py do_GET gives a leader', async () => {
    state.snap = leaderSnapshot({nextRunMs: Date.now()})
    const want: Record<string, number> = {
      '/': 200, '/primary': 200, '/master': 200, '/leader': 200, '/read-write': 200, '/read-only': 200, '/replica': 503,
      '/standby-leader': 503, '/standby_leader': 503, '/synchronous': 503, '/sync': 503, '/asynchronous': 503, '/async': 503,
      '/health': 200, '/liveness': 200, '/readiness': 200, '/patroni': 200, '/cluster': 200, '/history': 200, '/config': 200,
      '/metrics': 200, '/failsafe': 502, '/foo': 503,
    }
    for (const [path, code] of Object.entries(want)) {
      const r = await request(port, 'GET', path)
      assert.equal(r.status, code, path)
      assert.equal(r.headers.connection, 'close', path)
    }
  })

  test('replica codes, and the status document in the body of health checks', async () => {
    state.snap = replicaSnapshot()
    const r = await request(port, 'GET', '/replica?lag=1MB&replication_state=streaming')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-type'], 'application/json')
    assert.equal(r.headers['x-extra'], 'yes')
    assert.deepEqual(JSON.parse(r.body), buildStatusDocument(state.snap, {patroniVersion: '3.3.1', primaryRoleName: 'master', hactl: {version: VERSION, commit: COMMIT}}))
    assert.equal((await request(port, 'GET', '/primary')).status, 503)
    assert.equal((await request(port, 'GET', '/async')).status, 200)
  })

  test('/patroni, /cluster, /history, /config, /metrics bodies', async () => {
    state.snap = leaderSnapshot()
    const p = JSON.parse((await request(port, 'GET', '/patroni')).body)
    assert.equal(p.role, 'master')
    assert.deepEqual(p.patroni, {version: '3.3.1', scope: 'demo', name: 'pg1'})
    // hactl names itself beside the Patroni version it speaks, in a key Patroni does not have.
    assert.deepEqual(p.hactl, {version: VERSION, commit: COMMIT})
    assert.match(VERSION, /^\d+\.\d+\.\d+/)
    assert.deepEqual(p.xlog, {location: 67109424})
    const c = JSON.parse((await request(port, 'GET', '/cluster')).body)
    assert.deepEqual(c, {...with41MemberKeys(fixture('rest-cluster.json')), scope: 'demo'})
    assert.deepEqual(JSON.parse((await request(port, 'GET', '/history')).body), fixture('rest-history.json'))
    assert.deepEqual(JSON.parse((await request(port, 'GET', '/config')).body), fixture('rest-config.json'))
    const m = await request(port, 'GET', '/metrics')
    assert.equal(m.headers['content-type'], 'text/plain')
    assert.match(m.body, /^patroni_primary\{scope="demo",name="pg1"\} 1$/m)
    // Patroni 4.x's additions: quorum_standby on every node, 4.1's postgres_state (5 = running), timeline a gauge.
    assert.match(m.body, /^patroni_quorum_standby\{scope="demo",name="pg1"\} 0$/m)
    assert.match(m.body, /^# Values: 0=initdb, .*, 14=crashed\n# TYPE patroni_postgres_state gauge\npatroni_postgres_state\{scope="demo",name="pg1"\} 5\n$/m)
    assert.match(m.body, /^# TYPE patroni_postgres_timeline gauge$/m)
    // No cluster view and no fresh reader: 503 with a reason, not a crash.
    state.snap = leaderSnapshot({cluster: null})
    const h = await request(port, 'GET', '/history')
    assert.equal(h.status, 503)
    assert.match(h.body, /DCS is not accessible/)
  })

  test("/cluster carries Patroni 4.1's receive/replay LSN and lag keys as 4.1.4 serves them", async () => {
    // test/fixtures/patroni-4.1: members with receive_lsn/replay_lsn, with only xlog_location, and without positions.
    const scenario = JSON.parse(readFileSync('test/fixtures/patroni-4.1/scenario.json', 'utf8')) as Record<string, string>
    state.snap = leaderSnapshot({cluster: fixtureCluster(scenario)})
    const r = await request(port, 'GET', '/cluster')
    assert.equal(r.status, 200)
    const {scope, ...rest} = JSON.parse(r.body) as Record<string, unknown>
    assert.equal(scope, 'demo')
    assert.deepEqual(rest, JSON.parse(readFileSync('test/fixtures/patroni-4.1/rest-cluster.json', 'utf8')))
    // The keys in 4.1's order, after the 3.x ones (3.x readers look the old ones up by name).
    const pg2 = (rest['members'] as Array<Record<string, unknown>>).find((m) => m['name'] === 'pg2')!
    assert.deepEqual(Object.keys(pg2).slice(-6), ['receive_lag', 'receive_lsn', 'replay_lag', 'replay_lsn', 'lag', 'lsn'])
  })

  test("/readiness takes Patroni 4.1's lag and mode; without them it answers as 3.x", async () => {
    const r = replicaSnapshot()
    const lagging = {...r, postgres: {...r.postgres!, wal: {kind: 'replica' as const, receivedLocation: 67109424, replayedLocation: 67109424 - 5000, replayedTimestamp: null, paused: false}}}
    state.snap = lagging
    const code = async (path: string) => (await request(port, 'GET', path)).status
    assert.equal(await code('/readiness'), 200)
    assert.equal(await code('/readiness?lag=4999'), 503)
    assert.equal(await code('/readiness?lag=5000'), 200)
    assert.equal(await code('/readiness?lag=1kB&mode=write'), 200, 'everything received')
    assert.equal(await code('/readiness?lag=1kB&mode=apply'), 503)
    assert.equal(await code('/readiness?lag=lots'), 400)
    state.snap = {...r, postgres: {...r.postgres!, replicationState: 'in archive recovery'}}
    assert.equal(await code('/readiness'), 200)
    assert.equal(await code('/readiness?mode=apply'), 503, 'not streaming')
  })

  test('HEAD and OPTIONS return the status line only; HEAD /liveness is a generic path (503)', async () => {
    state.snap = leaderSnapshot()
    for (const [method, path, code] of [['HEAD', '/primary', 200], ['OPTIONS', '/primary', 200], ['OPTIONS', '/replica', 503], ['HEAD', '/liveness', 503], ['OPTIONS', '/replica?lag=abc', 400]] as const) {
      const r = await request(port, method, path)
      assert.equal(r.status, code, `${method} ${path}`)
      assert.equal(r.body, '')
      assert.equal(r.headers['content-type'], undefined)
    }
    const live = await request(port, 'GET', '/liveness')
    assert.equal(live.body, '')
    assert.equal(live.headers['content-type'], undefined)
  })

  test('/liveness turns 503 when the HA loop is overdue; a throwing source gives 503', async () => {
    state.snap = leaderSnapshot({nextRunMs: Date.now() - 3600_000})
    assert.equal((await request(port, 'GET', '/liveness')).status, 503)
    const broken = await startRestApi({settings: settings(), source: {snapshot: () => { throw new Error('agent not ready') }}, log: new CapturingLog()})
    try {
      const r = await request(broken.address.port, 'GET', '/patroni')
      assert.equal(r.status, 503)
      assert.match(r.body, /agent not ready/)
      assert.equal((await request(broken.address.port, 'HEAD', '/primary')).status, 503)
    } finally {
      await broken.close()
    }
  })

  test('unsafe methods need Basic auth (401 with WWW-Authenticate), then reach the handler', async () => {
    const none = await request(port, 'POST', '/restart')
    assert.equal(none.status, 401)
    assert.equal(none.body, 'no auth header received')
    assert.equal(none.headers['www-authenticate'], 'Basic realm="Patroni"')
    const wrong = await request(port, 'POST', '/restart', {headers: basic('admin', 'nope')})
    assert.equal(wrong.status, 401)
    assert.equal(wrong.body, 'not authenticated')
    const ok = await request(port, 'POST', '/restart', {headers: basic('admin', 'topsecret'), body: '{"restart_pending":true}'})
    assert.equal(ok.status, 200)
    assert.equal(ok.body, 'restarted successfully {"restart_pending":true}')
    assert.equal(ok.headers['content-type'], 'text/html')
    // Optional body: none at all is {}.
    assert.equal((await request(port, 'POST', '/restart', {headers: basic('admin', 'topsecret')})).body, 'restarted successfully {}')
    const patched = await request(port, 'PATCH', '/config', {headers: basic('admin', 'topsecret'), body: '{"ttl":30}'})
    assert.equal(patched.status, 200)
    assert.equal(JSON.parse(patched.body).ttl, 30)
    assert.equal((await request(port, 'POST', '/reload', {headers: basic('admin', 'topsecret')})).status, 202)
  })

  test('unsafe endpoints without a handler: 503 with a clear text, never success; unknown routes 501', async () => {
    const auth = basic('admin', 'topsecret')
    const sw = await request(port, 'POST', '/switchover', {headers: auth, body: '{"leader":"pg1","candidate":"pg2"}'})
    assert.equal(sw.status, 503)
    assert.equal(sw.body, 'POST /switchover is not supported by this hactl node yet')
    assert.equal((await request(port, 'DELETE', '/switchover', {headers: auth})).status, 503)
    assert.equal((await request(port, 'POST', '/reinitialize', {headers: auth})).status, 503)
    assert.equal((await request(port, 'PUT', '/config', {headers: auth, body: '{"ttl":30}'})).status, 503)
    // Auth is checked before anything is revealed.
    assert.equal((await request(port, 'POST', '/switchover', {body: '{"leader":"pg1"}'})).status, 401)
    for (const [method, path] of [['POST', '/foo'], ['DELETE', '/patroni'], ['PUT', '/'], ['PATCH', '/cluster']] as const) {
      const r = await request(port, method, path, {headers: auth})
      assert.equal(r.status, 501, `${method} ${path}`)
    }
  })

  test('malformed requests get 4xx: bad JSON, empty object, no length, huge body, bad query, bad method', async () => {
    const auth = basic('admin', 'topsecret')
    assert.equal((await request(port, 'PATCH', '/config', {headers: auth, body: '{not json'})).status, 400)
    assert.equal((await request(port, 'PATCH', '/config', {headers: auth, body: '{}'})).status, 400)
    assert.equal((await request(port, 'PATCH', '/config', {headers: auth, body: '[1]'})).status, 400)
    assert.equal((await request(port, 'POST', '/restart', {headers: auth, body: '"x"'})).status, 400)
    assert.equal((await request(port, 'PATCH', '/config', {headers: auth, body: '{"ttl":30}', chunked: true})).status, 411)
    const huge = await request(port, 'PATCH', '/config', {headers: auth, body: `{"x":"${'a'.repeat(2 * 1024 * 1024)}"}`}).catch((e: Error) => e)
    // The server answers 413 without reading 2 MiB; the client may see the reset instead.
    if (!(huge instanceof Error)) assert.equal(huge.status, 413)
    const lag = await request(port, 'GET', '/replica?lag=abc')
    assert.equal(lag.status, 400)
    assert.match(lag.body, /^lag: "abc" is not a size/)
    const raw = await rawExchange(port, 'BREW /coffee HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.match(raw, /^HTTP\/1\.1 (400|501) /)
    const garbage = await rawExchange(port, '\x16\x03\x01 not http at all\r\n\r\n')
    assert.match(garbage, /^HTTP\/1\.1 (400|501) /)
    // Still alive.
    assert.equal((await request(port, 'GET', '/patroni')).status, 200)
  })

  test('HAProxy-style checks that reset right after the status line never disturb the server', async () => {
    state.snap = leaderSnapshot()
    const before = log.above('WARNING').length
    const probe = (kind: number) =>
      new Promise<void>((resolve) => {
        const sock = net.connect({host: '127.0.0.1', port})
        sock.on('error', () => resolve())
        sock.on('close', () => resolve())
        sock.on('connect', () => {
          if (kind === 0) {
            // Close before sending anything.
            sock.resetAndDestroy()
          } else if (kind === 1) {
            // Half a request, then a reset.
            sock.write('OPTIONS /prim')
            setImmediate(() => sock.resetAndDestroy())
          } else {
            sock.write(kind === 2 ? 'OPTIONS /primary HTTP/1.0\r\n\r\n' : 'GET /patroni HTTP/1.1\r\nHost: x\r\n\r\n')
          }
        })
        let seen = ''
        sock.on('data', (d: Buffer) => {
          seen += d.toString('latin1')
          if (seen.includes('\r\n')) sock.resetAndDestroy()
        })
      })
    // Batches of 5: the listen backlog is Patroni's 5 (request_queue_size), and a burst beyond it
    // only measures the kernel's SYN retry timer.
    for (let i = 0; i < 200; i += 5) await Promise.all([0, 1, 2, 3, 4].map((k) => probe((i + k) % 4)))
    const r = await request(port, 'GET', '/primary')
    assert.equal(r.status, 200)
    assert.deepEqual(log.above('WARNING').slice(before), [])
  })
})

/** Writes raw bytes and returns whatever the server sends before closing. */
function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({host: '127.0.0.1', port}, () => sock.write(data, 'latin1'))
    let got = ''
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')))
    sock.on('end', () => resolve(got))
    sock.on('close', () => resolve(got))
    sock.on('error', reject)
  })
}

describe('REST API access control and reconfiguration', () => {
  test('allowlist: 403 for unsafe requests from outside, GET unaffected; members can be included', async () => {
    const log = new CapturingLog()
    state.snap = leaderSnapshot()
    const api = await startRestApi({settings: settings({allowlist: ['10.0.0.0/8']}), source, handlers, log})
    try {
      const port = api.address.port
      const denied = await request(port, 'POST', '/restart', {headers: basic('admin', 'topsecret')})
      assert.equal(denied.status, 403)
      assert.equal(denied.body, 'Access is denied')
      assert.equal((await request(port, 'GET', '/patroni')).status, 200)
      // The fixture members' api_urls are on 127.0.0.1.
      await api.reconfigure(settings({allowlist: ['10.0.0.0/8'], allowlist_include_members: true}))
      assert.equal(api.address.port, port, 'auth/allowlist changes do not rebind')
      assert.equal((await request(port, 'POST', '/restart', {headers: basic('admin', 'topsecret')})).status, 200)
      await api.reconfigure(settings({allowlist: ['127.0.0.1'], authentication: {username: 'admin', password: 'rotated'}}))
      assert.equal((await request(port, 'POST', '/restart', {headers: basic('admin', 'topsecret')})).status, 401)
      assert.equal((await request(port, 'POST', '/restart', {headers: basic('admin', 'rotated')})).status, 200)
      await assert.rejects(api.reconfigure(settings({allowlist: ['10.0.0.0/99']})), /restapi\.allowlist: "10\.0\.0\.0\/99"/)
    } finally {
      await api.close()
    }
    assert.ok(!log.lines.some(([, m]) => m.includes('topsecret') || m.includes('rotated')), 'no secret in logs')
  })

  test("restapi.server_tokens (Patroni 4.1): ProductOnly drops the version, Minimal keeps it, another value is logged; live", async () => {
    const log = new CapturingLog()
    state.snap = leaderSnapshot()
    const api = await startRestApi({settings: settings({server_tokens: 'ProductOnly'}), source, handlers, log})
    try {
      const port = api.address.port
      assert.equal((await request(port, 'GET', '/patroni')).headers['server'], 'hactl')
      await api.reconfigure(settings({server_tokens: 'MINIMAL'}))
      assert.equal((await request(port, 'GET', '/health')).headers['server'], `hactl/${VERSION}`)
      await api.reconfigure(settings({server_tokens: 'none'}))
      assert.equal((await request(port, 'GET', '/health')).headers['server'], `hactl/${VERSION}`)
      assert.ok(log.lines.some(([level, m]) => level === 'WARNING' && m.includes('restapi.server_tokens is set to "none"')), JSON.stringify(log.lines))
      await api.reconfigure(settings())
      assert.equal((await request(port, 'GET', '/health')).headers['server'], `hactl/${VERSION}`)
    } finally {
      await api.close()
    }
  })

  test('a listen address in use and an unreadable certificate are clear config errors', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1')
    await waitFor('blocker listening', () => blocker.listening)
    const busy = (blocker.address() as net.AddressInfo).port
    try {
      await assert.rejects(startRestApi({settings: settings({listen: {host: '127.0.0.1', port: busy}}), source, log: new CapturingLog()}), (e) => {
        assert.ok(isHactlError(e, 'CONFIG_INVALID'))
        assert.match(e.message, new RegExp(`^restapi\\.listen: cannot listen on 127\\.0\\.0\\.1:${busy}: EADDRINUSE`))
        return true
      })
    } finally {
      blocker.close()
    }
    await assert.rejects(startRestApi({settings: settings({certfile: '/nonexistent/cert.pem'}), source, log: new CapturingLog()}), /^HactlError: restapi\.certfile: cannot read \/nonexistent\/cert\.pem/)
  })
})

describe('REST API over HTTPS', () => {
  let dir = ''
  let cert = ''
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hactl-api-tls-'))
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], {stdio: 'ignore'})
    cert = execFileSync('cat', [join(dir, 'cert.pem')]).toString()
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  test('GET /patroni works over TLS, https_extra_headers apply, plain HTTP and resets do no harm', async () => {
    const log = new CapturingLog()
    state.snap = leaderSnapshot()
    const api = await startRestApi({
      settings: settings({certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem'), https_extra_headers: {'Strict-Transport-Security': 'max-age=60'}}),
      source,
      handlers,
      log,
    })
    try {
      const port = api.address.port
      assert.equal(api.address.protocol, 'https')
      const r = await request(port, 'GET', '/patroni', {tls: {ca: cert}})
      assert.equal(r.status, 200)
      assert.equal(JSON.parse(r.body).patroni.scope, 'demo')
      assert.equal(r.headers['strict-transport-security'], 'max-age=60')
      assert.equal(r.headers['x-extra'], 'yes')
      // A plaintext request and a TCP check that resets at once.
      await rawExchange(port, 'GET /patroni HTTP/1.0\r\n\r\n').catch(() => '')
      await new Promise<void>((resolve) => {
        const s = net.connect({host: '127.0.0.1', port}, () => s.resetAndDestroy())
        s.on('close', () => resolve())
        s.on('error', () => resolve())
      })
      assert.equal((await request(port, 'HEAD', '/primary', {tls: {ca: cert}})).status, 200)
      assert.deepEqual(log.above('WARNING'), [])
    } finally {
      await api.close()
    }
  })
})
