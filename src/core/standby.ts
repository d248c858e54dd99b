/**
 * Is this a standby cluster? One answer for the agent, the REST API and the ctl: the dynamic
 * `standby_cluster` section counts when it sets `host`, `port` or `restore_command` (Patroni's
 * global_config.py GlobalConfig.is_standby_cluster); an empty or other section does not. Pure,
 * and takes the raw value too, since the REST API and the ctl read it straight from the DCS.
 */
export function isStandbyClusterConfig(standbyCluster: unknown): boolean {
  if (!standbyCluster || typeof standbyCluster !== 'object' || Array.isArray(standbyCluster)) return false
  const o = standbyCluster as Record<string, unknown>
  return Boolean(o['host'] || o['port'] || o['restore_command'])
}
