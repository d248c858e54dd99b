/**
 * vip-manager 2.7+'s `--version` answer, for the executable invoked as `vip-manager`. Tiny on
 * purpose: src/cli.ts loads it before anything else.
 */
import {COMMIT, VERSION} from '../build-info'

declare const __HACTL_BUILD_DATE__: string | undefined

/** `version:`, `commit:`, `date:` lines; the date is the build's when the bundle stamped one. */
export function vipVersionText(): string {
  const date = typeof __HACTL_BUILD_DATE__ === 'string' ? __HACTL_BUILD_DATE__ : 'unknown'
  return `version: ${VERSION}\ncommit: ${COMMIT}\ndate: ${date}\n`
}

/** True when the executable was started under the name vip-manager (a symlink or a copy). */
export function invokedAsVipManager(argv0: string): boolean {
  return /(^|\/)vip-manager$/.test(argv0)
}
