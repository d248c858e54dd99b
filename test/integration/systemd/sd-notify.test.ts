/**
 * The sd_notify adapter against a real AF_UNIX datagram socket (test/harness/sd-notify-listener.ts)
 * and the real systemd-notify: messages arrive whole and in the order they were made, even when
 * made back to back; as root the datagrams carry the agent's PID (--pid); without NOTIFY_SOCKET
 * nothing is sent; a missing systemd-notify is one warning, not an error per message.
 */
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'
import {sdNotifyServiceManager} from '../../../src/adapters/systemd/sd-notify'
import {noServiceManager} from '../../../src/ports/service-manager'
import {NotifyListener} from '../../harness/sd-notify-listener'
import {waitFor} from '../../harness/ports'

let listener: NotifyListener
before(async () => (listener = await NotifyListener.start()))
after(async () => listener?.stop())

test('back-to-back messages arrive in order, whole, from this process when root', async () => {
  const warnings: string[] = []
  const sm = sdNotifyServiceManager({env: {NOTIFY_SOCKET: listener.path, PATH: process.env.PATH}, warn: (m) => warnings.push(m)})
  const t0 = Number(process.hrtime.bigint() / 1000n)
  sm.ready()
  sm.reloading()
  sm.ready()
  sm.stopping()
  await sm.flush(30_000)
  const got = await waitFor('four notifications', () => (listener.notifications().length >= 4 ? listener.notifications() : undefined))
  assert.deepEqual(warnings, [])
  assert.deepEqual(
    got.map((m) => Object.keys(m.fields).filter((k) => k !== 'MAINPID').sort().join('+')),
    ['READY', 'MONOTONIC_USEC+RELOADING', 'READY', 'STOPPING'],
  )
  const usec = Number(got[1]!.fields['MONOTONIC_USEC'])
  assert.ok(usec >= t0 && usec <= got[1]!.receivedUsec, `${t0} <= ${usec} <= ${got[1]!.receivedUsec}`)
  for (const m of got) assert.equal(m.fields['MAINPID'], String(process.pid))
  // Root may send another PID's credentials: systemd then sees the main PID itself.
  if (process.getuid?.() === 0) for (const m of got) assert.equal(m.pid, process.pid, JSON.stringify(m))
})

test('without NOTIFY_SOCKET nothing is sent; a missing systemd-notify warns once', async () => {
  assert.equal(sdNotifyServiceManager({env: {}, warn: () => assert.fail('no warning')}), noServiceManager)
  const warnings: string[] = []
  const before = listener.messages.length
  const sm = sdNotifyServiceManager({env: {NOTIFY_SOCKET: listener.path}, program: '/nonexistent/systemd-notify', warn: (m) => warnings.push(m)})
  sm.ready()
  sm.stopping()
  await sm.flush(10_000)
  assert.equal(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0]!, /could not notify systemd \(READY=1\): \/nonexistent\/systemd-notify not found/)
  assert.equal(listener.messages.length, before)
})
