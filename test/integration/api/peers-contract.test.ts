/**
 * The Peers contract (test/contract/peers-contract.ts) on httpPeers over real sockets: a served
 * member is a node:http server on 127.0.0.1 (port 0: the kernel picks a free one), a silent one a
 * TCP server that accepts connections and never writes, a refused one a free port nobody listens on.
 */
import {createServer as createHttpServer, type Server} from 'node:http'
import {createServer as createTcpServer, type Socket} from 'node:net'
import {performance} from 'node:perf_hooks'
import {httpPeers} from '../../../src/adapters/http/peers'
import {peersContract} from '../../contract/peers-contract'
import {at, freePort, within} from '../../harness/ports'

async function listen(server: {listen: (port: number, host: string, cb: () => void) => unknown; address: () => unknown; once: (e: 'error', cb: (e: Error) => void) => unknown}): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return (server.address() as {port: number}).port
}

peersContract('httpPeers over node:http on 127.0.0.1', async () => {
  const servers: {close: () => void}[] = []
  // Ends the injected latencies of replies still pending at cleanup.
  const closing = new AbortController()
  return {
    peers: httpPeers,
    async serve(reply) {
      const server: Server = createHttpServer((req, res) => {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          const r = reply({method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8')})
          const send = () => {
            res.writeHead(r.status, {'content-type': 'application/json'})
            res.end(r.body)
          }
          if (!r.delayMs) return send()
          void at(Date.now() + r.delayMs, closing.signal).then(() => closing.signal.aborted || send())
        })
      })
      const port = await listen(server)
      servers.push({close: () => {
        server.closeAllConnections()
        server.close()
      }})
      return `http://127.0.0.1:${port}/patroni`
    },
    async refused() {
      return `http://127.0.0.1:${await freePort()}/patroni`
    },
    async silent() {
      const sockets = new Set<Socket>()
      const server = createTcpServer((s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => {})
      })
      const port = await listen(server)
      servers.push({close: () => {
        for (const s of sockets) s.destroy()
        server.close()
      }})
      return `http://127.0.0.1:${port}/patroni`
    },
    async finish(p, maxMs) {
      const r = await within(p, maxMs)
      if (r === 'timeout') throw new Error(`did not settle within ${maxMs} ms`)
      return r
    },
    now: () => performance.now(),
    async cleanup() {
      closing.abort()
      for (const s of servers) s.close()
    },
  }
})
