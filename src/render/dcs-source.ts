/**
 * Members of one cluster from etcd, for `hactl haproxy render`: one linearizable read for a
 * single render, or (with --watch) a watch-backed copy of the cluster prefix that wakes the
 * caller whenever a member key or the leader key changes, like confd's watch mode.
 */
import {systemClock} from '../adapters/clock/system-clock'
import {Etcd3Client, etcd3Endpoints, etcd3Tls, type Etcd3Section} from '../adapters/dcs-etcd3'
import {decodeCluster, type RawNode} from '../adapters/dcs-etcd3/codec'
import {KvCache} from '../adapters/dcs-etcd3/kv-cache'
import {VERSION} from '../build-info'
import {KEY, clusterPrefix} from '../core/keys'
import {openCtlDcs, type CtlContext} from '../ctl/context'
import {HactlError} from '../errors'
import {isAbortError} from '../ports/clock'
import {membersFromCluster, type LoadedMembers} from './members'

export interface MemberSource {
  load(): Promise<LoadedMembers>
  /** Resolves on a relevant change, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<void>
  close(): Promise<void>
}

function section(ctx: CtlContext): Etcd3Section {
  const e = ctx.config.etcd3
  if (!e || !e.endpoints || e.endpoints.length === 0) {
    throw new HactlError('CONFIG_INVALID', 'no etcd to read the members from', {
      exitCode: 2,
      hints: ['pass -c/--config-file with an etcd3: section, -d/--dcs-url etcd3://host:port, or --etcd host:port', 'or render from --inventory FILE / --member flags'],
    })
  }
  return {
    hosts: e.endpoints.filter((x): x is string => typeof x === 'string'),
    username: e.username,
    password: e.password,
    cacert: e.cacert,
    cert: e.cert,
    key: e.key,
  }
}

const namespaceOf = (ctx: CtlContext) => (typeof ctx.config.namespace === 'string' ? ctx.config.namespace : undefined)

/** One fresh read per load(); waitForChange() only waits out the timeout. */
export function oneShotSource(ctx: CtlContext, scope: string): MemberSource {
  section(ctx)
  const dcs = openCtlDcs(ctx, scope)
  return {
    load: async () => membersFromCluster(await dcs.loadCluster({fresh: true}), scope),
    waitForChange: (ms, signal) => systemClock.sleep(ms, signal).catch((e) => { if (!isAbortError(e)) throw e }),
    close: () => dcs.close(),
  }
}

export function watchedSource(ctx: CtlContext, scope: string, log: (msg: string) => void): MemberSource {
  const s = section(ctx)
  const retryTimeoutMs = ctx.retryTimeout * 1000
  const kv = new Etcd3Client({endpoints: etcd3Endpoints(s), username: s.username, password: s.password, tls: etcd3Tls(s), clock: systemClock, retryTimeoutMs, userAgent: `hactl/${VERSION}`})
  const prefix = clusterPrefix({namespace: namespaceOf(ctx), scope})
  let changed = false
  let waiters: Array<() => void> = []
  const cache = new KvCache({
    kv,
    clock: systemClock,
    prefix,
    retryTimeoutMs: () => retryTimeoutMs,
    onChange: (key, before, after) => {
      const rel = key.slice(prefix.length)
      if (before === after || !(rel.startsWith(KEY.membersDir) || rel === KEY.leader)) return
      changed = true
      const w = waiters
      waiters = []
      for (const f of w) f()
    },
    log,
  })
  cache.start()
  return {
    async load() {
      changed = false
      const kvs = await cache.snapshot(systemClock.monotonic() + retryTimeoutMs)
      const nodes = new Map<string, RawNode>()
      for (const e of kvs) {
        if (!e.key.startsWith(prefix)) continue
        const rel = e.key.slice(prefix.length)
        nodes.set(rel, {key: rel, value: e.value, modRevision: e.modRevision, lease: e.lease ?? null})
      }
      return membersFromCluster(decodeCluster(nodes), scope)
    },
    async waitForChange(ms, signal) {
      if (changed || signal.aborted) return
      const ac = new AbortController()
      const onAbort = () => ac.abort()
      signal.addEventListener('abort', onAbort, {once: true})
      let wake: (() => void) | undefined
      try {
        await Promise.race([
          new Promise<void>((r) => waiters.push((wake = r))),
          systemClock.sleep(ms, ac.signal).catch((e) => { if (!isAbortError(e)) throw e }),
        ])
      } finally {
        signal.removeEventListener('abort', onAbort)
        ac.abort()
        waiters = waiters.filter((w) => w !== wake)
      }
    },
    async close() {
      await cache.stop()
      kv.close()
    },
  }
}
