import {describe} from 'node:test'
import {FakeVipControl} from './fakes'
import {vipControlContract} from './vip-control-contract'

describe('FakeVipControl', () => {
  vipControlContract(async () => {
    const control = new FakeVipControl('10.0.2.123', 32)
    return {control, addForeign: async (c) => control.addForeign(c), removeForeign: async (c) => control.removeForeign(c)}
  })
})
