import assert from 'node:assert/strict'
import {test} from 'node:test'
import {publishedRole} from '../../../src/agent/publish'

/** Just what publishedRole reads of the agent's state: the role, PostgreSQL's recovery flag, the view. */
function state(role: string, inRecovery: boolean | null, versions: Array<number[] | null> | null) {
  return {
    memory: {role},
    lastPg: inRecovery === null ? null : {inRecovery},
    lastCluster: versions === null ? null : {members: versions.map((v, i) => ({name: `m${i}`, patroniVersion: v}))},
  } as never
}

test('the member key role of a primary follows the cluster: primary among 3.1+/4.x/hactl members, master next to 3.0.x', () => {
  assert.equal(publishedRole(state('primary', false, [[3, 3, 1], [4, 0, 7]])), 'primary')
  assert.equal(publishedRole(state('replica', false, [[3, 3, 1]])), 'primary', 'PostgreSQL out of recovery is a primary')
  assert.equal(publishedRole(state('primary', false, [[3, 3, 1], [3, 0, 2]])), 'master')
  assert.equal(publishedRole(state('primary', false, null)), 'master', 'no cluster view yet')
  assert.equal(publishedRole(state('primary', true, [[4, 0, 7]])), 'replica', 'in recovery: a replica, whatever the memory says')
  assert.equal(publishedRole(state('standby_leader', true, [[4, 0, 7]])), 'standby_leader')
  assert.equal(publishedRole(state('replica', true, [[3, 0, 2]])), 'replica')
})
