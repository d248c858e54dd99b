/**
 * The composition root of `hactl vip` (and `vip-manager` by argv0): ip(8)/arping address
 * control and the leader source (the etcd v3 trigger key, or the local agent's REST API) from
 * the VIP configuration.
 */
import {systemClock} from '../adapters/clock/system-clock'
import {Etcd3Client} from '../adapters/dcs-etcd3/client'
import {NodeProcessRunner} from '../adapters/process/node-process-runner'
import {EtcdLeaderSource} from '../adapters/vip/etcd-leader'
import {IpRoute2VipControl} from '../adapters/vip/iproute2'
import {PatroniLeaderSource} from '../adapters/vip/patroni-leader'
import {VERSION} from '../build-info'
import {runVip as runVipOn, type RunVipInput, type VipPorts} from '../vip/run'

export function vipPorts(): VipPorts {
  const clock = systemClock
  return {
    clock,
    control: (c) => new IpRoute2VipControl({runner: new NodeProcessRunner(), address: c.ip, prefix: c.netmask, interfaceName: c.interface}),
    patroniLeader: (c, tls, log) =>
      new PatroniLeaderSource({endpoint: c.dcsEndpoints[0]!, path: c.triggerKey, expected: c.triggerValue, clock, intervalMs: c.interval, tls, log}),
    etcdLeader: (c, tls, log) => {
      const client = new Etcd3Client({
        endpoints: c.dcsEndpoints,
        username: c.etcdUser,
        password: c.etcdPassword,
        tls,
        clock,
        retryTimeoutMs: Math.max(c.interval, 1000),
        userAgent: `hactl-vip/${VERSION}`,
        log: (m) => log('debug', m),
      })
      const source = new EtcdLeaderSource({kv: client, key: c.triggerKey, value: c.triggerValue, clock, intervalMs: c.interval, log})
      return {source, close: () => client.close()}
    },
  }
}

/** Runs the VIP follower on the real ports until SIGINT/SIGTERM; the exit code. */
export function runVip(input: RunVipInput): Promise<number> {
  return runVipOn(vipPorts(), input)
}
