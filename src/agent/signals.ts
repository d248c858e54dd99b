/**
 * The agent's signals, caught from its very first moment (Patroni installs its handlers in
 * AbstractPatroniDaemon.__init__ before anything else): without a handler SIGHUP's default
 * action kills the process, so `systemctl reload` right after a start would end the agent.
 * Until the agent can act, a SIGHUP is remembered as one pending reload and SIGTERM/SIGINT
 * as a pending exit; attach() delivers them and every later one.
 *
 * A SIGTERM is a hand-over instead of a stop when the hand-over check says so at the moment the
 * signal arrives (docs/ha-rules.md#hand-over: a marker named after this process that the package
 * scripts write before `systemctl try-restart`). SIGINT is always a stop.
 */
export interface SignalTarget {
  on(event: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown
  off(event: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown
}

/** `stop`: Patroni's shutdown (stop PostgreSQL, release the key); `handover`: leave both to the next agent. */
export type ExitKind = 'stop' | 'handover'

export interface SignalHandlers {
  reload(): void
  exit(kind: ExitKind): void
}

export class AgentSignals {
  private handlers: SignalHandlers | null = null
  private pendingReload = false
  private pendingExit: ExitKind | null = null
  private handoverCheck: () => boolean = () => false
  private readonly onHup = () => {
    if (this.handlers) this.handlers.reload()
    else this.pendingReload = true
  }
  private readonly onTerm = () => this.deliverExit(this.handoverAsked() ? 'handover' : 'stop')
  private readonly onInt = () => this.deliverExit('stop')

  constructor(private readonly target: SignalTarget = process) {
    target.on('SIGHUP', this.onHup)
    target.on('SIGTERM', this.onTerm)
    target.on('SIGINT', this.onInt)
  }

  /** How a SIGTERM learns that it asks for a hand-over (installed by the wiring; none before). */
  useHandoverCheck(check: () => boolean): void {
    this.handoverCheck = check
  }

  /** SIGTERM or SIGINT arrived before attach(). */
  get exitRequested(): boolean {
    return this.pendingExit !== null
  }

  /** From now on signals go to `h`; a pending exit is delivered first, then a pending reload. */
  attach(h: SignalHandlers): void {
    this.handlers = h
    if (this.pendingExit) h.exit(this.pendingExit)
    if (this.pendingReload) h.reload()
    this.pendingExit = null
    this.pendingReload = false
  }

  /** Back to queueing (the agent is shutting down): a late SIGHUP must still not kill it. */
  detach(): void {
    this.handlers = null
  }

  dispose(): void {
    this.handlers = null
    this.target.off('SIGHUP', this.onHup)
    this.target.off('SIGTERM', this.onTerm)
    this.target.off('SIGINT', this.onInt)
  }

  private handoverAsked(): boolean {
    try {
      return this.handoverCheck()
    } catch {
      return false
    }
  }

  private deliverExit(kind: ExitKind): void {
    if (this.handlers) this.handlers.exit(kind)
    // The first exit request decides; a stop queued before attach() is never turned into a hand-over.
    else this.pendingExit ??= kind
  }
}
