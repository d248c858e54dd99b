/**
 * nextSyncStep: the order of the synchronous replication upkeep. A small model applies each step
 * (a /sync write, a synchronous_standby_names change, a wait that lets PostgreSQL report the
 * named standbys synchronous) and checks after every step that `/sync` never names a standby
 * that synchronous_standby_names does not: such a standby could be promoted without the
 * commits acknowledged meanwhile.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import {nextSyncStep, parseSsn, formatSsn, type SyncStep, type SyncView} from '../../../src/core/sync'

interface Model {
  key: {leader: string | null; standbys: string[]} | null
  ssn: string
  managed: boolean
  /** Standbys PostgreSQL reports as sync: those named in ssn once a wait passed. */
  proven: Set<string>
  streaming: string[]
  want: number
}

function view(m: Model, waited: boolean, enabled = true, strict = false): SyncView {
  const names = parseSsn(m.ssn).members
  const picked = m.streaming.slice(0, m.want)
  const allowPromote = picked.filter((n) => names.includes(n) && m.proven.has(n))
  return {
    enabled,
    strict,
    me: 'p',
    primary: true,
    keyExists: m.key !== null,
    keyLeader: m.key?.leader ?? null,
    keyStandbys: m.key?.standbys ?? [],
    managed: m.managed,
    liveSsn: m.ssn,
    pick: {picked, allowPromote},
    waited,
  }
}

function apply(m: Model, s: SyncStep): void {
  switch (s.type) {
    case 'claim-sync-key':
      m.key = {leader: 'p', standbys: []}
      break
    case 'publish':
      m.key = {leader: 'p', standbys: [...s.standbys]}
      break
    case 'set-ssn':
      m.ssn = formatSsn(s.names)
      m.managed = true
      m.proven = new Set([...m.proven].filter((n) => s.names.includes(n)))
      break
    case 'wait':
      for (const n of parseSsn(m.ssn).members) m.proven.add(n)
      break
    case 'delete-sync-key':
      m.key = null
      break
    case 'release-ssn':
      m.managed = false
      break
  }
}

function run(m: Model, opts: {enabled?: boolean; strict?: boolean} = {}): SyncStep[] {
  const steps: SyncStep[] = []
  let waited = false
  for (let i = 0; i < 20; i++) {
    const s = nextSyncStep(view(m, waited, opts.enabled ?? true, opts.strict ?? false))
    if (!s) return steps
    steps.push(s)
    apply(m, s)
    if (s.type === 'wait') waited = true
    const named = parseSsn(m.ssn).members
    for (const n of m.key?.standbys ?? []) assert.ok(named.includes(n), `/sync names ${n} but synchronous_standby_names is '${m.ssn}' after ${JSON.stringify(steps)}`)
  }
  assert.fail(`no fixed point: ${JSON.stringify(steps)}`)
}

test('a new primary claims /sync, names its standby, waits, then publishes it', () => {
  const m: Model = {key: {leader: 'old', standbys: ['p']}, ssn: '', managed: false, proven: new Set(), streaming: ['a'], want: 1}
  assert.deepEqual(run(m).map((s) => s.type), ['claim-sync-key', 'set-ssn', 'wait', 'publish'])
  assert.deepEqual(m.key, {leader: 'p', standbys: ['a']})
  assert.equal(m.ssn, 'a')
})

test('a standby swap shrinks /sync before synchronous_standby_names changes', () => {
  const m: Model = {key: {leader: 'p', standbys: ['a']}, ssn: 'a', managed: true, proven: new Set(['a']), streaming: ['b'], want: 1}
  const steps = run(m)
  assert.deepEqual(steps.map((s) => s.type), ['publish', 'set-ssn', 'wait', 'publish'])
  assert.deepEqual(steps[0], {type: 'publish', standbys: []})
  assert.deepEqual(m.key?.standbys, ['b'])
})

test('steady state: nothing to do', () => {
  const m: Model = {key: {leader: 'p', standbys: ['a']}, ssn: 'a', managed: true, proven: new Set(['a']), streaming: ['a'], want: 1}
  assert.deepEqual(run(m), [])
})

test('an agent restarted under a running primary takes synchronous_standby_names over again', () => {
  const m: Model = {key: {leader: 'p', standbys: ['a']}, ssn: 'a', managed: false, proven: new Set(['a']), streaming: ['a'], want: 1}
  assert.deepEqual(run(m).map((s) => s.type), ['set-ssn'])
  assert.equal(m.managed, true)
})

test('strict mode with nobody streaming: * and an empty /sync', () => {
  const m: Model = {key: {leader: 'p', standbys: ['a']}, ssn: 'a', managed: true, proven: new Set(['a']), streaming: [], want: 1}
  const steps = run(m, {strict: true})
  assert.deepEqual(steps, [{type: 'publish', standbys: []}, {type: 'set-ssn', names: ['*']}])
})

test('synchronous_mode off: /sync goes, then synchronous_standby_names is the user\'s again', () => {
  const m: Model = {key: {leader: 'p', standbys: ['a']}, ssn: 'a', managed: true, proven: new Set(['a']), streaming: ['a'], want: 1}
  assert.deepEqual(run(m, {enabled: false}).map((s) => s.type), ['delete-sync-key', 'release-ssn'])
})

test('every combination of /sync, names and streaming standbys reaches a fixed point safely', () => {
  const names = ['a', 'b', 'c']
  const subsets = [[], ['a'], ['b'], ['a', 'b'], ['a', 'c'], ['a', 'b', 'c']]
  let n = 0
  for (const inKey of subsets)
    for (const inSsn of subsets)
      for (const streaming of subsets)
        for (const want of [1, 2])
          for (const strict of [false, true]) {
            // Start from a safe state (what the agent keeps): /sync within the names.
            if (!inKey.every((k) => inSsn.includes(k))) continue
            const m: Model = {key: {leader: 'p', standbys: [...inKey]}, ssn: formatSsn(inSsn), managed: true, proven: new Set(inSsn), streaming, want}
            run(m, {strict})
            const picked = streaming.slice(0, want)
            assert.deepEqual([...(m.key?.standbys ?? [])].sort(), [...picked].sort(), `/sync ends with the picked standbys: ${JSON.stringify({inKey, inSsn, streaming, want, strict})}`)
            n++
          }
  assert.ok(n > 100)
  void names
})
