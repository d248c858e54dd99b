/**
 * The iproute2/arping VipControl against a real interface in a throwaway namespace, through the
 * same contract suite the in-memory fake passes (test/unit/vip/vip-control-contract.ts).
 */
import {after, before, describe} from 'node:test'
import {IpRoute2VipControl} from '../../../src/adapters/vip/iproute2'
import {NodeProcessRunner} from '../../../src/adapters/process/node-process-runner'
import {vipControlContract} from '../../unit/vip/vip-control-contract'
import {VipLab} from './lab'

describe('IpRoute2VipControl (real iproute2 and arping in a network namespace)', () => {
  let lab: VipLab
  let ns: string
  before(async () => {
    lab = await VipLab.create(['n1'])
    ns = lab.ns('n1')
  })
  after(async () => {
    await lab?.destroy()
  })
  vipControlContract(async () => {
    // A fresh start for each case: no 10.0.2.123 on eth0 in any prefix.
    for (const a of await lab.addresses(ns)) if (a.startsWith('10.0.2.12')) await lab.ip(ns, ['addr', 'del', a, 'dev', 'eth0'])
    const control = new IpRoute2VipControl({runner: new NodeProcessRunner(), address: '10.0.2.123', prefix: 32, interfaceName: 'eth0', netns: ns})
    return {
      control,
      addForeign: async (c) => void (await lab.ip(ns, ['addr', 'add', c, 'dev', 'eth0'])),
      removeForeign: async (c) => void (await lab.ip(ns, ['addr', 'del', c, 'dev', 'eth0'])),
    }
  })
})
