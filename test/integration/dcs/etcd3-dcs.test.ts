import {after, before} from 'node:test'
import {systemClock} from '../../../src/adapters/clock/system-clock'
import {Etcd3Client} from '../../../src/adapters/dcs-etcd3/client'
import {Etcd3Dcs} from '../../../src/adapters/dcs-etcd3/etcd3-dcs'
import type {Dcs} from '../../../src/ports/dcs'
import {dcsContract} from '../../contract/dcs-contract'
import {EtcdServer} from '../../harness/etcd'
import {waitFor} from '../../harness/ports'

let etcd: EtcdServer
before(async () => {
  etcd = await EtcdServer.start()
})
after(async () => {
  await etcd?.destroy()
})

let n = 0
dcsContract('Etcd3Dcs over a real etcd 3.4', async () => {
  const scope = `c${process.pid}-${++n}`
  const made: Dcs[] = []
  const ttl = 2
  return {
    prefix: `/service/${scope}/`,
    ttl,
    newDcs(name, opts = {}) {
      const kv = new Etcd3Client({endpoints: [etcd.url], clock: systemClock})
      const d = new Etcd3Dcs({kv, clock: systemClock, name, scope, watch: opts.watch ?? false, timing: {ttl: opts.ttl ?? ttl, loopWait: 10, retryTimeout: 5}})
      made.push(d)
      return d
    },
    async rawPut(key, value) {
      await etcd.put(key, value)
    },
    async waitUntil(what, cond, maxMs) {
      await waitFor(what, cond, {timeoutMs: maxMs, intervalMs: 100})
    },
    async elapsed(p) {
      const start = performance.now()
      const value = await p()
      return {value, ms: performance.now() - start}
    },
    async cleanup() {
      for (const d of made) await d.close()
    },
  }
})
