import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {decide} from '../../../src/core/decide'
import {makeCtx} from '../../../src/core/rules/context'
import {enforcePrimaryRole} from '../../../src/core/rules/leader'
import {MB, NOW, SYSID, cluster, member, obs, peer, pgPrimary, pgReplica, pgStopped, runCycle, type ObsOptions, type Script} from './decide-fixtures'

interface Row {
  name: string
  o: ObsOptions
  s?: Script
  rule: string
  reason: string | RegExp
  /** Action types of the whole cycle, in order. */
  actions: string[]
}

const healthyPeers = {node2: peer(), node3: peer({walPosition: 90 * MB})}
const behind = {node2: peer({walPosition: 99 * MB}), node3: peer({walPosition: 90 * MB})}

const rows: Row[] = [
  // 3.7 healthy cluster
  {name: 'leader renews', o: {}, rule: 'healthy.leader', reason: 'no action. I am (node1), the leader with the lock', actions: ['update-lock']},
  {name: 'replica follows', o: {name: 'node2'}, rule: 'healthy.follow', reason: 'no action. I am (node2), a secondary, and following a leader (node1)', actions: ['follow']},
  {name: 'lock holder in recovery promotes', o: {pg: pgReplica()}, rule: 'healthy.leader', reason: 'promoted self to leader because I had the session lock', actions: ['update-lock', 'promote']},
  // The remembered role is not what PostgreSQL is: a lock holder whose PostgreSQL answers from recovery promotes
  // again (before the fix: "no action. I am (node1), the leader with the lock" and only update-lock, forever read-only).
  {name: 'lock holder remembered as primary but in recovery promotes again', o: {pg: pgReplica(), memory: {role: 'primary'}}, rule: 'healthy.leader', reason: 'promoted self to leader because I had the session lock', actions: ['update-lock', 'promote']},
  {name: 'lock holder remembered as promoted but in recovery promotes again', o: {pg: pgReplica(), memory: {role: 'promoted'}}, rule: 'healthy.leader', reason: 'promoted self to leader because I had the session lock', actions: ['update-lock', 'promote']},
  {name: 'lock holder remembered as primary, recovery unknown (query failed): renews as the primary it was, no promote, no demote', o: {pg: pgPrimary({inRecovery: null}), memory: {role: 'primary'}}, rule: 'healthy.leader', reason: 'no action. I am (node1), the leader with the lock', actions: ['update-lock']},
  {name: 'lock holder remembered as replica, recovery unknown (query failed): waits', o: {pg: pgPrimary({inRecovery: null}), memory: {role: 'replica'}}, rule: 'pg.query-failed', reason: 'Error communicating with PostgreSQL. Will try again later', actions: []},
  {name: 'CAS mismatch demotes immediately', o: {}, s: {update: false}, rule: 'healthy.renew-failed', reason: 'demoted self because failed to update leader lock in DCS', actions: ['update-lock', 'demote']},
  {name: 'CAS mismatch in pause keeps running', o: {config: {paused: true}}, s: {update: false}, rule: 'healthy.renew-failed', reason: 'PAUSE: continue to run as primary after failing to update leader lock in DCS', actions: ['update-lock']},
  {name: 'replica lock holder fails renewal', o: {pg: pgReplica()}, s: {update: false}, rule: 'healthy.renew-failed', reason: 'not promoting because failed to update leader lock in DCS', actions: ['update-lock']},
  {name: 'primary without lock demotes', o: {name: 'node2', pg: pgPrimary()}, rule: 'healthy.follow', reason: 'demoting self because I do not have the lock and I was a leader', actions: ['demote']},
  {name: 'primary without lock in pause', o: {name: 'node2', pg: pgPrimary(), config: {paused: true}}, rule: 'healthy.follow', reason: 'PAUSE: continue to run as primary without lock', actions: []},
  {name: 'paused lock holder not primary releases', o: {pg: pgReplica(), config: {paused: true}}, rule: 'healthy.paused-not-primary', reason: 'PAUSE: removed leader lock because postgres is not running as primary', actions: ['release-lock']},
  {name: 'paused switchover candidate waits', o: {pg: pgReplica(), config: {paused: true}, view: cluster({failover: {candidate: 'node1'}})}, rule: 'healthy.paused-waiting-promote', reason: 'PAUSE: waiting to become primary after promote...', actions: []},
  {name: 'history repaired on a new timeline', o: {pg: pgPrimary({timeline: 3})}, rule: 'healthy.leader', reason: /the leader with the lock/, actions: ['update-lock', 'write-history']},
  // 3.15 DCS errors
  {name: 'DCS down: primary demotes offline', o: {unreachableFor: 21, lastLockRenewal: NOW - 21_000}, rule: 'dcs.demote', reason: 'demoting self because DCS is not accessible and I was a leader (etcd unreachable for 21s, lock renewed 21s ago, lease 9s left, ttl 30s)', actions: ['demote']},
  {name: 'DCS error on renewal demotes', o: {}, s: {update: 'dcs-error'}, rule: 'dcs.demote', reason: /^demoting self because DCS is not accessible and I was a leader/, actions: ['update-lock', 'demote']},
  {name: 'DCS down: replica waits', o: {name: 'node2', unreachableFor: 5}, rule: 'dcs.unreachable-replica', reason: /^DCS is not accessible \(etcd unreachable for 5s/, actions: []},
  {name: 'DCS down in pause: no demotion', o: {unreachableFor: 60, config: {paused: true}}, rule: 'dcs.unreachable', reason: /^PAUSE: DCS is not accessible/, actions: []},
  {name: 'DCS down, failsafe all ack', o: {unreachableFor: 5, config: {failsafeMode: true}, view: {...cluster(), failsafe: {node1: 'a', node2: 'b'}}}, s: {failsafe: true}, rule: 'dcs.failsafe', reason: /^continue to run as a leader because failsafe mode is enabled and all members are accessible/, actions: ['failsafe-probe']},
  {name: 'DCS down, failsafe nack', o: {unreachableFor: 5, config: {failsafeMode: true}, view: {...cluster(), failsafe: {node1: 'a', node2: 'b'}}}, s: {failsafe: false}, rule: 'dcs.demote', reason: /^demoting self because DCS/, actions: ['failsafe-probe', 'demote']},
  // 3.8 / 3.9 leader race
  {name: 'healthiest replica acquires and promotes', o: {name: 'node2', view: cluster({leader: null})}, s: {peers: {node1: peer({reachable: false}), node3: peer({walPosition: 90 * MB})}}, rule: 'race.won', reason: 'promoted self to leader by acquiring session lock', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'promote']},
  {name: 'unlocked primary re-takes the lock', o: {view: cluster({leader: null}), pg: pgPrimary()}, rule: 'race.won', reason: 'acquired session lock as a leader', actions: ['acquire-lock', 'activate-watchdog']},
  {name: 'stale primary behind cluster timeline does not race', o: {view: cluster({leader: null, timeline: 3}), pg: pgPrimary({timeline: 2})}, rule: 'race.not-healthiest', reason: 'demoting self because i am not the healthiest node', actions: ['demote']},
  {name: 'lost the race follows', o: {name: 'node2', view: cluster({leader: null})}, s: {acquire: false, peers: behind}, rule: 'race.lost', reason: 'following new leader after trying and failing to obtain lock', actions: ['fetch-peer-status', 'acquire-lock']},
  {name: 'peer ahead wins', o: {name: 'node3', view: cluster({leader: null}), config: {maximumLagOnFailover: 16 * MB}, pg: pgReplica({walPosition: 90 * MB})}, s: {peers: {node1: peer({reachable: false}), node2: peer()}}, rule: 'race.not-healthiest', reason: 'following a different leader because i am not the healthiest node: Wal position of node2 (0/6400000) is ahead of my wal position (0/5A00000)', actions: ['fetch-peer-status']},
  {name: 'old primary still alive blocks', o: {name: 'node2', view: cluster({leader: null})}, s: {peers: {node1: peer({inRecovery: false}), node3: peer()}}, rule: 'race.not-healthiest', reason: /Primary \(node1\) is still alive/, actions: ['fetch-peer-status']},
  {name: 'lagging replica does not race', o: {name: 'node2', view: cluster({leader: null, lastLsn: 100 * MB}), pg: pgReplica({walPosition: 98 * MB})}, rule: 'race.not-healthiest', reason: /My wal position exceeds maximum replication lag: 2097152 bytes behind .* maximum_lag_on_failover 1048576/, actions: []},
  {name: 'equal WAL, higher peer priority wins', o: {name: 'node2', view: cluster({leader: null})}, s: {peers: {node1: peer({reachable: false}), node3: peer({failoverPriority: 2})}}, rule: 'race.not-healthiest', reason: /node3 has equally tolerable WAL position and priority 2, while this node has priority 1/, actions: ['fetch-peer-status']},
  {name: 'check_timeline: my timeline behind', o: {name: 'node2', view: cluster({leader: null, timeline: 3}), pg: pgReplica({timeline: 2}), config: {checkTimeline: true}}, rule: 'race.not-healthiest', reason: /My timeline 2 is behind last known cluster timeline 3/, actions: []},
  {name: 'nofailover never races', o: {name: 'node2', view: cluster({leader: null}), config: {tags: {nofailover: true, failoverPriority: 0, clonefrom: false, replicatefrom: null, nostream: false}}}, rule: 'race.nofailover', reason: 'following a different leader because I am not allowed to promote', actions: ['trigger-rewind-check', 'sleep']},
  {name: 'unknown wal position never races', o: {name: 'node2', view: cluster({leader: null}), pg: pgReplica({walPosition: null})}, rule: 'race.not-healthiest', reason: /my wal position is unknown/, actions: []},
  {name: 'pre_promote backoff', o: {name: 'node2', view: cluster({leader: null}), memory: {prePromoteFailedAt: NOW - 5000}}, rule: 'race.not-healthiest', reason: /backoff: skip leader race after pre_promote script failure/, actions: []},
  {name: 'paused: replicas do not race', o: {name: 'node2', view: cluster({leader: null}), config: {paused: true}}, rule: 'race.not-healthiest', reason: /^PAUSE: no action. I am \(node2\)$/, actions: []},
  {name: 'watchdog required and unusable', o: {name: 'node2', view: cluster({leader: null}), config: {watchdogHealthy: false, watchdogRequired: true}}, rule: 'race.not-healthiest', reason: /Watchdog device is not usable/, actions: []},
  {name: 'watchdog activation fails before promote', o: {name: 'node2', view: cluster({leader: null}), memory: {watchdogRunning: false}, config: {watchdogRequired: true}}, s: {watchdog: false, peers: behind}, rule: 'race.won', reason: 'Not promoting self because watchdog could not be activated', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'release-lock']},
  {name: 'pre_promote failed: release', o: {pg: pgReplica(), memory: {lastTask: {kind: 'promote', ok: false, prePromoteFailed: true, finishedAt: NOW - 1000}}}, rule: 'healthy.leader', reason: 'Promotion cancelled because the pre-promote script failed', actions: ['update-lock', 'release-lock']},
  // 4.4 synchronous mode
  {name: 'sync: non-sync replica does not race', o: {name: 'node3', view: cluster({leader: null, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true}}, rule: 'race.not-healthiest', reason: /I am not in \/sync \(node2\)/, actions: []},
  {name: 'sync: sync standby claims /sync then promotes', o: {name: 'node2', view: cluster({leader: null, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true}}, s: {peers: {node1: peer({reachable: false})}}, rule: 'race.won', reason: 'promoted self to leader by acquiring session lock', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'set-sync', 'promote']},
  {name: 'sync: /sync CAS lost postpones', o: {name: 'node2', view: cluster({leader: null, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true}}, s: {setSync: false, peers: {}}, rule: 'race.won', reason: 'Postponing promotion because synchronous replication state was updated by somebody else', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'set-sync']},
  {name: 'sync: former leader ahead does not disqualify', o: {name: 'node2', view: cluster({leader: null, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true}}, s: {peers: {node1: peer({walPosition: 200 * MB})}}, rule: 'race.won', reason: 'promoted self to leader by acquiring session lock', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'set-sync', 'promote']},
  // 3.12 manual failover / switchover
  {name: 'switchover: leader demotes gracefully', o: {view: cluster({failover: {leader: 'node1', candidate: 'node2'}})}, s: {peers: healthyPeers}, rule: 'healthy.manual-failover', reason: 'switchover: demoting myself', actions: ['update-lock', 'fetch-peer-status', 'demote']},
  {name: 'switchover scheduled in the future waits', o: {view: cluster({failover: {leader: 'node1', candidate: 'node2', scheduledAt: '2026-01-01T12:05:00+00:00', scheduledAtMs: NOW + 300_000}})}, rule: 'healthy.leader', reason: 'no action. I am (node1), the leader with the lock; awaiting switchover at 2026-01-01T12:05:00+00:00 (in 300 seconds)', actions: ['update-lock']},
  {name: 'switchover scheduled soon sleeps then demotes', o: {view: cluster({failover: {leader: 'node1', candidate: 'node2', scheduledAt: 'x', scheduledAtMs: NOW + 4000}})}, s: {peers: healthyPeers}, rule: 'healthy.manual-failover', reason: 'switchover: demoting myself', actions: ['update-lock', 'sleep', 'fetch-peer-status', 'demote']},
  {name: 'stale scheduled switchover is removed', o: {view: cluster({failover: {leader: 'node1', scheduledAt: 'x', candidate: 'node2', scheduledAtMs: NOW - 60_000}})}, rule: 'healthy.leader', reason: /found a stale switchover value \(60s late\)/, actions: ['update-lock', 'clear-failover']},
  {name: 'switchover to an unhealthy candidate is refused', o: {view: cluster({failover: {leader: 'node1', candidate: 'node2'}})}, s: {peers: {node2: peer({reachable: false})}}, rule: 'healthy.leader', reason: /switchover: no healthy members found, switchover is not possible \(node2 is not reachable\)/, actions: ['update-lock', 'fetch-peer-status', 'clear-failover']},
  {name: 'switchover from another leader is removed', o: {view: cluster({failover: {leader: 'node3', candidate: 'node2'}})}, rule: 'healthy.leader', reason: /leader name does not match: node3 != node1/, actions: ['update-lock', 'clear-failover']},
  {name: 'switchover to a non-sync candidate in sync mode', o: {view: cluster({failover: {leader: 'node1', candidate: 'node3'}, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true}}, rule: 'healthy.leader', reason: /candidate node3 does not match with sync_standbys node2/, actions: ['update-lock', 'clear-failover', 'manage-sync']},
  {name: 'candidate takes the lock and cleans the key', o: {name: 'node2', view: cluster({leader: null, failover: {leader: 'node1', candidate: 'node2'}})}, rule: 'race.won', reason: 'promoted self to leader by acquiring session lock', actions: ['acquire-lock', 'activate-watchdog', 'promote', 'clear-failover']},
  {name: 'non-candidate waits for a healthy candidate', o: {name: 'node3', view: cluster({leader: null, failover: {leader: 'node1', candidate: 'node2'}})}, s: {peers: {node2: peer()}}, rule: 'race.not-healthiest', reason: /manual failover: to node2, i am node3/, actions: ['fetch-peer-status', 'trigger-rewind-check', 'sleep']},
  {name: 'candidate gone: others race', o: {name: 'node3', view: cluster({leader: null, failover: {leader: 'node1', candidate: 'node2'}})}, s: {peers: {node2: peer({reachable: false})}}, rule: 'race.won', reason: 'promoted self to leader by acquiring session lock', actions: ['fetch-peer-status', 'acquire-lock', 'activate-watchdog', 'promote', 'clear-failover']},
  {name: 'paused: candidate promotes, key rewritten', o: {name: 'node2', view: cluster({leader: null, failover: {leader: 'node1', candidate: 'node2'}}), config: {paused: true}}, rule: 'race.won', reason: 'PAUSE: promoted self to leader by acquiring session lock', actions: ['acquire-lock', 'promote', 'set-failover']},
  // 3.2 long actions
  {name: 'leader renews during a task', o: {task: {kind: 'restart', name: 'restart', startedAt: NOW - 5000}}, rule: 'task.leader-renewed', reason: 'updated leader lock during restart', actions: ['update-lock']},
  {name: 'lock lost during restart of primary', o: {task: {kind: 'restart', name: 'restart', startedAt: NOW - 5000}, memory: {role: 'primary'}}, s: {update: false}, rule: 'task.lost-lock', reason: 'lost leader lock during restart', actions: ['update-lock', 'cancel-task', 'demote']},
  {name: 'lock lost before promote', o: {task: {kind: 'promote', name: 'promote', startedAt: NOW - 1000}, pg: pgReplica()}, s: {update: false}, rule: 'task.lost-before-promote', reason: 'lost leader before promote', actions: ['update-lock', 'cancel-task']},
  {name: 'replica task in progress', o: {name: 'node2', task: {kind: 'clone', name: "bootstrap from leader 'node1'", startedAt: NOW}}, rule: 'task.in-progress', reason: "bootstrap from leader 'node1' in progress", actions: []},
  {name: 'crash recovery timeout fails over', o: {pg: pgStopped(), task: {kind: 'crash-recovery', name: 'doing crash recovery in a single user mode', startedAt: NOW - 400_000}, memory: {crashRecoveryStartedAt: NOW - 400_000}}, s: {peers: healthyPeers}, rule: 'task.crash-recovery-timeout', reason: 'terminated crash recovery because of startup timeout', actions: ['update-lock', 'fetch-peer-status', 'cancel-task', 'demote']},
  // 3.3 starting
  {name: 'starting primary within timeout', o: {pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW - 100_000})}, rule: 'starting.wait', reason: 'PostgreSQL is still starting up, 200 seconds until timeout', actions: ['update-lock']},
  {name: 'starting primary timed out, failover possible', o: {pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW - 301_000})}, s: {peers: healthyPeers}, rule: 'starting.timeout', reason: /^stopped PostgreSQL because of startup timeout/, actions: ['update-lock', 'fetch-peer-status', 'demote']},
  {name: 'starting primary timed out, nobody to fail over to', o: {pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW - 301_000})}, s: {peers: {}}, rule: 'starting.timeout-no-failover', reason: /^primary start has timed out, but continuing to wait because failover is not possible/, actions: ['update-lock', 'fetch-peer-status']},
  {name: 'starting: lock lost', o: {pg: pgPrimary({process: 'starting', inRecovery: null, startingSince: NOW})}, s: {update: false}, rule: 'starting.lost-lock', reason: 'stopped PostgreSQL while starting up because leader key was lost', actions: ['update-lock', 'demote']},
  // 3.6 recover
  {name: 'crashed primary restarts as primary with the lock', o: {pg: pgStopped({controlState: 'in production'}), memory: {role: 'primary', pgState: 'running'}}, rule: 'recover.restart-primary', reason: 'starting primary after failure', actions: ['update-lock', 'start']},
  {name: 'crashed primary, timeout 0: fail over', o: {pg: pgStopped({controlState: 'in production'}), memory: {role: 'primary', pgState: 'running'}, config: {primaryStartTimeout: 0}}, s: {peers: healthyPeers}, rule: 'recover.failover-after-crash', reason: /^stopped PostgreSQL to fail over after a crash/, actions: ['update-lock', 'fetch-peer-status', 'disable-watchdog', 'demote']},
  {name: 'lock holder, cleanly stopped: starts read-only', o: {pg: pgStopped(), memory: {role: 'demoted', pgState: 'stopped'}}, rule: 'recover.readonly-with-lock', reason: 'starting as readonly because i had the session lock', actions: ['update-lock', 'disable-watchdog', 'start']},
  {name: 'lock lost while stopped: starts as a secondary', o: {pg: pgStopped(), memory: {role: 'primary', pgState: 'running'}}, s: {update: false}, rule: 'recover.start-replica', reason: 'starting as a secondary', actions: ['update-lock', 'disable-watchdog', 'start']},
  {name: 'stopped replica starts following', o: {name: 'node2', pg: pgStopped({controlState: 'shut down in recovery'}), memory: {pgState: 'stopped', watchdogRunning: false}}, rule: 'recover.start-replica', reason: 'starting as a secondary', actions: ['start']},
  {name: 'unlocked crashed node: crash recovery first', o: {name: 'node2', view: cluster({leader: null}), pg: pgStopped({controlState: 'in production'}), memory: {pgState: 'running', watchdogRunning: false}}, rule: 'recover.crash-recovery', reason: 'doing crash recovery in a single user mode', actions: ['crash-recovery']},
  {name: 'rewind needed before following', o: {name: 'node2', pg: pgStopped(), memory: {pgState: 'stopped', watchdogRunning: false, canRewind: true}, config: {usePgRewind: true}}, s: {rewind: 'need'}, rule: 'recover.rewind', reason: 'running pg_rewind from node1', actions: ['trigger-rewind-check', 'check-rewind', 'rewind']},
  {name: 'a check passed before (not-need) is done again at a start as a replica', o: {name: 'node2', pg: pgStopped(), memory: {pgState: 'stopped', watchdogRunning: false, canRewind: true, rewind: 'not-need'}, config: {usePgRewind: true}}, s: {rewind: 'need'}, rule: 'recover.rewind', reason: 'running pg_rewind from node1', actions: ['trigger-rewind-check', 'check-rewind', 'rewind']},
  {name: 'after a rewind ran, a start as a replica does not check again', o: {name: 'node2', pg: pgStopped({controlState: 'shut down in recovery'}), memory: {pgState: 'stopped', watchdogRunning: false, canRewind: true, rewind: 'success'}, config: {usePgRewind: true}}, rule: 'recover.start-replica', reason: 'starting as a secondary', actions: ['start']},
  {name: 'diverged without rewind: reinitialize', o: {name: 'node2', pg: pgStopped(), memory: {pgState: 'stopped', watchdogRunning: false}, config: {removeDataDirectoryOnDivergedTimelines: true}}, s: {rewind: 'need'}, rule: 'recover.rewind', reason: 'reinitializing due to diverged timelines', actions: ['trigger-rewind-check', 'check-rewind', 'reinitialize']},
  {name: 'paused: stopped PG stays stopped', o: {name: 'node2', pg: pgStopped(), config: {paused: true}}, rule: 'stopped.paused', reason: 'PAUSE: postgres is not running', actions: []},
  {name: 'paused: lock holder with stopped PG releases', o: {pg: pgStopped(), config: {paused: true}}, rule: 'stopped.paused-release', reason: 'PAUSE: removed leader lock because postgres is not running', actions: ['release-lock']},
  {name: 'start attempt failed, lock released', o: {pg: pgStopped(), memory: {recovering: true, role: 'primary'}}, rule: 'recover.start-failed', reason: 'removed leader key after trying and failing to start postgres', actions: ['disable-watchdog', 'release-lock']},
  // 2.2 data directory / bootstrap
  {name: 'empty cluster: win the initialize race', o: {view: {...cluster({leader: null}), initialize: null}, pg: pgStopped({dataDir: {kind: 'empty'}})}, rule: 'bootstrap.new', reason: 'trying to bootstrap a new cluster', actions: ['initialize', 'bootstrap']},
  {name: 'empty cluster: lose the initialize race', o: {view: {...cluster({leader: null}), initialize: null}, pg: pgStopped({dataDir: {kind: 'empty'}})}, s: {initialize: false}, rule: 'bootstrap.race-lost', reason: 'failed to acquire initialize lock', actions: ['initialize']},
  {name: 'empty data dir with a leader: clone', o: {name: 'node3', pg: pgStopped({dataDir: {kind: 'empty'}})}, rule: 'bootstrap.clone', reason: "trying to bootstrap from leader 'node1'", actions: ['clone']},
  {name: 'a failed clone is not retried before loop_wait', o: {name: 'node3', pg: pgStopped({dataDir: {kind: 'empty'}}), memory: {lastTask: {kind: 'clone', ok: false, finishedAt: NOW - 1000}}}, rule: 'bootstrap.clone-failed', reason: /^failed to bootstrap \(clone failed 1\.0s ago\); trying again after loop_wait$/, actions: []},
  {name: 'a failed clone is retried after loop_wait', o: {name: 'node3', pg: pgStopped({dataDir: {kind: 'empty'}}), memory: {lastTask: {kind: 'clone', ok: false, finishedAt: NOW - 60_000}}}, rule: 'bootstrap.clone', reason: "trying to bootstrap from leader 'node1'", actions: ['clone']},
  {name: 'clonefrom replica preferred', o: {name: 'node3', view: (() => { const c = cluster(); c.members[1] = member('node2', {tags: {clonefrom: true}}); return c })(), pg: pgStopped({dataDir: {kind: 'empty'}})}, rule: 'bootstrap.clone', reason: "trying to bootstrap from replica 'node2'", actions: ['clone']},
  {name: 'bootstrap in progress elsewhere', o: {name: 'node3', view: {...cluster({leader: null}), initialize: ''}, pg: pgStopped({dataDir: {kind: 'empty'}})}, rule: 'bootstrap.wait', reason: 'waiting for leader to bootstrap', actions: []},
  {name: 'empty data dir while holding the lock', o: {pg: pgStopped({dataDir: {kind: 'empty'}})}, rule: 'datadir.release', reason: 'released leader key voluntarily as data dir empty and currently leader', actions: ['disable-watchdog', 'release-lock']},
  {name: 'paused with empty data dir', o: {name: 'node3', pg: pgStopped({dataDir: {kind: 'empty'}}), config: {paused: true}, memory: {watchdogRunning: false}}, rule: 'datadir.empty-paused', reason: 'PAUSE: running with empty data directory', actions: []},
  {name: 'inaccessible data dir', o: {name: 'node3', pg: pgStopped({dataDir: {kind: 'inaccessible', error: 'EACCES'}}), memory: {watchdogRunning: false}}, rule: 'datadir.inaccessible', reason: 'data directory is not accessible: EACCES', actions: []},
  {name: 'foreign sysid never joins', o: {name: 'node3', pg: pgReplica({dataDir: {kind: 'present', sysid: '7999999999999999999'}})}, rule: 'datadir.sysid-mismatch', reason: `system ID mismatch, node node3 belongs to a different cluster: ${SYSID} != 7999999999999999999`, actions: ['exit']},
  {name: 'invalid sysid', o: {name: 'node3', pg: pgReplica({dataDir: {kind: 'present', sysid: '12'}})}, rule: 'datadir.invalid-sysid', reason: 'data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize', actions: []},
  {name: 'no initialize key, replica running: abort join', o: {name: 'node3', view: {...cluster({leader: null}), initialize: null}, memory: {callbackFired: false}}, rule: 'datadir.abort-join', reason: 'No initialize key in DCS and PostgreSQL is running as replica, aborting start', actions: ['exit']},
  {name: 'no initialize key, stopped data: adopt, start read-only', o: {name: 'node3', view: {...cluster({leader: null}), initialize: null}, pg: pgStopped(), memory: {pgState: 'stopped', watchdogRunning: false}}, rule: 'recover.start-replica', reason: 'starting as a secondary', actions: ['initialize', 'start']},
  {name: 'post_bootstrap after initdb', o: {view: {...cluster({leader: null}), initialize: ''}, pg: pgPrimary(), memory: {bootstrapping: true, lastTask: {kind: 'bootstrap', ok: true, finishedAt: NOW}}}, rule: 'bootstrap.post', reason: 'running post_bootstrap', actions: ['post-bootstrap']},
  {name: 'bootstrap complete', o: {view: {...cluster({leader: null}), initialize: ''}, pg: pgPrimary(), memory: {bootstrapping: true, lastTask: {kind: 'post-bootstrap', ok: true, finishedAt: NOW}}}, rule: 'bootstrap.done', reason: 'initialized a new cluster', actions: ['activate-watchdog', 'initialize', 'restore-config', 'take-leader']},
  {name: 'bootstrap failed is fatal', o: {view: {...cluster({leader: null}), initialize: ''}, pg: pgStopped(), memory: {bootstrapping: true, lastTask: {kind: 'bootstrap', ok: false, finishedAt: NOW}}}, rule: 'bootstrap.failed', reason: /^removing initialize key after failed attempt to bootstrap the cluster/, actions: ['cancel-initialization', 'exit']},
  // unknowns
  {name: 'PG state unknown while holding the lock', o: {pg: pgPrimary({process: 'unknown', inRecovery: null})}, rule: 'pg.unknown-release', reason: 'released leader key because the PostgreSQL state is unknown', actions: ['release-lock']},
  {name: 'PG query failed: no renewal, no race', o: {pg: pgPrimary({inRecovery: null})}, rule: 'pg.query-failed', reason: 'Error communicating with PostgreSQL. Will try again later', actions: []},
  {name: 'lock holder repairs initialize and config', o: {view: {...cluster(), initialize: null, config: null}}, rule: 'healthy.leader', reason: /the leader with the lock/, actions: ['initialize', 'restore-config', 'update-lock']},
]

describe('decide: decision table', () => {
  for (const r of rows) {
    test(r.name, () => {
      const t = runCycle(obs(r.o), r.s)
      const {final} = t
      const where = `rules ${t.decisions.map((d) => d.rule).join(' -> ')}; reason "${final.reason}"`
      assert.equal(final.rule, r.rule, where)
      if (typeof r.reason === 'string') assert.equal(final.reason, r.reason, where)
      else assert.match(final.reason, r.reason, where)
      const got = t.actions.map((a) => a.type)
      assert.deepEqual(got, r.actions, where)
    })
  }
})

describe('decide: action details', () => {
  test('a crashed primary is started as primary only after renewing the lock in the same cycle', () => {
    const t = runCycle(obs({pg: pgStopped({controlState: 'in production'}), memory: {role: 'primary', pgState: 'running'}}))
    assert.deepEqual(t.decisions[0].actions, [{type: 'update-lock', status: false}])
    // The armed watchdog is kicked after the renewal (docs/ha-rules.md#watchdog).
    assert.deepEqual(t.final.actions, [{type: 'kick-watchdog'}, {type: 'start', as: 'primary', upstream: null, task: 'start-primary-after-failure', timeoutS: 300}])
    assert.deepEqual(t.final.remember, {pgState: 'starting', recovering: true})
  })

  test('the /sync claim uses the version read and strict mode', () => {
    const t = runCycle(obs({name: 'node2', view: cluster({leader: null, sync: {leader: 'node1', standby: 'node2'}}), config: {synchronousMode: true, synchronousModeStrict: true}}), {peers: {}})
    const claim = t.actions.find((a) => a.type === 'set-sync')
    assert.deepEqual(claim, {type: 'set-sync', leader: 'node2', expectedVersion: 40, strict: true})
  })

  test('the switchover key is left for the new leader to delete', () => {
    const t = runCycle(obs({view: cluster({failover: {leader: 'node1', candidate: 'node2'}})}), {peers: healthyPeers})
    assert.ok(!t.actions.some((a) => a.type === 'clear-failover' || a.type === 'set-failover'))
    assert.deepEqual(t.final.actions.at(-1), {type: 'demote', mode: 'graceful'})
  })

  test('the follow action names the leader, or the replicatefrom member', () => {
    assert.deepEqual(decide(obs({name: 'node2'})).actions, [{type: 'follow', leader: 'node1'}])
    const o = obs({name: 'node3', config: {tags: {nofailover: false, failoverPriority: 1, clonefrom: false, replicatefrom: 'node2', nostream: false}}})
    assert.deepEqual(decide(o).actions, [{type: 'follow', leader: 'node2'}])
  })

  test('peers are asked once, and a peer missing from the answer counts as unreachable', () => {
    const o = obs({name: 'node2', view: cluster({leader: null})})
    const first = decide(o)
    assert.equal(first.rule, 'gather.peers')
    assert.deepEqual(first.actions, [{type: 'fetch-peer-status', members: [{name: 'node1', apiUrl: 'http://127.0.0.1:801/patroni'}, {name: 'node3', apiUrl: 'http://127.0.0.1:803/patroni'}]}])
    const second = decide({...o, peers: {}, outcomes: [{type: 'fetch-peer-status'}]})
    assert.deepEqual(second.actions, [{type: 'acquire-lock'}])
  })

  test('a member missing from the view is published first', () => {
    const v = cluster()
    v.members = v.members.filter((m) => m.name !== 'node2')
    const d = decide(obs({name: 'node2', view: v}))
    assert.equal(d.actions[0].type, 'touch-member')
  })

  test('an old primary known only from the last locked view still blocks the race', () => {
    const v = cluster({leader: null, members: ['node2', 'node3']})
    const o = obs({name: 'node2', view: v})
    const withOld = {...o, dcs: {reachable: true as const, cluster: v, lastLockedMembers: [member('node1', {role: 'primary'})]}}
    const t = runCycle(withOld, {peers: {node1: peer({inRecovery: false}), node3: peer()}})
    assert.match(t.final.reason, /Primary \(node1\) is still alive/)
    assert.ok(!t.actions.some((a) => a.type === 'acquire-lock'))
  })

  test('a lock holder in recovery that remembered itself primary or promoted promotes and remembers promoted', () => {
    for (const role of ['primary', 'promoted'] as const) {
      const t = runCycle(obs({pg: pgReplica(), memory: {role}}))
      assert.deepEqual(t.final.actions, [{type: 'kick-watchdog'}, {type: 'promote'}], role)
      assert.deepEqual(t.final.remember, {lastTask: null, role: 'promoted'}, role)
    }
  })

  test('enforcePrimaryRole: only a PostgreSQL known to be in recovery overrides the remembered role', () => {
    // decide() stops at pg.query-failed before this rule when the query fails; the rule itself must still keep the
    // belief for an unknown answer (Patroni does), and promote only on a definite "in recovery".
    const renewed = (pg: ReturnType<typeof pgReplica>, role: 'primary' | 'promoted' | 'replica') =>
      makeCtx({...obs({pg, memory: {role}}), outcomes: [{type: 'update-lock', ok: true}]})
    const keep = 'no action. I am (node1), the leader with the lock'
    const promote = 'promoted self to leader because I had the session lock'
    for (const role of ['primary', 'promoted'] as const) {
      const unknown = enforcePrimaryRole(renewed(pgPrimary({inRecovery: null}), role), 'healthy.leader', keep, promote)
      assert.equal(unknown.reason, keep, `${role}, inRecovery null`)
      assert.ok(!unknown.actions.some((a) => a.type === 'promote'), `${role}, inRecovery null: no promote`)
      const inRecovery = enforcePrimaryRole(renewed(pgReplica(), role), 'healthy.leader', keep, promote)
      assert.equal(inRecovery.reason, promote, `${role}, inRecovery true`)
      assert.deepEqual(inRecovery.actions, [{type: 'promote'}], `${role}, inRecovery true`)
    }
    const primary = enforcePrimaryRole(renewed(pgPrimary(), 'primary'), 'healthy.leader', keep, promote)
    assert.equal(primary.reason, keep)
    assert.deepEqual(primary.actions, [])
  })

  test('remember: a start attempt is checked once, then forgotten', () => {
    const d = decide(obs({name: 'node2', memory: {recovering: true}}))
    assert.equal(d.rule, 'healthy.follow')
    assert.deepEqual(d.remember, {recovering: false, crashRecoveryStartedAt: null, role: 'replica'})
  })
})
