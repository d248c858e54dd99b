import {abortError, type Clock} from '../ports/clock'

/**
 * The agent's one slot for long actions (initdb, pg_basebackup, pg_rewind, restart, stop): while it
 * runs, the HA loop keeps cycling (the lock holder keeps renewing) and reports "in progress"
 * instead of deciding again (docs/ha-rules.md#long-tasks; Patroni's patroni/async_executor.py
 * AsyncExecutor). One action at a time; a new one is refused while the slot is busy. Cancelling
 * aborts the action's signal and waits for it to end, so nothing keeps writing into a data
 * directory the next action is about to reuse.
 */
export interface TaskInfo {
  kind: string
  description: string
  /** Clock.monotonic() at start. */
  startedAt: number
}

export interface TaskOutcome<T = unknown> extends TaskInfo {
  ok: boolean
  value?: T
  error?: unknown
  cancelled: boolean
  finishedAt: number
}

export class TaskSlot {
  private running?: {info: TaskInfo; controller: AbortController; work: Promise<void>; done: Promise<void>; settled: boolean; record: () => void}
  private finished?: TaskOutcome
  /** Set while an HA cycle runs: a task that ends then is recorded when the cycle ends. */
  private cycle: {ended: Promise<void>; end: () => void} | null = null
  private deferred: Array<() => void> = []
  /** A task's critical section (exclusive()) in progress: the next cycle waits for it. */
  private critical: Promise<unknown> | null = null

  constructor(
    private readonly clock: Clock,
    /** Called when a task ends, e.g. to wake the HA loop early. */
    private readonly onDone: (outcome: TaskOutcome) => void = () => {},
  ) {}

  get current(): TaskInfo | undefined {
    return this.running?.info
  }

  get busy(): boolean {
    return this.running !== undefined
  }

  /** Starts `fn` in the slot; false (and `fn` not called) when another task is running. */
  start<T>(kind: string, description: string, fn: (signal: AbortSignal) => Promise<T>): boolean {
    if (this.running) return false
    const controller = new AbortController()
    const info: TaskInfo = {kind, description, startedAt: this.clock.monotonic()}
    // fn starts synchronously, so a cancel() right after start() reaches its abort listener.
    let work: Promise<T>
    try {
      work = Promise.resolve(fn(controller.signal))
    } catch (e) {
      work = Promise.reject(e)
    }
    let finishedAt = 0
    let result: Omit<TaskOutcome, keyof TaskInfo | 'finishedAt' | 'cancelled'> = {ok: false}
    // The promise chain never rejects: the outcome carries the error to the loop.
    const workDone = work.then(
      (value) => {
        finishedAt = this.clock.monotonic()
        result = {ok: true, value}
      },
      (error: unknown) => {
        finishedAt = this.clock.monotonic()
        result = {ok: false, error}
      },
    )
    const entry = {info, controller, work: workDone, done: Promise.resolve(), settled: false, record: () => {}}
    const record = () => {
      if (entry.settled) return
      entry.settled = true
      const outcome: TaskOutcome = {...info, ...result, cancelled: controller.signal.aborted, finishedAt}
      this.finished = outcome
      if (this.running === entry) this.running = undefined
      this.onDone(outcome)
    }
    entry.record = record
    // A task never finishes in the middle of a cycle (Patroni's async executor takes the same
    // lock as the cycle to clear its action): the loop sees it running for the whole cycle and
    // finished from the next one on.
    entry.done = workDone.then(() => {
      if (this.cycle) {
        const ended = this.cycle.ended
        this.deferred.push(record)
        return ended.then(() => record())
      }
      record()
    })
    this.running = entry
    return true
  }

  /**
   * Marks the start of an HA cycle; waits for a task's critical section first. Call endCycle()
   * when the cycle is over (in a finally).
   */
  async beginCycle(): Promise<void> {
    while (this.critical) await this.critical.catch(() => {})
    let end!: () => void
    const ended = new Promise<void>((r) => (end = r))
    this.cycle = {ended, end}
  }

  /** Ends the cycle: tasks that finished during it are recorded now. */
  endCycle(): void {
    const c = this.cycle
    this.cycle = null
    const pending = this.deferred
    this.deferred = []
    for (const record of pending) record()
    c?.end()
  }

  /**
   * Runs a task's step that must not interleave with a cycle (releasing the leader key while the
   * loop may be renewing it): waits for the current cycle to end, and the next cycle waits for
   * `fn`. Rejects with an AbortError when `signal` aborts while waiting.
   */
  async exclusive<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      signal.throwIfAborted()
      const wait = this.cycle?.ended ?? this.critical
      if (!wait) break
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(abortError(signal))
        signal.addEventListener('abort', onAbort, {once: true})
        void wait.then(
          () => (signal.removeEventListener('abort', onAbort), resolve()),
          () => (signal.removeEventListener('abort', onAbort), resolve()),
        )
      })
    }
    const p = fn()
    this.critical = p
    try {
      return await p
    } finally {
      if (this.critical === p) this.critical = null
    }
  }

  /**
   * Aborts the running task, if any, and resolves once it has ended. The outcome is recorded at
   * once, even inside a cycle: the cycle asked for it.
   */
  async cancel(reason = 'cancelled'): Promise<void> {
    const r = this.running
    if (!r) return
    const e = new Error(reason)
    e.name = 'AbortError'
    r.controller.abort(e)
    await r.work
    r.record()
  }

  /** The outcome of the last finished task, handed out once (the loop reacts to it once). */
  takeOutcome(): TaskOutcome | undefined {
    const o = this.finished
    this.finished = undefined
    return o
  }

  /** Waits for the running task to end without cancelling it (shutdown, tests). */
  async settled(): Promise<void> {
    await this.running?.done
  }
}
