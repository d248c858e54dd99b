import assert from 'node:assert/strict'
import {test} from 'node:test'
import {slotNameFor} from '../../../src/agent/helpers'

// Expected values computed with Patroni's slot_name_from_member_name (patroni/dcs/__init__.py).
test('member slot names are the ones Patroni derives', () => {
  assert.equal(slotNameFor('node1'), 'node1')
  assert.equal(slotNameFor('DB-1.example.com'), 'db_1_example_com')
  assert.equal(slotNameFor('pg@host'), 'pgu0064host')
  assert.equal(slotNameFor('a b'), 'au0032b')
  assert.equal(slotNameFor('é'), 'u0233')
  assert.equal(slotNameFor('x😀'), 'xu128512')
  assert.equal(slotNameFor('n'.repeat(70)).length, 63)
})
