/**
 * A TCP forwarder on 127.0.0.1 that a test can cut and restore: a network partition between one
 * process and a server (e.g. one agent and etcd) without touching the others. Cut: every open
 * connection is destroyed and new ones are reset at once, as a broken network path looks to a
 * client whose requests then fail or time out.
 */
import {createConnection, createServer, type Server, type Socket} from 'node:net'

export class TcpProxy {
  private readonly sockets = new Set<Socket>()
  private cutOff = false

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = createServer((client) => {
      if (!proxy || proxy.cutOff) {
        client.resetAndDestroy()
        return
      }
      const upstream = createConnection({host: targetHost, port: targetPort})
      for (const s of [client, upstream]) {
        proxy.sockets.add(s)
        s.on('close', () => proxy!.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    proxy = new TcpProxy(server, (server.address() as {port: number}).port)
    return proxy
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Destroys every open connection and refuses new ones until restore(). */
  cut(): void {
    this.cutOff = true
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
  }

  restore(): void {
    this.cutOff = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}
