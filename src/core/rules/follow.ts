/**
 * Non-lock-holder steady state (docs/ha-rules.md#following; patroni/ha.py Ha.follow) and the
 * rewind/reinitialize hand-off (docs/ha-rules.md#rewind-and-reinitialize).
 */
import type {Action, Decision} from '../actions'
import {getMember, type ClusterView, type Member} from '../cluster'
import {type Ctx, done, step} from './context'

/** Whom PostgreSQL streams from: a member, the standby cluster's remote primary, or nobody. */
export type FollowTarget = Member | 'remote' | null

/**
 * Who PostgreSQL should stream from (patroni/ha.py Ha._get_node_to_follow); null = nobody (archive
 * only, or no leader yet). In a standby cluster the standby leader, and everyone while the cluster
 * has no leader (but in pause), follow the remote primary of `standby_cluster`.
 */
export function nodeToFollow(ctx: Ctx): FollowTarget {
  const tags = ctx.obs.config.tags
  if (tags.nostream) return null
  if (ctx.obs.config.standbyCluster && (ctx.holdsLock || (!ctx.lockOwner && !ctx.paused))) return 'remote'
  return memberToFollow(ctx.cluster, ctx.name, tags)
}

/**
 * The member a replica streams from, the standby cluster's remote aside (patroni/ha.py
 * Ha._get_node_to_follow): nobody when tagged `nostream` (it replays from the archive only), its
 * `replicatefrom` member when that exists, else the leader; never itself. Also what a fresh
 * clone starts following (patroni/ha.py Ha.clone).
 */
export function memberToFollow(cluster: ClusterView, self: string, tags: {nostream: boolean; replicatefrom: string | null}): Member | null {
  if (tags.nostream) return null
  let target: Member | null = null
  if (tags.replicatefrom && tags.replicatefrom !== self) target = getMember(cluster, tags.replicatefrom) ?? null
  if (!target && cluster.leader?.name) target = cluster.leader.member
  return target && target.name !== self ? target : null
}

/** The `follow` action for a target (none for nobody). */
export function followAction(target: FollowTarget): Action[] {
  if (target === 'remote') return [{type: 'follow', leader: null, remote: true}]
  return target ? [{type: 'follow', leader: target.name}] : []
}

export function rewindAllowed(ctx: Ctx): boolean {
  const c = ctx.obs.config
  return (c.usePgRewind && ctx.obs.memory.canRewind) || c.removeDataDirectoryOnDivergedTimelines
}

/** The divergence check or the rewind/reinit it asks for; null when nothing is to be done. */
export function rewindOrReinit(ctx: Ctx, rule: string): Decision | null {
  const leader = ctx.cluster.leader
  if (!leader || leader.name === ctx.name || !leader.member.connUrl) return null
  if (ctx.rewind === 'check' && rewindAllowed(ctx) && !ctx.outcome('check-rewind')) {
    return step(rule, `checking whether a rewind from ${leader.name} is needed`, [{type: 'check-rewind', leader: leader.name}])
  }
  if (ctx.rewind !== 'need') return null
  const cfg = ctx.obs.config
  if (cfg.usePgRewind && ctx.obs.memory.canRewind) {
    if (!ctx.pgRunning && ctx.obs.pg.controlState === 'in archive recovery' && ctx.obs.memory.crashRecoveryStartedAt === null) {
      return done(rule, 'doing crash recovery in a single user mode', [{type: 'crash-recovery'}], {crashRecoveryStartedAt: ctx.now})
    }
    return done(rule, `running pg_rewind from ${leader.name}`, [{type: 'rewind', leader: leader.name}])
  }
  // Patroni never reinitializes a standby cluster's member on diverged timelines (patroni/ha.py
  // Ha._handle_rewind_or_reinitialize).
  if (cfg.removeDataDirectoryOnDivergedTimelines && !cfg.standbyCluster) {
    return done(rule, 'reinitializing due to diverged timelines', [{type: 'reinitialize', source: leader.name}])
  }
  return null
}

/**
 * follow(): a node that does not hold the lock. A running primary without the lock is demoted at
 * once [SAFETY] unless paused, where it keeps running ("continue to run as primary without lock").
 */
export function follow(ctx: Ctx, rule: string, demoteReason: string, followReason: string, extra: Action[] = []): Decision {
  const target = nodeToFollow(ctx)
  const standby = ctx.obs.config.standbyCluster
  const rewindPending = ctx.rewind === 'need' && rewindAllowed(ctx)
  if (ctx.paused) {
    if (!rewindPending || !ctx.lockOwner) {
      if (ctx.pgPrimary) return done(rule, 'continue to run as primary without lock', extra, {role: 'primary'})
      const role = ctx.obs.memory.role === 'standby_leader' ? 'standby_leader' : 'replica'
      if (!target) return done(rule, `no action. I am (${ctx.name})`, extra, {role})
    }
  } else if (ctx.pgPrimary) {
    // A primary in a standby cluster (standby_cluster added to a running cluster, Patroni 4.1)
    // stops cleanly and keeps the lock: it comes back as the standby leader.
    if (standby) return done(rule, demoteReason, [...extra, {type: 'demote', mode: 'demote-cluster'}], {role: 'demoted'})
    return done(rule, demoteReason, [...extra, {type: 'demote', mode: 'immediate-nolock'}], {role: 'demoted'})
  }
  if (ctx.obs.pg.process !== 'starting') {
    const r = rewindOrReinit(ctx, rule)
    if (r) return extra.length ? {...r, actions: [...extra, ...r.actions]} : r
  }
  const role = target === 'remote' && ctx.holdsLock ? 'standby_leader' : 'replica'
  // The standby cluster's leader key may name a member that is gone: keep the recovery settings
  // as they are (patroni/ha.py Ha.follow).
  if (standby && role === 'replica' && !(target === 'remote' || target?.connUrl)) {
    return done(rule, 'continue following the old known standby leader', extra, {role})
  }
  // With no leader known yet there is nothing to point PG at; the next cycle sees the winner.
  // A nostream replica is pointed at nobody, so that a primary_conninfo left from before the tag
  // goes (Patroni's check_recovery_conf(None) rewrites and reloads).
  const point: Action[] = target === null && ctx.obs.config.tags.nostream ? [{type: 'follow', leader: null}] : followAction(target)
  return done(rule, followReason, [...extra, ...point], {role})
}
