/**
 * How a primary's role is spelled on the wire: `master` (Patroni <= 3.x) or `primary` (Patroni 4
 * writes it everywhere: member key, REST `role`, callback argument). Patroni 3.1 and later read
 * both spellings everywhere (patroni/ha.py _MemberStatus, patroni/dcs/__init__.py Member.is_running
 * ...), so hactl writes `primary` once every member of the cluster is known to read it, and keeps
 * writing `master` while a member older than 3.1 (e.g. Debian 12's 3.0.2) or one that does not say
 * its version is present (docs/ha-rules.md#role-spelling).
 */
import {compareVersions, type ClusterView} from './cluster'

export type PrimaryRoleName = 'master' | 'primary'

/** The first Patroni version that reads `primary` wherever it reads `master`. */
export const PRIMARY_READERS_SINCE: readonly number[] = [3, 1, 0]

/**
 * The spelling the cluster understands, from the member keys (`version` field). No view yet:
 * `master`, which every version reads. hactl's own key counts like any other (it reports a
 * version >= 3.1).
 */
export function clusterPrimaryRoleName(view: Pick<ClusterView, 'members'> | null | undefined): PrimaryRoleName {
  if (!view) return 'master'
  for (const m of view.members) {
    const v = m.patroniVersion
    if (!v || compareVersions(v, [...PRIMARY_READERS_SINCE]) < 0) return 'master'
  }
  return 'primary'
}

/** A role word as written for the given spelling: `primary`/`master`/`promoted` become the primary's name. */
export function wireRoleName(role: string, primary: PrimaryRoleName): string {
  return role === 'primary' || role === 'master' || role === 'promoted' ? primary : role
}
