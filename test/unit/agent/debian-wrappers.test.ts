/**
 * What hactl runs in place of Debian's wrapper scripts when the patroni package is not installed
 * (src/agent/debian-wrappers.ts): the same programs, with VERSION and CLUSTER split from --scope
 * the way each script splits it.
 */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {DEBIAN_CLONECLUSTER, DEBIAN_CREATECLUSTER, debianWrapperPlan} from '../../../src/agent/debian-wrappers'

describe("Debian's wrapper scripts, taken over", () => {
  it('pg_createcluster_patroni: pg_createcluster --start-conf=manual --datadir VERSION CLUSTER', () => {
    assert.deepEqual(debianWrapperPlan([DEBIAN_CREATECLUSTER], ['--scope=15-main', '--datadir=/var/lib/postgresql/15/main']), [
      {kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', '--datadir=/var/lib/postgresql/15/main', '15', 'main']},
    ])
    // cut -f2-: everything after the first '-' is the cluster; '/' when there is no '-'; no --datadir without one
    assert.deepEqual(debianWrapperPlan([DEBIAN_CREATECLUSTER], ['--scope=15-my-main', '--extra=1'])![0], {kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', '15', 'my-main']})
    assert.deepEqual(debianWrapperPlan([DEBIAN_CREATECLUSTER], ['--scope=16/main', '--datadir=/d'])![0], {kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', '--datadir=/d', '16', 'main']})
  })
  it('pg_clonecluster_patroni: drop what is registered, pg_createcluster, empty the data dir, pg_basebackup -X stream', () => {
    const plan = debianWrapperPlan([DEBIAN_CLONECLUSTER], ['--scope=15-main', '--role=replica', '--datadir=/d', '--connstring=dbname=postgres user=rep host=10.0.0.1 port=5432'])
    assert.deepEqual(plan, [
      {kind: 'run', argv: ['pg_dropcluster', '15', 'main'], ignoreFailure: true},
      {kind: 'run', argv: ['pg_createcluster', '--start-conf=manual', '--datadir=/d', '15', 'main']},
      {kind: 'remove-data-dir'},
      {kind: 'run', argv: ['/usr/lib/postgresql/15/bin/pg_basebackup', '--pgdata', '/d', '-X', 'stream', '--dbname=dbname=postgres user=rep host=10.0.0.1 port=5432']},
    ])
    // sed 's/.*-//': the cluster is what follows the last '-'
    assert.deepEqual(debianWrapperPlan([DEBIAN_CLONECLUSTER], ['--scope=15-my-main', '--datadir=/d'])![0], {kind: 'run', argv: ['pg_dropcluster', '15', 'main'], ignoreFailure: true})
  })
  it('any other command, or a wrapper given arguments of its own, is run as it is', () => {
    assert.equal(debianWrapperPlan(['/usr/local/bin/restore'], ['--scope=15-main']), null)
    assert.equal(debianWrapperPlan([DEBIAN_CLONECLUSTER, '--verbose'], ['--scope=15-main']), null)
  })
})
