import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import {after, before, describe, it} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {PatroniLeaderSource} from '../../../src/adapters/vip/patroni-leader'
import type {Leadership} from '../../../src/ports/vip'
import {freePort, holdsFor, waitFor} from '../../harness/ports'

// A loopback HTTP server answering like Patroni's /leader (200 on the leader, 503 elsewhere);
// the real Patroni REST API is exercised in test/integration/vip/leader-change.test.ts.
describe('PatroniLeaderSource', () => {
  let server: Server
  let status = 503
  const paths: string[] = []
  let port = 0
  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '')
      res.statusCode = status
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as {port: number}).port
  })
  after(() => server.close())

  function run(endpoint: string) {
    const reports: Leadership[] = []
    const logs: string[] = []
    const s = new PatroniLeaderSource({endpoint, path: '/leader', expected: '200', clock: systemClock, intervalMs: 50, log: (l, m) => logs.push(`${l} ${m}`)})
    s.start((x) => reports.push(x))
    return {s, reports, logs}
  }

  it('status 200 is leader, anything else is not; one slash in the URL; the first check is immediate', async () => {
    status = 503
    const t0 = Date.now()
    const {s, reports, logs} = run(`http://127.0.0.1:${port}/`)
    await waitFor('first report', () => reports.length > 0)
    assert.ok(Date.now() - t0 < 1000)
    assert.equal(reports[0]!.kind, 'not-leader')
    assert.equal(paths.at(-1), '/leader')
    assert.ok(logs.some((l) => l.includes('REST API returned non-success status code 503')))
    status = 200
    await waitFor('leader', () => reports.at(-1)?.kind === 'leader')
    await s.stop()
    const n = reports.length
    // three polling intervals without a report
    await holdsFor(150, () => assert.equal(reports.length, n, 'no report after stop'), 25)
  })

  it('connection refused is unknown (the VIP goes)', async () => {
    const dead = await freePort()
    const {s, reports, logs} = run(`http://127.0.0.1:${dead}`)
    await waitFor('first report', () => reports.length > 0)
    assert.equal(reports[0]!.kind, 'unknown')
    assert.ok(logs.some((l) => l.startsWith(`error REST API error connecting to http://127.0.0.1:${dead}/leader`)))
    await s.stop()
  })
})
