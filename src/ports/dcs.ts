/**
 * The distributed configuration store as the HA agent, the ctl commands and the VIP manager see it:
 * Patroni's AbstractDCS operations (patroni/dcs/__init__.py) on the key layout of
 * docs/ha-rules.md#dcs-keys, so a cluster can mix hactl and Python Patroni nodes.
 *
 * Contract shared by every method unless its comment says otherwise:
 * - It completes within `retryTimeout` (one deadline for the whole operation, retries
 *   included) or throws a HactlError: DCS_UNAVAILABLE (no endpoint answered in time; the
 *   state is unknown, not absent), DCS_AUTH (credentials refused), DCS_PROTOCOL (etcd said
 *   something we do not understand or refused the request). DCS_LEASE_NOT_FOUND never leaks:
 *   the lease is dropped and re-granted as described per method.
 * - A boolean `false` always means "a compare failed" (someone else holds the key, the
 *   version moved on), never "etcd was unreachable".
 * - Successful writes are visible to this process's next loadCluster() immediately, even
 *   while the watch that would deliver them is still in flight.
 */
import type {ClusterView, HistoryLine, Leader, MemberData, Version} from '../core/cluster'

export interface FailoverValue {
  /** Current leader; when set the request is a switchover. */
  leader?: string | null
  /** The candidate (`member` on the wire). */
  member?: string | null
  /** ISO-8601 with a UTC offset. */
  scheduled_at?: string | null
}

export interface SyncValue {
  leader: string
  /** Sorted, comma-separated names, or null. */
  sync_standby: string | null
  /** [4.x] quorum; written only when given. */
  quorum?: number
}

export interface StatusValue {
  /** Leader LSN in bytes. */
  optime: number
  slots?: Record<string, number> | null
  /** [4.x] */
  retain_slots?: string[] | null
}

export interface UpdateLeaderExtras {
  /** Written to `status` (only when changed) after a successful renewal. */
  lastLsn?: number
  slots?: Record<string, number> | null
  retainSlots?: string[] | null
  /** Written to `failsafe` (only when changed) after a successful renewal, when failsafe_mode is on. */
  failsafe?: Record<string, string> | null
}

export interface DcsTiming {
  /** Dynamic `ttl` in seconds: the lease TTL. */
  ttl: number
  /** Dynamic `loop_wait` in seconds: minimum gap between unforced lease keepalives. */
  loopWait: number
  /** Dynamic `retry_timeout` in seconds: the deadline of every operation. */
  retryTimeout: number
}

export interface Dcs {
  /** This node's member name (the value it writes to `leader`). */
  readonly name: string
  /** `/<ns>/<scope>/` */
  readonly prefix: string

  /**
   * Applies new dynamic timing. A changed ttl drops the lease (the next refresh grants one
   * with the new TTL, and updateLeader moves the leader key onto it) and makes the next
   * waitForChange() return true at once, so the loop re-establishes its keys without sleeping.
   */
  setTiming(timing: Partial<DcsTiming>): void
  readonly timing: Readonly<DcsTiming>

  /**
   * The whole cluster from one read of the prefix. In agent mode (watch enabled) this is the
   * watch-backed cache; it waits up to retryTimeout for the cache to be (re)built. With
   * `{fresh: true}` (ctl commands) it bypasses the cache and does a linearizable range.
   * Also remembered as `lastCluster`. Malformed values become `warnings`, never errors.
   */
  loadCluster(opts?: {fresh?: boolean}): Promise<ClusterView>
  /** The last view loadCluster returned (for the REST API between cycles), if any. */
  readonly lastCluster: ClusterView | undefined
  /** Clock.now() of the last successful round trip to the DCS; 0 before the first. */
  readonly lastSeen: number

  /** Current lease id, undefined until granted or after it was lost. */
  readonly lease: string | undefined
  /**
   * Keeps the process lease alive: skipped when the last refresh was less than loopWait ago
   * (unless `force`); a keepalive that reports the lease gone drops it; with no lease a new one
   * is granted with TTL = ttl. Returns true when a new lease was granted.
   */
  refreshLease(force?: boolean): Promise<boolean>

  /**
   * The leader race: refresh the lease, then create-if-absent `leader` = name on the lease
   * (txn CREATE == 0). True if we won, false if the key exists. A lease that vanished is
   * re-granted and the create retried once, inside the same deadline.
   */
  attemptToAcquireLeader(): Promise<boolean>

  /** Unconditional put of `leader` = name on our lease (right after bootstrap only). */
  takeLeader(): Promise<void>

  /**
   * Renews the lock (patroni/dcs/etcd3.py Etcd3._update_leader; docs/ha-rules.md#leader-lock): a
   * forced lease keepalive, and if `cluster.leader.session` is not our lease (re-granted lease, or
   * the key is gone), a txn that moves/creates the key:
   * value == name ? put on new lease : (create == 0 ? put : fail). False means the lock is
   * lost and the node must demote. On success writes `status`/`failsafe` from `extras` when
   * they changed (failures of those writes are swallowed: the lock is what matters).
   */
  updateLeader(cluster: ClusterView, extras?: UpdateLeaderExtras): Promise<boolean>

  /**
   * Voluntary release (switchover, shutdown): writes `status.optime = lastLsn` first when
   * given, then deletes `leader` only if its value is our name. False if it was not ours.
   */
  deleteLeader(lastLsn?: number): Promise<boolean>

  /**
   * Publishes `members/<name>` on our lease (refreshing the lease unforced first). Skipped when
   * the value equals what lastCluster holds and the key is already on the current lease.
   * False when the lease vanished (it is dropped and re-granted next time) or no lease exists.
   */
  touchMember(data: MemberData): Promise<boolean>

  /** `config`: CAS on mod_revision when `expectedVersion` is given, else an unconditional put. */
  setConfig(value: Record<string, unknown>, expectedVersion?: Version): Promise<boolean>

  /**
   * `initialize` = sysid. `create`: create-if-absent, the bootstrap race (true = we won);
   * otherwise an unconditional put.
   */
  initialize(create: boolean, sysid: string): Promise<boolean>
  /** Deletes `initialize` (failed bootstrap). */
  cancelInitialization(): Promise<void>

  /** `failover`: CAS when `expectedVersion` is given, else unconditional. `{}` clears a request. */
  setFailover(value: FailoverValue, expectedVersion?: Version): Promise<boolean>

  /**
   * `sync`: CAS when `expectedVersion` is given. Returns the new version (the txn's
   * header.revision) for the next CAS, or false when the compare failed.
   */
  setSync(value: SyncValue, expectedVersion?: Version): Promise<Version | false>
  /** Deletes `sync`, CAS when `expectedVersion` is given. False when the compare failed. */
  deleteSync(expectedVersion?: Version): Promise<boolean>

  /** Unconditional put of `history`. */
  setHistory(lines: HistoryLine[]): Promise<void>
  /**
   * Unconditional put of `status`, skipped when equal to the last value written or read.
   * Returns true when a write happened.
   */
  setStatus(value: StatusValue): Promise<boolean>
  /** Legacy `optime/leader` (only while a member runs Patroni < 2.1.0); skipped when unchanged. */
  setLeaderOptime(lsn: number): Promise<boolean>
  /** Unconditional put of `failsafe`, skipped when unchanged. Returns true when written. */
  setFailsafe(value: Record<string, string>): Promise<boolean>

  /** Deletes every key under the prefix (`patronictl remove`). */
  deleteCluster(): Promise<void>

  /**
   * The loop's sleep. Resolves true as soon as something worth a new cycle happened since the
   * previous call returned: the `leader` value changed (acquired, deleted, expired), `config`
   * changed, `status`/`optime` changed while the leader is someone else, a new member key appeared
   * while this member holds the leader key, wakeup() was called, or the ttl changed. Resolves false after `timeoutMs` otherwise, and rejects with an AbortError
   * when `signal` aborts. Never throws DCS errors: a broken watch is rebuilt in the background
   * and the next loadCluster() reports unavailability.
   */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean>
  /** Wakes a pending (or the next) waitForChange(); REST switchover, finished async tasks. */
  wakeup(): void

  /** Stops the watch and frees sockets. The lease is not revoked: keys expire with it. */
  close(): Promise<void>
}
