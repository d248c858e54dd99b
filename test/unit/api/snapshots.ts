/**
 * NodeSnapshots for the API tests, rebuilt from what Debian's Patroni 3.0.2 reported in
 * test/fixtures/patroni-3.0.2 (the cluster from etcd-dump.json, PostgreSQL facts from the
 * rest-patroni-*.json documents), so a correct builder reproduces those documents.
 */
import {readFileSync} from 'node:fs'
import {decodeCluster, type RawNode} from '../../../src/adapters/dcs-etcd3/codec'
import type {NodeSnapshot, ReplicationRow} from '../../../src/api/types'
import {parseDynamicConfig} from '../../../src/config/dynamic-schema'
import type {ClusterView} from '../../../src/core/cluster'

export const FIXTURES = 'test/fixtures/patroni-3.0.2'
export const fixture = (f: string): any => JSON.parse(readFileSync(`${FIXTURES}/${f}`, 'utf8'))

/** The cluster exactly as the etcd dump holds it; `extra` adds or replaces raw key values. */
export function fixtureCluster(extra: Record<string, string> = {}): ClusterView {
  const dump = fixture('etcd-dump.json') as {prefix: string; keys: {key: string; value: string; mod_revision: string; lease: string}[]}
  const nodes = new Map<string, RawNode>()
  for (const k of dump.keys) {
    const rel = k.key.slice(dump.prefix.length)
    nodes.set(rel, {key: rel, value: k.value, modRevision: Number(k.mod_revision), lease: k.lease === '0' ? null : k.lease})
  }
  let rev = 1000
  for (const [k, v] of Object.entries(extra)) nodes.set(k, {key: k, value: v, modRevision: rev++, lease: null})
  return decodeCluster(nodes)
}

export function leaderSnapshot(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  const doc = fixture('rest-patroni-leader.json')
  const cluster = fixtureCluster()
  return {
    name: 'pg1',
    scope: 'demo',
    state: 'running',
    role: 'primary',
    postgres: {
      // As PostgreSQL prints timestamptz; the builder turns it into Python's form.
      postmasterStartTime: '2026-11-23 00:16:05.560688+00',
      serverVersion: doc.server_version,
      wal: {kind: 'primary', location: doc.xlog.location},
      timeline: doc.timeline,
      replicationState: null,
      replication: doc.replication as ReplicationRow[],
    },
    sysid: doc.database_system_identifier,
    cluster,
    globalConfig: parseDynamicConfig(cluster.config!.data).config,
    isLeader: true,
    paused: false,
    failsafeActive: false,
    dcsLastSeen: doc.dcs_last_seen,
    configuredTags: {},
    effectiveTags: {},
    pendingRestartReason: null,
    pendingRestart: false,
    scheduledRestart: null,
    watchdogFailed: false,
    nextRunMs: 1_000_000,
    ...over,
  }
}

export function replicaSnapshot(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  const doc = fixture('rest-patroni-replica.json')
  return leaderSnapshot({
    name: 'pg2',
    role: 'replica',
    postgres: {
      postmasterStartTime: '2026-11-23T00:16:05.471436Z',
      serverVersion: doc.server_version,
      wal: {kind: 'replica', receivedLocation: doc.xlog.received_location, replayedLocation: doc.xlog.replayed_location, replayedTimestamp: null, paused: false},
      timeline: doc.timeline,
      replicationState: 'streaming',
      replication: [],
    },
    isLeader: false,
    dcsLastSeen: doc.dcs_last_seen,
    ...over,
  })
}

/** Same keys at every level and the same JSON type for each value (arrays compared by first element). */
export function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : []
  if (v === null) return 'null'
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, shapeOf(x)]).sort(([a], [b]) => String(a).localeCompare(String(b))))
  return typeof v
}

/**
 * A 3.0.2 GET /cluster body with what Patroni 4.1's cluster_as_json adds to every member but the
 * leader: the dump's members publish only xlog_location (67109424 = 0/4000230), so receive and
 * replay positions are unknown.
 */
export function with41MemberKeys<T extends {members: Array<Record<string, unknown>>}>(body: T): T {
  return {
    ...body,
    members: body.members.map((m) =>
      m.role === 'leader'
        ? m
        : {...m, receive_lsn: 'unknown', receive_lag: 'unknown', replay_lsn: 'unknown', replay_lag: 'unknown', lsn: '0/4000230'},
    ),
  }
}
