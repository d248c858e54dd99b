/**
 * The composition root of `hactl createconfig`: it gathers what Debian's pg_createconfig_patroni
 * gathers (existing clusters from pg_lsclusters, the data directory base from
 * /etc/postgresql-common/createcluster.conf, dcs.yml and the template from /etc/patroni, the host's
 * address and network from `ip -4 route get`), hands it to the pure src/createconfig/generate.ts
 * and writes the files (mode 0660, owned by postgres when run as root, as the script does).
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {hostname as osHostname, networkInterfaces} from 'node:os'
import {join} from 'node:path'
import {
  checkClusterName,
  checkVersion,
  choosePort,
  CreateConfigError,
  dcsConfigured,
  dcsEndpoints,
  dcsType,
  etcd3SectionFromEndpoints,
  renderConfig,
  renderVip,
} from '../createconfig/generate'

export interface CreateConfigOptions {
  version: string
  cluster: string
  hostip?: string
  network?: string
  port?: number
  force?: boolean
  vip?: string
  endpoint?: string
  /** Where dcs.yml, config.yml.in and the result live (/etc/patroni). */
  configDir?: string
  /** Ignore config.yml.in / vip.in and use the built-in templates. */
  builtinTemplate?: boolean
  /** Print the configuration instead of writing it. */
  stdout?: boolean
}

/** What the runner needs from the host; tests pass their own. */
export interface CreateConfigSystem {
  readFile(path: string): string | undefined
  exists(path: string): boolean
  /** stdout of a program, or undefined when it cannot run or fails. */
  run(file: string, args: string[]): string | undefined
  hostname(): string
  /** Non-internal IPv4 interfaces: name, address, prefix length. */
  interfaces(): Array<{name: string; address: string; prefix: number}>
  writeFile(path: string, text: string): void
}

export const hostSystem: CreateConfigSystem = {
  readFile: (p) => {
    try {
      return readFileSync(p, 'utf8')
    } catch {
      return undefined
    }
  },
  exists: (p) => existsSync(p),
  run: (file, args) => {
    try {
      return execFileSync(file, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000})
    } catch {
      return undefined
    }
  },
  hostname: () => osHostname(),
  interfaces: () =>
    Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
      (addrs ?? [])
        .filter((a) => a.family === 'IPv4' && !a.internal)
        .map((a) => ({name, address: a.address, prefix: Number(a.cidr?.split('/')[1] ?? 32)})),
    ),
  writeFile: (path, text) => {
    // Replace atomically; 0660 and postgres:postgres as pg_createconfig_patroni leaves it.
    const tmp = `${path}.tmp-${process.pid}`
    writeFileSync(tmp, text, {mode: 0o660})
    chmodSync(tmp, 0o660)
    if (process.getuid?.() === 0) {
      const ids = postgresIds()
      if (ids) chownSync(tmp, ids.uid, ids.gid)
    }
    renameSync(tmp, path)
  },
}

function postgresIds(): {uid: number; gid: number} | undefined {
  const passwd = hostSystem.readFile('/etc/passwd') ?? ''
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'))
  if (!line) return undefined
  const [, , uid, gid] = line.split(':')
  return {uid: Number(uid), gid: Number(gid)}
}

export interface CreateConfigResult {
  configPath: string
  configText: string
  vipPath?: string
  vipText?: string
  warnings: string[]
}

/** The route to a public address names the host's main interface and source address (no packet is sent). */
function mainRoute(sys: CreateConfigSystem): {dev?: string; src?: string} {
  const out = sys.run('ip', ['-4', 'route', 'get', '8.8.8.8']) ?? ''
  const line = out.split('\n').find((l) => l.startsWith('8.8.8.8')) ?? ''
  return {dev: /\bdev (\S+)/.exec(line)?.[1], src: /\bsrc (\S+)/.exec(line)?.[1]}
}

/** Gathers the facts and renders the files; throws CreateConfigError with the script's messages. */
export function planCreateConfig(o: CreateConfigOptions, sys: CreateConfigSystem = hostSystem): CreateConfigResult {
  checkVersion(o.version)
  checkClusterName(o.cluster)
  const warnings: string[] = []
  if (!sys.exists(`/usr/lib/postgresql/${o.version}/bin/initdb`)) {
    throw new CreateConfigError(`no initdb program for version ${o.version} found`, `install postgresql-${o.version}`)
  }
  const dir = o.configDir ?? '/etc/patroni'

  // Existing clusters: `pg_lsclusters -h` prints version, cluster, port, ...
  const clusters = (sys.run('pg_lsclusters', ['-h']) ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && /^[0-9]+$/.test(f[2]!))
  const existing = clusters.find((f) => f[0] === o.version && f[1] === o.cluster)
  const port = choosePort({
    given: o.port,
    existing: existing ? Number(existing[2]) : undefined,
    inUse: clusters.map((f) => Number(f[2])),
  })

  // data_directory in createcluster.conf, up to its first %-placeholder.
  let dataDirBase = ''
  const cc = sys.readFile('/etc/postgresql-common/createcluster.conf')
  const dd = cc?.split('\n').find((l) => l.startsWith('data_directory'))
  if (dd !== undefined) dataDirBase = dd.replace(/^[^/]*\//, '/').replace(/%.*/, '').replace(/\/$/, '')
  if (dataDirBase === '') dataDirBase = '/var/lib/postgresql'

  let dcsText = sys.readFile(join(dir, 'dcs.yml'))
  if (!dcsConfigured(dcsText)) {
    if (o.endpoint === undefined) {
      throw new CreateConfigError(
        `DCS not configured yet, edit ${join(dir, 'dcs.yml')}`,
        'or pass --endpoint http://HOST:2379[,http://HOST:2379...] to write an etcd3 section with those endpoints',
      )
    }
    dcsText = etcd3SectionFromEndpoints(o.endpoint)
  }

  const configPath = join(dir, `${o.version}-${o.cluster}.yml`)
  if (!o.stdout && !o.force && sys.exists(configPath)) {
    throw new CreateConfigError('Patroni configuration file already exists', `${configPath}; pass --force to replace it`)
  }

  const route = o.hostip === undefined || o.network === undefined || o.vip !== undefined ? mainRoute(sys) : {}
  const ifaces = sys.interfaces()
  const mainIface = ifaces.find((i) => i.name === route.dev && (route.src === undefined || i.address === route.src)) ?? ifaces[0]
  const hostIp = o.hostip ?? route.src ?? mainIface?.address
  if (hostIp === undefined) throw new CreateConfigError('could not determine the host\'s IP address', 'pass --hostip=ADDRESS')
  let network = o.network
  if (network === undefined) {
    const iface = ifaces.find((i) => i.address === hostIp) ?? mainIface
    if (iface === undefined) throw new CreateConfigError('could not determine the network', 'pass --network=ADDRESS/PREFIX')
    network = `${hostIp}/${iface.prefix}`
  }

  let vipPath: string | undefined
  let vipText: string | undefined
  if (o.vip !== undefined) {
    vipPath = join(dir, `${o.version}-${o.cluster}.vip`)
    if (!o.stdout && !o.force && sys.exists(vipPath)) throw new CreateConfigError('VIP configuration file already exists', `${vipPath}; pass --force to replace it`)
    const iface = mainIface
    if (iface === undefined) throw new CreateConfigError('Network interface could not be determined, cannot write VIP file')
    const type = dcsType(dcsText!)
    if (type === undefined) throw new CreateConfigError(`DCS type could not be determined from ${join(dir, 'dcs.yml')}, cannot write VIP file`)
    const endpoints = o.endpoint ?? dcsEndpoints(dcsText!)
    if (endpoints === undefined) {
      throw new CreateConfigError(`DCS endpoint URL could not be determined from ${join(dir, 'dcs.yml')} and --endpoint not provided, cannot write VIP file`)
    }
    const vipTemplate = o.builtinTemplate ? undefined : sys.readFile(join(dir, 'vip.in'))
    vipText = renderVip({
      vipIp: o.vip,
      mask: String(iface.prefix),
      iface: iface.name,
      key: `/postgresql-common/${o.version}-${o.cluster}/leader`,
      hostname: sys.hostname(),
      dcsType: type,
      endpoints,
      template: vipTemplate,
    })
  }

  const template = o.builtinTemplate ? undefined : sys.readFile(join(dir, 'config.yml.in'))
  if (template === undefined && !o.builtinTemplate) warnings.push(`${join(dir, 'config.yml.in')} not found: using hactl's built-in template`)
  const configText = renderConfig({
    version: o.version,
    cluster: o.cluster,
    hostname: sys.hostname(),
    hostIp,
    network,
    port,
    dataDirBase,
    dcsText: dcsText!,
    template,
    vipIp: o.vip,
  })
  return {configPath, configText, vipPath, vipText, warnings}
}

export interface CreateConfigIo {
  out(s: string): void
  err(s: string): void
}

/** Runs the command; the exit code. */
export function runCreateConfig(o: CreateConfigOptions, io: CreateConfigIo, sys: CreateConfigSystem = hostSystem): number {
  let r: CreateConfigResult
  try {
    r = planCreateConfig(o, sys)
  } catch (e) {
    if (e instanceof CreateConfigError) {
      io.err(`Error: ${e.message}\n${e.hint ? `Hint: ${e.hint}\n` : ''}`)
      return 1
    }
    throw e
  }
  for (const w of r.warnings) io.err(`Warning: ${w}\n`)
  if (o.stdout) {
    io.out(r.configText)
    if (r.vipText !== undefined) io.out(`---\n${r.vipText}`)
    return 0
  }
  try {
    sys.writeFile(r.configPath, r.configText)
    if (r.vipPath !== undefined && r.vipText !== undefined) sys.writeFile(r.vipPath, r.vipText)
  } catch (e) {
    io.err(`Error: could not write ${r.configPath}: ${e instanceof Error ? e.message : String(e)}\n`)
    return 1
  }
  io.out(`Wrote ${r.configPath}${r.vipPath ? ` and ${r.vipPath}` : ''}\n`)
  return 0
}
