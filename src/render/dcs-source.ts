/**
 * Members of one cluster from the DCS, for `hactl haproxy render`, through the Dcs port: one
 * linearizable read for a single render, or (with --watch) a watch-backed copy of the cluster
 * prefix that wakes the caller whenever a member key or the leader key changes, like confd's
 * watch mode. The composition root (src/wiring/render.ts) builds the store.
 */
import type {CtlContext} from '../ctl/context'
import {HactlError} from '../errors'
import {isAbortError} from '../ports/clock'
import type {Dcs} from '../ports/dcs'
import {membersFromCluster, type LoadedMembers} from './members'

export interface MemberSource {
  load(): Promise<LoadedMembers>
  /** Resolves on a relevant change, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<void>
  close(): Promise<void>
}

/** What render needs from outside; src/wiring/render.ts builds the real one. */
export interface RenderPorts {
  /**
   * The keys of cluster `scope` (read-only: no lease). `watch: false`: every loadCluster() is
   * one linearizable range. `watch: true`: loadCluster() reads a watch-backed copy of the
   * prefix, waitForChange() wakes on any change of a member key or of the leader key, and
   * `log` hears about a watch that ended or a re-read that failed.
   */
  openDcs(ctx: CtlContext, scope: string, o: {watch: boolean; log?: (msg: string) => void}): Promise<Dcs>
}

/** Refuses, with render's hints, a configuration that names no etcd to read the members from. */
export function requireEtcd(ctx: CtlContext): void {
  const e = ctx.config.etcd3
  if (!e || !e.endpoints || e.endpoints.length === 0) {
    throw new HactlError('CONFIG_INVALID', 'no etcd to read the members from', {
      exitCode: 2,
      hints: ['pass -c/--config-file with an etcd3: section, -d/--dcs-url etcd3://host:port, or --etcd host:port', 'or render from --inventory FILE / --member flags'],
    })
  }
}

async function waitOut(dcs: Dcs, ms: number, signal: AbortSignal): Promise<void> {
  try {
    await dcs.waitForChange(ms, signal)
  } catch (e) {
    if (!isAbortError(e)) throw e
  }
}

/** One fresh read per load(); waitForChange() only waits out the timeout. `dcs` does not watch. */
export function oneShotSource(dcs: Dcs, scope: string): MemberSource {
  return {
    load: async () => membersFromCluster(await dcs.loadCluster({fresh: true}), scope),
    waitForChange: (ms, signal) => waitOut(dcs, ms, signal),
    close: () => dcs.close(),
  }
}

/** load() reads the watched copy; waitForChange() returns on a member or leader change. `dcs` watches. */
export function watchedSource(dcs: Dcs, scope: string): MemberSource {
  return {
    load: async () => membersFromCluster(await dcs.loadCluster(), scope),
    waitForChange: (ms, signal) => waitOut(dcs, ms, signal),
    close: () => dcs.close(),
  }
}
