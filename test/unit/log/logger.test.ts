import assert from 'node:assert/strict'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, test} from 'node:test'
import {
  DEFAULT_LOG_SETTINGS,
  formatRecord,
  Logger,
  type LogSettings,
  type LogSink,
  parseLevel,
  pyFormat,
  RotatingFileSink,
  strftime,
} from '../../../src/log/logger'

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
