/**
 * The agent's signals, caught from its very first moment (Patroni installs its handlers in
 * AbstractPatroniDaemon.__init__ before anything else): without a handler SIGHUP's default
 * action kills the process, so `systemctl reload` right after a start would end the agent.
 * Until the agent can act, a SIGHUP is remembered as one pending reload and SIGTERM/SIGINT
 * as a pending exit; attach() delivers them and every later one.
 */
export interface SignalTarget {
  on(event: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown
  off(event: 'SIGHUP' | 'SIGTERM' | 'SIGINT', listener: () => void): unknown
}

export interface SignalHandlers {
  reload(): void
  exit(): void
}

export class AgentSignals {
  private handlers: SignalHandlers | null = null
  private pendingReload = false
  private pendingExit = false
  private readonly onHup = () => {
    if (this.handlers) this.handlers.reload()
    else this.pendingReload = true
  }
  private readonly onTerm = () => {
    if (this.handlers) this.handlers.exit()
    else this.pendingExit = true
  }

  constructor(private readonly target: SignalTarget = process) {
    target.on('SIGHUP', this.onHup)
    target.on('SIGTERM', this.onTerm)
    target.on('SIGINT', this.onTerm)
  }

  /** SIGTERM or SIGINT arrived before attach(). */
  get exitRequested(): boolean {
    return this.pendingExit
  }

  /** From now on signals go to `h`; a pending exit is delivered first, then a pending reload. */
  attach(h: SignalHandlers): void {
    this.handlers = h
    if (this.pendingExit) h.exit()
    if (this.pendingReload) h.reload()
    this.pendingExit = false
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
    this.target.off('SIGINT', this.onTerm)
  }
}
