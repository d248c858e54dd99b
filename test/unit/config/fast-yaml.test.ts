import assert from 'node:assert/strict'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, test} from 'node:test'
import {parseDocument} from 'yaml'
import {parseFastYaml} from '../../../src/config/fast-yaml'
import {PYYAML_OPTIONS} from '../../../src/config/yaml-options'

/**
 * The quick reader must give exactly what the full parser (with PyYAML's reading rules) gives,
 * or decline (undefined). Checked on every YAML file of the repository's fixtures, hand-picked
 * traps, and a few thousand generated documents.
 */
function full(text: string): unknown {
  const doc = parseDocument(text, PYYAML_OPTIONS)
  return doc.errors.length ? 'ERROR' : doc.toJS({maxAliasCount: 1000})
}

function check(text: string): 'fast' | 'fallback' {
  const quick = parseFastYaml(text)
  if (quick === undefined) return 'fallback'
  assert.deepStrictEqual(quick, full(text), `fast reader disagrees on:\n${text}`)
  return 'fast'
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return yamlFiles(p)
    return /\.ya?ml$/.test(f) ? [p] : []
  })
}

describe('fast YAML reader', () => {
  test('agrees with the full parser on every fixture file, and reads the usual configs itself', () => {
    const files = yamlFiles('test/fixtures')
    assert.ok(files.length > 10)
    let fast = 0
    for (const f of files) if (check(readFileSync(f, 'utf8')) === 'fast') fast++
    assert.ok(fast >= files.length / 3, `only ${fast} of ${files.length} fixture configs took the quick path`)
  })

  test('reads a typical Patroni config without the full parser', () => {
    const text = `scope: demo
namespace: /service/
name: pg1
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
etcd3:
  hosts:
  - 127.0.0.1:2379
  - 10.0.0.2:2379
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        archive_mode: on
        max_connections: 100
  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: 0.0.0.0:5432
  data_dir: /var/lib/postgresql/15/main   # comment
  pg_hba:
    - host replication replicator 127.0.0.1/32 md5
    - 'host all all 0.0.0.0/0 scram-sha-256'
  authentication:
    superuser: {}
tags: {nofailover: false, noloadbalance: false}
`
    assert.equal(check(text.replace('tags: {nofailover: false, noloadbalance: false}\n', 'tags: []\n')), 'fast')
    assert.equal(check(text), 'fallback')
    const v = parseFastYaml(text.replace(/^tags:.*\n/m, '')) as any
    assert.equal(v.bootstrap.dcs.postgresql.parameters.archive_mode, true)
    assert.equal(v.bootstrap.dcs.postgresql.parameters.hot_standby, 'on')
    assert.deepEqual(v.etcd3.hosts, ['127.0.0.1:2379', '10.0.0.2:2379'])
  })

  test('hand-picked traps: same value or fallback', () => {
    const traps = [
      'a: 010', 'a: 0x1F', 'a: 1_000', 'a: 1:30', 'a: 1.5', 'a: .5', 'a: 1e3', 'a: -1', 'a: +1', 'a: -0', 'a: 0', 'a: 00',
      'a: 9007199254740993', 'a: y', 'a: n', 'a: Y', 'a: yes', 'a: No', 'a: oN', 'a: ~', 'a: null', 'a: Null', 'a: nULL', 'a:',
      'a: 2024-01-02', 'a: 2024-01-02 10:00:00', "a: 'it''s'", 'a: "x\\ty"', 'a: "\\u00e9"', 'a: "a\\"b"', 'a: -x', 'a: ?x',
      'a: :x', 'a: x: y', 'a: x #c', 'a: x#c', 'a: "x" #c', "a: 'x' y", 'a: [a, b]', 'a: [1, on, "x"]', 'a: [a, [b]]', 'a: [a,]',
      'a: []', 'a: {}', 'a: {b: 1}', 'a: &x 1', 'a: *x', 'a: !!str 1', 'a: |\n  x', 'a: >\n  x', 'a: b\n  c', '- a\n- b',
      '-\n  a: 1', '- a: 1\n  b: 2\n- c', '- - a', 'a:\n- 1\n- 2\nb: 3', 'a:\n  - 1\n b: 2', '<<: {a: 1}', 'on: 1', 'true: x',
      '1: x', 'a b: c', '"a": 1', 'a: 1\na: 2', '__proto__: 1', '---\na: 1', 'a: 1\n---\nb: 2', '...', '%YAML 1.1\n---\na: 1',
      'a: 1\r\n', '\ta: 1', 'a:\n\tb: 1', '', '# only\n', 'a: @x', 'a: `x', 'a: %x', 'a: x\n   # comment\nb: 2', 'a:   \n  b: 1',
      '  a: 1', 'a:\n    b: 1\n  c: 2', 'a: http://x:1/y', 'a: 127.0.0.1:5432', 'a: =', 'a: 64MB', 'a: .inf', 'a: 1:2:3', 'a: 0b101',
      'a: "a\\\\b"', 'a: "\\/"', 'a: x,y', 'a: [x y, z]', 'a: [a:b]', 'a: [a: b]', 'a: [#]', 'a: é', 'a: 𝄞', 'key_with-dash.and/slash$: v',
    ]
    for (const t of traps) check(t)
  })

  test('generated documents: same value or fallback', () => {
    let seed = 42
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const scalars = ['x', 'on', 'off', 'yes', '1', '-2', '007', '1.0', '1e2', '1:20', 'null', '~', "'q'", '"d"', 'a b', 'a #c', 'a:b',
      '127.0.0.1:5432', '[a, b]', '[]', '{}', 'true', 'False', '0x10', '2024-05-01', '-', '- x', 'x:', '"a\\nb"', "'a''b'", '.', '/p/a-th']
    const keys = ['a', 'b_c', 'd.e', 'on', '1', 'x y', 'f-g', 'h']
    const gen = (depth: number, indent: string): string => {
      const lines: string[] = []
      const n = 1 + rnd(3)
      const seq = rnd(4) === 0
      for (let i = 0; i < n; i++) {
        const nested = depth < 3 && rnd(3) === 0
        const head = seq ? `${indent}- ` : `${indent}${keys[rnd(keys.length)]}:`
        if (nested) {
          const childIndent = seq ? indent + '  ' : rnd(4) === 0 ? indent : indent + ' '.repeat(1 + rnd(3))
          if (seq && rnd(2) === 0) lines.push(`${indent}- ${keys[rnd(keys.length)]}: ${scalars[rnd(scalars.length)]}`)
          else lines.push(seq ? `${indent}-` : head)
          lines.push(gen(depth + 1, childIndent))
        } else {
          lines.push(`${head}${seq ? '' : ' '}${scalars[rnd(scalars.length)]}${rnd(6) === 0 ? '  # note' : ''}`)
        }
      }
      return lines.join('\n')
    }
    let fast = 0
    for (let i = 0; i < 3000; i++) if (check(gen(0, '') + '\n') === 'fast') fast++
    assert.ok(fast > 300, `the quick path handled only ${fast} generated documents`)
  })
})
