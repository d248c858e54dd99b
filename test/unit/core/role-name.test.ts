import assert from 'node:assert/strict'
import {test} from 'node:test'
import {clusterPrimaryRoleName, wireRoleName} from '../../../src/core/role-name'

const member = (name: string, patroniVersion: number[] | null) => ({name, patroniVersion}) as never

test('a primary is spelled primary once every member reads it (Patroni >= 3.1, hactl), master otherwise', () => {
  assert.equal(clusterPrimaryRoleName(null), 'master', 'no view yet: the spelling every version reads')
  assert.equal(clusterPrimaryRoleName({members: []}), 'primary')
  assert.equal(clusterPrimaryRoleName({members: [member('a', [4, 0, 7]), member('h', [3, 3, 1])]}), 'primary')
  assert.equal(clusterPrimaryRoleName({members: [member('a', [3, 1, 0]), member('b', [3, 2, 1])]}), 'primary')
  assert.equal(clusterPrimaryRoleName({members: [member('a', [4, 0, 7]), member('old', [3, 0, 2])]}), 'master', 'a 3.0.2 member is present')
  assert.equal(clusterPrimaryRoleName({members: [member('a', [4, 0, 7]), member('x', null)]}), 'master', 'a member without a version')
})

test('role words as written: primary, master and promoted become the chosen spelling; others stay', () => {
  for (const r of ['primary', 'master', 'promoted']) {
    assert.equal(wireRoleName(r, 'primary'), 'primary')
    assert.equal(wireRoleName(r, 'master'), 'master')
  }
  for (const r of ['replica', 'standby_leader', 'demoted', 'uninitialized']) assert.equal(wireRoleName(r, 'primary'), r)
})
