/**
 * Patroni's Etcd3 DCS semantics (patroni/dcs/etcd3.py; docs/ha-rules.md#leader-lock) on top of the
 * KvBackend primitives. The real etcd client and the in-memory fake both sit under this class, so
 * what the contract suite checks is this logic itself plus each backend's etcd semantics.
 */
import {type ClusterView, type HistoryLine, type MemberData, type Version} from '../../core/cluster'
import {KEY, clusterPrefix, memberKey} from '../../core/keys'
import {HactlError, isHactlError} from '../../errors'
import {abortError, type Clock} from '../../ports/clock'
import type {Dcs, DcsTiming, FailoverValue, StatusValue, SyncValue, UpdateLeaderExtras} from '../../ports/dcs'
import {compactJson, decodeCluster, encodeFailover, encodeHistory, encodeStatus, encodeSync, type RawNode} from './codec'
import {KvCache} from './kv-cache'
import type {Compare, KeyValue, KvBackend, TxnOp, TxnResult} from './kv'

/** Ends a helper timer (a given reason spares the DOMException an abort() without one builds). */

export interface Etcd3DcsOptions {
  kv: KvBackend
  clock: Clock
  /** This member's name. */
  name: string
  scope: string
  namespace?: string
  group?: number
  timing?: Partial<DcsTiming>
  /**
   * Agent mode: keep the watch-backed cache and wake waitForChange() on changes. Off for ctl
   * commands, which read linearizably and never hold a lease.
   */
  watch?: boolean
  /**
   * With `watch`, what wakes waitForChange(): 'ha-loop' (the default) is what the Dcs port
   * describes for the HA loop; 'membership' is any change of the leader key or of a member key
   * (`hactl haproxy render --watch`, confd's trigger).
   */
  wakeOn?: 'ha-loop' | 'membership'
  /**
   * Deep-freeze every decoded view. The agent's views come from the watch-backed cache and one
   * decoded view is handed out until the cache changes, so nothing may modify it: the simulator
   * and the unit tests freeze them, and a modification fails there.
   */
  freezeViews?: boolean
  /** With `watch`, where the watch's own troubles go (an ended watch, a failed re-read); default: log at warn. */
  watchLog?: (msg: string) => void
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void
}

const DEFAULT_TIMING: DcsTiming = {ttl: 30, loopWait: 10, retryTimeout: 10}

export class Etcd3Dcs implements Dcs {
  readonly name: string
  readonly prefix: string
  private readonly kv: KvBackend
  private readonly clock: Clock
  private t: DcsTiming
  private cache: KvCache | undefined
  private _lease: string | undefined
  private lastLeaseRefresh = -Infinity
  private _lastSeen = 0
  private _lastCluster: ClusterView | undefined
  /** The view decoded from the cache at its `version` (loadCluster decodes again only after a change). */
  private decoded: {version: number; view: ClusterView} | undefined
  private readonly freezeViews: boolean
  private lastStatus: string | undefined
  private lastFailsafe: string | undefined
  private lastOptime: number | undefined
  private changed = false
  private skipNextWait = false
  private waiters: Array<() => void> = []
  private readonly log: NonNullable<Etcd3DcsOptions['log']>
  private readonly wakeOn: NonNullable<Etcd3DcsOptions['wakeOn']>

  constructor(o: Etcd3DcsOptions) {
    this.name = o.name
    this.prefix = clusterPrefix({namespace: o.namespace, scope: o.scope, group: o.group})
    this.clock = o.clock
    this.t = {...DEFAULT_TIMING, ...o.timing}
    this.log = o.log ?? (() => {})
    this.wakeOn = o.wakeOn ?? 'ha-loop'
    this.freezeViews = o.freezeViews ?? false
    this.kv = o.kv
    this.kv.setRetryTimeout(this.t.retryTimeout * 1000)
    if (o.watch) {
      this.cache = new KvCache({
        kv: this.kv,
        clock: this.clock,
        prefix: this.prefix,
        retryTimeoutMs: () => this.t.retryTimeout * 1000,
        onChange: (k, before, after) => this.onWatchedChange(k, before, after),
        log: o.watchLog ?? ((m) => this.log('warn', m)),
      })
      this.cache.start()
    }
  }

  get timing(): Readonly<DcsTiming> {
    return this.t
  }

  setTiming(timing: Partial<DcsTiming>): void {
    const next = {...this.t, ...timing}
    if (next.ttl !== this.t.ttl) {
      // Patroni: the lease is re-granted with the new TTL and the loop skips one sleep.
      this._lease = undefined
      this.skipNextWait = true
    }
    if (next.retryTimeout !== this.t.retryTimeout) this.kv.setRetryTimeout(next.retryTimeout * 1000)
    this.t = next
  }

  get lease(): string | undefined {
    return this._lease
  }

  get lastSeen(): number {
    return this._lastSeen
  }

  get lastCluster(): ClusterView | undefined {
    return this._lastCluster
  }

  // --- plumbing ------------------------------------------------------------------------------

  private deadline(): number {
    return this.clock.monotonic() + this.t.retryTimeout * 1000
  }

  /** Patroni's `retry.ensure_deadline(1)`: a second step starts only with a second left. */
  private ensureDeadline(deadline: number, what: string): void {
    if (deadline - this.clock.monotonic() < 1000) {
      throw new HactlError('DCS_UNAVAILABLE', `${what}: retry_timeout (${this.t.retryTimeout}s) used up before the last step`, {recoverable: true})
    }
  }

  private async seen<T>(p: Promise<T>): Promise<T> {
    const v = await p
    this._lastSeen = this.clock.now()
    return v
  }

  private abs(relative: string): string {
    return this.prefix + relative
  }

  private async put(relative: string, value: string, deadline: number, lease?: string): Promise<number> {
    const key = this.abs(relative)
    const {revision} = await this.seen(this.kv.put(key, value, {deadline, lease}))
    this.cache?.applyPut({key, value, modRevision: revision, createRevision: revision, lease})
    return revision
  }

  private async txn(compare: Compare[], success: TxnOp[], failure: TxnOp[] | undefined, deadline: number): Promise<TxnResult> {
    const r = await this.seen(this.kv.txn(compare, success, failure, {deadline}))
    const nested = r.responses[0]
    const nestedOk = !r.succeeded && failure !== undefined && nested !== undefined && 'txn' in nested && nested.txn.succeeded
    if (r.succeeded || nestedOk) {
      // Our updateLeader failure branch applies the same put, so the success ops describe both.
      for (const op of success) {
        if ('put' in op) this.cache?.applyPut({...op.put, modRevision: r.revision, createRevision: r.revision})
        else if ('deleteRange' in op) this.cache?.applyDelete(op.deleteRange.key, r.revision)
      }
    } else if (failure === undefined) {
      // A compare we expected to hold did not: our cached view may be stale.
      this.cache?.restart()
    }
    return r
  }

  private async casPut(relative: string, value: string, expected: Version | undefined, deadline: number): Promise<number | false> {
    if (expected === undefined) return this.put(relative, value, deadline)
    const key = this.abs(relative)
    const r = await this.txn([{key, target: 'MOD', modRevision: expected}], [{put: {key, value}}], undefined, deadline)
    return r.succeeded ? r.revision : false
  }

  private onWatchedChange(absKey: string, before: string | undefined, after: string | undefined): void {
    if (before === after) return
    const rel = absKey.startsWith(this.prefix) ? absKey.slice(this.prefix.length) : absKey
    if (this.wakeOn === 'membership') {
      if (rel === KEY.leader || rel.startsWith(KEY.membersDir)) this.wakeup()
      return
    }
    const isStatus = rel === KEY.status || rel === KEY.optime
    const interesting =
      rel === KEY.leader || (isStatus && after !== undefined) || (rel === KEY.config && before !== undefined && after !== undefined)
    // A new member wakes the leader: its next cycle creates the member's replication slot while
    // the member still clones, so the clone streams as soon as it starts instead of failing on a
    // missing slot and waiting out wal_retrieve_retry_interval (docs/ha-rules.md#replication-slots).
    if (rel.startsWith(KEY.membersDir) && before === undefined && after !== undefined) {
      if (this.cache?.get(this.abs(KEY.leader))?.value === this.name) this.wakeup()
      return
    }
    if (!interesting) return
    // The leader does not need waking for its own status writes.
    if (isStatus && this.cache?.get(this.abs(KEY.leader))?.value === this.name) return
    this.wakeup()
  }

  // --- reads ---------------------------------------------------------------------------------

  async loadCluster(opts: {fresh?: boolean} = {}): Promise<ClusterView> {
    const deadline = this.deadline()
    const cache = opts.fresh ? undefined : this.cache
    if (cache?.isReady && this.decoded?.version === cache.version) return this.remember(this.decoded.view)
    let kvs: KeyValue[]
    let version: number | undefined
    if (cache) {
      const before = cache.version
      kvs = await cache.snapshot(deadline)
      // Kept for the next call only when no change came in while the snapshot waited.
      if (cache.version === before) version = before
    } else {
      kvs = (await this.seen(this.kv.range(this.prefix, {prefix: true, serializable: false, deadline}))).kvs
    }
    const nodes = new Map<string, RawNode>()
    for (const kv of kvs) {
      if (!kv.key.startsWith(this.prefix)) continue
      nodes.set(kv.key.slice(this.prefix.length), {key: kv.key.slice(this.prefix.length), value: kv.value, modRevision: kv.modRevision, lease: kv.lease ?? null})
    }
    const cluster = decodeCluster(nodes)
    if (this.freezeViews) deepFreeze(cluster)
    if (version !== undefined) this.decoded = {version, view: cluster}
    const s = cluster.status
    this.lastStatus = encodeStatus({optime: s.lastLsn, slots: s.slots, retain_slots: s.retainSlots})
    this.lastFailsafe = cluster.failsafe ? compactJson(cluster.failsafe) : undefined
    return this.remember(cluster)
  }

  /** The view loadCluster returns, its warnings logged at each read as before. */
  private remember(cluster: ClusterView): ClusterView {
    for (const w of cluster.warnings) this.log('warn', `DCS key ${this.prefix}${w.key}: ${w.message}`)
    this._lastCluster = cluster
    return cluster
  }

  // --- lease ---------------------------------------------------------------------------------

  private async doRefreshLease(force: boolean, deadline: number): Promise<boolean> {
    if (!force && this._lease && this.lastLeaseRefresh + this.t.loopWait * 1000 > this.clock.monotonic()) return false
    if (this._lease) {
      let ttl = 0
      try {
        ttl = await this.seen(this.kv.leaseKeepAlive(this._lease, {deadline}))
      } catch (e) {
        if (!isHactlError(e, 'DCS_LEASE_NOT_FOUND')) throw e
      }
      if (!ttl) {
        this.log('warn', `lease ${this._lease} expired; granting a new one`)
        this._lease = undefined
      }
    }
    const granted = !this._lease
    if (granted) this._lease = (await this.seen(this.kv.leaseGrant(this.t.ttl, {deadline}))).id
    this.lastLeaseRefresh = this.clock.monotonic()
    return granted
  }

  refreshLease(force = false): Promise<boolean> {
    return this.doRefreshLease(force, this.deadline())
  }

  // --- leader lock ---------------------------------------------------------------------------

  private leaderCreate(): {compare: Compare[]; success: TxnOp[]} {
    const key = this.abs(KEY.leader)
    return {compare: [{key, target: 'CREATE', createRevision: 0}], success: [{put: {key, value: this.name, lease: this._lease}}]}
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    const deadline = this.deadline()
    await this.doRefreshLease(false, deadline)
    this.ensureDeadline(deadline, 'attempt to acquire the leader lock')
    try {
      const t = this.leaderCreate()
      return this.tookLeader((await this.txn(t.compare, t.success, undefined, deadline)).succeeded)
    } catch (e) {
      if (!isHactlError(e, 'DCS_LEASE_NOT_FOUND')) throw e
      this.log('error', 'our lease disappeared from etcd; granting a new one and retrying the leader race')
      this._lease = undefined
      await this.doRefreshLease(true, deadline)
      this.ensureDeadline(deadline, 'attempt to acquire the leader lock')
      const t = this.leaderCreate()
      return this.tookLeader((await this.txn(t.compare, t.success, undefined, deadline)).succeeded)
    }
  }

  /**
   * Our own write of the leader key is applied to the cache, so its watch event wakes nobody; the
   * port still owes the loop a cycle at once (the leader value changed): its view then has the new
   * leader, and the new leader creates its members' slots without waiting out loop_wait.
   */
  private tookLeader(ok: boolean): boolean {
    if (ok && this.cache) this.wakeup()
    return ok
  }

  async takeLeader(): Promise<void> {
    const deadline = this.deadline()
    if (!this._lease) await this.doRefreshLease(true, deadline)
    await this.put(KEY.leader, this.name, deadline, this._lease)
    this.tookLeader(true)
  }

  async updateLeader(cluster: ClusterView, extras: UpdateLeaderExtras = {}): Promise<boolean> {
    const deadline = this.deadline()
    await this.doRefreshLease(true, deadline)
    let ok = !!this._lease
    if (this._lease && cluster.leader?.session !== this._lease) {
      this.ensureDeadline(deadline, 'update of the leader lock')
      const key = this.abs(KEY.leader)
      const put: TxnOp = {put: {key, value: this.name, lease: this._lease}}
      const r = await this.txn(
        [{key, target: 'VALUE', value: this.name}],
        [put],
        [{txn: {compare: [{key, target: 'CREATE', createRevision: 0}], success: [put]}}],
        deadline,
      )
      const nested = r.responses[0]
      ok = r.succeeded || (nested !== undefined && 'txn' in nested && nested.txn.succeeded)
    }
    if (ok) {
      try {
        if (extras.lastLsn) await this.setStatus({optime: extras.lastLsn, slots: extras.slots, retain_slots: extras.retainSlots})
        if (extras.failsafe) await this.setFailsafe(extras.failsafe)
      } catch (e) {
        this.log('warn', `leader lock renewed but writing status/failsafe failed: ${(e as Error).message}`)
      }
    }
    return ok
  }

  async deleteLeader(lastLsn?: number): Promise<boolean> {
    const deadline = this.deadline()
    const key = this.abs(KEY.leader)
    // Patroni writes the last LSN to `status`, then deletes the key. Here both go in one
    // transaction (the status also when the key is no longer ours): one revision, so a watching
    // replica wakes once and sees the key gone, rather than first for the status write alone,
    // with a cycle that still sees the old leader in the middle of the hand-over.
    const text = lastLsn ? encodeStatus({optime: lastLsn}) : undefined
    const status: TxnOp[] = text !== undefined && text !== this.lastStatus ? [{put: {key: this.abs(KEY.status), value: text}}] : []
    const r = await this.txn([{key, target: 'VALUE', value: this.name}], [...status, {deleteRange: {key}}], status.length ? status : undefined, deadline)
    if (status.length) this.lastStatus = text
    // txn() drops a stale cache itself only when there is no failure branch.
    if (!r.succeeded && status.length) this.cache?.restart()
    return r.succeeded
  }

  // --- member --------------------------------------------------------------------------------

  async touchMember(data: MemberData): Promise<boolean> {
    const deadline = this.deadline()
    await this.doRefreshLease(false, deadline)
    if (!this._lease) return false
    const mine = this._lastCluster?.members.find((m) => m.name === this.name)
    if (mine && mine.session === this._lease && deepEqual(data, mine.data)) return true
    try {
      await this.put(memberKey(this.name), compactJson(data), deadline, this._lease)
      return true
    } catch (e) {
      if (!isHactlError(e, 'DCS_LEASE_NOT_FOUND')) throw e
      this.log('error', `our lease disappeared from etcd; cannot publish members/${this.name}`)
      this._lease = undefined
      return false
    }
  }

  // --- other keys ----------------------------------------------------------------------------

  async setConfig(value: Record<string, unknown>, expectedVersion?: Version): Promise<boolean> {
    return (await this.casPut(KEY.config, compactJson(value), expectedVersion, this.deadline())) !== false
  }

  async initialize(create: boolean, sysid: string): Promise<boolean> {
    const deadline = this.deadline()
    if (!create) {
      await this.put(KEY.initialize, sysid, deadline)
      return true
    }
    const key = this.abs(KEY.initialize)
    return (await this.txn([{key, target: 'CREATE', createRevision: 0}], [{put: {key, value: sysid}}], undefined, deadline)).succeeded
  }

  async cancelInitialization(): Promise<void> {
    const key = this.abs(KEY.initialize)
    const r = await this.seen(this.kv.deleteRange(key, {deadline: this.deadline()}))
    this.cache?.applyDelete(key, r.revision)
  }

  async setFailover(value: FailoverValue, expectedVersion?: Version): Promise<boolean> {
    return (await this.casPut(KEY.failover, encodeFailover(value), expectedVersion, this.deadline())) !== false
  }

  setSync(value: SyncValue, expectedVersion?: Version): Promise<Version | false> {
    return this.casPut(KEY.sync, encodeSync(value), expectedVersion, this.deadline())
  }

  async deleteSync(expectedVersion?: Version): Promise<boolean> {
    const deadline = this.deadline()
    const key = this.abs(KEY.sync)
    if (expectedVersion === undefined) {
      const r = await this.seen(this.kv.deleteRange(key, {deadline}))
      this.cache?.applyDelete(key, r.revision)
      return true
    }
    return (await this.txn([{key, target: 'MOD', modRevision: expectedVersion}], [{deleteRange: {key}}], undefined, deadline)).succeeded
  }

  async setHistory(lines: HistoryLine[]): Promise<void> {
    await this.put(KEY.history, encodeHistory(lines), this.deadline())
  }

  async setStatus(value: StatusValue): Promise<boolean> {
    const text = encodeStatus(value)
    if (text === this.lastStatus) return false
    await this.put(KEY.status, text, this.deadline())
    this.lastStatus = text
    return true
  }

  async setLeaderOptime(lsn: number): Promise<boolean> {
    if (lsn === this.lastOptime) return false
    await this.put(KEY.optime, String(lsn), this.deadline())
    this.lastOptime = lsn
    return true
  }

  async setFailsafe(value: Record<string, string>): Promise<boolean> {
    const text = compactJson(value)
    if (text === this.lastFailsafe) return false
    await this.put(KEY.failsafe, text, this.deadline())
    this.lastFailsafe = text
    return true
  }

  async deleteCluster(): Promise<void> {
    const r = await this.seen(this.kv.deleteRange(this.prefix, {prefix: true, deadline: this.deadline()}))
    this.cache?.applyDeletePrefix(this.prefix, r.revision)
  }

  // --- waking --------------------------------------------------------------------------------

  wakeup(): void {
    this.changed = true
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  async waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) throw abortError(signal)
    if (this.skipNextWait) {
      this.skipNextWait = false
      this.changed = false
      return true
    }
    if (this.changed) {
      this.changed = false
      return true
    }
    // One promise ends the wait: a change (true), the timeout (false) or the caller's abort.
    let waiter: (() => void) | undefined
    let cancel = (): void => {}
    let onAbort: (() => void) | undefined
    try {
      const woken = await new Promise<boolean>((resolve, reject) => {
        this.waiters.push((waiter = () => resolve(true)))
        cancel = this.clock.timer(timeoutMs, () => resolve(false))
        if (signal) signal.addEventListener('abort', (onAbort = () => reject(abortError(signal))), {once: true})
      })
      if (signal?.aborted) throw abortError(signal)
      return woken
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort)
      cancel()
      this.waiters = this.waiters.filter((w) => w !== waiter)
      this.changed = false
    }
  }

  async close(): Promise<void> {
    await this.cache?.stop()
    this.kv.close()
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/** Structural equality of JSON-like values, key order ignored (Patroni's deep_compare). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]))
}
