/**
 * The hand-over request of a package upgrade (docs/ha-rules.md#hand-over): before
 * `systemctl try-restart`, the package scripts (packaging/libexec/handover-restart) write
 * `<runtime dir>/handover.<MainPID>` for each running agent; the agent whose PID it names reads
 * its next SIGTERM as "hand over" instead of "stop". The runtime directory is /run/hactl (a
 * tmpfs: nothing outlives a reboot), HACTL_RUNTIME_DIR in tests.
 *
 * Only a regular file owned by root or by the agent's own user counts: /run/hactl is root's
 * (0755), and a file some other user managed to place must not keep PostgreSQL from being
 * stopped.
 */
import {lstatSync} from 'node:fs'
import {join} from 'node:path'

export const RUNTIME_DIR_ENV = 'HACTL_RUNTIME_DIR'
export const DEFAULT_RUNTIME_DIR = '/run/hactl'

export function handoverMarkerPath(env: NodeJS.ProcessEnv, pid: number): string {
  return join(env[RUNTIME_DIR_ENV] || DEFAULT_RUNTIME_DIR, `handover.${pid}`)
}

/** Whether a hand-over marker names this process now. Never throws. */
export function handoverRequested(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): boolean {
  try {
    // Asked every HA cycle, and the marker is almost always absent: no ENOENT error (with its
    // stack trace) built and thrown each time.
    const st = lstatSync(handoverMarkerPath(env, pid), {throwIfNoEntry: false})
    if (!st) return false
    const uid = process.getuid?.()
    return st.isFile() && (st.uid === 0 || st.uid === uid)
  } catch {
    return false
  }
}
