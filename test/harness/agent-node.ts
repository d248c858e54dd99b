/**
 * hactl agents started one at a time by tests that shape each member's configuration themselves
 * (test/integration/agent: bootstrap, failover, standby cluster): a member's directory and
 * ports, the configuration these tests start from, the agent run as the unprivileged account
 * with its output kept, psql over the member's socket, and the log tails a failure shows.
 * test/harness/patroni.ts is the harness for whole clusters started at once.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {join} from 'node:path'
import {stringify} from 'yaml'
import {hactlCommand} from './patroni'
import {freePort, within} from './ports'
import {asUser, ownedDir, PG_BIN_DIR, runCommand, writeOwnedFile} from './postgres-bin'

const ROOT = join(import.meta.dirname, '..', '..')

export interface AgentNode {
  name: string
  scope: string
  dir: string
  pgPort: number
  apiPort: number
  socketDir: string
  proc?: ChildProcess
  /** the agent's output (stdout and stderr), the last few hundred chunks */
  out: string[]
  exit?: Promise<number | null>
}

export interface AgentAuth {
  superuser: {username: string; password: string}
  replication: {username: string; password: string}
}

/** A member's directory under `home` (data directory, socket directory) and two free ports. */
export async function makeNode(home: string, name: string, scope: string): Promise<AgentNode> {
  const dir = ownedDir(join(home, name))
  const socketDir = ownedDir(join(dir, 'sock'))
  return {name, scope, dir, socketDir, pgPort: await freePort(), apiPort: await freePort(), out: []}
}

export const configPath = (n: AgentNode): string => join(n.dir, 'agent.yml')

/**
 * The configuration these tests start from: loopback addresses, ttl 20 / loop_wait 2 /
 * retry_timeout 4, `dcsPostgresql` as bootstrap.dcs.postgresql, PostgreSQL's socket in the
 * member's directory, trust on the socket and passwords over TCP.
 */
export function agentConfig(n: AgentNode, etcdEndpoint: string, auth: AgentAuth, dcsPostgresql: Record<string, unknown>): Record<string, unknown> {
  return {
    scope: n.scope,
    name: n.name,
    restapi: {listen: `127.0.0.1:${n.apiPort}`, connect_address: `127.0.0.1:${n.apiPort}`},
    etcd3: {hosts: [etcdEndpoint]},
    bootstrap: {
      dcs: {ttl: 20, loop_wait: 2, retry_timeout: 4, postgresql: dcsPostgresql},
      initdb: [{encoding: 'UTF8'}],
    },
    postgresql: {
      listen: `127.0.0.1:${n.pgPort}`,
      connect_address: `127.0.0.1:${n.pgPort}`,
      data_dir: join(n.dir, 'data'),
      bin_dir: PG_BIN_DIR,
      pgpass: join(n.dir, 'pgpass'),
      authentication: auth,
      parameters: {unix_socket_directories: n.socketDir, shared_buffers: '16MB'},
      pg_hba: ['local all all trust', 'host replication all 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'],
    },
  }
}

/** A shell script in the member's directory that appends its arguments to callbacks.log. */
export function writeCallbackScript(n: AgentNode): string {
  const path = join(n.dir, 'callback.sh')
  writeOwnedFile(path, `#!/bin/sh\necho "$*" >> ${join(n.dir, 'callbacks.log')}\n`, 0o755)
  return path
}

/** Writes `config` to the member's agent.yml and starts `hactl agent` on it as the unprivileged account. */
export function spawnAgent(n: AgentNode, home: string, config: Record<string, unknown>): void {
  writeOwnedFile(configPath(n), stringify(config))
  const opts = asUser(home, {PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`})
  const proc = spawn(...hactlCommand(configPath(n)), {...opts, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
  n.proc = proc
  const keep = (b: Buffer) => {
    n.out.push(b.toString())
    if (n.out.length > 400) n.out.splice(0, 100)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  n.exit = new Promise((r) => proc.on('exit', (code) => r(code)))
}

export function agentRunning(n: AgentNode): boolean {
  return !!n.proc && n.proc.exitCode === null && n.proc.signalCode === null
}

/** SIGTERM, then SIGKILL if the agent has not exited within `timeoutMs`. */
export async function stopAgent(n: AgentNode, timeoutMs = 30_000): Promise<void> {
  if (!agentRunning(n)) return
  n.proc!.kill('SIGTERM')
  await within(n.exit!, timeoutMs)
  if (agentRunning(n)) n.proc!.kill('SIGKILL')
}

/** psql -Atc over the member's socket as postgres; the output trimmed, or an error with psql's stderr. */
export async function psql(n: AgentNode, home: string, query: string): Promise<string> {
  const r = await runCommand(join(PG_BIN_DIR, 'psql'), ['-h', n.socketDir, '-p', String(n.pgPort), '-U', 'postgres', '-d', 'postgres', '-Atc', query], {...asUser(home)})
  if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`)
  return r.stdout.trim()
}

/** The last `lines` lines of each member's output, for a failure message. */
export function agentLogs(nodes: AgentNode[], lines = 40): string {
  return nodes.map((n) => `--- ${n.name}\n${n.out.join('').split('\n').slice(-lines).join('\n')}`).join('\n')
}
