/**
 * `hactl vip` against an etcd that demands TLS client certificates (etcd-ca-file,
 * etcd-cert-file, etcd-key-file) and against one with user/password authentication
 * (etcd-user, etcd-password). Separate servers: etcd 3.4's gateway refuses password auth from
 * a client that also shows a certificate ("CommonName of client sending a request against
 * gateway will be ignored"). Refused credentials count as unknown leadership: the VIP stays
 * away and the password is never printed.
 */
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {authToken, b64, enableAuth, EtcdServer} from '../../harness/etcd'
import {VipLab, type VipProcess} from './lab'

const VIP = '10.0.2.123'
const CIDR = `${VIP}/32`
const PASSWORD = 'vip-test-root-pw-7f3a'

describe('hactl vip with etcd TLS client certificates, and with etcd authentication', {concurrency: false}, () => {
  let tlsEtcd: EtcdServer
  let authEtcd: EtcdServer
  let lab: VipLab
  let ns: string
  let token: string
  const procs: VipProcess[] = []

  before(async () => {
    tlsEtcd = await EtcdServer.start({tls: {clientCertAuth: true}})
    authEtcd = await EtcdServer.start()
    await enableAuth(authEtcd, PASSWORD)
    token = await authToken(authEtcd, 'root', PASSWORD)
    lab = await VipLab.create(['n1'])
    ns = lab.ns('n1')
    await lab.relay(ns, tlsEtcd.clientPort)
    await lab.relay(ns, authEtcd.clientPort)
  })
  after(async () => {
    for (const p of procs) if (p.running()) p.proc.kill('SIGKILL')
    await lab?.destroy()
    await tlsEtcd?.destroy()
    await authEtcd?.destroy()
  })

  const base = (key: string, endpoint: string) => ['--interface', 'eth0', '--ip', VIP, '--netmask', '32', '--trigger-key', key, '--trigger-value', 'n1', '--dcs-endpoints', endpoint]
  const start = (args: string[]) => {
    const p = lab.startVip(ns, args)
    procs.push(p)
    return p
  }

  it('follows the key over https with a client certificate', async () => {
    const key = `/service/tls-${lab.id}/leader`
    const t = tlsEtcd.tls!
    const p = start([...base(key, tlsEtcd.url), '--etcd-ca-file', t.ca, '--etcd-cert-file', t.clientCert, '--etcd-key-file', t.clientKey])
    await p.waitForOutput(/No value found for key/)
    await tlsEtcd.put(key, 'n1')
    await lab.waitVip(ns, CIDR, true)
    await tlsEtcd.put(key, 'n2')
    await lab.waitVip(ns, CIDR, false)
    p.proc.kill('SIGINT')
    assert.equal((await p.exited).code, 0)
  })

  const put = (key: string, value: string) => authEtcd.call('/kv/put', {key: b64(key), value: b64(value)}, {authorization: token})

  it('follows the key as an authenticated user; the password is masked', async () => {
    const key = `/service/auth-${lab.id}/leader`
    const p = start([...base(key, authEtcd.url), '--etcd-user', 'root', '--etcd-password', PASSWORD])
    await p.waitForOutput(/No value found for key/)
    await put(key, 'n1')
    await lab.waitVip(ns, CIDR, true)
    p.proc.kill('SIGINT')
    assert.equal((await p.exited).code, 0)
    assert.equal(await lab.has(ns, CIDR), false)
    assert.doesNotMatch(p.output(), new RegExp(PASSWORD))
    assert.match(p.output(), /\tetcd-password : \*\*\*\*\*/)
  })

  it('refused credentials: never takes the VIP, says why, never prints the password', async () => {
    const key = `/service/auth-bad-${lab.id}/leader`
    await put(key, 'n1')
    const wrong = 'wrong-pw-91c2'
    const p = start([...base(key, authEtcd.url), '--etcd-user', 'root', '--etcd-password', wrong])
    await p.waitForOutput(/refused the credentials of user "root"/)
    await p.waitForOutput(/must be down: leadership unknown/, 10_000)
    assert.equal(await lab.has(ns, CIDR), false)
    p.proc.kill('SIGINT')
    assert.equal((await p.exited).code, 0)
    assert.doesNotMatch(p.output(), new RegExp(wrong))
  })
})
