/**
 * Debian's documented Patroni workflow, with hactl in Patroni's place: `/etc/patroni/dcs.yml`
 * with an etcd3 section, `pg_createconfig_patroni 15 main` writes /etc/patroni/15-main.yml,
 * then `hactl agent /etc/patroni/15-main.yml` instead of `patroni`. Debian's own tools run here:
 * pg_createconfig_patroni, pg_createcluster_patroni (the custom bootstrap), pg_clonecluster_patroni
 * (create_replica_method), pg_lsclusters, psql over the unix socket with peer authentication.
 *
 * Three "hosts" on one machine: each node lives in its own mount and UTS namespace (a holder
 * process made by `unshare`, entered with `nsenter`), with private bind mounts over /etc/patroni,
 * /etc/postgresql, /var/lib/postgresql, /var/run/postgresql and /var/log/postgresql, and its own
 * hostname (node1..node3, which pg_createconfig_patroni writes as the member name). node3 has
 * an empty /usr/share/patroni, as a host without the patroni package: hactl takes the clone
 * wrapper's steps itself. Nothing on the host is touched. Needs root (mounts); the agents run as
 * `postgres`.
 *
 * The generated files are used unmodified; only the PostgreSQL port is chosen per node
 * (--port, as a user with three clusters on one host would), and the REST port follows from
 * it as pg_createconfig_patroni derives it (2576 + port).
 */
import assert from 'node:assert/strict'
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {EtcdServer} from '../../harness/etcd'
import {runHactl} from '../../harness/hactl-cli'
import {hactlCommand} from '../../harness/patroni'
import {freePort, waitFor, within} from '../../harness/ports'
import {runAs} from '../../harness/unprivileged'

const CREATECONFIG = '/usr/bin/pg_createconfig_patroni'
const TEMPLATE = '/etc/patroni/config.yml.in'
// Outside CI a machine without root or the packages skips these; in CI (root, packages installed
// by scripts/setup.sh) they always run, so a missing install step fails instead of hiding.
const canRun = Boolean(process.env.CI) || (process.getuid?.() === 0 && existsSync(CREATECONFIG) && existsSync(TEMPLATE) && existsSync('/usr/bin/pg_createcluster'))
const SANDBOXED = ['/etc/patroni', '/etc/postgresql', '/var/lib/postgresql', '/var/run/postgresql', '/var/log/postgresql']

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** A PostgreSQL port whose derived REST port (2576 + port) is free too. */
async function debianPorts(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort()
    if (p + 2576 > 65535 || taken.has(p) || taken.has(p + 2576)) continue
    if (await portFree(p + 2576)) {
      taken.add(p)
      taken.add(p + 2576)
      return p
    }
  }
}

class DebianHost {
  readonly root: string
  holder?: ChildProcess
  agent?: ChildProcess
  agentLog = ''
  port = 0

  /** `withoutPatroniPackage`: an empty /usr/share/patroni, as on a host with hactl but not Debian's patroni package. */
  constructor(readonly name: string, readonly withoutPatroniPackage = false) {
    this.root = mkdtempSync(join(tmpdir(), `hactl-debian-${name}-`))
  }

  /** Host path of a sandboxed path. */
  path(inside: string): string {
    const top = SANDBOXED.find((d) => inside === d || inside.startsWith(d + '/'))
    assert.ok(top, `${inside} is not sandboxed`)
    return join(this.root, top.slice(1).replace(/\//g, '_'), inside.slice(top.length))
  }

  /** The namespace: a holder process with the private mounts and the hostname. */
  async start(dcsYml: string): Promise<void> {
    const who = runAs()!
    for (const d of SANDBOXED) {
      const dir = this.path(d)
      mkdirSync(dir, {recursive: true, mode: 0o755})
      if (d !== '/etc/patroni') chownSync(dir, who.uid, who.gid)
    }
    copyFileSync(TEMPLATE, this.path('/etc/patroni/config.yml.in'))
    writeFileSync(this.path('/etc/patroni/dcs.yml'), dcsYml)
    let mounts = SANDBOXED.map((d) => `mount --bind '${this.path(d)}' '${d}'`).join(' && ')
    if (this.withoutPatroniPackage) {
      const empty = join(this.root, 'no-patroni-package')
      mkdirSync(empty)
      mounts += ` && mount --bind '${empty}' /usr/share/patroni`
    }
    // unshare execs the shell, which execs sleep: the holder's pid is the namespace's.
    this.holder = spawn('unshare', ['--mount', '--uts', '--propagation', 'private', 'sh', '-c', `${mounts} && hostname ${this.name} && echo ready && exec sleep 3600`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    this.holder.stdout!.on('data', (d) => (out += d))
    this.holder.stderr!.on('data', (d) => (out += d))
    await waitFor(`${this.name}'s namespace`, () => {
      if (this.holder!.exitCode !== null) throw new Error(`unshare exited: ${out}`)
      return out.includes('ready')
    }, {timeoutMs: 10_000})
  }

  /** argv run inside the namespace, as root or as postgres. */
  nsArgs(argv: string[], asPostgres: boolean): string[] {
    const who = runAs()!
    const user = asPostgres ? ['-S', String(who.uid), '-G', String(who.gid)] : []
    return ['-t', String(this.holder!.pid), '-m', '-u', ...user, '--', ...argv]
  }

  run(argv: string[], asPostgres = false): string {
    return execFileSync('nsenter', this.nsArgs(argv, asPostgres), {
      encoding: 'utf8',
      env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/var/lib/postgresql'},
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    })
  }

  /** One value from psql over this node's unix socket, peer-authenticated as postgres. */
  psql(sql: string): string {
    return this.run(['psql', '-X', '-q', '-A', '-t', '-p', String(this.port), '-d', 'postgres', '-c', sql], true).trim()
  }

  startAgent(): void {
    const [cmd, args] = hactlCommand('/etc/patroni/15-main.yml')
    this.agent = spawn('nsenter', this.nsArgs([cmd, ...args], true), {
      env: {PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/var/lib/postgresql'},
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const keep = (d: Buffer) => {
      this.agentLog = (this.agentLog + d.toString()).slice(-20_000)
    }
    this.agent.stdout!.on('data', keep)
    this.agent.stderr!.on('data', keep)
  }

  async stop(): Promise<void> {
    const a = this.agent
    if (a?.pid && a.exitCode === null && a.signalCode === null) {
      const exited = new Promise((r) => a.once('exit', r))
      a.kill('SIGTERM')
      if ((await within(exited, 30_000)) === 'timeout') {
        a.kill('SIGKILL')
        await exited
      }
    }
    // A postmaster left behind (the agent was killed): by the pid in its own pid file.
    const pidFile = join(this.path('/var/lib/postgresql'), '15', 'main', 'postmaster.pid')
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        if (cmdline.includes('/var/lib/postgresql/15/main')) process.kill(pid, 'SIGQUIT')
      } catch {
        // not running
      }
    }
    const h = this.holder
    if (h?.pid && h.exitCode === null && h.signalCode === null) {
      const exited = new Promise((r) => h.once('exit', r))
      h.kill('SIGKILL')
      await exited
    }
    rmSync(this.root, {recursive: true, force: true})
  }
}

interface ListRow {
  Member: string
  Role: string
  State: string
}

describe('the Debian workflow: pg_createconfig_patroni, then hactl agent on the generated file', {skip: !canRun && 'needs root and Debian\'s patroni and postgresql-common packages'}, () => {
  let etcd: EtcdServer
  // node3 is a host without Debian's patroni package: hactl takes pg_clonecluster_patroni's steps itself.
  const hosts = [new DebianHost('node1'), new DebianHost('node2'), new DebianHost('node3', true)]
  const configFile = (h: DebianHost) => h.path('/etc/patroni/15-main.yml')
  const list = async (): Promise<ListRow[]> => {
    const r = await runHactl(['-c', configFile(hosts[0]), 'list', '-f', 'json'], {bin: process.env.HACTL_TEST_BIN})
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as ListRow[]
  }
  const logs = () => hosts.map((h) => `--- ${h.name}\n${h.agentLog.split('\n').slice(-40).join('\n')}`).join('\n')

  before(async () => {
    etcd = await EtcdServer.start()
    const taken = new Set<number>()
    const dcsYml = `etcd3:\n  hosts:\n  - ${etcd.endpoint}\n`
    for (const h of hosts) {
      h.port = await debianPorts(taken)
      await h.start(dcsYml)
      h.run([CREATECONFIG, '--hostip=127.0.0.1', '--network=127.0.0.1/32', `--port=${h.port}`, '15', 'main'])
    }
  })

  after(async () => {
    for (const h of hosts) await h.stop().catch(() => {})
    await etcd?.stop()
  })

  it('pg_createconfig_patroni wrote a file hactl validates without errors', async () => {
    for (const h of hosts) {
      const text = readFileSync(configFile(h), 'utf8')
      // What makes Debian's file Debian's: the custom bootstrap, the clone method, the socket.
      assert.match(text, /^name: node\d$/m)
      assert.match(text, /method: pg_createcluster/)
      assert.match(text, /create_replica_method:\n\s+- pg_clonecluster/)
      assert.match(text, /use_unix_socket: true/)
      assert.match(text, new RegExp(`listen: 127\\.0\\.0\\.1:${h.port + 2576}`))
      const [cmd, args] = hactlCommand(configFile(h))
      const v = execFileSync(cmd, [...args.slice(0, -2), 'agent', '--validate-config', configFile(h)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
      assert.match(v, /configuration OK/)
    }
  })

  it('node1 bootstraps with pg_createcluster_patroni, node2 and node3 clone with pg_clonecluster_patroni, all streaming', async () => {
    hosts[0].startAgent()
    await waitFor('node1 to lead', async () => (await list()).some((r) => r.Member === 'node1' && r.Role === 'Leader' && r.State === 'running'), {timeoutMs: 40_000, intervalMs: 500}).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}`)
    })
    // The cluster is Debian's: pg_createcluster registered it, so pg_lsclusters (in node1's namespace) shows it.
    assert.match(hosts[0].run(['pg_lsclusters', '-h']), /^15\s+main\s+\d+\s+online\s+postgres\s+\/var\/lib\/postgresql\/15\/main/m)
    assert.match(hosts[0].agentLog, /Running custom bootstrap script: \/usr\/share\/patroni\/pg_createcluster_patroni/)
    // postgresql.conf in config_dir was pg_createcluster's: renamed to postgresql.base.conf and included.
    const conf = readFileSync(hosts[0].path('/etc/postgresql/15/main/postgresql.conf'), 'utf8')
    assert.match(conf, /include 'postgresql\.base\.conf'/)
    assert.match(readFileSync(hosts[0].path('/etc/postgresql/15/main/postgresql.base.conf'), 'utf8'), /data_directory = '\/var\/lib\/postgresql\/15\/main'/)
    // The agent queries its PostgreSQL over the socket with peer auth: pg_hba has no trust line left.
    assert.doesNotMatch(readFileSync(hosts[0].path('/etc/postgresql/15/main/pg_hba.conf'), 'utf8'), /trust/)
    hosts[0].psql('CREATE TABLE debian_e2e (v text); INSERT INTO debian_e2e VALUES (\'written before the switchover\')')

    hosts[1].startAgent()
    hosts[2].startAgent()
    await waitFor('two streaming replicas', async () => {
      const rows = await list()
      return rows.filter((r) => r.Role === 'Replica' && r.State === 'streaming').length === 2 && rows.some((r) => r.Member === 'node1' && r.Role === 'Leader')
    }, {timeoutMs: 60_000, intervalMs: 500}).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}`)
    })
    for (const h of hosts.slice(1)) {
      assert.match(h.agentLog, /creating a replica with pg_clonecluster: \/usr\/share\/patroni\/pg_clonecluster_patroni --scope=15-main --role=replica --datadir=\/var\/lib\/postgresql\/15\/main --connstring=/)
      // pg_clonecluster_patroni ran pg_createcluster first: the clone is a Debian cluster too.
      assert.match(h.run(['pg_lsclusters', '-h']), /^15\s+main\s+\d+\s+online/m)
    }
    assert.doesNotMatch(hosts[1].agentLog, /is not installed/)
    assert.match(hosts[2].agentLog, /\/usr\/share\/patroni\/pg_clonecluster_patroni is not installed \(no patroni package on this host\): hactl takes its steps itself/)
    assert.match(hosts[2].agentLog, /running \/usr\/lib\/postgresql\/15\/bin\/pg_basebackup --pgdata \/var\/lib\/postgresql\/15\/main -X stream --dbname=dbname=postgres user=replicator host=127\.0\.0\.1 port=\d+/)
  })

  it('a switchover to node2 works; the row written before it is on every node', async () => {
    const r = await runHactl(['-c', configFile(hosts[0]), 'switchover', '--leader', 'node1', '--candidate', 'node2', '--force'], {bin: process.env.HACTL_TEST_BIN})
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    await waitFor('node2 leading, node1 and node3 streaming from it', async () => {
      const rows = await list()
      return rows.some((x) => x.Member === 'node2' && x.Role === 'Leader' && x.State === 'running') &&
        rows.filter((x) => x.Role === 'Replica' && x.State === 'streaming').map((x) => x.Member).sort().join() === 'node1,node3'
    }, {timeoutMs: 60_000, intervalMs: 500}).catch((e) => {
      throw new Error(`${(e as Error).message}\n${logs()}`)
    })
    assert.equal(hosts[1].psql('SELECT pg_is_in_recovery()'), 'f')
    hosts[1].psql('INSERT INTO debian_e2e VALUES (\'written after the switchover\')')
    for (const h of hosts) {
      await waitFor(`both rows on ${h.name}`, () => h.psql('SELECT string_agg(v, \',\' ORDER BY v) FROM debian_e2e') === 'written after the switchover,written before the switchover', {timeoutMs: 15_000, intervalMs: 200})
    }
  })
})

describe('a host with hactl but without the patroni package bootstraps with pg_createcluster_patroni\'s steps', {skip: !canRun && 'needs root and Debian\'s patroni and postgresql-common packages'}, () => {
  let etcd: EtcdServer
  const host = new DebianHost('node4', true)

  before(async () => {
    etcd = await EtcdServer.start()
    host.port = await debianPorts(new Set())
    // pg_createconfig_patroni itself comes from the patroni package; its template is copied in as before.
    await host.start(`etcd3:\n  hosts:\n  - ${etcd.endpoint}\n`)
    host.run([CREATECONFIG, '--hostip=127.0.0.1', '--network=127.0.0.1/32', `--port=${host.port}`, '15', 'main'])
  })

  after(async () => {
    await host.stop().catch(() => {})
    await etcd?.stop()
  })

  it('pg_createcluster --start-conf=manual registers the cluster, the node leads and answers over its socket', async () => {
    assert.equal(host.run(['sh', '-c', 'ls -A /usr/share/patroni']).trim(), '')
    host.startAgent()
    const list = async () => {
      const r = await runHactl(['-c', host.path('/etc/patroni/15-main.yml'), 'list', '-f', 'json'], {bin: process.env.HACTL_TEST_BIN})
      return r.code === 0 ? (JSON.parse(r.stdout) as ListRow[]) : []
    }
    await waitFor('node4 to lead', async () => (await list()).some((r) => r.Member === 'node4' && r.Role === 'Leader' && r.State === 'running'), {timeoutMs: 40_000, intervalMs: 500}).catch((e) => {
      throw new Error(`${(e as Error).message}\n${host.agentLog}`)
    })
    assert.match(host.agentLog, /\/usr\/share\/patroni\/pg_createcluster_patroni is not installed \(no patroni package on this host\): hactl takes its steps itself/)
    assert.match(host.agentLog, /running pg_createcluster --start-conf=manual --datadir=\/var\/lib\/postgresql\/15\/main 15 main/)
    assert.match(host.run(['pg_lsclusters', '-h']), /^15\s+main\s+\d+\s+online\s+postgres\s+\/var\/lib\/postgresql\/15\/main/m)
    assert.match(readFileSync(host.path('/etc/postgresql/15/main/start.conf'), 'utf8'), /^manual$/m)
    assert.equal(host.psql('SELECT pg_is_in_recovery()'), 'f')
  })
})
