/**
 * Every golden haproxy.cfg (test/fixtures/render/*.cfg) passes the real `haproxy -c -f`, so the
 * goldens cannot drift into something HAProxy refuses. Certificates the TLS variants name are made
 * fresh with openssl in a temp dir the check runs from.
 */
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {createServer, type IncomingHttpHeaders, type Server} from 'node:http'
import {GLOBAL_SECTIONS, parseHaproxyOptions, renderHaproxy} from '../../../src/render/haproxy'
import {membersFromFlags} from '../../../src/render/members'
import {makeTestCa, makeTestCert} from '../../harness/etcd'
import {freePort, waitFor} from '../../harness/ports'
import {VARIANTS} from '../../fixtures/render/variants'
import {HAPROXY_BIN, HaproxyProcess} from './haproxy-proc'

const run = promisify(execFile)
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'render')

describe('golden haproxy.cfg files pass haproxy -c', () => {
  let dir: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-check-'))
    const certs = join(dir, 'certs')
    mkdirSync(certs)
    const ca = await makeTestCa(certs, 'ca-src')
    const client = await makeTestCert(ca, 'client-src', 'client')
    // HAProxy wants the CA as one PEM and the client certificate with its key in one file.
    for (const v of VARIANTS) {
      if (v.certs?.ca) copyFileSync(ca.cert, join(dir, v.certs.ca))
      if (v.certs?.client) writeFileSync(join(dir, v.certs.client), readFileSync(client.cert, 'utf8') + readFileSync(client.key, 'utf8'))
    }
  })

  after(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  for (const v of VARIANTS) {
    it(`${v.name}.cfg`, async () => {
      const file = join(dir, `${v.name}.cfg`)
      copyFileSync(join(FIXTURES, `${v.name}.cfg`), file)
      const r = await run(HAPROXY_BIN, ['-c', '-f', file], {cwd: dir}).catch((e: {code: number; stdout: string; stderr: string}) => e)
      assert.equal('code' in r ? r.code : 0, 0, `haproxy -c refused ${v.name}.cfg:\n${r.stdout}${r.stderr}`)
      assert.match(r.stdout + r.stderr, /Configuration file is valid/)
    })
  }

  it('the check itself can fail: the TLS variant without its CA file is refused', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'hactl-render-check-'))
    try {
      copyFileSync(join(FIXTURES, 'tls-ca-client-cert.cfg'), join(bare, 'x.cfg'))
      const r = await run(HAPROXY_BIN, ['-c', '-f', join(bare, 'x.cfg')], {cwd: bare}).then(() => ({code: 0}), (e: {code: number}) => e)
      assert.notEqual(r.code, 0)
    } finally {
      rmSync(bare, {recursive: true, force: true})
    }
  })
})

describe('the default global section is Debian\'s, and HAProxy runs with it', () => {
  let haproxy: HaproxyProcess | undefined
  let dir: string
  after(async () => {
    await haproxy?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('its settings are those of Debian\'s own /etc/haproxy/haproxy.cfg (TLS material defaults aside)', () => {
    const debian = readFileSync('/etc/haproxy/haproxy.cfg', 'utf8')
    const global = debian.slice(debian.indexOf('global\n') + 7, debian.indexOf('\ndefaults'))
    const lines = global
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim().replace(/\s+/g, ' '))
      .filter((l) => l && !/^(ca-base|crt-base|ssl-default-)/.test(l))
    assert.deepEqual([...GLOBAL_SECTIONS.debian], lines)
  })

  it('as root: HAProxy drops to user haproxy in the /var/lib/haproxy chroot; stats answer on 127.0.0.1 only', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-debian-'))
    const statsPort = await freePort()
    const text = renderHaproxy(membersFromFlags([`a=127.0.0.1:${await freePort()},${await freePort()}`]), parseHaproxyOptions({
      bind: '127.0.0.1', primaryPort: await freePort(), replicaPort: await freePort(), statsPort,
    }))
    // Only the admin socket moves into the temp dir, so the test cannot take over a system HAProxy's.
    assert.ok(text.includes('stats socket /run/haproxy/admin.sock mode 660 level admin'))
    const cfg = join(dir, 'haproxy.cfg')
    writeFileSync(cfg, text.replace('/run/haproxy/admin.sock', join(dir, 'debian-admin.sock')))
    haproxy = await HaproxyProcess.start(cfg, dir)
    const pid = haproxy.proc.pid!
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
    const haproxyUid = Number((await run('id', ['-u', 'haproxy'])).stdout.trim())
    assert.equal(uid, haproxyUid, 'HAProxy runs as user haproxy')
    assert.equal(readlinkSync(`/proc/${pid}/root`), '/var/lib/haproxy')
    const res = await fetch(`http://127.0.0.1:${statsPort}/`)
    assert.equal(res.status, 200)
    assert.match(await res.text(), /Statistics Report/)
    assert.match(text, new RegExp(`bind 127\\.0\\.0\\.1:${statsPort}\\n`))
  })
})

describe('rendered checks as a running HAProxy sends them', () => {
  interface Seen {
    method: string
    url: string
    headers: IncomingHttpHeaders
  }
  const servers: Server[] = []
  let haproxy: HaproxyProcess | undefined
  let dir: string

  /** A stand-in REST API answering every request with `status`, recording what it got. */
  async function restApi(host: string, status: number, seen: Seen[]): Promise<number> {
    const port = await freePort()
    const srv = createServer((req, res) => {
      seen.push({method: req.method ?? '', url: req.url ?? '', headers: req.headers})
      res.writeHead(status).end()
    })
    servers.push(srv)
    await new Promise<void>((r) => srv.listen(port, host, () => r()))
    return port
  }

  after(async () => {
    await haproxy?.stop()
    for (const s of servers) s.close()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('addr sends the check to the REST host (IPv6 here), with the encoded query and the auth header', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-live-'))
    const healthy: Seen[] = []
    const sick: Seen[] = []
    // Only [::1] listens on this port: the check reaches it only through `addr`.
    const v6Port = await restApi('::1', 200, healthy)
    const v4Port = await restApi('127.0.0.1', 503, sick)
    const members = membersFromFlags([`up=127.0.0.1:${await freePort()},[::1]:${v6Port}`, `down=127.0.0.1:${await freePort()},${v4Port}`])
    const text = renderHaproxy(members, parseHaproxyOptions({
      bind: '127.0.0.1', primaryPort: await freePort(), replicaPort: await freePort(), stats: false, globalSection: 'minimal',
      inter: '200ms', fall: 1, rise: 1, checkMethod: 'GET', checkAuth: 'probe:s3cret', replicaLag: '1MB', replicaTags: ['dc=eu west'],
    }))
    assert.match(text, /server up 127\.0\.0\.1:\d+ maxconn 100 check port \d+ addr \[::1\]/)
    const cfg = join(dir, 'haproxy.cfg')
    writeFileSync(cfg, text)
    haproxy = await HaproxyProcess.start(cfg, dir)
    // HAProxy starts servers UP before their first check: wait for the check results themselves.
    await waitFor('up to pass (L7OK) and down to fail (L7STS) in both listeners', async () => {
      const rows = (await haproxy!.stat()).filter((r) => r.pxname === 'primary' || r.pxname === 'replicas')
      const at = (px: string, sv: string) => rows.find((r) => r.pxname === px && r.svname === sv)
      return ['primary', 'replicas'].every((px) =>
        at(px, 'up')?.status === 'UP' && /^L7OK/.test(at(px, 'up')!.check_status) &&
        at(px, 'down')?.status === 'DOWN' && /^L7STS/.test(at(px, 'down')!.check_status))
    }, {timeoutMs: 10_000})
    const urls = new Set(healthy.map((x) => `${x.method} ${x.url}`))
    assert.ok(urls.has('GET /primary'), [...urls].join(', '))
    assert.ok(urls.has('GET /replica?lag=1MB&tag_dc=eu%20west'), [...urls].join(', '))
    for (const x of [...healthy, ...sick]) assert.equal(x.headers.authorization, `Basic ${Buffer.from('probe:s3cret').toString('base64')}`)
    assert.ok(sick.length > 0, 'the IPv4 REST API was checked too')
  })
})
