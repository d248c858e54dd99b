/**
 * The service manager the agent runs under (systemd's sd_notify protocol, as Patroni's
 * patroni/daemon.py notify_systemd speaks it): READY=1 once the agent serves, RELOADING=1 with
 * MONOTONIC_USEC on a reload and READY=1 after it, STOPPING=1 when it shuts down.
 *
 * Contract: the calls never throw and never block the caller; messages are delivered in the
 * order they were made. flush() settles once everything sent so far was handed over (or after
 * `timeoutMs`). Outside a notify unit every call does nothing.
 */
export interface ServiceManager {
  ready(): void
  /** Called when the reload is requested: MONOTONIC_USEC is CLOCK_MONOTONIC at this call. */
  reloading(): void
  stopping(): void
  flush(timeoutMs: number): Promise<void>
}

export const noServiceManager: ServiceManager = {
  ready() {},
  reloading() {},
  stopping() {},
  flush: () => Promise.resolve(),
}

/** The environment variable systemd passes to Type=notify services; never given to children. */
export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET'
