/**
 * The chaos suite's judgement of its samples (test/chaos/run.ts): a dual-writable window is only
 * what two hosts' runs of writable observations surely share, and the longest time without a
 * primary is measured between observed primaries.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {maxGap, overlaps} from '../../chaos/run'

type S = {t: number; t2: number; w: boolean | null; p: boolean | null}
const s = (t: number, w: boolean | null, p: boolean | null = w): S => ({t, t2: t + 10, w, p})

test('two hosts writable at once: the window is what both runs surely cover', () => {
  const samples = new Map([
    ['h1', [s(0, true), s(250, true), s(500, true), s(750, false)]],
    ['h2', [s(0, false), s(250, false), s(400, true), s(650, true), s(900, true)]],
  ] as Array<[any, S[]]>)
  // h1 surely writable 10..500, h2 410..900: overlap 410..500
  assert.deepEqual(overlaps(samples, 'w'), [{from: 410, to: 500, hosts: ['h1', 'h2']}])
})

test('a hand-over between samples is not a dual window, nor is an unknown (null) sample', () => {
  const samples = new Map([
    ['h1', [s(0, true), s(250, true), s(500, false)]],
    ['h2', [s(0, false), s(250, null), s(500, true), s(750, true)]],
  ] as Array<[any, S[]]>)
  assert.deepEqual(overlaps(samples, 'w'), [])
})

test('longest stretch without a primary', () => {
  const samples = new Map([
    ['h1', [s(0, true), s(1000, true), s(2000, false)]],
    ['h2', [s(0, false), s(4000, true), s(5000, true)]],
  ] as Array<[any, S[]]>)
  // h1 primary observed 0..1010, h2 4000..5010: gap 1010..4000
  assert.equal(maxGap(samples, 0, 5010), 2990)
  // nobody primary at all
  assert.equal(maxGap(new Map([['h1', [s(0, false)]]] as Array<[any, S[]]>), 0, 1000), 1000)
})
