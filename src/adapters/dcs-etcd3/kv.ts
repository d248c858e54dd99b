/**
 * The etcd v3 primitives the Dcs logic (etcd3-dcs.ts) is built on, in decoded form: UTF-8
 * strings instead of base64, numbers for revisions, lease ids kept as decimal strings because
 * etcd lease ids use all 64 bits.
 *
 * Two backends implement it: Etcd3Client (the HTTP JSON gateway) and FakeKv (tests). Sharing
 * this seam means the Patroni-specific logic (lease handling, the leader transactions, the
 * watch-backed cache, value decoding) is one piece of code run by both, and the contract
 * suite checks that the fake reproduces etcd's own semantics for these few calls.
 */

export interface KeyValue {
  key: string
  value: string
  createRevision: number
  modRevision: number
  /** Lease id, absent when the key has none. */
  lease?: string
}

export type Compare =
  | {key: string; target: 'CREATE'; createRevision: number}
  | {key: string; target: 'MOD'; modRevision: number}
  | {key: string; target: 'VALUE'; value: string}

export type TxnOp =
  | {put: {key: string; value: string; lease?: string}}
  | {deleteRange: {key: string}}
  | {txn: {compare: Compare[]; success: TxnOp[]; failure?: TxnOp[]}}

/** Per-op results; only nested transactions report anything the Dcs needs. */
export type TxnOpResult = {put: true} | {deleteRange: {deleted: number}} | {txn: {succeeded: boolean}}

export interface TxnResult {
  succeeded: boolean
  /** Store revision after the txn (header.revision); the mod_revision of keys it wrote. */
  revision: number
  responses: TxnOpResult[]
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE'
  /** For DELETE only key and modRevision (the deletion revision) are meaningful. */
  kv: KeyValue
}

export interface WatchHandlers {
  /** Called once etcd confirmed the watch. */
  onCreated?(): void
  onEvents(events: WatchEvent[]): void
  /** The stream ended, was cancelled (e.g. compaction) or failed; the watch is dead. */
  onClosed(err: Error): void
}

export interface WatchHandle {
  close(): void
}

/** Options every call takes: the absolute deadline on Clock.monotonic(). */
export interface CallOptions {
  deadline?: number
}

export interface KvBackend {
  /**
   * The single key, or every key starting with it when `prefix`. `serializable` allows a local
   * (possibly stale) read; false is linearizable. Returns header.revision with the kvs.
   */
  range(key: string, opts?: CallOptions & {prefix?: boolean; serializable?: boolean}): Promise<{revision: number; kvs: KeyValue[]}>
  put(key: string, value: string, opts?: CallOptions & {lease?: string}): Promise<{revision: number}>
  deleteRange(key: string, opts?: CallOptions & {prefix?: boolean}): Promise<{revision: number; deleted: number}>
  txn(compare: Compare[], success: TxnOp[], failure?: TxnOp[], opts?: CallOptions): Promise<TxnResult>
  /** Grants a lease; etcd may raise a too-small TTL to its minimum. */
  leaseGrant(ttlSeconds: number, opts?: CallOptions): Promise<{id: string; ttl: number}>
  /** Remaining TTL in seconds after the keepalive; 0 means the lease is gone. */
  leaseKeepAlive(id: string, opts?: CallOptions): Promise<number>
  leaseRevoke(id: string, opts?: CallOptions): Promise<void>
  /** Watches every key under `prefix` from startRevision (inclusive). Handlers run until close(). */
  watchPrefix(prefix: string, startRevision: number, handlers: WatchHandlers): WatchHandle
  /** Default per-call deadline budget in ms (retry_timeout). */
  setRetryTimeout(ms: number): void
  close(): void
}

/**
 * etcd's prefix range_end: the prefix's UTF-8 bytes with the last byte below 0xff incremented
 * and everything after it dropped (`/service/batman/` -> `/service/batman0`).
 */
export function prefixRangeEndBytes(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8')
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1))
      out[i]++
      return out
    }
  }
  return Buffer.from([0])
}

/** UTF-8 byte order, the order etcd keeps keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** The key matches a single-key or prefix selection, as etcd's range_end would select it. */
export function keyMatches(key: string, start: string, prefix: boolean): boolean {
  return prefix ? key.startsWith(start) : key === start
}
