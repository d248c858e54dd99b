/**
 * The one Peers contract suite: what src/ports/peers.ts promises, and the addressing of the real
 * adapter (src/adapters/http/patroni-client.ts). test/unit/agent/fake-peers-contract.test.ts runs
 * it on FakePeers with a fake clock; test/integration/api/peers-contract.test.ts on httpPeers
 * against node:http servers on 127.0.0.1. Every check here must hold for both, which is what keeps
 * the fake honest: when they disagree, the fake is fixed to behave like the network.
 *
 * A served member answers every request with what the test's `reply` says, and the test sees
 * each request (method, path with query, body text) as the server received it.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import type {Peers} from '../../src/ports/peers'

export interface SeenRequest {
  method: string
  /** Path and query, as the server received them. */
  path: string
  /** The body text ('' when none). */
  body: string
}

export interface Reply {
  status: number
  body: string
  /** Answer only after this long (env time). */
  delayMs?: number
}

export interface PeersContractEnv {
  peers: Peers
  /** Starts a member whose REST API answers each request with `reply(req)`; its api_url (`http://host:port/patroni`). */
  serve(reply: (req: SeenRequest) => Reply): Promise<string>
  /** An api_url (`.../patroni`) where nothing listens: connections are refused. */
  refused(): Promise<string>
  /** An api_url (`.../patroni`) whose server accepts connections and never answers. */
  silent(): Promise<string>
  /** Awaits `p`, letting the env's time pass (fake: advances the clock); fails after `maxMs` of it. */
  finish<T>(p: Promise<T>, maxMs: number): Promise<T>
  /** Monotonic ms in the env's time. */
  now(): number
  cleanup(): Promise<void>
}

const QUICK_MS = 10_000
/** How early a timeout may fire, for timer granularity (real: ms; fake: none). */
const EARLY_MS = 20

/** A Patroni GET /patroni document, as a replica answers it. */
const STATUS_DOC = {
  state: 'running',
  postmaster_start_time: '2024-01-01 00:00:00.000000+00:00',
  role: 'replica',
  server_version: 150004,
  xlog: {received_location: 83886080, replayed_location: 83886080, replayed_timestamp: null, paused: false},
  timeline: 2,
  cluster_unlocked: false,
  dcs_last_seen: 1704067200,
  database_system_identifier: '7319247613826385932',
  patroni: {version: '3.3.1', scope: 'batman', name: 'node2'},
}

/** `host:port` of an api_url. */
const hostOf = (apiUrl: string) => new URL(apiUrl).host

export function peersContract(label: string, makeEnv: () => Promise<PeersContractEnv>): void {
  const test = (name: string, fn: (env: PeersContractEnv) => Promise<void>) =>
    it(name, async () => {
      const env = await makeEnv()
      try {
        await fn(env)
      } finally {
        await env.cleanup()
      }
    })

  /** A member that records what it received and answers with `reply`. */
  const member = async (env: PeersContractEnv, reply: (req: SeenRequest) => Reply) => {
    const seen: SeenRequest[] = []
    const apiUrl = await env.serve((req) => {
      seen.push(req)
      return reply(req)
    })
    return {apiUrl, seen}
  }

  /** Awaits a rejection of `p` and returns it with how long it took in env time. */
  const rejection = async (env: PeersContractEnv, p: Promise<unknown>, maxMs: number): Promise<{error: Error; ms: number}> => {
    const t0 = env.now()
    try {
      await env.finish(p, maxMs)
    } catch (e) {
      assert.ok(e instanceof Error, `rejects with an Error, not ${String(e)}`)
      return {error: e, ms: env.now() - t0}
    }
    assert.fail('resolved; expected a rejection')
  }

  describe(`Peers contract: ${label}`, () => {
    test('status(): GET of the api_url (/patroni), resolves with 200 and the body text as sent', async (env) => {
      const text = JSON.stringify(STATUS_DOC)
      const {apiUrl, seen} = await member(env, () => ({status: 200, body: text}))
      assert.match(apiUrl, /\/patroni$/)
      const r = await env.finish(env.peers.status(apiUrl, 2000), QUICK_MS)
      assert.deepEqual(r, {status: 200, body: text})
      assert.deepEqual(JSON.parse(r.body), STATUS_DOC)
      assert.deepEqual(seen, [{method: 'GET', path: '/patroni', body: ''}])
    })

    test('any HTTP status resolves: 503 with its body, 404 with none, 500', async (env) => {
      const {apiUrl} = await member(env, (req) =>
        req.path === '/patroni' ? {status: 503, body: '{"state":"stopped"}'} : req.path === '/liveness' ? {status: 404, body: ''} : {status: 500, body: 'boom'},
      )
      assert.deepEqual(await env.finish(env.peers.status(apiUrl, 2000), QUICK_MS), {status: 503, body: '{"state":"stopped"}'})
      assert.deepEqual(await env.finish(env.peers.liveness(apiUrl, 2000), QUICK_MS), {status: 404, body: ''})
      assert.deepEqual(await env.finish(env.peers.postFailsafe(apiUrl, {}, 2000), QUICK_MS), {status: 500, body: 'boom'})
    })

    test('postFailsafe(): POST /failsafe in place of the api_url\'s path, with the JSON body; resolves with the answer', async (env) => {
      const {apiUrl, seen} = await member(env, () => ({status: 200, body: 'Accepted'}))
      const body = {name: 'node1', conn_url: 'postgres://10.0.0.1:5432/postgres', api_url: 'http://10.0.0.1:8008/patroni', slots: {node1: 83886080}}
      const r = await env.finish(env.peers.postFailsafe(apiUrl, body, 2000), QUICK_MS)
      assert.deepEqual(r, {status: 200, body: 'Accepted'})
      assert.equal(seen.length, 1)
      assert.equal(seen[0].method, 'POST')
      assert.equal(seen[0].path, '/failsafe')
      assert.deepEqual(JSON.parse(seen[0].body), body)
    })

    test('liveness(): GET /liveness in place of the api_url\'s path and query', async (env) => {
      const {apiUrl, seen} = await member(env, () => ({status: 200, body: ''}))
      assert.deepEqual(await env.finish(env.peers.liveness(apiUrl, 2000), QUICK_MS), {status: 200, body: ''})
      const odd = new URL(apiUrl)
      odd.pathname = '/some/where'
      odd.search = '?x=1'
      assert.deepEqual(await env.finish(env.peers.liveness(odd.href, 2000), QUICK_MS), {status: 200, body: ''})
      await env.finish(env.peers.postFailsafe(odd.href, {name: 'n'}, 2000), QUICK_MS)
      assert.deepEqual(
        seen.map((s) => [s.method, s.path]),
        [
          ['GET', '/liveness'],
          ['GET', '/liveness'],
          ['POST', '/failsafe'],
        ],
      )
    })

    test('a refused connection rejects promptly, naming the address', async (env) => {
      const apiUrl = await env.refused()
      for (const call of [() => env.peers.status(apiUrl, 5000), () => env.peers.postFailsafe(apiUrl, {name: 'n'}, 5000), () => env.peers.liveness(apiUrl, 5000)]) {
        const {error, ms} = await rejection(env, call(), QUICK_MS)
        assert.ok(ms < 1000, `refused after ${ms} ms; not a wait for the 5000 ms timeout`)
        assert.ok(error.message.includes(hostOf(apiUrl)), error.message)
      }
    })

    test('a silent server: rejects after about timeoutMs and not before, naming the address', async (env) => {
      const apiUrl = await env.silent()
      const timeoutMs = 500
      for (const call of [() => env.peers.status(apiUrl, timeoutMs), () => env.peers.postFailsafe(apiUrl, {name: 'n'}, timeoutMs), () => env.peers.liveness(apiUrl, timeoutMs)]) {
        const {error, ms} = await rejection(env, call(), timeoutMs + QUICK_MS)
        assert.ok(ms >= timeoutMs - EARLY_MS, `rejected after ${ms} ms, before the ${timeoutMs} ms timeout`)
        assert.ok(ms < timeoutMs + 2000, `rejected only after ${ms} ms (timeout ${timeoutMs} ms)`)
        assert.ok(error.message.includes(hostOf(apiUrl)), error.message)
      }
    })

    test('an answer later than timeoutMs is a rejection; one within it resolves', async (env) => {
      const {apiUrl} = await member(env, (req) => (req.path === '/patroni' ? {status: 200, body: '{}', delayMs: 2000} : {status: 200, body: 'Accepted', delayMs: 100}))
      const {ms} = await rejection(env, env.peers.status(apiUrl, 500), QUICK_MS)
      assert.ok(ms >= 500 - EARLY_MS && ms < 2000, `rejected after ${ms} ms`)
      assert.deepEqual(await env.finish(env.peers.postFailsafe(apiUrl, {}, 2000), QUICK_MS), {status: 200, body: 'Accepted'})
    })

    test('an api_url that is not a URL rejects', async (env) => {
      const {error} = await rejection(env, env.peers.status('not a url', 2000), QUICK_MS)
      assert.match(error.message, /not a URL/)
      await rejection(env, env.peers.liveness('', 2000), QUICK_MS)
    })
  })
}
