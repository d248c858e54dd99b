/**
 * The imperative shell around reconcile(): keeps the latest leadership report, observes the
 * address, applies the one action, and does so on every leadership change and every `interval`
 * ms (so a VIP removed by hand on the leader comes back, and one added by hand elsewhere goes).
 * Passes never overlap: a change arriving during a pass triggers one more pass right after it.
 */
import {errorMessage} from '../errors'
import type {Clock} from '../ports/clock'
import type {Leadership, LeaderSource, VipControl} from '../ports/vip'
import {reconcile, stateLine, type Desired, type Phase} from './reconcile'

export interface VipLog {
  debug(msg: string): void
  info(msg: string): void
  warning(msg: string): void
  error(msg: string): void
}

export interface FollowerOptions {
  source: LeaderSource
  control: VipControl
  clock: Clock
  log: VipLog
  intervalMs: number
  /** How long a present VIP survives start-up without any leadership answer. */
  startupGraceMs: number
}

/**
 * Hand-over margin: a node that becomes the leader after having been told otherwise adds the
 * address no sooner than this long after that change. When the leader key moves (a switchover, or
 * an expiry followed at once by a new lock), the old holder's follower learns of it from the same
 * DCS at the same moment and removes the address in a few milliseconds; without the margin the
 * new holder's add can win that race on a busy host, and the address is briefly on two nodes. The
 * first answer after start-up is acted on at once (no previous holder was seen).
 */
export const HANDOVER_MARGIN_MS = 300

const sameLeadership = (a: Desired, b: Leadership) => a.kind !== 'pending' && a.kind === b.kind && a.detail === b.detail

export class VipFollower {
  private desired: Desired = {kind: 'pending'}
  private phase: Phase = 'running'
  private startedAt = 0
  private pass?: Promise<void>
  private again = false
  private readonly timerStop = new AbortController()
  private timer?: Promise<void>
  private readonly announcements = new Set<Promise<void>>()
  private lastLine?: string
  /** Monotonic ms of the last report that this node is not the leader (or does not know). */
  private lastNotLeaderAt = Number.NEGATIVE_INFINITY
  /** Counters for tests and benches. */
  readonly stats = {passes: 0, adds: 0, removes: 0, failures: 0}

  constructor(private readonly o: FollowerOptions) {}

  start(): void {
    this.startedAt = this.o.clock.monotonic()
    this.o.source.start((s) => this.onLeadership(s))
    void this.kick()
    this.timer = (async () => {
      const signal = this.timerStop.signal
      while (!signal.aborted) {
        try {
          await this.o.clock.sleep(this.o.intervalMs, signal)
        } catch {
          return
        }
        await this.kick()
      }
    })()
  }

  private onLeadership(s: Leadership): void {
    if (this.phase !== 'running') return
    if (sameLeadership(this.desired, s)) return
    const was = this.desired.kind
    this.desired = s
    // Leadership gained after another state: the previous holder held the key until a moment ago
    // (a switchover's delete and re-create can reach us as one change), so the margin starts now.
    if (s.kind !== 'leader' || (was !== 'pending' && was !== 'leader')) this.lastNotLeaderAt = this.o.clock.monotonic()
    if (was !== s.kind) this.o.log.info(`leadership: ${s.kind === 'unknown' ? 'unknown (treated as not leader)' : s.kind}: ${s.detail}`)
    else this.o.log.debug(`leadership: ${s.kind}: ${s.detail}`)
    void this.kick()
  }

  /** Runs a pass now, or once more after the one in progress. Resolves when that pass is done. */
  kick(): Promise<void> {
    if (this.pass) {
      this.again = true
      return this.pass
    }
    this.pass = (async () => {
      try {
        do {
          this.again = false
          await this.once()
        } while (this.again)
      } finally {
        this.pass = undefined
      }
    })()
    return this.pass
  }

  private async once(): Promise<void> {
    const {control, log, clock} = this.o
    const wait = this.lastNotLeaderAt + HANDOVER_MARGIN_MS - clock.monotonic()
    if (this.desired.kind === 'leader' && this.phase === 'running' && wait > 0) {
      log.debug(`leader since less than ${HANDOVER_MARGIN_MS} ms: waiting ${Math.ceil(wait)} ms for the previous holder to release the address`)
      try {
        await clock.sleep(wait, this.timerStop.signal)
      } catch {
        // stopping: the pass below follows the stop phase
      }
    }
    this.stats.passes++
    let observed
    try {
      observed = await control.presence()
    } catch (e) {
      observed = {unknown: errorMessage(e)}
    }
    const d = reconcile({desired: this.desired, observed, phase: this.phase, startedAt: this.startedAt, now: clock.monotonic(), startupGraceMs: this.o.startupGraceMs})
    const line = stateLine(control.cidr, observed, d.wantUp)
    // INFO only when something changed (state, leadership kind, or an action), else DEBUG.
    const key = `${line}|${this.desired.kind}`
    if (key !== this.lastLine || d.action !== 'none') log.info(`${line}: ${d.reason}`)
    else log.debug(`${line}: ${d.reason}`)
    this.lastLine = key
    if (d.action === 'add') {
      log.info(`Configuring address ${control.cidr} on ${control.interfaceName}`)
      const r = await control.add()
      if (r.ok) {
        this.stats.adds++
        this.announce()
      } else {
        this.stats.failures++
        log.error(`Got error ${r.error}`)
        log.error(`Failed to configure virtual ip for this machine`)
      }
    } else if (d.action === 'remove') {
      log.info(`Removing address ${control.cidr} on ${control.interfaceName}`)
      const r = await control.remove()
      if (r.ok) this.stats.removes++
      else {
        this.stats.failures++
        log.error(`Got error ${r.error}`)
        log.error(`Failed to release virtual ip ${control.cidr} on ${control.interfaceName}`)
      }
    }
    if (d.action !== 'none') this.lastLine = undefined // log the state the next pass sees
  }

  /** Gratuitous ARP runs beside the loop: it takes about a second and must not delay a removal. */
  private announce(): void {
    const p = this.o.control
      .announce()
      .then((warnings) => {
        for (const w of warnings) this.o.log.warning(w)
        if (!warnings.length) this.o.log.debug(`Sent gratuitous ARP reply and request for ${this.o.control.cidr}`)
      })
      .catch((e) => this.o.log.warning(`gratuitous ARP failed: ${errorMessage(e)}`))
      .finally(() => this.announcements.delete(p))
    this.announcements.add(p)
  }

  /**
   * Stops watching and timers, then makes one last pass: with `release` the address goes
   * (whatever the DCS says), without it the address is left as it is.
   */
  async stop(release: boolean): Promise<void> {
    this.phase = release ? 'stopping-release' : 'stopping-keep'
    this.timerStop.abort()
    await this.o.source.stop()
    await this.timer
    if (this.pass) await this.pass
    if (release) await this.kick()
    await Promise.all([...this.announcements])
  }
}
