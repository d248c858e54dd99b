/**
 * VipControl on Linux through iproute2 and iputils arping, as vip-manager's basic manager does
 * (docs/architecture.md#hactl-vip): `ip addr add|del <vip>/<prefix> dev <if>`, no label, no
 * broadcast, no extra flags. Presence comes from `ip -j addr show dev <if>` parsed as JSON and
 * compared exactly.
 */
import {isIP} from 'node:net'
import {HactlError, errorMessage} from '../../errors'
import type {ProcessRunner, RunResult} from '../../ports/process-runner'
import type {ControlResult, InterfaceInfo, Presence, VipControl} from '../../ports/vip'

export interface IpRoute2Options {
  runner: ProcessRunner
  address: string
  prefix: number
  interfaceName: string
  /**
   * Run every command in this network namespace (`ip -n`, `ip netns exec`). Only for tests and
   * tools that look at another namespace; the daemon runs inside the namespace it manages.
   */
  netns?: string
  /** Per command; `ip` answers in milliseconds, arping takes about 1 s with -c 1. */
  timeoutMs?: number
  /** false skips gratuitous ARP (nothing else to tell the neighbours for IPv6). */
  arping?: boolean
}

const ENV = {PATH: process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C'}

/** Canonical text of an address so that `fe80::1` and `fe80:0::1` compare equal. */
export function canonicalAddress(a: string): string {
  if (isIP(a) !== 6) return a
  const [head, tail] = a.toLowerCase().split('::') as [string, string | undefined]
  const parts = (s: string | undefined) => (s ? s.split(':') : [])
  let groups: string[]
  if (tail === undefined) groups = parts(head)
  else {
    const h = parts(head)
    const t = parts(tail)
    // An embedded IPv4 tail counts as two groups.
    const width = (g: string[]) => g.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0)
    groups = [...h, ...Array(8 - width(h) - width(t)).fill('0'), ...t]
  }
  return groups.map((g) => (g.includes('.') ? g : String(parseInt(g, 16).toString(16)))).join(':')
}

interface AddrInfo {
  family?: string
  local?: string
  prefixlen?: number
}

/** Exact (address, prefix) match in `ip -j addr show` output. Throws when it is not that JSON. */
export function findAddress(json: string, address: string, prefix: number): boolean {
  const doc = JSON.parse(json) as Array<{addr_info?: AddrInfo[]}>
  if (!Array.isArray(doc)) throw new Error('ip -j addr show did not return a JSON list')
  const want = canonicalAddress(address)
  return doc.some((link) => (link.addr_info ?? []).some((a) => typeof a.local === 'string' && canonicalAddress(a.local) === want && a.prefixlen === prefix))
}

export class IpRoute2VipControl implements VipControl {
  readonly cidr: string
  readonly interfaceName: string
  private readonly family: 4 | 6

  constructor(private readonly o: IpRoute2Options) {
    const f = isIP(o.address)
    if (!f) throw new HactlError('CONFIG_INVALID', `ip ${JSON.stringify(o.address)} is not an IP address`)
    this.family = f as 4 | 6
    this.cidr = `${o.address}/${o.prefix}`
    this.interfaceName = o.interfaceName
  }

  private ip(args: string[]): Promise<RunResult> {
    const ns = this.o.netns ? ['-n', this.o.netns] : []
    return this.o.runner.run('ip', [...ns, ...args], {env: ENV, timeoutMs: this.o.timeoutMs ?? 5000})
  }

  private tool(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
    if (this.o.netns) return this.o.runner.run('ip', ['netns', 'exec', this.o.netns, cmd, ...args], {env: ENV, timeoutMs})
    return this.o.runner.run(cmd, args, {env: ENV, timeoutMs})
  }

  async inspect(): Promise<InterfaceInfo> {
    const r = await this.ip(['-j', 'link', 'show', 'dev', this.interfaceName])
    if (r.code !== 0) {
      const text = (r.stderr || r.stdout).trim()
      if (/does not exist|Cannot find device/i.test(text)) {
        throw new HactlError('CONFIG_INVALID', `interface ${JSON.stringify(this.interfaceName)} does not exist`, {hints: ['set interface (VIP_INTERFACE) to a device listed by `ip link`']})
      }
      throw new HactlError('CONFIG_INVALID', `cannot inspect interface ${JSON.stringify(this.interfaceName)}: ${text || `ip exited with ${r.code ?? r.signal}`}`)
    }
    let link: any
    try {
      link = (JSON.parse(r.stdout) as any[])[0]
    } catch (e) {
      throw new HactlError('INTERNAL', `ip -j link show printed no JSON: ${errorMessage(e)}`)
    }
    const flags: string[] = Array.isArray(link?.flags) ? link.flags : []
    return {
      name: String(link?.ifname ?? this.interfaceName),
      up: flags.includes('UP'),
      lowerUp: flags.includes('LOWER_UP'),
      mac: String(link?.address ?? ''),
      linkType: String(link?.link_type ?? ''),
    }
  }

  async presence(): Promise<Presence> {
    let r: RunResult
    try {
      r = await this.ip(['-j', 'addr', 'show', 'dev', this.interfaceName])
    } catch (e) {
      return {unknown: errorMessage(e)}
    }
    if (r.code !== 0) return {unknown: `ip addr show failed: ${(r.stderr || r.stdout).trim() || `exit ${r.code ?? r.signal}`}`}
    try {
      return findAddress(r.stdout, this.o.address, this.o.prefix) ? 'present' : 'absent'
    } catch (e) {
      return {unknown: `ip -j addr show printed no usable JSON: ${errorMessage(e)}`}
    }
  }

  private async change(verb: 'add' | 'del'): Promise<ControlResult> {
    try {
      const r = await this.ip(['addr', verb, this.cidr, 'dev', this.interfaceName])
      if (r.code === 0) return {ok: true}
      return {ok: false, error: (r.stderr + r.stdout).trim() || (r.timedOut ? 'ip timed out' : `ip exited with ${r.code ?? r.signal}`)}
    } catch (e) {
      return {ok: false, error: errorMessage(e)}
    }
  }

  add(): Promise<ControlResult> {
    return this.change('add')
  }

  remove(): Promise<ControlResult> {
    return this.change('del')
  }

  /**
   * One broadcast ARP reply (`arping -A`) and one broadcast request (`arping -U`), sender =
   * target = VIP: what vip-manager 1.x sends, a superset of 4.x+'s single reply. Both run at
   * once because each waits about a second.
   */
  async announce(): Promise<string[]> {
    if (this.family !== 4 || this.o.arping === false) return []
    const one = async (mode: '-A' | '-U'): Promise<string | undefined> => {
      try {
        const r = await this.tool('arping', [mode, '-c', '1', '-I', this.interfaceName, this.o.address], 5000)
        if (r.code === 0) return undefined
        return `gratuitous ARP (arping ${mode}) failed: ${(r.stderr || r.stdout).trim() || `exit ${r.code ?? r.signal}`}`
      } catch (e) {
        return `gratuitous ARP (arping ${mode}) not sent: ${errorMessage(e)}; install iputils-arping`
      }
    }
    return (await Promise.all([one('-A'), one('-U')])).filter((w): w is string => w !== undefined)
  }
}
