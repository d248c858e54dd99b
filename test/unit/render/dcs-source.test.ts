/**
 * `hactl haproxy render` reads the cluster through the Dcs port (src/render/dcs-source.ts):
 * a watching store built as src/wiring/render.ts builds it (wakeOn 'membership') wakes the
 * watch loop on member and leader changes only, and the one-shot source reads linearizably.
 */
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {FakeClock, settle} from '../../fakes/fake-clock'
import {FakeKv, createFakeDcs} from '../../fakes/fake-dcs'
import {oneShotSource, watchedSource} from '../../../src/render/dcs-source'

const member = (name: string, host: string) => JSON.stringify({conn_url: `postgres://${host}:5432/postgres`, api_url: `http://${host}:8008/patroni`, state: 'running', role: 'replica'})

async function setup() {
  const clock = new FakeClock()
  const kv = new FakeKv(clock)
  await kv.rawPut('/service/main/members/a', member('a', '10.0.0.1'))
  await kv.rawPut('/service/main/leader', 'a')
  const logged: string[] = []
  const dcs = createFakeDcs({kv, name: 'main', scope: 'main', watch: true, wakeOn: 'membership', watchLog: (m) => logged.push(m), timing: {retryTimeout: 10}})
  return {clock, kv, dcs, logged, source: watchedSource(dcs, 'main')}
}

/** Whether waitForChange() returns before its 10 s timeout once `change` happened. */
async function wakesOn(s: Awaited<ReturnType<typeof setup>>, change: () => Promise<unknown>): Promise<boolean> {
  await s.source.load()
  let done = false
  const waiting = s.source.waitForChange(10_000, new AbortController().signal).then(() => (done = true))
  await settle()
  await change()
  await settle()
  const woke = done
  await s.clock.advance(10_000)
  await waiting
  return woke
}

describe('render member sources over the Dcs port', () => {
  test('the watched source loads the members and the leader from the watched copy', async () => {
    const s = await setup()
    const loaded = await s.source.load()
    assert.deepEqual(loaded.members.map((m) => [m.name, m.host, m.apiPort]), [['a', '10.0.0.1', 8008]])
    assert.equal(loaded.leader, 'a')
    await s.source.close()
  })

  test('a new or changed member key and a leader change wake the watch loop', async () => {
    for (const change of [
      (s: Awaited<ReturnType<typeof setup>>) => s.kv.rawPut('/service/main/members/b', member('b', '10.0.0.2')),
      (s: Awaited<ReturnType<typeof setup>>) => s.kv.rawPut('/service/main/members/a', member('a', '10.0.0.9')),
      (s: Awaited<ReturnType<typeof setup>>) => s.kv.rawPut('/service/main/leader', 'b'),
    ]) {
      const s = await setup()
      assert.equal(await wakesOn(s, () => change(s)), true)
      await s.source.close()
    }
  })

  test('config, status, failover and an unchanged value do not wake it (the HA loop set is not render\'s)', async () => {
    for (const [key, value] of [
      ['/service/main/config', '{"ttl":30}'],
      ['/service/main/status', '{"optime":100}'],
      ['/service/main/failover', '{"leader":"a"}'],
      ['/service/main/members/a', member('a', '10.0.0.1')],
    ]) {
      const s = await setup()
      assert.equal(await wakesOn(s, () => s.kv.rawPut(key, value)), false, key)
      await s.source.close()
    }
  })

  test('an aborted wait returns quietly; a lost watch goes to watchLog', async () => {
    const s = await setup()
    await s.source.load()
    const ac = new AbortController()
    const waiting = s.source.waitForChange(10_000, ac.signal)
    ac.abort()
    await waiting
    await s.source.waitForChange(10_000, ac.signal)
    s.kv.setAvailable(false)
    await settle()
    assert.ok(s.logged.some((m) => /watch on \/service\/main\/ ended/.test(m)), s.logged.join('\n'))
    s.kv.setAvailable(true)
    await s.source.close()
  })

  test('the one-shot source reads the keys afresh on every load', async () => {
    const clock = new FakeClock()
    const kv = new FakeKv(clock)
    await kv.rawPut('/service/main/members/a', member('a', '10.0.0.1'))
    const source = oneShotSource(createFakeDcs({kv, name: 'main', scope: 'main', watch: false}), 'main')
    assert.deepEqual((await source.load()).members.map((m) => m.name), ['a'])
    await kv.rawPut('/service/main/members/b', member('b', '10.0.0.2'))
    assert.deepEqual((await source.load()).members.map((m) => m.name), ['a', 'b'])
    await source.close()
  })
})
