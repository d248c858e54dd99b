/**
 * What `hactl switchover` / `failover` exit with once an agent has answered: 0 done, 1 refused,
 * 3 the agent timed out and the change may still happen (patronictl exits 0 in all three).
 * The cluster is two member keys in a real etcd whose REST API is a stub answering what real
 * agents answer, so each answer can be produced on demand.
 */
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import {after, before, test} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'

const SCOPE = 'exitcodes'
let etcd: EtcdServer
let api: Server
let answer = {status: 200, body: ''}
const seen: Array<{path: string; body: unknown}> = []

before(async () => {
  etcd = await EtcdServer.start()
  api = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({path: `${req.method} ${req.url}`, body: body ? JSON.parse(body) : null})
      res.writeHead(answer.status, {'content-type': 'text/plain'}).end(answer.body)
    })
  })
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
  const port = (api.address() as {port: number}).port
  const member = (role: string, pgPort: number) =>
    JSON.stringify({conn_url: `postgres://127.0.0.1:${pgPort}/postgres`, api_url: `http://127.0.0.1:${port}/patroni`, state: 'running', role, version: '3.0.2', timeline: 1, xlog_location: 100})
  await etcd.put(`/service/${SCOPE}/members/a`, member('master', 1))
  await etcd.put(`/service/${SCOPE}/members/b`, member('replica', 2))
  await etcd.put(`/service/${SCOPE}/leader`, 'a')
  await etcd.put(`/service/${SCOPE}/initialize`, '7000000000000000001')
})

after(async () => {
  api?.close()
  await etcd?.destroy()
})

function hactl(args: string[]) {
  return runHactl(['-d', `etcd3://${etcd.endpoint}`, ...args])
}

test('the agent switched over: exit 0 and its answer', async () => {
  answer = {status: 200, body: 'Successfully switched over to "b"'}
  const r = await hactl(['switchover', SCOPE, '--leader', 'a', '--candidate', 'b', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /\d{2}:\d{2}:\d{2}\.\d{5} Successfully switched over to "b"\n/)
  assert.deepEqual(seen.at(-1), {path: 'POST /switchover', body: {leader: 'a', candidate: 'b', scheduled_at: null}})
})

test('the agent refused: exit 1 after patronictl\'s "failed, details" line', async () => {
  answer = {status: 412, body: 'switchover is not possible: no good candidates have been found'}
  const r = await hactl(['switchover', SCOPE, '--leader', 'a', '--candidate', 'b', '--force'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stdout, /\nSwitchover failed, details: 412, switchover is not possible: no good candidates have been found\n/)
})

test('the agent could not confirm in time: exit 3, "result unknown" as patronictl 4 words it', async () => {
  answer = {status: 503, body: 'Failover status unknown'}
  const r = await hactl(['failover', SCOPE, '--candidate', 'b', '--force'])
  assert.equal(r.code, 3, r.stderr)
  assert.match(r.stdout, /\nFailover result unknown, details: 503, Failover status unknown\n$/)
  assert.deepEqual(seen.at(-1)?.path, 'POST /failover')
})
