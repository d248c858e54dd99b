/**
 * The whole point of `hactl haproxy render`: a real 3-node hactl cluster (real etcd, real
 * PostgreSQL), its haproxy.cfg rendered from the DCS and checked by `haproxy -c`, a real HAProxy
 * on loopback. Through the primary port `pg_is_in_recovery()` is false, through the replicas port
 * true; after `hactl switchover` (hactl's own ctl driving hactl agents) the primary port
 * reaches the new primary within inter*fall plus a margin, as HAProxy's own stats socket
 * (`show stat`) confirms.
 */
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import pg from 'pg'
import {RENDER_EXIT, runHaproxyRender} from '../../../src/wiring/render'
import {EtcdServer} from '../../harness/etcd'
import {PATRONI_TEST_AUTH, PatroniCluster, type PatroniNode} from '../../harness/patroni'
import {freePort, waitFor} from '../../harness/ports'
import {runCommand} from '../../harness/postgres-bin'
import {HAPROXY_BIN, HaproxyProcess} from './haproxy-proc'

// Short checks keep the test quick; the bound below is derived from them, not guessed.
const INTER_MS = 1000
const FALL = 2
const RISE = 1
const MARGIN_MS = 4000

/** One query on one connection; the password is the harness's throwaway test credential. */
async function query<T>(port: number, sql: string): Promise<T> {
  const su = PATRONI_TEST_AUTH.superuser
  const c = new pg.Client({host: '127.0.0.1', port, user: su.username, password: su.password, database: 'postgres', connectionTimeoutMillis: 2000, query_timeout: 2000})
  c.on('error', () => {})
  await c.connect()
  try {
    return (await c.query(sql)).rows[0] as T
  } finally {
    await c.end().catch(() => {})
  }
}

/** Which PostgreSQL answered (its port) and whether it is a replica. */
const whoAnswers = (port: number) => query<{recovery: boolean; port: number}>(port, 'SELECT pg_is_in_recovery() AS recovery, inet_server_port() AS port')

describe('haproxy render on a real 3-node hactl cluster behind a real HAProxy', {concurrency: false}, () => {
  let etcd: EtcdServer
  let cluster: PatroniCluster
  let haproxy: HaproxyProcess | undefined
  let dir: string
  const ports = {primary: 0, replicas: 0, stats: 0}
  let leader: PatroniNode

  /** The leader named in etcd whose PostgreSQL is a primary with `replicas` streaming standbys. */
  async function primaryWith(replicas: number, not?: string): Promise<PatroniNode> {
    return waitFor(`a primary with ${replicas} streaming replica(s)${not ? ` other than ${not}` : ''}`, async () => {
      const name = await cluster.leaderName()
      if (!name || name === not) return undefined
      const node = cluster.node(name)
      const r = await query<{recovery: boolean; streaming: number}>(node.pgPort,
        "SELECT pg_is_in_recovery() AS recovery, (SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming') AS streaming")
      return !r.recovery && r.streaming >= replicas ? node : undefined
    }, {timeoutMs: 90_000, intervalMs: 250}).catch((e) => {
      throw new Error(`${(e as Error).message}\n${cluster.logTails()}`)
    })
  }

  before(async () => {
    etcd = await EtcdServer.start()
    cluster = await PatroniCluster.start({etcd, nodes: 3, impl: 'hactl', wait: false})
    dir = mkdtempSync(join(tmpdir(), 'hactl-render-e2e-'))
    const taken = new Set([etcd.clientPort, etcd.peerPort, ...cluster.nodes.flatMap((n) => [n.apiPort, n.pgPort])])
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) {
      let p: number
      do p = await freePort()
      while (taken.has(p))
      taken.add(p)
      ports[k] = p
    }
    leader = await primaryWith(2)
  })

  after(async () => {
    await haproxy?.stop()
    await cluster?.destroy()
    await etcd?.destroy()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('renders from the DCS, passes haproxy -c, and routes :primary to the primary and :replicas to replicas', async () => {
    const cfg = join(dir, 'haproxy.cfg')
    let err = ''
    const code = await runHaproxyRender({
      source: {kind: 'dcs', etcd: etcd.endpoint, scope: cluster.scope},
      haproxy: {
        // minimal: HAProxy runs as our child in the foreground, without Debian's chroot, user and admin socket.
        bind: '127.0.0.1', primaryPort: ports.primary, replicaPort: ports.replicas, statsPort: ports.stats, globalSection: 'minimal',
        inter: `${INTER_MS}ms`, fall: FALL, rise: RISE, timeoutCheck: '1s', timeoutConnect: '1s',
      },
      output: cfg, check: true, dryRun: false, reloadCmd: '', watch: false, interval: 10, haproxyBin: HAPROXY_BIN,
    }, {out: () => {}, err: (s) => (err += s), env: {}})
    assert.equal(code, RENDER_EXIT.changed, err)
    assert.match(err, /3 member\(s\): pg1, pg2, pg3/)

    haproxy = await HaproxyProcess.start(cfg, dir)
    const replicaNames = cluster.nodes.map((n) => n.name).filter((n) => n !== leader.name)
    // HAProxy starts servers UP before their first check, so wait for passed checks (L7OK), not UP alone.
    await waitFor('HAProxy to see the primary UP in primary and both replicas UP in replicas', async () => {
      const rows = await haproxy!.stat()
      const at = (px: string, sv: string) => rows.find((r) => r.pxname === px && r.svname === sv)
      const passed = (px: string, sv: string) => at(px, sv)?.status === 'UP' && /^L7OK/.test(at(px, sv)!.check_status)
      const failed = (px: string, sv: string) => at(px, sv)?.status === 'DOWN'
      return passed('primary', leader.name) && failed('replicas', leader.name) &&
        replicaNames.every((n) => failed('primary', n) && passed('replicas', n))
    }, {timeoutMs: 20_000, intervalMs: 200})

    const viaPrimary = await whoAnswers(ports.primary)
    assert.deepEqual(viaPrimary, {recovery: false, port: leader.pgPort})
    const replicaPorts = new Set(cluster.nodes.filter((n) => n !== leader).map((n) => n.pgPort))
    for (let i = 0; i < 4; i++) {
      const viaReplicas = await whoAnswers(ports.replicas)
      assert.equal(viaReplicas.recovery, true)
      assert.ok(replicaPorts.has(viaReplicas.port), `replicas port reached PostgreSQL on ${viaReplicas.port}`)
    }
  })

  it('after hactl switchover, :primary reaches the new primary within inter*fall plus a margin', async () => {
    assert.ok(haproxy, 'the previous test started HAProxy')
    const old = leader
    const candidate = cluster.nodes.find((n) => n.name !== old.name)!.name
    const cli = join(import.meta.dirname, '..', '..', '..', 'src', 'cli.ts')
    const sw = await runCommand(process.execPath, ['--import', 'tsx', cli, '-c', old.configPath, 'switchover', '--leader', old.name, '--candidate', candidate, '--force'], {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      timeoutMs: 60_000,
    })
    assert.equal(sw.code, 0, sw.stdout + sw.stderr)
    assert.match(sw.stdout, new RegExp(`Successfully switched over to "${candidate}"`))
    const promoted = await primaryWith(1, old.name)
    assert.equal(promoted.name, candidate)
    const t1 = Date.now()
    const bound = INTER_MS * FALL + MARGIN_MS
    await waitFor(`HAProxy to mark ${promoted.name} UP and ${old.name} DOWN in primary`, async () => {
      const p = await haproxy!.servers('primary')
      return p[promoted.name] === 'UP' && p[old.name] === 'DOWN' && Object.values(p).filter((s) => s === 'UP').length === 1
    }, {timeoutMs: bound, intervalMs: 100})
    const viaPrimary = await waitFor('a connection through the primary port', () => whoAnswers(ports.primary), {timeoutMs: bound, intervalMs: 100})
    const elapsed = Date.now() - t1
    assert.deepEqual(viaPrimary, {recovery: false, port: promoted.pgPort})
    assert.ok(elapsed <= bound, `took ${elapsed} ms, bound ${bound} ms`)
    const rows = await haproxy!.stat()
    const row = rows.find((r) => r.pxname === 'primary' && r.svname === promoted.name)
    assert.match(row?.check_status ?? '', /L7OK/, 'the new primary passed the HTTP check')
  })
})
