/**
 * The Peers contract (test/contract/peers-contract.ts) on FakePeers with a FakeClock: a served
 * member is one handler for every path, a reply's delay is a sleep on the clock. Below the
 * contract, what only the fake offers (the call record, per-endpoint handlers, switching a
 * member's state), which the agent's unit tests use.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {peersContract} from '../../contract/peers-contract'
import {drive, FakeClock, settle} from '../../fakes/fake-clock'
import {FakePeers} from '../../fakes/fake-peers'



peersContract('FakePeers on a fake clock', async () => {
  const clock = new FakeClock()
  const peers = new FakePeers(clock)
  let host = 0
  const next = () => `http://10.0.0.${++host}:8008/patroni`
  return {
    peers,
    async serve(reply) {
      const apiUrl = next()
      peers.serve(apiUrl, async (req) => {
        const r = reply({method: req.method, path: req.path, body: req.bodyText ?? ''})
        if (r.delayMs) await clock.sleep(r.delayMs)
        return {status: r.status, body: r.body}
      })
      return apiUrl
    },
    async refused() {
      return next() // nothing registered there
    },
    async silent() {
      const apiUrl = next()
      peers.setState(apiUrl, 'silent')
      return apiUrl
    },
    finish: (p, maxMs) => drive(clock, p, maxMs),
    now: () => clock.monotonic(),
    async cleanup() {},
  }
})

describe('FakePeers beyond the contract', () => {
  const A = 'http://10.0.0.1:8008/patroni'
  const B = 'https://10.0.0.2:8008/patroni'

  it('per-endpoint handlers; a path without one answers 404; every call is recorded', async () => {
    const clock = new FakeClock()
    const peers = new FakePeers(clock).serve(A, {
      patroni: () => FakePeers.json(200, {state: 'running', role: 'replica'}),
      failsafe: (req) => ({status: 200, body: (req.body as {name?: string})?.name === 'node1' ? 'Accepted' : 'who?'}),
    })
    assert.deepEqual(JSON.parse((await peers.status(A, 2000)).body), {state: 'running', role: 'replica'})
    assert.deepEqual(await peers.postFailsafe(A, {name: 'node1', slots: {}}, 2000), {status: 200, body: 'Accepted'})
    assert.deepEqual(await peers.liveness(A, 3000), {status: 404, body: ''})
    assert.deepEqual(
      peers.callsTo(A).map((c) => [c.op, c.method, c.url, c.timeoutMs, c.outcome, c.answer?.status]),
      [
        ['status', 'GET', 'http://10.0.0.1:8008/patroni', 2000, 'answered', 200],
        ['postFailsafe', 'POST', 'http://10.0.0.1:8008/failsafe', 2000, 'answered', 200],
        ['liveness', 'GET', 'http://10.0.0.1:8008/liveness', 3000, 'answered', 404],
      ],
    )
    assert.deepEqual(peers.calls[1].body, {name: 'node1', slots: {}})
    assert.equal(peers.calls[1].bodyText, '{"name":"node1","slots":{}}')
  })

  it('states switch a member between answering, refusing and silence; down refuses like refused', async () => {
    const clock = new FakeClock()
    const peers = new FakePeers(clock).serve(B, {liveness: () => ({status: 200, body: ''})})
    assert.equal((await peers.liveness(B, 3000)).status, 200)
    peers.setState(B, 'down')
    await assert.rejects(peers.liveness(B, 3000), /ECONNREFUSED 10\.0\.0\.2:8008/)
    peers.setState(B, 'silent')
    const p = peers.liveness(B, 3000)
    p.catch(() => {})
    await clock.advance(2999)
    assert.equal(peers.calls.at(-1)?.outcome, undefined, 'still waiting just before the timeout')
    await clock.advance(1)
    await assert.rejects(p, /no answer from 10\.0\.0\.2:8008 within 3000 ms/)
    assert.equal(peers.calls.at(-1)?.settledAtMs, peers.calls.at(-1)!.atMs + 3000)
    peers.setState(B, 'up')
    assert.equal((await peers.liveness(B, 3000)).status, 200, 'handlers kept across states')
    peers.remove(B)
    assert.equal(peers.state(B), 'refused')
    await assert.rejects(peers.status(B, 2000), /ECONNREFUSED/)
  })

  it('a throwing handler hangs up; the handler gets a copy of the body', async () => {
    const clock = new FakeClock()
    const body = {name: 'node1', slots: {node1: 1}}
    const peers = new FakePeers(clock).serve(A, {
      failsafe: (req) => {
        ;(req.body as {name: string}).name = 'changed'
        throw new Error('handler bug')
      },
    })
    await assert.rejects(peers.postFailsafe(A, body, 2000), /socket hang up \(handler bug\)/)
    assert.equal(body.name, 'node1')
    assert.equal(peers.calls[0].outcome, 'hang-up')
    assert.equal(clock.pending, 0, 'no timer left behind')
  })
})
