/** Timeline history parsing and the rewind decision (Patroni's _check_timeline_and_lsn), branch by branch. */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {versionNum} from '../../../src/adapters/postgres/postgres-adapter'
import {checkpointEndFromWaldump, parseTimelineHistory, rewindDecision} from '../../../src/adapters/postgres/timeline'
import {parseProcStat} from '../../../src/adapters/process/proc-fs'

const HISTORY_3 = '1\t0/3000060\tno recovery target specified\n\n2\t0/5000148\tno recovery target specified\n'

describe('parseTimelineHistory', () => {
  it('parses entries and skips blank, comment and malformed lines', () => {
    assert.deepEqual(parseTimelineHistory(HISTORY_3 + '# comment\n3\tnot-an-lsn\tx\nfoo\n'), [
      {parentTimeline: 1, switchpoint: 0x3000060, reason: 'no recovery target specified'},
      {parentTimeline: 2, switchpoint: 0x5000148, reason: 'no recovery target specified'},
    ])
    assert.deepEqual(parseTimelineHistory('1\t1/0\tbefore 2000-01-01 00:00:00+00'), [{parentTimeline: 1, switchpoint: 2 ** 32, reason: 'before 2000-01-01 00:00:00+00'}])
    assert.deepEqual(parseTimelineHistory(''), [])
  })
})

describe('rewindDecision', () => {
  const history = parseTimelineHistory(HISTORY_3)
  const replica = (timeline: number, lsn: number) => ({inRecovery: true, timeline, lsn})
  const primary = (timeline: number, lsn: number) => ({inRecovery: false, timeline, lsn})

  it('same timeline: no rewind; local ahead of the primary: rewind', () => {
    assert.equal(rewindDecision(replica(3, 0x9000000), 3, undefined).need, false)
    assert.equal(rewindDecision(primary(4, 0x100), 3, undefined).need, true)
  })

  it('a replica rewinds only when it replayed past the switchpoint', () => {
    assert.equal(rewindDecision(replica(2, 0x5000148), 3, history).need, false)
    assert.equal(rewindDecision(replica(2, 0x5000149), 3, history).need, true)
    assert.equal(rewindDecision(replica(1, 0x3000000), 3, history).need, false)
    assert.equal(rewindDecision(replica(1, 0x3000061), 3, history).need, true)
  })

  it('a former primary at or past the switchpoint rewinds', () => {
    assert.equal(rewindDecision(primary(2, 0x5000148), 3, history).need, true)
    assert.equal(rewindDecision(primary(2, 0x6000000), 3, history).need, true)
  })

  it('a former primary before the switchpoint depends on where its shutdown checkpoint ends', () => {
    assert.deepEqual(rewindDecision(primary(2, 0x50000d0), 3, history), {need: 'checkpoint-end-required', switchpoint: 0x5000148})
    assert.equal(rewindDecision(primary(2, 0x50000d0), 3, history, 0x5000148).need, false)
    assert.equal(rewindDecision(primary(2, 0x50000d0), 3, history, 0x5000100).need, true)
  })

  it('a timeline missing from the history, or skipped by it, needs a rewind', () => {
    assert.equal(rewindDecision(replica(2, 0x100), 3, [{parentTimeline: 1, switchpoint: 0x3000060, reason: ''}]).need, true)
    assert.equal(rewindDecision(replica(2, 0x100), 5, [{parentTimeline: 1, switchpoint: 0x10, reason: ''}, {parentTimeline: 3, switchpoint: 0x20, reason: ''}]).need, true)
    assert.equal(rewindDecision(replica(2, 0x100), 3, []).need, true)
  })

  it('says why, with positions in PostgreSQL notation', () => {
    const d = rewindDecision(replica(1, 0x3000061), 3, history)
    assert.ok('reason' in d)
    assert.match(d.reason, /replayed 0\/3000061 past the switchpoint 0\/3000060 of timeline 1/)
  })
})

describe('checkpointEndFromWaldump', () => {
  it('reads the end of the checkpoint record from pg_waldump\'s error', () => {
    const out = 'rmgr: XLOG        len (rec/tot):    114/   114, tx:          0, lsn: 0/0182E220, prev 0/0182E1E8, desc: CHECKPOINT_SHUTDOWN redo 0/182E220'
    const err = 'pg_waldump: error: error in WAL record at 0/182E220: invalid record length at 0/182E298: wanted 24, got 0'
    assert.equal(checkpointEndFromWaldump(out, err, '0/182E220'), 0x182e298)
    assert.equal(checkpointEndFromWaldump(out + '\n' + out, err, '0/182E220'), undefined)
    assert.equal(checkpointEndFromWaldump(out, err, '0/182E000'), undefined)
  })
})

describe('small parsers', () => {
  it('versionNum reads postgres --version and PG_VERSION', () => {
    assert.equal(versionNum('postgres (PostgreSQL) 15.4 (Debian 15.4-2.pgdg120+1)'), 150004)
    assert.equal(versionNum('postgres (PostgreSQL) 9.6.24'), 90624)
    assert.equal(versionNum('15\n'), 150000)
    assert.equal(versionNum('9.6\n'), 90600)
    assert.equal(versionNum('garbage'), undefined)
  })
  it('parseProcStat copes with spaces and parentheses in the command name', () => {
    const info = parseProcStat(42, '42 (post gres) (x)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0')
    assert.equal(info?.comm, 'post gres) (x)')
    assert.equal(info?.ppid, 1)
    assert.equal(info?.state, 'S')
  })
})
