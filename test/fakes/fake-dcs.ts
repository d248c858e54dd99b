/**
 * In-memory etcd for unit tests: keys with create/mod revisions, leases that expire on a
 * FakeClock, txn compares (nested txns included), prefix watches with history replay.
 *
 * Why fake the KV layer and not the Dcs port: the Dcs logic (lease refresh rules, the three
 * leader transactions, CAS writes, the watch-backed cache, value decoding) is the part most
 * worth testing, and faking it would test a copy. FakeKv reproduces the handful of etcd
 * primitives Etcd3Dcs uses, and test/contract/dcs-contract.ts runs the same checks on
 * Etcd3Dcs-over-FakeKv and Etcd3Dcs-over-real-etcd, so the fake cannot drift unnoticed.
 */
import {Etcd3Dcs, type Etcd3DcsOptions} from '../../src/adapters/dcs-etcd3/etcd3-dcs'
import {compareKeys, keyMatches, type CallOptions, type Compare, type KeyValue, type KvBackend, type TxnOp, type TxnOpResult, type TxnResult, type WatchEvent, type WatchHandle, type WatchHandlers} from '../../src/adapters/dcs-etcd3/kv'
import {HactlError} from '../../src/errors'
import type {Clock} from '../../src/ports/clock'
import {FakeClock} from './fake-clock'

interface Lease {
  id: string
  ttl: number
  keys: Set<string>
  timer: AbortController
}

interface Watcher {
  prefix: string
  handlers: WatchHandlers
  closed: boolean
}

export class FakeKv implements KvBackend {
  private store = new Map<string, KeyValue>()
  private revision = 1
  private leases = new Map<string, Lease>()
  private nextLease = 7_000_000_000_000_000_000n
  private history: {revision: number; events: WatchEvent[]}[] = []
  private watchers = new Set<Watcher>()
  private available = true
  /** Number of RPCs served; lets tests see whether a call reached the store. */
  calls = 0

  constructor(readonly clock: Clock) {}

  /** Simulates etcd being down: calls throw DCS_UNAVAILABLE and open watches close. */
  setAvailable(up: boolean): void {
    this.available = up
    if (!up) for (const w of [...this.watchers]) this.closeWatcher(w, new Error('fake etcd went down'))
  }

  setRetryTimeout(): void {}

  close(): void {
    for (const w of [...this.watchers]) this.closeWatcher(w, new Error('client closed'))
  }

  private check(): void {
    this.calls++
    if (!this.available) throw new HactlError('DCS_UNAVAILABLE', 'fake etcd is down', {recoverable: true})
  }

  private emit(events: WatchEvent[]): void {
    if (!events.length) return
    this.history.push({revision: this.revision, events})
    for (const w of this.watchers) {
      const mine = events.filter((e) => e.kv.key.startsWith(w.prefix))
      if (mine.length) queueMicrotask(() => !w.closed && w.handlers.onEvents(mine.map((e) => ({type: e.type, kv: {...e.kv}}))))
    }
  }

  private closeWatcher(w: Watcher, err: Error): void {
    if (w.closed) return
    w.closed = true
    this.watchers.delete(w)
    queueMicrotask(() => w.handlers.onClosed(err))
  }

  // Mutations at one revision; callers bump this.revision first.
  private doPut(key: string, value: string, lease: string | undefined, events: WatchEvent[]): void {
    const old = this.store.get(key)
    if (old?.lease) this.leases.get(old.lease)?.keys.delete(key)
    const kv: KeyValue = {key, value, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision}
    if (lease) {
      kv.lease = lease
      this.leases.get(lease)!.keys.add(key)
    }
    this.store.set(key, kv)
    events.push({type: 'PUT', kv: {...kv}})
  }

  private doDelete(key: string, prefix: boolean, events: WatchEvent[]): number {
    let n = 0
    for (const k of [...this.store.keys()]) {
      if (!keyMatches(k, key, prefix)) continue
      const old = this.store.get(k)!
      if (old.lease) this.leases.get(old.lease)?.keys.delete(k)
      this.store.delete(k)
      events.push({type: 'DELETE', kv: {key: k, value: '', createRevision: 0, modRevision: this.revision}})
      n++
    }
    return n
  }

  private requireLease(lease: string | undefined): void {
    if (lease && !this.leases.has(lease)) throw new HactlError('DCS_LEASE_NOT_FOUND', 'etcd: etcdserver: requested lease not found', {recoverable: true})
  }

  async range(key: string, opts: CallOptions & {prefix?: boolean} = {}): Promise<{revision: number; kvs: KeyValue[]}> {
    this.check()
    const kvs = [...this.store.values()].filter((kv) => keyMatches(kv.key, key, !!opts.prefix)).sort((a, b) => compareKeys(a.key, b.key))
    return {revision: this.revision, kvs: kvs.map((kv) => ({...kv}))}
  }

  async put(key: string, value: string, opts: CallOptions & {lease?: string} = {}): Promise<{revision: number}> {
    this.check()
    this.requireLease(opts.lease)
    this.revision++
    const events: WatchEvent[] = []
    this.doPut(key, value, opts.lease, events)
    this.emit(events)
    return {revision: this.revision}
  }

  async deleteRange(key: string, opts: CallOptions & {prefix?: boolean} = {}): Promise<{revision: number; deleted: number}> {
    this.check()
    const matches = [...this.store.keys()].some((k) => keyMatches(k, key, !!opts.prefix))
    if (!matches) return {revision: this.revision, deleted: 0}
    this.revision++
    const events: WatchEvent[] = []
    const deleted = this.doDelete(key, !!opts.prefix, events)
    this.emit(events)
    return {revision: this.revision, deleted}
  }

  private compare(c: Compare): boolean {
    const kv = this.store.get(c.key)
    switch (c.target) {
      case 'CREATE':
        return (kv?.createRevision ?? 0) === c.createRevision
      case 'MOD':
        return (kv?.modRevision ?? 0) === c.modRevision
      case 'VALUE':
        // etcd: a value compare on a missing key always fails.
        return kv !== undefined && kv.value === c.value
    }
  }

  /** Picks the branch of every (nested) txn first, so lease checks happen before any write. */
  private plan(compare: Compare[], success: TxnOp[], failure: TxnOp[] | undefined): {succeeded: boolean; ops: TxnOp[]} {
    const succeeded = compare.every((c) => this.compare(c))
    return {succeeded, ops: succeeded ? success : failure ?? []}
  }

  private writes(ops: TxnOp[]): boolean {
    return ops.some((op) => {
      if ('put' in op) return true
      if ('deleteRange' in op) return this.store.has(op.deleteRange.key)
      const p = this.plan(op.txn.compare, op.txn.success, op.txn.failure)
      return this.writes(p.ops)
    })
  }

  private checkLeases(ops: TxnOp[]): void {
    for (const op of ops) {
      if ('put' in op) this.requireLease(op.put.lease)
      else if ('txn' in op) this.checkLeases(this.plan(op.txn.compare, op.txn.success, op.txn.failure).ops)
    }
  }

  private apply(ops: TxnOp[], events: WatchEvent[]): TxnOpResult[] {
    return ops.map((op): TxnOpResult => {
      if ('put' in op) {
        this.doPut(op.put.key, op.put.value, op.put.lease, events)
        return {put: true}
      }
      if ('deleteRange' in op) return {deleteRange: {deleted: this.doDelete(op.deleteRange.key, false, events)}}
      const p = this.plan(op.txn.compare, op.txn.success, op.txn.failure)
      this.apply(p.ops, events)
      return {txn: {succeeded: p.succeeded}}
    })
  }

  async txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[], _opts?: CallOptions): Promise<TxnResult> {
    this.check()
    const p = this.plan(compare, success, failure)
    this.checkLeases(p.ops)
    if (this.writes(p.ops)) this.revision++
    const events: WatchEvent[] = []
    const responses = this.apply(p.ops, events)
    this.emit(events)
    return {succeeded: p.succeeded, revision: this.revision, responses}
  }

  private arm(lease: Lease): void {
    lease.timer.abort()
    lease.timer = new AbortController()
    this.clock.sleep(lease.ttl * 1000, lease.timer.signal).then(
      () => this.expire(lease.id),
      () => {},
    )
  }

  private expire(id: string): void {
    const lease = this.leases.get(id)
    if (!lease) return
    this.leases.delete(id)
    if (!lease.keys.size) return
    this.revision++
    const events: WatchEvent[] = []
    for (const k of lease.keys) this.doDelete(k, false, events)
    this.emit(events)
  }

  async leaseGrant(ttlSeconds: number): Promise<{id: string; ttl: number}> {
    this.check()
    const id = String(this.nextLease++)
    const lease: Lease = {id, ttl: ttlSeconds, keys: new Set(), timer: new AbortController()}
    this.leases.set(id, lease)
    this.arm(lease)
    return {id, ttl: ttlSeconds}
  }

  async leaseKeepAlive(id: string): Promise<number> {
    this.check()
    const lease = this.leases.get(id)
    if (!lease) return 0
    this.arm(lease)
    return lease.ttl
  }

  async leaseRevoke(id: string): Promise<void> {
    this.check()
    this.leases.get(id)?.timer.abort()
    this.expire(id)
  }

  watchPrefix(prefix: string, startRevision: number, handlers: WatchHandlers): WatchHandle {
    const w: Watcher = {prefix, handlers, closed: false}
    if (!this.available) {
      this.closeWatcher(w, new Error('fake etcd is down'))
      return {close: () => {}}
    }
    this.watchers.add(w)
    const replay = this.history.filter((h) => h.revision >= startRevision).flatMap((h) => h.events.filter((e) => e.kv.key.startsWith(prefix)))
    queueMicrotask(() => {
      if (w.closed) return
      handlers.onCreated?.()
      if (replay.length) handlers.onEvents(replay.map((e) => ({type: e.type, kv: {...e.kv}})))
    })
    return {close: () => this.closeWatcher(w, new Error('watch closed by client'))}
  }

  /** Raw write behind any Dcs's back (malformed-value tests). */
  rawPut(key: string, value: string): Promise<{revision: number}> {
    return this.put(key, value)
  }

  /** The current value, synchronously (simulator invariants look without a round trip). */
  peek(key: string): string | undefined {
    return this.store.get(key)?.value
  }

  async rawGet(key: string): Promise<string | undefined> {
    return this.store.get(key)?.value
  }
}

export interface FakeDcsOptions extends Omit<Etcd3DcsOptions, 'kv' | 'clock'> {
  kv: FakeKv
}

/** An Etcd3Dcs over the shared in-memory store `kv`; one per simulated node. */
export function createFakeDcs(o: FakeDcsOptions): Etcd3Dcs {
  // Views are frozen: the code under test must not modify a view it is handed (it may be shared).
  return new Etcd3Dcs({freezeViews: true, ...o, clock: o.kv.clock})
}

export {FakeClock}
