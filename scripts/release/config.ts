/**
 * Schema of .goreleaser-like-release.yml, built on the configuration toolkit (src/config/kit).
 * Unlike Patroni's files, an unknown key here is an error: a misspelt `compresion_level` must
 * not silently produce a different package.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseDocument} from 'yaml'
import {ConfigError, IssueCollector, type ConfigIssue} from '../../src/config/issues'
import {
  bool,
  int,
  joinPath,
  list,
  obj,
  oneOf,
  optional,
  required,
  str,
  withDefault,
  type Out,
  type Parser,
  type Shape,
} from '../../src/config/kit'

export const RELEASE_FILE = '.goreleaser-like-release.yml'

/** `obj` that reports keys outside the shape as errors, naming them. */
function strict<S extends Shape>(shape: S, check?: (out: Out<S>, path: string, c: IssueCollector) => void): Parser<Out<S>> {
  return obj(shape, {
    extra: (key, _value, path, c) => {
      const known = Object.keys(shape)
      const near = known.find((k) => closeTo(k, key))
      c.error(joinPath(path, key), `unknown key${near ? ` (did you mean ${near}?)` : ''}; known keys: ${known.join(', ')}`)
      return true
    },
    check,
  })
}

/** Edit distance <= 2 (a swapped or missing letter), or an abbreviation (`wrap_in_dir`). */
function closeTo(a: string, b: string): boolean {
  if (Math.min(a.length, b.length) >= 4 && (a.startsWith(b) || b.startsWith(a))) return true
  if (Math.abs(a.length - b.length) > 2) return false
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length][b.length] <= 2
}

function matching(re: RegExp, what: string): Parser<string> {
  const s = str({nonEmpty: true})
  return (v, path, c) => {
    const r = s(v, path, c)
    if (r === undefined) return undefined
    if (!re.test(r)) {
      c.error(path, `must be ${what}`, v)
      return undefined
    }
    return r
  }
}

const relPath = matching(/^(?!\/)(?!.*(^|\/)\.\.(\/|$)).+$/, 'a path relative to the repository, without ..')
const absPath = matching(/^(\{unitdir\}|\/)[^\s]*$/, 'an absolute path (or one starting with {unitdir})')
const pkgName = matching(/^[a-z0-9][a-z0-9+.-]+$/, 'a package name (lower case letters, digits, + - .)')
const depList = list(matching(/^[A-Za-z0-9][A-Za-z0-9+._-]*( *\([<>=]{1,2} *[^)\s]+\))?( *[<>=]{1,2} *[^\s]+)?$/, 'a dependency such as "libc6 (>= 2.28)" or "glibc >= 2.28"'))
const mode = int({min: 0, max: 0o7777})

const compression = {
  compression: withDefault(oneOf(['xz', 'gzip', 'zstd'] as const), 'xz'),
  compression_level: withDefault(int({min: 0, max: 19}), 6),
}

const ARCHES = ['x64', 'arm64'] as const
export type Arch = (typeof ARCHES)[number]

const buildShape = {
  id: required(matching(/^[a-z0-9][a-z0-9-]*$/, 'an id of lower case letters, digits and -')),
  arch: required(oneOf(ARCHES)),
  /** A finished executable made by a before hook (the host's architecture). */
  executable: optional(relPath),
  /** The SEA blob the executable carries; checked against the executable, reused by `inject`. */
  blob: required(relPath),
  inject: optional(
    strict({
      node_package: required(pkgName),
      node_version: required(matching(/^\d+\.\d+\.\d+$/, 'a version x.y.z')),
      integrity: required(matching(/^sha512-[A-Za-z0-9+/]+={0,2}$/, 'an npm integrity string sha512-...')),
      strip: withDefault(bool(), false),
    }),
  ),
}

const contentShape = {
  src: required(relPath),
  dst: required(absPath),
  type: withDefault(oneOf(['file', 'config', 'config|noreplace', 'doc', 'license'] as const), 'file'),
  mode: optional(mode),
  formats: optional(list(oneOf(['deb', 'rpm'] as const), {nonEmpty: true})),
}

const debShape = {
  unitdir: withDefault(absPath, '/lib/systemd/system'),
  ...compression,
  depends: withDefault(depList, []),
  recommends: withDefault(depList, []),
  suggests: withDefault(depList, []),
  scripts: withDefault(
    strict({postinst: optional(relPath), prerm: optional(relPath), postrm: optional(relPath), preinst: optional(relPath)}),
    {},
  ),
  lintian_overrides: optional(relPath),
}

const rpmShape = {
  unitdir: withDefault(absPath, '/usr/lib/systemd/system'),
  ...compression,
  group: withDefault(str({nonEmpty: true}), 'Applications/System'),
  requires: withDefault(depList, []),
  recommends: withDefault(depList, []),
  scripts: withDefault(
    strict({pre: optional(relPath), post: optional(relPath), preun: optional(relPath), postun: optional(relPath)}),
    {},
  ),
}

/** The value of a section that is left out: every key at its default. */
function defaults<S extends Shape>(shape: S): Out<S> {
  return strict(shape)({}, '', new IssueCollector()) as Out<S>
}

const releaseShape = {
  schema: required(int({min: 1, max: 1})),
  project_name: required(pkgName),
  version: required(
    strict({
      from: required(oneOf(['package.json'] as const)),
      revision: withDefault(int({min: 1}), 1),
    }),
  ),
  dist: withDefault(relPath, 'dist/release'),
  source_date_epoch: withDefault(
    (v, path, c) => {
      if (v === 'git') return 'git' as const
      return int({min: 1})(v, path, c)
    },
    'git' as const,
  ),
  before: withDefault(strict({hooks: withDefault(list(str({nonEmpty: true})), [])}), {hooks: []}),
  builds: required(
    list(
      strict(buildShape, (b, path, c) => {
        if ((b.executable === undefined) === (b.inject === undefined)) {
          c.error(path, 'needs exactly one of executable (a finished build) or inject (a Node to inject the blob into)')
        }
      }),
      {nonEmpty: true},
    ),
  ),
  archives: required(
    strict({
      name_template: required(str({nonEmpty: true})),
      wrap_in_directory: withDefault(bool(), true),
      files: withDefault(list(strict({src: required(relPath), dst: optional(relPath)})), []),
    }),
  ),
  checksum: required(
    strict({
      name_template: required(str({nonEmpty: true})),
      algorithm: withDefault(oneOf(['sha256'] as const), 'sha256'),
    }),
  ),
  changelog: required(
    strict({
      file: withDefault(relPath, 'CHANGELOG.md'),
      sort: withDefault(oneOf(['asc', 'desc'] as const), 'asc'),
      exclude: withDefault(list(str({nonEmpty: true})), []),
    }),
  ),
  packages: required(
    strict({
      name: required(pkgName),
      formats: required(list(oneOf(['deb', 'rpm'] as const), {nonEmpty: true})),
      maintainer: required(matching(/^[^<>]+ <[^<>\s]+@[^<>\s]+>$/, 'a "Name <email>" string')),
      vendor: required(str({nonEmpty: true})),
      license: required(str({nonEmpty: true})),
      section: withDefault(str({nonEmpty: true}), 'misc'),
      summary: required(matching(/^[^\n]{1,80}$/, 'one line of at most 80 characters')),
      description: required(str({nonEmpty: true})),
      homepage: optional(matching(/^https?:\/\/\S+$/, 'an http(s) URL')),
      bindir: withDefault(absPath, '/usr/bin'),
      contents: withDefault(list(strict(contentShape)), []),
      deb: withDefault(strict(debShape), () => defaults(debShape)),
      rpm: withDefault(strict(rpmShape), () => defaults(rpmShape)),
    }),
  ),
}

export type ReleaseConfig = Out<typeof releaseShape>
export type BuildConfig = ReleaseConfig['builds'][number]
export type ContentEntry = ReleaseConfig['packages']['contents'][number]

const parseRelease = strict(releaseShape, (cfg, _path, c) => {
  const ids = new Set<string>()
  cfg.builds?.forEach((b, i) => {
    if (ids.has(b.id)) c.error(`builds[${i}].id`, `duplicates another build's id`, b.id)
    ids.add(b.id)
  })
  const arches = cfg.builds?.map((b) => b.arch) ?? []
  arches.forEach((a, i) => {
    if (arches.indexOf(a) !== i) c.error(`builds[${i}].arch`, 'is built twice; one build per architecture', a)
  })
  cfg.packages?.contents?.forEach((e, i) => {
    if (e.dst.startsWith('/etc/') !== e.type.startsWith('config')) {
      c.error(`packages.contents[${i}].type`, e.dst.startsWith('/etc/') ? 'must be config or config|noreplace for a file under /etc' : 'may be config only for files under /etc', e.type)
    }
  })
})

/**
 * Reads and validates a release file; throws ConfigError listing every problem (errors first).
 * Relative paths stay relative to `root`; existence of the files they name is checked too.
 */
export function loadReleaseConfig(file: string, root: string): {config: ReleaseConfig; warnings: ConfigIssue[]} {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new ConfigError([{severity: 'error', path: '', message: `cannot read ${file}: ${(e as Error).message}`}], 'release file')
  }
  return parseReleaseText(text, root, file)
}

export function parseReleaseText(text: string, root: string, file = RELEASE_FILE): {config: ReleaseConfig; warnings: ConfigIssue[]} {
  const doc = parseDocument(text, {uniqueKeys: true, prettyErrors: false})
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({severity: 'error' as const, path: '', message: `${file}: ${e.message}`})), 'release file')
  }
  const c = new IssueCollector()
  const config = parseRelease(doc.toJS(), '', c)
  if (config !== undefined && !c.hasErrors()) checkFiles(config, root, c)
  if (config === undefined || c.hasErrors()) throw new ConfigError(c.issues, `release file ${file}`)
  return {config, warnings: c.warnings}
}

function checkFiles(cfg: ReleaseConfig, root: string, c: IssueCollector): void {
  const exists = (p: string) => existsSync(join(root, p))
  cfg.archives.files.forEach((f, i) => exists(f.src) || c.error(`archives.files[${i}].src`, 'names a file that does not exist', f.src))
  cfg.packages.contents.forEach((f, i) => exists(f.src) || c.error(`packages.contents[${i}].src`, 'names a file that does not exist', f.src))
  for (const [fmt, scripts] of [['deb', cfg.packages.deb.scripts], ['rpm', cfg.packages.rpm.scripts]] as const) {
    for (const [k, p] of Object.entries(scripts)) {
      if (typeof p === 'string' && !exists(p)) c.error(`packages.${fmt}.scripts.${k}`, 'names a file that does not exist', p)
    }
  }
  const lo = cfg.packages.deb.lintian_overrides
  if (lo !== undefined && !exists(lo)) c.error('packages.deb.lintian_overrides', 'names a file that does not exist', lo)
}
