/**
 * The chaos suite's eyes and hands inside one network namespace (started there with
 * `ip netns exec`, so it sees exactly what a process on that host would). It talks JSON lines:
 * commands on stdin ({id, op, ...}), answers ({id, ok, result|error}) and events on stdout.
 *
 *   host <name> <pgPort> <apiPort> <etcdProxySpec> <address>
 *       samples, every SAMPLE_MS, whether the local PostgreSQL is writable (a kept connection to
 *       the host's own address, not 127.0.0.1, which the refuse-agent fault may reject
 *       asks pg_is_in_recovery(); no answer within 1 s = unknown) and whether the local agent
 *       answers GET /primary with 200; serves the etcd proxies (127.0.0.1:<local> -> ip:port,
 *       `localPort=ip:port,...`) whose added latency `delay` sets (etcd slow).
 *   client <haproxyPort>
 *       the writer: one INSERT after another through HAProxy's primary port, each acknowledged
 *       id reported; plus `http` and `sql` requests to any host of the lab.
 */
import {createConnection, createServer, type Socket} from 'node:net'
import {request} from 'node:http'
import {createInterface} from 'node:readline'
import pg from 'pg'
import {at as atTime, within} from '../harness/ports'

const SAMPLE_MS = 250
const PASSWORD = process.env.CHAOS_PG_PASSWORD ?? ''
const emit = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const r = await within(p, ms)
  if (r === 'timeout') throw new Error(`${what}: no answer within ${ms} ms`)
  return r
}

function http(method: string, url: string, body?: unknown, timeoutMs = 3000): Promise<{status: number; body: string}> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = {connection: 'close'}
    if (data !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(data))
    }
    const req = request(url, {method, headers, timeout: timeoutMs}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body: text}))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)))
    req.on('error', reject)
    req.end(data)
  })
}

/** One statement on a fresh connection, closed afterwards. */
async function sqlOnce(host: string, port: number, q: string, timeoutMs = 10_000): Promise<unknown[]> {
  const c = new pg.Client({host, port, user: 'postgres', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: timeoutMs})
  c.on('error', () => {})
  try {
    await withTimeout(c.connect(), timeoutMs, `connect ${host}:${port}`)
    const r = await withTimeout(c.query(q), timeoutMs, `query on ${host}:${port}`)
    return r.rows
  } finally {
    c.end().catch(() => {})
  }
}

/** A TCP forwarder that delays every chunk by delay ± jitter ms, keeping each direction's order. */
function latencyProxy(localPort: number, host: string, port: number, latency: {ms: number; jitter: number}): void {
  const server = createServer((down: Socket) => {
    const up = createConnection({host, port})
    const pipe = (from: Socket, to: Socket) => {
      let chain = Promise.resolve()
      let lastAt = 0
      from.on('data', (chunk) => {
        if (latency.ms <= 0 && latency.jitter <= 0) {
          chain = chain.then(() => void to.write(chunk))
          return
        }
        const d = Math.max(0, latency.ms + (Math.random() * 2 - 1) * latency.jitter)
        // never earlier than the previous chunk: a TCP stream keeps its order
        const at = Math.max(Date.now() + d, lastAt)
        lastAt = at
        chain = chain.then(async () => {
          await atTime(at)
          if (!to.destroyed) to.write(chunk)
        })
      })
      from.on('close', () => void chain.then(() => to.destroy()))
      from.on('error', () => {})
    }
    pipe(down, up)
    pipe(up, down)
  })
  server.listen(localPort, '127.0.0.1')
}

async function hostMode(name: string, pgPort: number, apiPort: number, proxySpec: string, address: string): Promise<void> {
  const latency = {ms: 0, jitter: 0}
  for (const part of proxySpec.split(',').filter(Boolean)) {
    const [local, target] = part.split('=')
    const [h, p] = target!.split(':')
    latencyProxy(Number(local), h!, Number(p), latency)
  }
  let client: pg.Client | undefined
  const writable = async (): Promise<boolean | null> => {
    try {
      if (!client) {
        const c = new pg.Client({host: address, port: pgPort, user: 'postgres', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 1000})
        c.on('error', () => {})
        client = c
        await withTimeout(c.connect(), 1000, 'connect')
      }
      const r = await withTimeout(client.query('SELECT pg_is_in_recovery() AS r'), 1000, 'query')
      return r.rows[0].r === false
    } catch {
      const c = client
      client = undefined
      c?.end().catch(() => {})
      // a refused connection means no writes here; a hung one we cannot tell
      return null
    }
  }
  const primary = async (): Promise<boolean | null> => {
    try {
      return (await http('GET', `http://127.0.0.1:${apiPort}/primary`, undefined, 1000)).status === 200
    } catch {
      return null
    }
  }
  ;(async () => {
    for (;;) {
      const t = Date.now()
      const [w, p] = await Promise.all([writable(), primary()])
      emit({ev: 'sample', host: name, t, t2: Date.now(), w, p})
      // The sampler's pace: one sample every SAMPLE_MS.
      await atTime(t + SAMPLE_MS)
    }
  })()
  commands(async (cmd) => {
    if (cmd.op === 'delay') {
      latency.ms = Number(cmd.ms)
      latency.jitter = Number(cmd.jitter)
      return latency
    }
    if (cmd.op === 'sql') return sqlOnce(address, pgPort, cmd.q)
    throw new Error(`unknown op ${cmd.op}`)
  })
}

async function clientMode(haproxyPort: number): Promise<void> {
  let next = 1
  let acked: number[] = []
  let running = false
  let client: pg.Client | undefined
  let lastError = ''
  const flush = () => {
    if (acked.length) emit({ev: 'ack', ids: acked, t: Date.now()})
    acked = []
  }
  setInterval(flush, 200)
  const writer = async () => {
    while (running) {
      try {
        if (!client) {
          const c = new pg.Client({host: '127.0.0.1', port: haproxyPort, user: 'postgres', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 3000})
          c.on('error', () => {})
          client = c
          await withTimeout(c.connect(), 3000, 'connect')
          await withTimeout(c.query('CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())'), 10_000, 'create')
        }
        const id = next++
        await withTimeout(client.query('INSERT INTO ledger (id) VALUES ($1)', [id]), 10_000, 'insert')
        acked.push(id)
        // The load's pace: a write every 20 ms.
        await atTime(Date.now() + 20)
      } catch (e) {
        const msg = (e as Error).message
        if (msg !== lastError) emit({ev: 'write-error', t: Date.now(), error: msg})
        lastError = msg
        const c = client
        client = undefined
        c?.end().catch(() => {})
        // Reconnect pace after a failed write.
        await atTime(Date.now() + 200)
      }
    }
  }
  let loop: Promise<void> | undefined
  commands(async (cmd) => {
    if (cmd.op === 'start') {
      if (!running) {
        running = true
        loop = writer()
      }
      return true
    }
    if (cmd.op === 'stop') {
      running = false
      await loop
      flush()
      return next - 1
    }
    if (cmd.op === 'http') {
      try {
        return await http(cmd.method, cmd.url, cmd.body, cmd.timeoutMs ?? 5000)
      } catch (e) {
        return {status: 0, body: (e as Error).message}
      }
    }
    if (cmd.op === 'sql') return sqlOnce(cmd.host, cmd.port, cmd.q, cmd.timeoutMs)
    throw new Error(`unknown op ${cmd.op}`)
  })
}

function commands(handle: (cmd: any) => Promise<unknown>): void {
  const rl = createInterface({input: process.stdin})
  rl.on('line', (line) => {
    let cmd: any
    try {
      cmd = JSON.parse(line)
    } catch {
      return
    }
    handle(cmd).then(
      (result) => emit({id: cmd.id, ok: true, result}),
      (e) => emit({id: cmd.id, ok: false, error: (e as Error).message}),
    )
  })
  // the suite went away: so do we
  rl.on('close', () => process.exit(0))
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'host') void hostMode(args[0]!, Number(args[1]), Number(args[2]), args[3] ?? '', args[4] ?? '127.0.0.1')
else if (mode === 'client') void clientMode(Number(args[0]))
else {
  process.stderr.write(`chaos helper: unknown mode ${mode}\n`)
  process.exit(2)
}
emit({ev: 'ready'})
