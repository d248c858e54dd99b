/**
 * The packaged systemd units straight from packaging/systemd (no package build; packages.test.ts
 * checks the ones inside the .deb): `systemd-analyze verify` accepts them without a message on
 * this host's systemd, the agent units are Type=notify with NotifyAccess=all and a SIGHUP reload,
 * and Type=notify-reload really is refused by a systemd older than 253 (Debian 12 has 252),
 * which is why the units do not use it (docs/architecture.md#systemd-notify).
 */
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {after, before, test} from 'node:test'

const UNITS = resolve('packaging/systemd')
let root: string

function verify(unit: string): {code: number | null; out: string} {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, unit], {encoding: 'utf8'})
  return {code: r.status, out: `${r.stdout}${r.stderr}`}
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'hactl-units-'))
  const units = join(root, 'lib/systemd/system')
  mkdirSync(units, {recursive: true})
  cpSync('/lib/systemd/system', units, {recursive: true, dereference: false, errorOnExist: false})
  mkdirSync(join(root, 'usr/bin'), {recursive: true})
  mkdirSync(join(root, 'bin'), {recursive: true})
  copyFileSync('/bin/kill', join(root, 'bin/kill'))
  chmodSync(join(root, 'bin/kill'), 0o755)
  writeFileSync(join(root, 'usr/bin/hactl'), '#!/bin/sh\n', {mode: 0o755})
  for (const u of ['hactl.service', 'hactl@.service', 'hactl-vip@.service']) copyFileSync(join(UNITS, u), join(units, u))
})

after(() => rmSync(root, {recursive: true, force: true}))

test('systemd-analyze verify accepts the units without a message', () => {
  for (const unit of ['hactl.service', 'hactl@15-main.service', 'hactl-vip@15-main.service']) {
    const r = verify(unit)
    assert.equal(r.code, 0, `${unit}: ${r.out}`)
    assert.equal(r.out.trim(), '', `${unit} verifies without messages`)
  }
})

test('agent units: Type=notify, NotifyAccess=all, reload by SIGHUP; the VIP unit stays simple', () => {
  for (const n of ['hactl.service', 'hactl@.service']) {
    const u = readFileSync(join(UNITS, n), 'utf8')
    assert.match(u, /^Type=notify$/m, n)
    assert.match(u, /^NotifyAccess=all$/m, n)
    assert.match(u, /^ExecReload=\/bin\/kill -s HUP \$MAINPID$/m, n)
  }
  assert.match(readFileSync(join(UNITS, 'hactl-vip@.service'), 'utf8'), /^Type=simple$/m)
})

test('Type=notify-reload is refused by systemd < 253', (t) => {
  const version = Number(/^systemd (\d+)/.exec(execFileSync('systemd-analyze', ['--version'], {encoding: 'utf8'}))?.[1])
  assert.ok(version > 0)
  const units = join(root, 'lib/systemd/system')
  writeFileSync(join(units, 'hactl-nr.service'), readFileSync(join(UNITS, 'hactl.service'), 'utf8').replace(/^Type=notify$/m, 'Type=notify-reload'))
  const r = verify('hactl-nr.service')
  if (version < 253) assert.match(r.out, /Failed to parse service type, ignoring: notify-reload/)
  else {
    t.diagnostic(`systemd ${version} knows notify-reload`)
    assert.doesNotMatch(r.out, /Failed to parse service type/)
  }
})
