/**
 * What every VipControl must do (src/ports/vip.ts), run against the fake (unit) and against
 * iproute2 in a real network namespace (integration). `outOfBand` changes addresses the way an
 * operator would, behind the adapter's back.
 */
import assert from 'node:assert/strict'
import {it} from 'node:test'
import type {VipControl} from '../../../src/ports/vip'

export interface ContractSubject {
  control: VipControl
  addForeign(cidr: string): Promise<void>
  removeForeign(cidr: string): Promise<void>
}

/** The control must manage 10.0.2.123/32 on a fresh, up interface that holds no such address. */
export function vipControlContract(make: () => Promise<ContractSubject>): void {
  it('contract: inspect describes the interface', async () => {
    const {control} = await make()
    const info = await control.inspect()
    assert.equal(info.name, control.interfaceName)
    assert.equal(info.up, true)
    assert.match(info.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
  })

  it('contract: add, present, add again fails, remove, absent, remove again fails', async () => {
    const {control} = await make()
    assert.equal(control.cidr, '10.0.2.123/32')
    assert.equal(await control.presence(), 'absent')
    assert.deepEqual(await control.add(), {ok: true})
    assert.equal(await control.presence(), 'present')
    const again = await control.add()
    assert.equal(again.ok, false)
    assert.match((again as {error: string}).error, /already assigned|exists/i)
    assert.deepEqual(await control.remove(), {ok: true})
    assert.equal(await control.presence(), 'absent')
    const gone = await control.remove()
    assert.equal(gone.ok, false)
    assert.match((gone as {error: string}).error, /not found|cannot assign/i)
  })

  it('contract: presence is an exact address and prefix match, never a substring', async () => {
    const s = await make()
    await s.addForeign('10.0.2.12/32')
    await s.addForeign('10.0.2.123/24') // same address, other prefix
    assert.equal(await s.control.presence(), 'absent')
    await s.addForeign('10.0.2.123/32')
    assert.equal(await s.control.presence(), 'present')
    await s.removeForeign('10.0.2.123/32')
    assert.equal(await s.control.presence(), 'absent')
  })

  it('contract: announce never throws and returns warnings as strings', async () => {
    const {control} = await make()
    await control.add()
    const warnings = await control.announce()
    assert.ok(Array.isArray(warnings) && warnings.every((w) => typeof w === 'string'))
    assert.deepEqual(warnings, [])
  })
}
