/**
 * sd_notify for the agent. Node has no AF_UNIX datagram sockets in its core (node:dgram is
 * UDP only, node:net is stream only), so each message is sent by systemd's own
 * `systemd-notify`, which every systemd system ships:
 *
 * - `--pid=<agent PID>`: systemd-notify asks the kernel to send the agent's PID as the
 *   datagram's credentials. That succeeds only with CAP_SYS_ADMIN (an agent running as root);
 *   otherwise the datagram carries systemd-notify's own PID. That is why the units say
 *   NotifyAccess=all: with the default (main) systemd would drop messages from the helper.
 * - systemd-notify waits (up to 5 s) until systemd processed the message (its BARRIER=1): a
 *   short-lived sender that exits first could otherwise no longer be attributed to the unit.
 *   Messages are therefore sent one after the other, never concurrently, so they keep order.
 *
 * Without NOTIFY_SOCKET nothing is spawned (Type=simple behaviour).
 */
import {execFile} from 'node:child_process'
import {NOTIFY_SOCKET_ENV, noServiceManager, type ServiceManager} from '../../ports/service-manager'

export interface SdNotifyOptions {
  env: NodeJS.ProcessEnv
  /** The main PID systemd knows; the agent's. */
  pid?: number
  /** Where systemd-notify is; found on PATH by default. */
  program?: string
  warn: (msg: string) => void
}

export function sdNotifyServiceManager(o: SdNotifyOptions): ServiceManager {
  const socket = o.env[NOTIFY_SOCKET_ENV]
  if (!socket) return noServiceManager
  const program = o.program ?? 'systemd-notify'
  const pid = o.pid ?? process.pid
  const env: Record<string, string> = {[NOTIFY_SOCKET_ENV]: socket, PATH: o.env['PATH'] ?? '/usr/bin:/bin'}
  let chain: Promise<void> = Promise.resolve()
  let failed = false
  const send = (fields: string[]): void => {
    chain = chain.then(
      () =>
        new Promise<void>((resolve) => {
          execFile(program, [`--pid=${pid}`, ...fields], {env, timeout: 10_000}, (err, _out, stderr) => {
            if (err && !failed) {
              // Once: a unit without systemd-notify would otherwise log this at every reload.
              failed = true
              const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${program} not found` : `${String(stderr).trim() || err.message}`
              o.warn(`could not notify systemd (${fields.join(' ')}): ${why}; with Type=notify the unit needs NotifyAccess=all and systemd-notify`)
            }
            resolve()
          })
        }),
    )
  }
  return {
    ready: () => send(['READY=1']),
    reloading: () => send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`]),
    stopping: () => send(['STOPPING=1']),
    flush: (timeoutMs) => Promise.race([chain, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]),
  }
}

/** CLOCK_MONOTONIC in microseconds (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n
}
