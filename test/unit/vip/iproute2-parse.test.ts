import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {canonicalAddress, findAddress} from '../../../src/adapters/vip/iproute2'
import {joinUrl} from '../../../src/adapters/vip/patroni-leader'

// Shape of `ip -j addr show dev eth0` (iproute2 6.1), trimmed to the fields that matter.
const OUT = JSON.stringify([{ifname: 'eth0', addr_info: [
  {family: 'inet', local: '10.0.2.15', prefixlen: 24},
  {family: 'inet', local: '10.0.2.12', prefixlen: 32},
  {family: 'inet', local: '10.0.2.123', prefixlen: 24},
  {family: 'inet6', local: 'fd00::10', prefixlen: 64},
]}])

describe('ip -j parsing', () => {
  it('matches address and prefix exactly, never a substring', () => {
    assert.equal(findAddress(OUT, '10.0.2.12', 32), true)
    assert.equal(findAddress(OUT, '10.0.2.1', 32), false)
    assert.equal(findAddress(OUT, '10.0.2.123', 32), false, 'same address, other prefix')
    assert.equal(findAddress(OUT, '10.0.2.123', 24), true)
    assert.equal(findAddress(OUT, 'fd00:0::10', 64), true, 'IPv6 compared in canonical form')
    assert.equal(findAddress('[{"ifname":"eth0"}]', '10.0.2.12', 32), false)
  })
  it('throws on output that is not ip -j JSON', () => {
    assert.throws(() => findAddress('inet 10.0.2.12/32', '10.0.2.12', 32))
    assert.throws(() => findAddress('{}', '10.0.2.12', 32))
  })
  it('canonical IPv6', () => {
    assert.equal(canonicalAddress('FD00:0:0::0010'), 'fd00:0:0:0:0:0:0:10')
    assert.equal(canonicalAddress('::1'), '0:0:0:0:0:0:0:1')
    assert.equal(canonicalAddress('10.0.0.1'), '10.0.0.1')
  })
  it('REST URL is joined with exactly one slash', () => {
    assert.equal(joinUrl('http://127.0.0.1:8008/', '/leader'), 'http://127.0.0.1:8008/leader')
    assert.equal(joinUrl('http://127.0.0.1:8008', 'leader'), 'http://127.0.0.1:8008/leader')
    assert.equal(joinUrl('http://h:8008//', '//primary?lag=1MB'), 'http://h:8008/primary?lag=1MB')
  })
})
