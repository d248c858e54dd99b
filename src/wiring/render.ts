/**
 * The composition root of `hactl haproxy render`: the cluster's keys through the Dcs port, on
 * the etcd v3 adapter. The adapter is loaded only when the members come from the DCS (not for
 * --inventory or --member), as before.
 */
import {VERSION} from '../build-info'
import type {RenderPorts} from '../render/dcs-source'
import {runHaproxyRender as runHaproxyRenderOn, type RenderIo, type RenderRunOptions} from '../render/run'
import {leaselessDcsOptions} from './etcd'

export {RENDER_EXIT} from '../render/run'

export const renderPorts: RenderPorts = {
  async openDcs(ctx, scope, o) {
    const [{createEtcd3Dcs}, {systemClock}] = await Promise.all([import('../adapters/dcs-etcd3'), import('../adapters/clock/system-clock')])
    return createEtcd3Dcs({
      ...leaselessDcsOptions(ctx, scope, VERSION),
      clock: systemClock,
      watch: o.watch,
      // confd's trigger: any member key or the leader key, not the HA loop's set.
      wakeOn: 'membership',
      // The watch's own troubles only; malformed member values reach render as warnings already.
      watchLog: o.log,
    })
  },
}

/** Renders (or, with --watch, keeps rendering) on the real ports; the exit code (RENDER_EXIT). */
export function runHaproxyRender(o: RenderRunOptions, io: RenderIo): Promise<number> {
  return runHaproxyRenderOn(renderPorts, o, io)
}
