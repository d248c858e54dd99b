/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, a port the system picks) for tests of DNS
 * SRV discovery: it answers SRV and A queries from records the test sets (and changes) and
 * NXDOMAIN for names it does not know; AAAA and other types of a known name get an empty answer.
 */
import {createSocket, type Socket} from 'node:dgram'

export interface SrvTarget {
  target: string
  port: number
  priority?: number
  weight?: number
}

const TYPE = {A: 1, AAAA: 28, SRV: 33} as const

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((p) => p !== '')
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])])
}

/** The question's name, type and the offset after it; undefined when the packet is not a query. */
function parseQuestion(msg: Buffer): {name: string; type: number; end: number} | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined
  const labels: string[] = []
  let i = 12
  while (i < msg.length) {
    const len = msg[i]!
    if (len === 0) {
      i++
      break
    }
    if (len >= 0xc0) return undefined // no compression in questions from a stub resolver
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'))
    i += 1 + len
  }
  if (i + 4 > msg.length) return undefined
  return {name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i), end: i + 4}
}

export class TestDns {
  private readonly srvRecords = new Map<string, SrvTarget[]>()
  private readonly aRecords = new Map<string, string[]>()
  /** Every question asked, as `TYPE name` (e.g. `SRV _etcd-client._tcp.hactl.test`). */
  readonly queries: string[] = []

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<TestDns> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => resolve())
    })
    const dns = new TestDns(socket, socket.address().port)
    socket.on('message', (msg, peer) => {
      const answer = dns.answer(msg)
      if (answer) socket.send(answer, peer.port, peer.address)
    })
    return dns
  }

  /** `127.0.0.1:port`, for Resolver.setServers. */
  get server(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Sets (or with [] removes) the SRV records of `name`. */
  srv(name: string, targets: SrvTarget[]): void {
    if (targets.length) this.srvRecords.set(name.toLowerCase(), targets)
    else this.srvRecords.delete(name.toLowerCase())
  }

  /** Sets the A records of `name`. */
  a(name: string, addresses: string[]): void {
    this.aRecords.set(name.toLowerCase(), addresses)
  }

  asked(query: string): number {
    return this.queries.filter((q) => q === query).length
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }

  private answer(msg: Buffer): Buffer | undefined {
    const q = parseQuestion(msg)
    if (!q) return undefined
    const typeName = Object.entries(TYPE).find(([, v]) => v === q.type)?.[0] ?? String(q.type)
    this.queries.push(`${typeName} ${q.name}`)
    const rrs: Buffer[] = []
    const rr = (type: number, rdata: Buffer) => {
      const head = Buffer.alloc(12)
      head.writeUInt16BE(0xc00c, 0) // the question's name
      head.writeUInt16BE(type, 2)
      head.writeUInt16BE(1, 4) // IN
      head.writeUInt32BE(5, 6) // TTL
      head.writeUInt16BE(rdata.length, 10)
      rrs.push(Buffer.concat([head, rdata]))
    }
    const srv = this.srvRecords.get(q.name)
    const a = this.aRecords.get(q.name)
    if (q.type === TYPE.SRV && srv) {
      for (const t of srv) {
        const fixed = Buffer.alloc(6)
        fixed.writeUInt16BE(t.priority ?? 0, 0)
        fixed.writeUInt16BE(t.weight ?? 0, 2)
        fixed.writeUInt16BE(t.port, 4)
        rr(TYPE.SRV, Buffer.concat([fixed, encodeName(t.target)]))
      }
    }
    if (q.type === TYPE.A && a) for (const ip of a) rr(TYPE.A, Buffer.from(ip.split('.').map(Number)))
    const known = srv !== undefined || a !== undefined
    const header = Buffer.alloc(12)
    header.writeUInt16BE(msg.readUInt16BE(0), 0) // id
    // QR, opcode 0, AA, RD copied; RA; rcode NOERROR or NXDOMAIN
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(rrs.length, 6)
    return Buffer.concat([header, msg.subarray(12, q.end), ...rrs])
  }
}
