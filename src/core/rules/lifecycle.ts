/**
 * Everything before the steady state: a running async task, a starting PostgreSQL, bootstrap, the
 * check after a start attempt, the data directory and bringing a stopped PostgreSQL back
 * (docs/ha-rules.md#data-directory-and-bootstrap through
 * docs/ha-rules.md#recovering-a-stopped-postgresql; in Patroni the matching parts of patroni/ha.py
 * Ha._run_cycle).
 */
import type {Action, Decision} from '../actions'
import {isFailoverPossible} from '../candidates'
import type {AgentMemory} from '../observation'
import {type Ctx, done, step} from './context'
import {manualFailoverFromLeader} from './leader'
import {nodeToFollow, rewindAllowed, rewindOrReinit} from './follow'

/** A sysid is at least 10 digits (tv_sec << 32 has 10 digits already). */
export function sysidValid(s: string | null | undefined): s is string {
  return typeof s === 'string' && s.length >= 10 && /^\d+$/.test(s)
}

function mySysid(ctx: Ctx): string | null {
  return ctx.obs.pg.dataDir.kind === 'present' ? ctx.obs.pg.dataDir.sysid : null
}

function renewStep(rule: string, reason: string): Decision {
  return step(rule, reason, [{type: 'update-lock', status: false}])
}

/**
 * The single task slot is busy (patroni/ha.py Ha.handle_long_action_in_progress). The lock holder
 * keeps renewing; a node that lost it stops a primary.
 */
export function longAction(ctx: Ctx): Decision {
  const t = ctx.obs.task!
  const mem = ctx.obs.memory
  if (ctx.holdsLock || ctx.outcome('update-lock')) {
    const upd = ctx.outcome('update-lock')
    if (!upd) return renewStep('task.renew', `renewing the leader lock during ${t.name}`)
    if (upd.ok) {
      if (t.kind === 'crash-recovery' && mem.crashRecoveryStartedAt !== null) {
        const left = ctx.obs.config.primaryStartTimeout - (ctx.now - mem.crashRecoveryStartedAt) / 1000
        if (left <= 0 && isFailoverPossible(ctx).ok) {
          return done('task.crash-recovery-timeout', 'terminated crash recovery because of startup timeout', [
            {type: 'cancel-task'},
            {type: 'demote', mode: 'immediate'},
          ], {role: 'demoted'})
        }
      }
      return done('task.leader-renewed', `updated leader lock during ${t.name}`)
    }
  }
  if (!mem.bootstrapping && !ctx.paused) {
    // Before the promotion was signalled, cancelling is enough; once PG is out of recovery it must be stopped.
    if (t.kind === 'promote' && !ctx.pgPrimary && mem.role !== 'primary') return done('task.lost-before-promote', 'lost leader before promote', [{type: 'cancel-task'}])
    if (mem.role === 'primary' || ctx.pgPrimary) {
      const cancel: Action[] = ['restart', 'start-primary-after-failure', 'promote'].includes(t.kind) ? [{type: 'cancel-task'}] : []
      return done('task.lost-lock', `lost leader lock during ${t.name}`, [...cancel, {type: 'demote', mode: 'immediate-nolock'}], {role: 'demoted'})
    }
  }
  return done('task.in-progress', `${t.name} in progress`)
}

/**
 * PostgreSQL is still starting (patroni/ha.py Ha.handle_starting_instance). Only the lock holder
 * needs a decision; replicas go on.
 */
export function startingInstance(ctx: Ctx): Decision | null {
  if (ctx.obs.pg.process !== 'starting' || ctx.paused) return null
  if (!ctx.holdsLock && !ctx.outcome('update-lock')) return null
  const upd = ctx.outcome('update-lock')
  if (!upd) return renewStep('starting.renew', 'renewing the leader lock while PostgreSQL starts')
  if (!upd.ok) {
    return done('starting.lost-lock', 'stopped PostgreSQL while starting up because leader key was lost', [
      {type: 'demote', mode: 'immediate-nolock'},
    ], {role: 'demoted'})
  }
  const cfg = ctx.obs.config
  // Patroni: `self._start_timeout or primary_start_timeout`, so a restart timeout of 0 means the default.
  const timeout = ctx.obs.memory.startTimeoutS || cfg.primaryStartTimeout
  const left = timeout - (ctx.now - (ctx.obs.pg.startingSince ?? ctx.now)) / 1000
  if (left <= 0) {
    const fp = isFailoverPossible(ctx)
    if (fp.ok) {
      return done('starting.timeout', `stopped PostgreSQL because of startup timeout (${timeout}s, ${fp.reason})`, [
        {type: 'demote', mode: 'immediate'},
      ], {role: 'demoted'})
    }
    return done('starting.timeout-no-failover', `primary start has timed out, but continuing to wait because failover is not possible (${fp.reason})`)
  }
  const mf = manualFailoverFromLeader(ctx, 'starting.manual-failover')
  if (mf && 'decision' in mf) return mf.decision
  const reason = `PostgreSQL is still starting up, ${Math.round(left)} seconds until timeout`
  return done('starting.wait', mf?.note ? `${reason}; ${mf.note}` : reason, mf?.pre ?? [])
}

/**
 * We won the initialize race; finish what bootstrap started or give the race back (patroni/ha.py
 * Ha.post_bootstrap).
 */
export function postBootstrap(ctx: Ctx): Decision {
  const mem = ctx.obs.memory
  const lt = mem.lastTask
  // A standby leader's bootstrap is the clone from the remote primary; no post_bootstrap follows
  // (patroni/ha.py Ha.bootstrap_standby_leader).
  const failed = lt && (lt.kind === 'bootstrap' || lt.kind === 'post-bootstrap' || lt.kind === 'clone') && !lt.ok
  const fatal = (why: string): Decision =>
    done('bootstrap.failed', `removing initialize key after failed attempt to bootstrap the cluster: ${why}`, [
      {type: 'cancel-initialization'},
      {type: 'exit', code: 1, message: 'Failed to bootstrap cluster'},
    ])
  if (failed) return fatal(`${lt.kind} failed`)
  if (!ctx.pgRunning) return fatal('postgres is not running')
  if ((lt?.kind === 'post-bootstrap' || lt?.kind === 'clone') && lt.ok) {
    const wd = ctx.outcome('activate-watchdog')
    if (!mem.watchdogRunning && !wd) return step('bootstrap.watchdog', 'activating the watchdog', [{type: 'activate-watchdog'}])
    if (wd && !wd.ok && ctx.obs.config.watchdogRequired) return fatal('watchdog activation failed')
    const sysid = mySysid(ctx) ?? ''
    return done('bootstrap.done', 'initialized a new cluster', [
      {type: 'initialize', create: ctx.cluster.initialize === null, sysid},
      {type: 'restore-config'},
      {type: 'take-leader'},
    ], {bootstrapping: false, lastTask: null, role: lt.kind === 'clone' ? 'standby_leader' : 'primary', callbackFired: true})
  }
  if (ctx.obs.pg.inRecovery !== false) return done('bootstrap.wait-recovery', 'waiting for end of recovery after bootstrap')
  return done('bootstrap.post', 'running post_bootstrap', [{type: 'post-bootstrap'}], {role: 'primary', lastTask: null})
}

/** The start we asked for last cycle did not bring PostgreSQL up (patroni/ha.py Ha.post_recover). */
export function postRecover(ctx: Ctx): Decision | null {
  if (ctx.pgRunning) return null
  const mem = ctx.obs.memory
  const wd: Action[] = mem.watchdogRunning ? [{type: 'disable-watchdog'}] : []
  const base: Partial<AgentMemory> = {recovering: false}
  if (ctx.holdsLock) {
    const role = mem.role === 'primary' || mem.role === 'standby_leader' ? 'demoted' : mem.role
    return done('recover.start-failed', 'removed leader key after trying and failing to start postgres', [...wd, {type: 'release-lock'}], {...base, role})
  }
  return done('recover.start-failed', 'failed to start postgres', wd, base)
}

/**
 * Clone source (patroni/dcs/__init__.py Cluster.get_clone_member): a running `clonefrom` replica,
 * else the leader. Deterministic per node name.
 */
function cloneSource(ctx: Ctx): {name: string; role: 'leader' | 'replica'} {
  const leader = ctx.lockOwner!
  const pool = ctx.cluster.members
    .filter((m) => m.name !== ctx.name && m.name !== leader && m.tags['clonefrom'] === true && m.connUrl && m.state === 'running')
    .map((m) => m.name)
    .sort()
  if (!pool.length) return {name: leader, role: 'leader'}
  // Spread clones over the sources the way Patroni's random pick does, but reproducibly.
  let h = 0
  for (const ch of ctx.name) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  return {name: pool[h % pool.length], role: 'replica'}
}

function bootstrap(ctx: Ctx, pre: Action[], rem: Partial<AgentMemory>): Decision {
  const cfg = ctx.obs.config
  const init = ctx.cluster.initialize
  const lt = ctx.obs.memory.lastTask
  if (lt?.kind === 'clone' && !lt.ok && ctx.now - lt.finishedAt < cfg.loopWait * 1000) {
    // Patroni retries a failed clone on the next cycle, not at once: a method that fails fast
    // must not spin (and a slow one gets loop_wait of rest for the source).
    return done('bootstrap.clone-failed', `failed to bootstrap (clone failed ${((ctx.now - lt.finishedAt) / 1000).toFixed(1)}s ago); trying again after loop_wait`, pre, rem)
  }
  if (ctx.lockOwner) {
    const src = cloneSource(ctx)
    return done('bootstrap.clone', `trying to bootstrap from ${src.role} '${src.name}'`, [
      ...pre,
      {type: 'clone', source: src.name, sourceRole: src.role},
    ], rem)
  }
  if (init === null && !cfg.tags.nofailover && cfg.canBootstrap) {
    const o = ctx.outcome('initialize')
    if (!o) return step('bootstrap.race', 'racing for the initialize key', [...pre, {type: 'initialize', create: true, sysid: ''}], rem)
    if (!o.ok) return done('bootstrap.race-lost', 'failed to acquire initialize lock', [], rem)
    if (cfg.standbyCluster) {
      return done('bootstrap.standby-leader', 'trying to bootstrap a new standby leader', [{type: 'clone', source: null, sourceRole: null, remote: true}], {
        ...rem,
        bootstrapping: true,
        lastTask: null,
      })
    }
    return done('bootstrap.new', 'trying to bootstrap a new cluster', [{type: 'bootstrap'}], {...rem, bootstrapping: true, lastTask: null})
  }
  if (cfg.cloneWithoutLeader && init !== '') {
    return done('bootstrap.no-leader', 'trying to bootstrap (without leader)', [...pre, {type: 'clone', source: null, sourceRole: null}], rem)
  }
  return done('bootstrap.wait', `waiting for ${cfg.standbyCluster ? 'standby_' : ''}leader to bootstrap`, pre, rem)
}

/**
 * The data directory (docs/ha-rules.md#data-directory-and-bootstrap). Returns a decision that ends
 * the cycle, actions to run before normal processing (adopting existing data), or null to go on.
 */
export function dataDirectory(ctx: Ctx): Decision | {pre: Action[]} | null {
  const {pg, memory: mem} = ctx.obs
  const dd = pg.dataDir
  if (dd.kind !== 'present') {
    const pre: Action[] = []
    if (pg.process !== 'stopped') pre.push({type: 'stop', mode: 'immediate'})
    if (mem.watchdogRunning) pre.push({type: 'disable-watchdog'})
    const rem: Partial<AgentMemory> = {role: 'uninitialized'}
    const what = dd.kind === 'empty' ? 'empty' : 'not accessible'
    if (ctx.holdsLock) {
      return done('datadir.release', `released leader key voluntarily as data dir ${what} and currently leader`, [...pre, {type: 'release-lock'}], rem)
    }
    if (dd.kind === 'inaccessible') return done('datadir.inaccessible', `data directory is not accessible: ${dd.error}`, pre, rem)
    if (ctx.paused) return done('datadir.empty-paused', 'running with empty data directory', pre, rem)
    return bootstrap(ctx, pre, rem)
  }
  const sysid = dd.sysid
  if (!sysidValid(sysid)) {
    return done('datadir.invalid-sysid', 'data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize')
  }
  const init = ctx.cluster.initialize
  if (sysidValid(init)) {
    if (init !== sysid) {
      if (!ctx.paused) {
        const message = `system ID mismatch, node ${ctx.name} belongs to a different cluster: ${init} != ${sysid}`
        return done('datadir.sysid-mismatch', message, [{type: 'exit', code: 1, message, cause: 'sysid-mismatch'}])
      }
      if (ctx.holdsLock) {
        return done('datadir.sysid-mismatch-paused', 'released leader key voluntarily due to the system ID mismatch', [{type: 'release-lock'}])
      }
    }
    return null
  }
  if (!ctx.lockOwner && !ctx.paused) {
    if (!mem.callbackFired && ctx.pgRunning && pg.inRecovery !== false) {
      const message = 'No initialize key in DCS and PostgreSQL is running as replica, aborting start'
      return done('datadir.abort-join', message, [{type: 'exit', code: 1, message: `${message}. Please first start the agent on the node running as primary`, cause: 'join-aborted'}])
    }
    if (ctx.outcome('initialize')) return null
    // Adopt the existing data as this cluster's; it still starts read-only until we win the lock.
    return {pre: [{type: 'initialize', create: init === null, sysid}]}
  }
  return null
}

const CRASH_STATES = ['in production', 'shutting down', 'in crash recovery']

/**
 * Patroni's recover() (patroni/ha.py Ha.recover): PostgreSQL is not running. Only a freshly renewed
 * lock starts it as a primary.
 */
export function recover(ctx: Ctx, rem: Partial<AgentMemory>): Decision {
  const {pg, memory: mem, config: cfg} = ctx.obs
  const upd = ctx.outcome('update-lock')
  if (ctx.holdsLock && !upd) return step('recover.renew', 'renewing the leader lock before starting postgres', [{type: 'update-lock', status: false}], rem)
  const renewed = !!upd?.ok
  const crashed = (rem.pgState ?? mem.pgState) === 'crashed'
  if (renewed) {
    if (cfg.primaryStartTimeout === 0) {
      const fp = isFailoverPossible(ctx)
      if (fp.ok) {
        return done('recover.failover-after-crash', `stopped PostgreSQL to fail over after a crash (${fp.reason})`, [
          ...(mem.watchdogRunning ? [{type: 'disable-watchdog'} as const] : []),
          {type: 'demote', mode: 'immediate'},
        ], {...rem, role: 'demoted'})
      }
    } else if (pg.controlState !== null && [...CRASH_STATES, 'shut down'].includes(pg.controlState) && crashed && mem.role === 'primary' && !pg.recoverySignal) {
      return done('recover.restart-primary', 'starting primary after failure', [
        {type: 'start', as: 'primary', upstream: null, task: 'start-primary-after-failure', timeoutS: cfg.primaryStartTimeout},
      ], {...rem, recovering: true, pgState: 'starting'})
    }
  }
  const pre: Action[] = mem.watchdogRunning ? [{type: 'disable-watchdog'}] : []
  if (pg.controlState !== null && CRASH_STATES.includes(pg.controlState) && mem.crashRecoveryStartedAt === null && (!ctx.lockOwner || mem.canRewind)) {
    return done('recover.crash-recovery', 'doing crash recovery in a single user mode', [...pre, {type: 'crash-recovery'}], {...rem, crashRecoveryStartedAt: ctx.now})
  }
  const timeoutS = renewed ? cfg.primaryStartTimeout : null
  if (renewed && !cfg.standbyCluster) {
    return done('recover.readonly-with-lock', 'starting as readonly because i had the session lock', [
      ...pre,
      {type: 'start', as: 'replica', upstream: null, task: 'restart-after-failure', timeoutS},
    ], {...rem, recovering: true, rewind: 'initial', pgState: 'starting', role: 'replica'})
  }
  // Every start as a replica checks for divergence unless a rewind already ran (Patroni's
  // `if not self._rewind.executed: trigger_check_diverged_lsn()` in Ha.recover): a check passed
  // long ago ('not-need') says nothing about the WAL this node wrote since, e.g. as a primary that
  // crashed after a segment switch the new leader never received.
  const executed = mem.rewind === 'success' || mem.rewind === 'failed'
  if (!executed && mem.rewind !== 'need' && rewindAllowed(ctx) && !ctx.outcome('check-rewind')) {
    // The divergence check has to run before PG starts streaming from the leader.
    pre.push({type: 'trigger-rewind-check'})
    const leader = ctx.cluster.leader
    if (leader && leader.name !== ctx.name && leader.member.connUrl) {
      return step('recover.check-rewind', `checking whether a rewind from ${leader.name} is needed`, [...pre, {type: 'check-rewind', leader: leader.name}], rem)
    }
  }
  const rw = rewindOrReinit(ctx, 'recover.rewind')
  if (rw) return {...rw, actions: [...pre, ...rw.actions], remember: {...rem, ...rw.remember}}
  const target = nodeToFollow(ctx)
  if (target === 'remote') {
    // A standby cluster's lock holder starts as its standby leader; with no leader at all every
    // member follows the remote primary (patroni/ha.py Ha.recover).
    const leader = ctx.holdsLock
    const reason = leader ? 'starting as a standby leader because i had the session lock' : 'trying to follow a remote member because standby cluster is unhealthy'
    return done(leader ? 'recover.standby-leader' : 'recover.follow-remote', reason, [
      ...pre,
      {type: 'start', as: 'replica', upstream: null, remote: true, task: 'restart-after-failure', timeoutS},
    ], {...rem, recovering: true, role: leader ? 'standby_leader' : 'replica', pgState: 'starting'})
  }
  return done('recover.start-replica', 'starting as a secondary', [
    ...pre,
    {type: 'start', as: 'replica', upstream: target?.name ?? null, task: 'restart-after-failure', timeoutS},
  ], {...rem, recovering: true, role: 'replica', pgState: 'starting'})
}

/**
 * No live postmaster (patroni/ha.py Ha._run_cycle, the `not is_healthy()` branch). In pause
 * PostgreSQL is never started (but for the rewound ex-primary).
 */
export function pgNotRunning(ctx: Ctx): Decision {
  const mem = ctx.obs.memory
  if (ctx.paused) {
    const rem: Partial<AgentMemory> = {pgState: 'stopped'}
    if (ctx.holdsLock) return done('stopped.paused-release', 'removed leader lock because postgres is not running', [{type: 'release-lock'}], rem)
    const rewoundExPrimary = mem.rewind !== 'failed' && (mem.rewind === 'success' || (ctx.rewind === 'need' && rewindAllowed(ctx)))
    if (!rewoundExPrimary) return done('stopped.paused', 'postgres is not running', [], rem)
  }
  const rem: Partial<AgentMemory> = mem.pgState === 'running' || mem.pgState === 'starting' ? {pgState: 'crashed'} : {}
  return recover(ctx, rem)
}
