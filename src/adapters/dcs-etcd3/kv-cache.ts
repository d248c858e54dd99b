/**
 * The daemon's watch-backed copy of the cluster prefix (Patroni's KVCache in patroni/dcs/etcd3.py):
 * one range, then a watch from the range's revision + 1; rebuilt from a fresh range whenever the
 * watch ends for any reason (error, cancel, compaction, etcd restart, auth change). Events and our
 * own successful writes only replace an entry when their mod_revision is newer, so the two sources
 * can arrive in any order.
 */
import {HactlError, errorMessage, isHactlError} from '../../errors'
import {isAbortError, SETTLED, type Clock} from '../../ports/clock'
import type {KeyValue, KvBackend, WatchEvent, WatchHandle} from './kv'

export interface KvCacheOptions {
  kv: KvBackend
  clock: Clock
  prefix: string
  /** Budget for each rebuild's range, in ms. */
  retryTimeoutMs: () => number
  /** Called for every applied watch event with the value before and after (undefined = absent). */
  onChange: (key: string, before: string | undefined, after: string | undefined) => void
  log?: (msg: string) => void
}

export class KvCache {
  private entries = new Map<string, KeyValue>()
  private _version = 0
  private ready = false
  private lastError: unknown
  private watch: WatchHandle | undefined
  private stopper = new AbortController()
  private notify: Array<() => void> = []
  private running: Promise<void> | undefined

  constructor(private readonly o: KvCacheOptions) {}

  start(): void {
    this.running ??= this.loop()
  }

  async stop(): Promise<void> {
    this.stopper.abort()
    this.watch?.close()
    this.wake()
    await this.running
  }

  /** Drops the current watch; the loop re-reads the prefix and watches again. */
  restart(): void {
    this.watch?.close()
  }

  get isReady(): boolean {
    return this.ready
  }

  /** Changes with every change of the entries: an equal number means the same entries. */
  get version(): number {
    return this._version
  }

  /**
   * Entries once the cache is ready. Waits until `deadline` (Clock.monotonic) at most, then
   * throws DCS_UNAVAILABLE; credential and protocol errors from the rebuild surface at once.
   */
  async snapshot(deadline: number): Promise<KeyValue[]> {
    for (;;) {
      if (this.ready) return [...this.entries.values()].map((e) => ({...e}))
      const err = this.lastError
      if (isHactlError(err) && (err.code === 'DCS_AUTH' || err.code === 'DCS_PROTOCOL')) throw err
      const left = deadline - this.o.clock.monotonic()
      if (left <= 0) {
        throw new HactlError('DCS_UNAVAILABLE', `the DCS view is not available within retry_timeout: ${err ? errorMessage(err) : 'watch not established yet'}`, {
          recoverable: true,
          cause: err,
        })
      }
      const ac = new AbortController()
      await Promise.race([
        new Promise<void>((r) => this.notify.push(r)),
        this.o.clock.sleep(left, ac.signal).catch(() => undefined),
      ])
      ac.abort(SETTLED)
    }
  }

  /** Our own successful put: newer mod_revision wins. */
  applyPut(kv: KeyValue): void {
    const old = this.entries.get(kv.key)
    if (!old || old.modRevision < kv.modRevision) {
      this.entries.set(kv.key, {...kv, createRevision: old?.createRevision ?? kv.createRevision})
      this._version++
    }
  }

  /** Our own successful delete at `revision`. */
  applyDelete(key: string, revision: number): void {
    const old = this.entries.get(key)
    if (old && old.modRevision < revision) {
      this.entries.delete(key)
      this._version++
    }
  }

  applyDeletePrefix(prefix: string, revision: number): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.applyDelete(k, revision)
  }

  get(key: string): KeyValue | undefined {
    return this.entries.get(key)
  }

  private wake(): void {
    const n = this.notify
    this.notify = []
    for (const f of n) f()
  }

  private setReady(v: boolean): void {
    this.ready = v
    this.wake()
  }

  private applyEvent(ev: WatchEvent): void {
    const key = ev.kv.key
    const old = this.entries.get(key)
    let applied: boolean
    if (ev.type === 'DELETE') {
      applied = !old || old.modRevision < ev.kv.modRevision
      if (old && applied) {
        this.entries.delete(key)
        this._version++
      }
      if (applied) this.o.onChange(key, old?.value, undefined)
    } else {
      applied = !old || old.modRevision < ev.kv.modRevision
      if (applied || old?.modRevision === ev.kv.modRevision) {
        this.entries.set(key, ev.kv)
        this._version++
      }
      if (applied) this.o.onChange(key, old?.value, ev.kv.value)
    }
  }

  private async loop(): Promise<void> {
    const {kv, clock, prefix} = this.o
    const stop = this.stopper.signal
    let backoff = 0
    while (!stop.aborted) {
      const started = clock.monotonic()
      try {
        const r = await kv.range(prefix, {prefix: true, serializable: true, deadline: clock.monotonic() + this.o.retryTimeoutMs()})
        if (stop.aborted) break
        this.entries = new Map(r.kvs.map((e) => [e.key, e]))
        this._version++
        this.lastError = undefined
        this.setReady(true)
        const closed = await new Promise<Error>((resolve) => {
          this.watch = kv.watchPrefix(prefix, r.revision + 1, {
            onEvents: (events) => {
              for (const ev of events) this.applyEvent(ev)
            },
            onClosed: resolve,
          })
          if (stop.aborted) this.watch.close()
        })
        this.watch = undefined
        if (!stop.aborted) {
          this.lastError = closed
          this.o.log?.(`watch on ${prefix} ended, re-reading: ${errorMessage(closed)}`)
        }
      } catch (e) {
        this.lastError = e
        this.o.log?.(`reading ${prefix} failed: ${errorMessage(e)}`)
      }
      this.setReady(false)
      // A watch that dies right after it started (or a failed range) must not spin.
      backoff = clock.monotonic() - started < 1000 ? Math.min(Math.max(backoff * 2, 100), 1000) : 0
      if (backoff && !stop.aborted) {
        try {
          await clock.sleep(backoff, stop)
        } catch (e) {
          if (!isAbortError(e)) throw e
        }
      }
    }
  }
}
