import assert from 'node:assert/strict'
import {chmodSync, closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, test} from 'node:test'
import {
  DEFAULT_LOG_SETTINGS,
  asctime,
  formatRecord,
  isJournalStream,
  Logger,
  type LogSettings,
  type LogSink,
  parseLevel,
  pyFormat,
  RotatingFileSink,
  strftime,
  withPriority,
} from '../../../src/log/logger'
import {logSettings} from '../../../src/agent/settings'
import {loadConfig} from '../../../src/config/load'

const at = new Date(2026, 10, 21, 10, 0, 0, 123) // local time, as Python's asctime is
const rec = {time: at, level: 'INFO' as const, message: 'no action. I am (node1), the leader with the lock', name: 'hactl'}

class MemorySink implements LogSink {
  lines: string[] = []
  write(line: string) {
    this.lines.push(line)
  }
  close() {}
}

describe('log line format', () => {
  test("Patroni's default plain line", () => {
    assert.equal(formatRecord(rec, DEFAULT_LOG_SETTINGS), '2026-11-21 10:00:00,123 INFO: no action. I am (node1), the leader with the lock')
    // The default format's short way and the general %-format give the same line, single-digit fields padded.
    const early = {...rec, time: new Date(2027, 0, 2, 3, 4, 5, 6), level: 'WARNING' as const}
    assert.equal(formatRecord(early, DEFAULT_LOG_SETTINGS), '2027-01-02 03:04:05,006 WARNING: no action. I am (node1), the leader with the lock')
    assert.equal(formatRecord(early, {...DEFAULT_LOG_SETTINGS, format: '%(asctime)s %(levelname)s: %(message)s '}), `${formatRecord(early, DEFAULT_LOG_SETTINGS)} `)
    assert.equal(asctime(early.time), strftime(early.time, '%Y-%m-%d %H:%M:%S,') + '006')
  })

  test('a custom %-format with widths and a dateformat', () => {
    const s: LogSettings = {...DEFAULT_LOG_SETTINGS, format: '[%(levelname)-8s] %(asctime)s %(message)s', dateformat: '%d/%m/%Y %H:%M'}
    assert.equal(formatRecord(rec, s), '[INFO    ] 21/11/2026 10:00 no action. I am (node1), the leader with the lock')
  })

  test('unknown %-keys are left as written rather than dropped', () => {
    assert.equal(pyFormat('%(nope)s %(message)s', {message: 'm'}), '%(nope)s m')
  })

  test('JSON lines with a field list, renames and static fields', () => {
    const s: LogSettings = {
      ...DEFAULT_LOG_SETTINGS,
      type: 'json',
      format: ['message', {levelname: 'level'}, {asctime: '@timestamp'}],
      staticFields: {app: 'hactl'},
    }
    const obj = JSON.parse(formatRecord(rec, s))
    assert.deepEqual(obj, {message: rec.message, level: 'INFO', '@timestamp': '2026-11-21 10:00:00,123', app: 'hactl'})
  })

  test('strftime directives', () => {
    assert.equal(strftime(at, '%Y-%m-%dT%H:%M:%S.%f %% %j %I%p'), '2026-11-21T10:00:00.123000 % 325 10AM')
  })

  test("levels accept Patroni's spellings", () => {
    assert.equal(parseLevel('warn'), 'WARNING')
    assert.equal(parseLevel('FATAL'), 'CRITICAL')
    assert.equal(parseLevel('debug'), 'DEBUG')
    assert.equal(parseLevel('verbose'), undefined)
  })
})

describe('Logger', () => {
  test('honours the level', () => {
    const sink = new MemorySink()
    const log = new Logger({...DEFAULT_LOG_SETTINGS, level: 'WARNING'}, sink, 'hactl', () => at)
    log.info('hidden')
    log.debug('hidden')
    log.warning('shown')
    log.error('shown too')
    assert.deepEqual(sink.lines, ['2026-11-21 10:00:00,123 WARNING: shown', '2026-11-21 10:00:00,123 ERROR: shown too'])
  })

  test('rotates patroni.log like RotatingFileHandler, keeping file_num backups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-log-'))
    try {
      const sink = new RotatingFileSink(dir, 100, 2)
      const log = new Logger(DEFAULT_LOG_SETTINGS, sink, 'hactl', () => at)
      for (let i = 0; i < 12; i++) log.info(`line ${i} ${'x'.repeat(20)}`) // 56 bytes a line: one line per file
      log.close()
      const current = readFileSync(join(dir, 'patroni.log'), 'utf8')
      assert.match(current, /line 11 /)
      assert.match(readFileSync(join(dir, 'patroni.log.1'), 'utf8'), /line 10 /)
      assert.match(readFileSync(join(dir, 'patroni.log.2'), 'utf8'), /line 9 /)
      assert.equal(existsSync(join(dir, 'patroni.log.3')), false)
      for (const f of ['patroni.log', 'patroni.log.1', 'patroni.log.2']) {
        assert.ok(readFileSync(join(dir, f)).length <= 100, `${f} is over file_size`)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('appends to an existing log file and counts its size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-log-'))
    try {
      const a = new RotatingFileSink(dir, 1000, 1)
      a.write('first')
      a.close()
      const b = new RotatingFileSink(dir, 1000, 1)
      b.write('second')
      b.close()
      assert.equal(readFileSync(join(dir, 'patroni.log'), 'utf8'), 'first\nsecond\n')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('log settings Patroni has and hactl follows', () => {
  const heartbeat = 'no action. I am (node1), the leader with the lock'
  const run = (settings: Partial<LogSettings>, lines: [LogSettings['level'], string][]) => {
    const sink = new MemorySink()
    const log = new Logger({...DEFAULT_LOG_SETTINGS, format: '%(levelname)s %(message)s', ...settings}, sink)
    for (const [level, m] of lines) log.log(level, m)
    return sink.lines
  }

  test('deduplicate_heartbeat_logs: a repeated heartbeat is not written at INFO; another line, or another heartbeat, starts over', () => {
    const lines: [LogSettings['level'], string][] = [
      ['INFO', heartbeat],
      ['INFO', heartbeat],
      ['INFO', 'PAUSE: no action. I am (node1), the leader with the lock'],
      ['INFO', 'PAUSE: no action. I am (node1), the leader with the lock'],
      ['INFO', heartbeat],
      ['WARNING', 'Request to etcd failed'],
      ['INFO', heartbeat],
      ['INFO', heartbeat],
    ]
    assert.deepEqual(run({deduplicateHeartbeats: true}, lines), [
      `INFO ${heartbeat}`,
      'INFO PAUSE: no action. I am (node1), the leader with the lock',
      `INFO ${heartbeat}`,
      'WARNING Request to etcd failed',
      `INFO ${heartbeat}`,
    ])
    assert.equal(run({deduplicateHeartbeats: false}, lines).length, lines.length, 'off by default, as in Patroni')
    assert.equal(run({deduplicateHeartbeats: true, level: 'DEBUG'}, lines).length, lines.length, 'Patroni deduplicates at INFO only')
  })

  test('mode: the log file gets these permissions at every open, the one after a rotation too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-log-mode-'))
    try {
      const sink = new RotatingFileSink(dir, 60, 2, undefined, 0o640)
      assert.equal(statSync(join(dir, 'patroni.log')).mode & 0o777, 0o640)
      chmodSync(join(dir, 'patroni.log'), 0o600)
      sink.write('x'.repeat(50))
      sink.write('y'.repeat(50))
      assert.equal(statSync(join(dir, 'patroni.log')).mode & 0o777, 0o640, 'the new file after rotation')
      sink.mode = 0o600
      sink.write('z'.repeat(50))
      assert.equal(statSync(join(dir, 'patroni.log')).mode & 0o777, 0o600, 'a reloaded mode applies from the next open')
      sink.close()
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  test('static_fields go into JSON lines only; plain lines are the format alone, as in Patroni', () => {
    const s: LogSettings = {...DEFAULT_LOG_SETTINGS, staticFields: {app: 'patroni'}}
    assert.equal(formatRecord(rec, s), `2026-11-21 10:00:00,123 INFO: ${rec.message}`)
  })

  test('the agent takes log.dateformat, mode, deduplicate_heartbeat_logs and static_fields from the configuration, without a warning', () => {
    const {config, warnings} = loadConfig(join(__dirname, '../../fixtures/config/accepted/log-settings.yml'), {})
    assert.deepEqual(warnings, [])
    const s = logSettings(config)
    assert.equal(s.dateformat, '%Y-%m-%dT%H:%M:%S')
    assert.equal(s.mode, 0o640)
    assert.equal(s.deduplicateHeartbeats, true)
    assert.deepEqual(s.staticFields, {app: 'patroni'})
    assert.deepEqual(s.format, ['asctime', 'levelname', 'message'])
    assert.equal(logSettings({...config, log: {...config.log!, dateformat: ''}}).dateformat, undefined, "Patroni: '' is no dateformat")
  })
})

describe('journald priorities', () => {
  test('each line gets its sd-daemon priority: <3> error, <4> warning, <6> info, <7> debug', () => {
    assert.equal(withPriority('a', 'ERROR'), '<3>a')
    assert.equal(withPriority('a', 'WARNING'), '<4>a')
    assert.equal(withPriority('a', 'INFO'), '<6>a')
    assert.equal(withPriority('a', 'DEBUG'), '<7>a')
    assert.equal(withPriority('a', 'CRITICAL'), '<2>a')
    assert.equal(withPriority('first\nsecond', 'WARNING'), '<4>first\n<4>second', 'a continuation line keeps the priority')
  })

  test('JOURNAL_STREAM counts only when it names the descriptor (device:inode), as systemd.exec(5) says', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-journal-'))
    const fd = openSync(join(dir, 'stream'), 'w')
    const other = openSync(join(dir, 'other'), 'w')
    try {
      const st = fstatSync(fd)
      const env = {JOURNAL_STREAM: `${st.dev}:${st.ino}`}
      assert.equal(isJournalStream(env, fd), true)
      assert.equal(isJournalStream(env, other), false, 'inherited by a process whose stderr goes elsewhere')
      assert.equal(isJournalStream({}, fd), false)
      assert.equal(isJournalStream({JOURNAL_STREAM: 'garbage'}, fd), false)
    } finally {
      closeSync(fd)
      closeSync(other)
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
