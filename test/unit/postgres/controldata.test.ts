/** pg_controldata parsing, from the real output of PostgreSQL 15's pg_controldata (LANG=C). */
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {parseControldata, readControlFileHead} from '../../../src/adapters/postgres/controldata'
import {localPositionFromControldata} from '../../../src/adapters/postgres/timeline'

const PG15 = `
pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7711156263884281876
Database cluster state:               shut down
pg_control last modified:             Mon Nov 23 00:24:37 2026
Latest checkpoint location:           0/1511A88
Latest checkpoint's REDO location:    0/1511A88
Latest checkpoint's REDO WAL file:    000000010000000000000001
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:724
Latest checkpoint's NextOID:          13573
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        716
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  0
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Mon Nov 23 00:24:37 2026
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                off
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           0
Mock authentication nonce:            da16867a47d9d55529fe101e856c531c279d203c60c398ef9efa419bdf24fa1a`

describe('parseControldata', () => {
  it('parses a freshly initialised PG15 cluster', () => {
    const cd = parseControldata(PG15)
    assert.equal(cd.systemIdentifier, '7711156263884281876')
    assert.equal(cd.clusterState, 'shut down')
    assert.equal(cd.timeline, 1)
    assert.equal(cd.checkpointLsn, 0x1511a88)
    assert.equal(cd.redoLsn, 0x1511a88)
    assert.equal(cd.minRecoveryLsn, 0)
    assert.equal(cd.minRecoveryTimeline, 0)
    assert.equal(cd.walLogHints, false)
    assert.equal(cd.dataChecksums, false)
    assert.equal(cd.maxConnections, 100)
    assert.equal(cd.maxWorkerProcesses, 8)
    assert.equal(cd.maxWalSenders, 10)
    assert.equal(cd.maxPreparedXacts, 0)
    assert.equal(cd.maxLocksPerXact, 64)
    assert.equal(cd.walLevel, 'replica')
    assert.equal(cd.raw['Bytes per WAL segment'], '16777216')
    assert.equal(cd.raw["Latest checkpoint's NextXID"], '0:724')
  })

  it('reads wal_log_hints, checksums and the Current prefix of old versions', () => {
    const text = PG15.replace(/wal_log_hints setting:\s+off/, 'wal_log_hints setting: on')
      .replace(/Data page checksum version:\s+0/, 'Data page checksum version: 1')
      .replace(/max_connections setting:\s+100/, 'Current max_connections setting: 250')
    const cd = parseControldata(text)
    assert.equal(cd.walLogHints, true)
    assert.equal(cd.dataChecksums, true)
    assert.equal(cd.raw['max_connections setting'], '250')
    assert.equal(cd.maxConnections, 250)
  })

  it('names the missing field when the output is not pg_controldata', () => {
    assert.throws(() => parseControldata('pg_controldata: fatal: could not open file'), /no "Database system identifier" line/)
    assert.throws(
      () => parseControldata(PG15.replace(/Latest checkpoint location:\s+0\/1511A88/, 'Latest checkpoint location: zz')),
      /"Latest checkpoint location" is not a WAL position/,
    )
  })

  it('local position: shut down primary, shut down replica, crashed primary', () => {
    const cd = parseControldata(PG15)
    assert.deepEqual(localPositionFromControldata(cd), {inRecovery: false, timeline: 1, lsn: 0x1511a88})
    const replica = {...cd, clusterState: 'shut down in recovery', minRecoveryLsn: 0x3000060, minRecoveryTimeline: 2}
    assert.deepEqual(localPositionFromControldata(replica), {inRecovery: true, timeline: 2, lsn: 0x3000060})
    // A replica state with no minimum recovery point was a primary when it stopped.
    assert.deepEqual(localPositionFromControldata({...cd, clusterState: 'in archive recovery'}), {inRecovery: false, timeline: 1, lsn: 0x1511a88})
    assert.equal(localPositionFromControldata({...cd, clusterState: 'in production'}), undefined)
  })
})

describe('readControlFileHead: state and checkpoint straight from pg_control', () => {
  // The head of ControlFileData: system_identifier, pg_control_version, catalog_version_no,
  // state (+4 padding), time, checkPoint.
  const head = (version: number, state: number, lsn: bigint, le = true) => {
    const b = Buffer.alloc(296)
    if (le) {
      b.writeBigUInt64LE(7715828549052174261n, 0)
      b.writeUInt32LE(version, 8)
      b.writeUInt32LE(202209061, 12)
      b.writeUInt32LE(state, 16)
      b.writeBigUInt64LE(lsn, 32)
    } else {
      b.writeBigUInt64BE(7715828549052174261n, 0)
      b.writeUInt32BE(version, 8)
      b.writeUInt32BE(202209061, 12)
      b.writeUInt32BE(state, 16)
      b.writeBigUInt64BE(lsn, 32)
    }
    return b
  }

  it("the states and the LSN pg_controldata prints, in either byte order", () => {
    assert.deepEqual(readControlFileHead(head(1300, 1, 0x4019100n), true), {clusterState: 'shut down', checkpointLsn: 0x4019100})
    assert.deepEqual(readControlFileHead(head(1300, 2, 0x5000028n), true), {clusterState: 'shut down in recovery', checkpointLsn: 0x5000028})
    assert.deepEqual(readControlFileHead(head(1700, 6, 0x1_0000_0060n, false), false), {clusterState: 'in production', checkpointLsn: 0x1_0000_0060})
    assert.equal(readControlFileHead(head(960, 5, 0x28n), true)?.clusterState, 'in archive recovery')
  })

  it('anything it cannot vouch for is undefined (the caller runs pg_controldata)', () => {
    assert.equal(readControlFileHead(Buffer.alloc(39), true), undefined, 'short file')
    assert.equal(readControlFileHead(head(903, 1, 0x28n), true), undefined, 'before 9.3')
    assert.equal(readControlFileHead(head(1800, 1, 0x28n), true), undefined, 'a future layout')
    assert.equal(readControlFileHead(head(1300, 7, 0x28n), true), undefined, 'unknown state')
    assert.equal(readControlFileHead(head(1300, 1, 0x28n, false), true), undefined, 'the other byte order')
  })
})
