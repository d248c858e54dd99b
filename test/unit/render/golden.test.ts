/**
 * Golden files of `hactl haproxy render`: every variant in test/fixtures/render/variants.ts must
 * render to exactly the bytes of its .cfg file (test/integration/render/haproxy-check.test.ts
 * runs the real `haproxy -c` on the same files). HACTL_UPDATE_GOLDEN=1 rewrites them instead:
 * review the diff before committing.
 */
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {parseHaproxyOptions, renderHaproxy} from '../../../src/render/haproxy'
import {compileTemplate} from '../../../src/render/template'
import {SEED_MEMBERS, VARIANTS} from '../../fixtures/render/variants'

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'render')
const UPDATE = process.env.HACTL_UPDATE_GOLDEN === '1'

function render(v: (typeof VARIANTS)[number]): string {
  const template = v.template === undefined ? undefined : compileTemplate(readFileSync(join(DIR, v.template), 'utf8'), v.template)
  return renderHaproxy(v.members, parseHaproxyOptions(v.options), template)
}

describe('haproxy render goldens', () => {
  for (const v of VARIANTS) {
    it(`${v.name}.cfg`, () => {
      const file = join(DIR, `${v.name}.cfg`)
      const text = render(v)
      if (UPDATE) writeFileSync(file, text)
      assert.equal(text, readFileSync(file, 'utf8'))
    })
  }

  it('--global-section minimal --stats-bind * is the seed\'s Patroni haproxy.cfg byte for byte (seed 004, 1.7.3)', () => {
    // Written out here rather than read from the seed so the test stands on its own.
    const canonical = [
      'global', '    maxconn 100', '',
      'defaults', '    log      global', '    mode     tcp', '    retries  2', '    timeout  client 30m',
      '    timeout  connect 4s', '    timeout  server 30m', '    timeout  check 5s', '',
      'listen stats', '    mode http', '    bind *:7000', '    stats enable', '    stats uri /', '',
      ...['primary:5000:primary', 'replicas:5001:replica'].flatMap((spec, i) => {
        const [name, port, path] = spec.split(':')
        return [
          ...(i ? [''] : []),
          `listen ${name}`, `    bind *:${port}`, `    option httpchk HEAD /${path}`, '    http-check expect status 200',
          '    default-server inter 3s fall 3 rise 2 on-marked-down shutdown-sessions',
          '    server node1 10.20.61.103:5432 maxconn 100 check port 8008',
          '    server node2 10.20.61.104:5432 maxconn 100 check port 8008',
          '    server node3 10.20.61.105:5432 maxconn 100 check port 8008',
        ]
      }),
      '',
    ].join('\n')
    assert.equal(renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({globalSection: 'minimal', statsBind: '*'})), canonical)
  })

  it('the default keeps Debian\'s global section (unprivileged, chrooted, logging, admin socket) and binds stats to 127.0.0.1 only', () => {
    const text = renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({}))
    const global = text.slice(0, text.indexOf('\ndefaults\n'))
    assert.deepEqual(global.split('\n').map((l) => l.trim()).filter(Boolean), [
      'global',
      'maxconn 100',
      'log /dev/log local0',
      'log /dev/log local1 notice',
      'chroot /var/lib/haproxy',
      'stats socket /run/haproxy/admin.sock mode 660 level admin',
      'stats timeout 30s',
      'user haproxy',
      'group haproxy',
      'daemon',
    ])
    assert.match(text, /\nlisten stats\n    mode http\n    bind 127\.0\.0\.1:7000\n/)
    // The listeners still bind every address.
    assert.match(text, /\nlisten primary\n    bind \*:5000\n/)
  })

  it('bad --global-section and --stats-bind values are usage errors naming the flag', () => {
    assert.throws(() => parseHaproxyOptions({globalSection: 'ubuntu'}), /--global-section: "ubuntu" is not one of debian, rhel, minimal/)
    assert.throws(() => parseHaproxyOptions({statsBind: 'not an address'}), /--stats-bind/)
    // The stats page and a listener on one port collide only when their addresses can overlap.
    assert.throws(() => parseHaproxyOptions({statsPort: 5000, statsBind: '*'}), /both bind port 5000/)
    assert.throws(() => parseHaproxyOptions({statsPort: 5000}), /both bind port 5000/)
    assert.doesNotThrow(() => parseHaproxyOptions({statsPort: 5000, bind: '10.0.0.1', statsBind: '127.0.0.1'}))
  })

  it('member order in the input does not change a byte', () => {
    const shuffled = {...SEED_MEMBERS, members: [...SEED_MEMBERS.members].reverse()}
    assert.equal(renderHaproxy(shuffled, parseHaproxyOptions({})), renderHaproxy(SEED_MEMBERS, parseHaproxyOptions({})))
  })
})
