/**
 * The composition root of the patronictl-compatible commands (the fast path of src/cli.ts and
 * the oclif classes alike): the etcd v3 store of a cluster and the members' REST client.
 */
import {systemClock} from '../adapters/clock/system-clock'
import {createEtcd3Dcs} from '../adapters/dcs-etcd3'
import {httpPatroniRest} from '../adapters/http/patroni-client'
import {VERSION} from '../build-info'
import type {CtlContext, CtlPorts} from '../ctl/context'
import type {CtlIo} from '../ctl/read-commands'
import {runCtl as runCtlOn} from '../ctl/run'
import {HactlError} from '../errors'
import type {Dcs} from '../ports/dcs'
import {leaselessDcsOptions} from './etcd'

/** A read-only view of one cluster's keys: no lease, no watch; each read is one linearizable range. */
export function openCtlDcs(ctx: CtlContext, scope: string): Dcs {
  const e = ctx.config.etcd3
  if (!e || !e.endpoints || e.endpoints.length === 0) {
    throw new HactlError('CONFIG_INVALID', 'Can not find suitable configuration of distributed configuration store', {
      hints: ['add an etcd3: section with hosts: [host:port, ...] to the configuration, or pass -d/--dcs-url etcd3://host:port'],
    })
  }
  return createEtcd3Dcs({...leaselessDcsOptions(ctx, scope, VERSION), clock: systemClock, watch: false})
}

export const ctlPorts: CtlPorts = {openDcs: openCtlDcs, rest: httpPatroniRest}

/** Runs one ctl command on the real ports; the exit code (see src/ctl/run.ts). */
export function runCtl(id: string, argv: readonly string[], io?: CtlIo): Promise<number> {
  return runCtlOn(ctlPorts, id, argv, io)
}
