import {execFileSync} from 'node:child_process'
import {chownSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * PostgreSQL refuses to run as root. Tests that run as root (CI does) run PostgreSQL, and the
 * agents that start it, as this existing unprivileged account: Debian's `postgres` user, which
 * the postgresql-15 package creates. When the tests run as a normal user, they run as that user.
 */
export interface RunAs {
  uid: number
  gid: number
  name: string
}

export function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined
  const name = process.env.HACTL_TEST_USER ?? 'postgres'
  const uid = Number(execFileSync('id', ['-u', name], {encoding: 'utf8'}).trim())
  const gid = Number(execFileSync('id', ['-g', name], {encoding: 'utf8'}).trim())
  return {uid, gid, name}
}

/** A temp dir owned by the unprivileged account (or by us, when we are not root). */
export function ownedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const who = runAs()
  if (who) chownSync(dir, who.uid, who.gid)
  return dir
}
