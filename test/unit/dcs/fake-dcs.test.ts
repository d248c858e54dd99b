import {FakeClock, settle} from '../../fakes/fake-clock'
import {FakeKv, createFakeDcs} from '../../fakes/fake-dcs'
import {dcsContract} from '../../contract/dcs-contract'
import type {Dcs} from '../../../src/ports/dcs'

let n = 0
dcsContract('Etcd3Dcs over FakeKv with a fake clock', async () => {
  const clock = new FakeClock()
  const kv = new FakeKv(clock)
  const scope = `c${++n}`
  const made: Dcs[] = []
  const ttl = 3
  return {
    prefix: `/service/${scope}/`,
    ttl,
    newDcs(name, opts = {}) {
      const d = createFakeDcs({kv, name, scope, watch: opts.watch ?? false, timing: {ttl: opts.ttl ?? ttl, loopWait: 10, retryTimeout: 10}})
      made.push(d)
      return d
    },
    async rawPut(key, value) {
      await kv.rawPut(key, value)
    },
    async waitUntil(what, cond, maxMs) {
      const end = clock.monotonic() + maxMs
      for (;;) {
        if (await cond()) return
        if (clock.monotonic() >= end) throw new Error(`fake time ran out (${maxMs} ms) waiting for ${what}`)
        await clock.advance(100)
      }
    },
    async elapsed(p) {
      const start = clock.monotonic()
      const pending = p()
      let done = false
      pending.then(() => (done = true), () => (done = true))
      // Fake time moves only while the operation waits on the clock.
      await settle()
      while (!done && clock.pending > 0) {
        await clock.advance(10)
      }
      const value = await pending
      return {value, ms: clock.monotonic() - start}
    },
    async cleanup() {
      for (const d of made) await d.close()
    },
  }
})
