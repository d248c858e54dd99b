/**
 * Leadership from one etcd v3 key (vip-manager's `dcs-type: etcd`/`etcd3`): read it, then watch
 * exactly that key from the revision after the read; the value must equal trigger-value byte
 * for byte. Missing key, DELETE event, failed or timed-out read: not leader / unknown.
 *
 * Beyond vip-manager: while the watch runs, the key is also read every `interval` ms. A watch
 * on a dead connection (a partition, a frozen etcd) produces no event at all, which is how
 * vip-manager 2.3-4.2 kept a VIP on a node cut off from etcd (upstream issue #354); the read
 * turns that silence into "unknown" within max(interval, 1000) ms, and it also repairs any
 * event the watch might have missed. One small linearizable range per second per node.
 */
import {errorMessage} from '../../errors'
import {isAbortError, SETTLED, type Clock} from '../../ports/clock'
import type {Leadership, LeaderSource, VipLogLevel} from '../../ports/vip'
import type {KvBackend, WatchHandle} from '../dcs-etcd3/kv'

export type {VipLogLevel} from '../../ports/vip'

export interface EtcdLeaderOptions {
  kv: Pick<KvBackend, 'range' | 'watchPrefix'>
  key: string
  value: string
  clock: Clock
  /** ms between liveness reads; each read may take max(interval, 1000) ms. */
  intervalMs: number
  log: (level: VipLogLevel, msg: string) => void
}

export class EtcdLeaderSource implements LeaderSource {
  private readonly stopper = new AbortController()
  private report: (s: Leadership) => void = () => {}
  private loop?: Promise<void>
  /** Highest etcd revision whose state has been reported, so an older read never overwrites a newer event. */
  private seen = 0
  private lastValueLog?: string

  constructor(private readonly o: EtcdLeaderOptions) {}

  private get readTimeoutMs(): number {
    return Math.max(this.o.intervalMs, 1000)
  }

  start(report: (s: Leadership) => void): void {
    this.report = (s) => {
      if (!this.stopper.signal.aborted) report(s)
    }
    this.loop = this.run().catch((e) => {
      if (!isAbortError(e)) this.o.log('error', `etcd leader check stopped on an unexpected error: ${errorMessage(e)}`)
    })
  }

  /** Reports end at once; a read still in flight is abandoned (closing the client ends it). */
  async stop(): Promise<void> {
    this.stopper.abort()
    const grace = new AbortController()
    await Promise.race([this.loop, this.o.clock.sleep(200, grace.signal).catch(() => {})])
    grace.abort()
  }

  private judge(value: string | undefined, how: string): Leadership {
    if (value === undefined) return {kind: 'not-leader', detail: `${this.o.key} does not exist (${how})`}
    if (value === this.o.value) return {kind: 'leader', detail: `${this.o.key} = ${JSON.stringify(value)} (${how})`}
    return {kind: 'not-leader', detail: `${this.o.key} = ${JSON.stringify(value)}, not ${JSON.stringify(this.o.value)} (${how})`}
  }

  /** One linearizable read of the key; reports and returns the revision, or undefined on failure. */
  private async read(how: string): Promise<number | undefined> {
    const {clock} = this.o
    try {
      const r = await this.o.kv.range(this.o.key, {deadline: clock.monotonic() + this.readTimeoutMs})
      if (this.stopper.signal.aborted) return undefined
      const kv = r.kvs.find((k) => k.key === this.o.key)
      const line = kv ? `Current value from DCS: ${kv.value}` : `No value found for key ${this.o.key} - DCS may not have set it yet`
      if (line !== this.lastValueLog) this.o.log('info', line)
      this.lastValueLog = line
      if (r.revision >= this.seen) {
        this.seen = r.revision
        this.report(this.judge(kv?.value, how))
      }
      return r.revision
    } catch (e) {
      if (this.stopper.signal.aborted) return undefined
      this.lastValueLog = undefined
      this.o.log('error', `Failed to get value from etcd: ${errorMessage(e)}`)
      this.report({kind: 'unknown', detail: `etcd read failed: ${errorMessage(e)}`})
      return undefined
    }
  }

  private async run(): Promise<void> {
    const {clock, key} = this.o
    const signal = this.stopper.signal
    let watchStarted = -Infinity
    while (!signal.aborted) {
      // After a lost watch the read comes first, at once: nothing is trusted until it answers.
      const revision = await this.read('read')
      if (revision === undefined) {
        await clock.sleep(1000, signal)
        continue
      }
      // A watch that keeps dying gets a pause; it replays from the read's revision, so no
      // change in between is missed.
      const since = clock.monotonic() - watchStarted
      if (since < 1000) await clock.sleep(1000 - since, signal)
      watchStarted = clock.monotonic()
      this.o.log('debug', `Setting WATCH on ${key}`)
      const lost = await this.watch(revision + 1)
      if (signal.aborted) return
      this.o.log('warning', `WATCH on key lost, re-establishing and re-syncing state (${lost})`)
      this.lastValueLog = undefined // the re-read's value is logged again: it is the re-sync
    }
  }

  /** Runs one watch plus the periodic liveness read; resolves with the reason it ended. */
  private watch(fromRevision: number): Promise<string> {
    const {clock, key} = this.o
    const signal = this.stopper.signal
    return new Promise<string>((resolve) => {
      const ended = new AbortController()
      let handle: WatchHandle | undefined
      const end = (why: string) => {
        if (ended.signal.aborted) return
        ended.abort(SETTLED)
        signal.removeEventListener('abort', onStop)
        handle?.close()
        resolve(why)
      }
      const onStop = () => end('stopped')
      signal.addEventListener('abort', onStop, {once: true})
      handle = this.o.kv.watchPrefix(key, fromRevision, {
        onCreated: () => this.o.log('debug', `WATCH on ${key} established at revision ${fromRevision}`),
        onEvents: (events) => {
          // The client watches a prefix; only the exact key counts (/leader is not /leader2).
          const mine = events.filter((e) => e.kv.key === key)
          const last = mine[mine.length - 1]
          if (!last || ended.signal.aborted) return
          const rev = last.kv.modRevision
          if (rev < this.seen) return
          this.seen = rev
          const value = last.type === 'DELETE' ? undefined : last.kv.value
          this.o.log('info', value === undefined ? `${key} was deleted` : `Current value from DCS: ${value}`)
          this.lastValueLog = value === undefined ? undefined : `Current value from DCS: ${value}`
          this.report(this.judge(value, last.type === 'DELETE' ? 'watch: deleted' : 'watch'))
        },
        onClosed: (err) => end(errorMessage(err)),
      })
      // Liveness: a read every interval while the watch lives.
      void (async () => {
        while (!ended.signal.aborted) {
          try {
            await clock.sleep(this.o.intervalMs, ended.signal)
          } catch {
            return
          }
          const rev = await this.read('periodic read')
          if (rev === undefined && !ended.signal.aborted) end('periodic read failed')
        }
      })()
    })
  }
}
