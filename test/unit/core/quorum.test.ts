import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {NameSet, quorumInvariantHolds, resolveQuorum, type QuorumInput, type QuorumTransition} from '../../../src/core/quorum'

/**
 * Names are single letters: 'bcd' is the set {b, c, d}. A state is written as
 * `leader quorum/voters numsync/sync confirmed active wanted leaderWanted`.
 */
interface S {
  leader: string
  quorum: number
  voters: string
  numsync: number
  sync: string
  confirmed: number
  active: string
  wanted: number
  leaderWanted?: string
}
type Step = [type: QuorumTransition['type'], leader: string, num: number, names: string]

const letters = (s: string) => [...s]
function input(s: S): QuorumInput {
  return {
    leader: s.leader,
    quorum: s.quorum,
    voters: letters(s.voters),
    numsync: s.numsync,
    sync: letters(s.sync),
    numsyncConfirmed: s.confirmed,
    active: letters(s.active),
    syncWanted: s.wanted,
    leaderWanted: s.leaderWanted ?? s.leader,
  }
}
const show = (t: QuorumTransition): Step => [t.type, t.leader, t.num, [...t.names].sort().join('')]

/**
 * The resolver gives `expected`; and, as after a crash between two steps, starting from the
 * state after the first step gives the rest (for steps that keep the leader).
 */
function check(s: S, expected: Step[]): void {
  const got = resolveQuorum(input(s)).map(show)
  assert.deepEqual(got, expected.map(([t, l, n, names]) => [t, l, n, [...names].sort().join('')]), JSON.stringify(s))
  const first = expected[0]
  if (first && first[0] !== 'restart' && first[1] === s.leader) {
    const next = first[0] === 'sync' ? {...s, numsync: first[2], sync: first[3]} : {...s, quorum: first[2], voters: first[3]}
    check(next, expected.slice(1))
  }
}

describe('quorum state resolver: growing', () => {
  test('the first standby is listed before it becomes a voter, then a restart waits for it to be confirmed', () => {
    check({leader: 'a', quorum: 0, voters: '', numsync: 0, sync: '', confirmed: 0, active: 'b', wanted: 2}, [
      ['sync', 'a', 1, 'b'],
      ['restart', 'a', 0, ''],
    ])
    check({leader: 'a', quorum: 0, voters: '', numsync: 1, sync: 'b', confirmed: 1, active: 'b', wanted: 2}, [['quorum', 'a', 0, 'b']])
  })

  test('several standbys at once from an empty list; the quorum covers the ones not confirmed', () => {
    check({leader: 'a', quorum: 0, voters: '', numsync: 0, sync: '', confirmed: 0, active: 'bcd', wanted: 1}, [
      ['sync', 'a', 1, 'bcd'],
      ['restart', 'a', 0, ''],
    ])
    // one of three confirmed, numsync 1: any 2 of the 3 voters must be asked
    check({leader: 'a', quorum: 0, voters: '', numsync: 1, sync: 'bcd', confirmed: 1, active: 'bcd', wanted: 1}, [['quorum', 'a', 2, 'bcd']])
  })

  test('a steady state gives no step', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 1, active: 'b', wanted: 2}, [])
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: 'bc', confirmed: 1, active: 'bc', wanted: 1}, [])
  })

  test('a new standby with synchronous_node_count 1: voters and quorum grow before the list', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 1, active: 'bc', wanted: 1}, [
      ['quorum', 'a', 1, 'bc'],
      ['sync', 'a', 1, 'bc'],
    ])
  })

  test('a new standby with synchronous_node_count 2: numsync grows first, the quorum shrinks once it is confirmed', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 1, active: 'bc', wanted: 2}, [
      ['sync', 'a', 2, 'bc'],
      ['quorum', 'a', 1, 'bc'],
    ])
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 2, sync: 'bc', confirmed: 2, active: 'bc', wanted: 2}, [['quorum', 'a', 0, 'bc']])
  })

  test('names keep the spelling they were added with and compare case-insensitively', () => {
    const got = resolveQuorum(input({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 1, active: 'BC', wanted: 1}))
    assert.deepEqual(
      got.map((t) => [t.type, t.num, [...t.names].sort()]),
      [
        ['quorum', 1, ['C', 'b']],
        ['sync', 1, ['C', 'b']],
      ],
    )
  })

  test('four standbys join a one-standby cluster wanting two', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 1, active: 'bcde', wanted: 2}, [
      ['sync', 'a', 2, 'bc'],
      ['quorum', 'a', 3, 'bcde'],
      ['sync', 'a', 2, 'bcde'],
    ])
    check({leader: 'a', quorum: 3, voters: 'bcde', numsync: 2, sync: 'bcde', confirmed: 3, active: 'bcde', wanted: 2}, [['quorum', 'a', 2, 'bcde']])
  })
})

describe('quorum state resolver: shrinking', () => {
  test('the only standby goes away: voters empty first, then the list', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 0, active: '', wanted: 1}, [
      ['quorum', 'a', 0, ''],
      ['sync', 'a', 0, ''],
    ])
  })

  test('the standby is replaced by another', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 1, sync: 'b', confirmed: 0, active: 'c', wanted: 1}, [
      ['quorum', 'a', 0, ''],
      ['sync', 'a', 1, 'c'],
      ['restart', 'a', 0, ''],
    ])
  })

  test('two of four standbys gone with a quorum of two', () => {
    check({leader: 'a', quorum: 2, voters: 'bcde', numsync: 2, sync: 'bcde', confirmed: 2, active: 'bc', wanted: 2}, [
      ['sync', 'a', 2, 'bc'],
      ['quorum', 'a', 0, 'bc'],
    ])
    check({leader: 'a', quorum: 2, voters: 'bcde', numsync: 2, sync: 'bcde', confirmed: 2, active: 'bc', wanted: 1}, [
      ['sync', 'a', 2, 'bc'],
      ['quorum', 'a', 1, 'bc'],
      ['sync', 'a', 1, 'bc'],
    ])
  })

  test('a standby that got the nosync tag leaves the voters, then the list', () => {
    check({leader: 'a', quorum: 0, voters: 'bc', numsync: 2, sync: 'bc', confirmed: 1, active: 'b', wanted: 2}, [
      ['quorum', 'a', 0, 'b'],
      ['sync', 'a', 1, 'b'],
    ])
  })

  test('a standby swapped for a new one with synchronous_node_count 2', () => {
    check({leader: 'a', quorum: 0, voters: 'bc', numsync: 2, sync: 'bc', confirmed: 1, active: 'bd', wanted: 2}, [
      ['quorum', 'a', 0, 'b'],
      ['sync', 'a', 2, 'bd'],
      ['quorum', 'a', 1, 'bd'],
    ])
  })

  test('three of five gone while numsync was four', () => {
    check({leader: 'a', quorum: 1, voters: 'bcdef', numsync: 4, sync: 'bcdef', confirmed: 2, active: 'bcd', wanted: 2}, [
      ['sync', 'a', 4, 'bcde'],
      ['quorum', 'a', 1, 'bcd'],
      ['sync', 'a', 2, 'bcd'],
    ])
  })
})

describe('quorum state resolver: synchronous_node_count changes', () => {
  test('raised: numsync first', () => {
    check({leader: 'a', quorum: 2, voters: 'bcde', numsync: 2, sync: 'bcde', confirmed: 2, active: 'bcde', wanted: 3}, [['sync', 'a', 3, 'bcde']])
    check({leader: 'a', quorum: 2, voters: 'bcde', numsync: 3, sync: 'bcde', confirmed: 3, active: 'bcde', wanted: 3}, [['quorum', 'a', 1, 'bcde']])
  })

  test('lowered: the quorum first', () => {
    check({leader: 'a', quorum: 0, voters: 'bc', numsync: 2, sync: 'bc', confirmed: 2, active: 'bc', wanted: 1}, [
      ['quorum', 'a', 1, 'bc'],
      ['sync', 'a', 1, 'bc'],
    ])
    check({leader: 'a', quorum: 2, voters: 'bcdef', numsync: 4, sync: 'bcdef', confirmed: 3, active: 'bcdef', wanted: 2}, [
      ['quorum', 'a', 3, 'bcdef'],
      ['sync', 'a', 2, 'bcdef'],
    ])
  })

  test('lowered while a standby joins', () => {
    check({leader: 'a', quorum: 2, voters: 'bcde', numsync: 2, sync: 'bcde', confirmed: 2, active: 'bcdef', wanted: 1}, [
      ['quorum', 'a', 4, 'bcdef'],
      ['sync', 'a', 1, 'bcdef'],
    ])
  })
})

describe('quorum state resolver: interrupted rounds', () => {
  test('the list grew but the new standby went away again', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 2, sync: 'bc', confirmed: 1, active: 'b', wanted: 2}, [['sync', 'a', 1, 'b']])
  })
  test('the list grew and the new standby is there but not confirmed', () => {
    check({leader: 'a', quorum: 0, voters: 'b', numsync: 2, sync: 'bc', confirmed: 1, active: 'bc', wanted: 2}, [['quorum', 'a', 1, 'bc']])
  })
  test('the voters grew but the list did not', () => {
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: 'b', confirmed: 1, active: 'b', wanted: 1}, [['quorum', 'a', 0, 'b']])
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: 'b', confirmed: 1, active: 'bc', wanted: 1}, [['sync', 'a', 1, 'bc']])
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: 'b', confirmed: 1, active: 'bcd', wanted: 1}, [
      ['sync', 'a', 1, 'bc'],
      ['quorum', 'a', 2, 'bcd'],
      ['sync', 'a', 1, 'bcd'],
    ])
  })
  test('an unsafe pair (quorum too low) is repaired by raising the quorum', () => {
    assert.deepEqual(resolveQuorum(input({leader: 'a', quorum: 0, voters: 'bc', numsync: 1, sync: 'bc', confirmed: 1, active: 'bc', wanted: 1})).map(show), [
      ['quorum', 'a', 1, 'bc'],
    ])
  })
  test('sets changed behind our back are realigned on the list', () => {
    assert.deepEqual(resolveQuorum(input({leader: 'a', quorum: 1, voters: 'bc', numsync: 2, sync: 'bd', confirmed: 1, active: 'bd', wanted: 1})).map(show), [
      ['quorum', 'a', 1, 'bd'],
      ['sync', 'a', 1, 'bd'],
    ])
  })
  test('more standbys wanted than join at once: numsync and quorum stay safe (Patroni fails here)', () => {
    check({leader: 'a', quorum: 1, voters: 'df', numsync: 1, sync: 'df', confirmed: 2, active: 'cdf', wanted: 3}, [
      ['sync', 'a', 2, 'cdf'],
      ['quorum', 'a', 1, 'cdf'],
      ['sync', 'a', 3, 'cdf'],
    ])
    // the quorum drops to 0 once c is confirmed too
    check({leader: 'a', quorum: 1, voters: 'cdf', numsync: 3, sync: 'cdf', confirmed: 3, active: 'cdf', wanted: 3}, [['quorum', 'a', 0, 'cdf']])
  })
})

describe('quorum state resolver: leader change', () => {
  test('c won the race among b, c, d with quorum 2: a becomes a voter, the list names a, b, d', () => {
    check({leader: 'a', quorum: 2, voters: 'bcd', numsync: 0, sync: '', confirmed: 0, active: '', wanted: 1, leaderWanted: 'c'}, [
      ['sync', 'a', 1, 'abd'],
      ['quorum', 'c', 2, 'abd'],
    ])
    // next round: b is back
    check({leader: 'c', quorum: 2, voters: 'abd', numsync: 1, sync: 'abd', confirmed: 0, active: 'b', wanted: 1}, [
      ['sync', 'c', 1, 'b'],
      ['quorum', 'c', 0, 'b'],
    ])
    // or nobody came back
    check({leader: 'c', quorum: 2, voters: 'abd', numsync: 1, sync: 'abd', confirmed: 0, active: '', wanted: 1}, [
      ['quorum', 'c', 0, ''],
      ['sync', 'c', 0, ''],
    ])
  })

  test('d outside the voters won with enough votes: the former leader joins, numsync rises', () => {
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 0, sync: '', confirmed: 0, active: '', wanted: 1, leaderWanted: 'd'}, [
      ['sync', 'a', 2, 'abc'],
      ['quorum', 'd', 1, 'abc'],
    ])
    check({leader: 'd', quorum: 1, voters: 'abc', numsync: 2, sync: 'abc', confirmed: 0, active: 'bc', wanted: 1}, [
      ['sync', 'd', 2, 'bc'],
      ['quorum', 'd', 1, 'bc'],
      ['sync', 'd', 1, 'bc'],
    ])
  })

  test('the promoted node already set its list before promotion', () => {
    // synchronous_standby_names of the new leader c names b (set before promotion), /sync still says a
    check({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: '', confirmed: 0, active: '', wanted: 1, leaderWanted: 'c'}, [
      ['sync', 'a', 1, 'ab'],
      ['quorum', 'c', 1, 'ab'],
    ])
  })
})

/** A tiny deterministic generator, so a failure names its seed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

describe('quorum state resolver: properties', () => {
  const pool = 'bcdef'
  const subset = (r: () => number) => [...pool].filter(() => r() < 0.5).join('')

  test('from any safe state, with standbys coming and going, every step keeps the invariant and rounds converge', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const r = rng(seed)
      let st = {leader: 'a', quorum: 0, voters: new NameSet(), numsync: 0, sync: new NameSet()}
      // The standbys confirmed: listed, and present in the round that listed them (a simplification of PostgreSQL
      // reporting them as quorum standbys).
      for (let round = 0; round < 12; round++) {
        const active = round >= 9 ? st.sync.size ? [...st.sync].join('') + subset(r) : subset(r) : subset(r)
        const wanted = 1 + Math.floor(r() * 3)
        for (let pass = 0; pass < 6; pass++) {
          const confirmed = st.sync.and(new NameSet(active)).size
          const steps = resolveQuorum({
            leader: st.leader,
            quorum: st.quorum,
            voters: st.voters,
            numsync: st.numsync,
            sync: st.sync,
            numsyncConfirmed: confirmed,
            active,
            syncWanted: wanted,
            leaderWanted: 'a',
          })
          for (const t of steps) {
            if (t.type === 'restart') break
            st = t.type === 'sync' ? {...st, numsync: t.num, sync: new NameSet(t.names)} : {...st, quorum: t.num, voters: new NameSet(t.names)}
            assert.ok(quorumInvariantHolds(st), `seed ${seed} round ${round}: unsafe state after ${JSON.stringify(t)}`)
          }
          if (!steps.length) break
        }
        // Converged: sync = voters = active, numsync = min(wanted, |active|), quorum = |active| - numsync.
        const a = new NameSet(active)
        assert.ok(st.sync.equals(a) && st.voters.equals(a), `seed ${seed} round ${round}: sets ${st.sync.sorted()} / ${st.voters.sorted()} != ${active}`)
        assert.equal(st.numsync, Math.min(wanted, a.size), `seed ${seed} round ${round}: numsync`)
        assert.equal(st.quorum, a.size - st.numsync, `seed ${seed} round ${round}: quorum`)
      }
    }
  })

  test('the invariant check itself', () => {
    assert.ok(quorumInvariantHolds({leader: 'a', quorum: 1, voters: 'bc', numsync: 1, sync: 'bc'}))
    assert.ok(!quorumInvariantHolds({leader: 'a', quorum: 0, voters: 'bc', numsync: 1, sync: 'bc'}))
    assert.ok(quorumInvariantHolds({leader: 'a', quorum: 0, voters: '', numsync: 0, sync: ''}))
  })
})
