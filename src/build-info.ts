/**
 * Facts stamped into the bundle at build time by scripts/build.mjs (esbuild `define`).
 * When run from source (tsx), they fall back to the package version and "dev".
 */
import pjson from '../package.json'

declare const __HACTL_COMMIT__: string | undefined

export const VERSION: string = pjson.version
export const COMMIT: string = typeof __HACTL_COMMIT__ === 'string' ? __HACTL_COMMIT__ : 'dev'

/**
 * Patroni release whose wire format hactl speaks; written as `version` in member keys (as
 * patroni/ha.py Ha.touch_member does).
 */
export const PATRONI_COMPAT_VERSION = '3.3.1'

export function versionLine(): string {
  return `hactl ${VERSION} (commit ${COMMIT}, node ${process.version}, ${process.platform}-${process.arch})`
}
