import type {Clock} from '../ports/clock'

/**
 * The agent's one slot for long actions (initdb, pg_basebackup, pg_rewind, restart, stop):
 * while it runs, the HA loop keeps cycling (the lock holder keeps renewing) and reports
 * "in progress" instead of deciding again (ha-loop.md 1.4). One action at a time; a new one is
 * refused while the slot is busy. Cancelling aborts the action's signal and waits for it to end,
 * so nothing keeps writing into a data directory the next action is about to reuse.
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
  private running?: {info: TaskInfo; controller: AbortController; done: Promise<void>}
  private finished?: TaskOutcome

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
    const settle = (o: Omit<TaskOutcome, keyof TaskInfo | 'finishedAt' | 'cancelled'>) => {
      const outcome: TaskOutcome = {...info, ...o, cancelled: controller.signal.aborted, finishedAt: this.clock.monotonic()}
      this.finished = outcome
      this.running = undefined
      this.onDone(outcome)
    }
    // The promise chain never rejects: the outcome carries the error to the loop.
    // fn starts synchronously, so a cancel() right after start() reaches its abort listener.
    let work: Promise<T>
    try {
      work = Promise.resolve(fn(controller.signal))
    } catch (e) {
      work = Promise.reject(e)
    }
    const done = work
      .then(
        (value) => settle({ok: true, value}),
        (error: unknown) => settle({ok: false, error}),
      )
    this.running = {info, controller, done}
    return true
  }

  /** Aborts the running task, if any, and resolves once it has ended. */
  async cancel(reason = 'cancelled'): Promise<void> {
    const r = this.running
    if (!r) return
    const e = new Error(reason)
    e.name = 'AbortError'
    r.controller.abort(e)
    await r.done
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
