/**
 * src/adapters/systemd/handover-marker.ts on a real file system: the marker counts only when it
 * names this PID, is a regular file (not a directory, not a symlink) and belongs to root or to
 * the agent's own user; the runtime directory comes from HACTL_RUNTIME_DIR, /run/hactl without it.
 */
import assert from 'node:assert/strict'
import {chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, test} from 'node:test'
import {handoverMarkerPath, handoverRequested} from '../../../src/adapters/systemd/handover-marker'

const dir = mkdtempSync(join(tmpdir(), 'hactl-handover-'))
const env = {HACTL_RUNTIME_DIR: dir}
after(() => rmSync(dir, {recursive: true, force: true}))

test('the marker path: /run/hactl/handover.<pid> unless HACTL_RUNTIME_DIR says otherwise', () => {
  assert.equal(handoverMarkerPath({}, 4242), '/run/hactl/handover.4242')
  assert.equal(handoverMarkerPath({HACTL_RUNTIME_DIR: ''}, 1), '/run/hactl/handover.1')
  assert.equal(handoverMarkerPath(env, 7), join(dir, 'handover.7'))
})

test('only a regular file named after this very PID, owned by root or by us, asks for a hand-over', () => {
  assert.equal(handoverRequested(env, 1000), false, 'no marker')
  writeFileSync(join(dir, 'handover.1000'), '')
  assert.equal(handoverRequested(env, 1000), true)
  assert.equal(handoverRequested(env, 1001), false, 'another PID')
  mkdirSync(join(dir, 'handover.1002'))
  assert.equal(handoverRequested(env, 1002), false, 'a directory')
  symlinkSync(join(dir, 'handover.1000'), join(dir, 'handover.1003'))
  assert.equal(handoverRequested(env, 1003), false, 'a symlink, even to a valid marker')
  if (process.getuid?.() === 0) {
    writeFileSync(join(dir, 'handover.1004'), '')
    chownSync(join(dir, 'handover.1004'), 4321, 4321)
    assert.equal(handoverRequested(env, 1004), false, 'owned by some other user')
  }
  assert.equal(handoverRequested({HACTL_RUNTIME_DIR: join(dir, 'missing')}, 1000), false, 'no runtime directory')
})
