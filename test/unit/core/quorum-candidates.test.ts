import assert from 'node:assert/strict'
import {describe, test} from 'node:test'
import {isFailoverPossible, isHealthiestNode, manualFailoverNoLeader} from '../../../src/core/candidates'
import {makeCtx} from '../../../src/core/rules/context'
import {MB, cluster, member, obs, peer, pgReplica, type ObsOptions} from './decide-fixtures'

const ctx = (o: ObsOptions) => makeCtx({...obs(o), outcomes: [{type: 'fetch-peer-status'}]})
const QUORUM = {synchronousMode: true, quorumCommit: true}
const SYNC_ON = {synchronousMode: true}

/** A cluster of node1..node4 whose /sync names `leader` with `voters` and `quorum`. */
function view(o: {leader?: string | null; syncLeader?: string; voters: string; quorum: number; failover?: {leader?: string | null; candidate?: string | null}}) {
  const v = cluster({leader: o.leader ?? null, members: ['node1', 'node2', 'node3', 'node4'], sync: {leader: o.syncLeader ?? 'node1', standby: o.voters}, failover: o.failover ?? null})
  v.sync.quorum = o.quorum
  return v
}

describe('quorum commit: the leader race (patroni/ha.py _is_healthiest_node)', () => {
  const pg = pgReplica({walPosition: 100 * MB})

  test('a voter needs `quorum` votes from the other /sync members that are not ahead', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    const ok = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer(), node4: peer()}}))
    assert.equal(ok.answer, 'yes', ok.reason)
    const lone = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({reachable: false}), node4: peer()}}))
    assert.equal(lone.answer, 'no')
    assert.match(lone.reason, /0 quorum vote\(s\) \(none\) of the 1 needed/)
  })

  test('a node outside the voters may race and win with enough votes (not in synchronous_mode on)', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    const both = {node2: peer(), node3: peer()}
    assert.equal(isHealthiestNode(ctx({name: 'node4', view: v, pg, config: QUORUM, peers: both})).answer, 'yes')
    // one vote is not enough for a non-member: it counts itself as -1
    const one = isHealthiestNode(ctx({name: 'node4', view: v, pg, config: QUORUM, peers: {node2: peer(), node3: peer({reachable: false})}}))
    assert.equal(one.answer, 'no', one.reason)
    const on = isHealthiestNode(ctx({name: 'node4', view: v, pg, config: SYNC_ON, peers: both}))
    assert.equal(on.answer, 'no')
    assert.match(on.reason, /not in \/sync/)
  })

  test('a voter ahead of me wins; the former leader ahead does not disqualify me', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    const ahead = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({walPosition: 101 * MB})}}))
    assert.equal(ahead.answer, 'no')
    assert.match(ahead.reason, /node3/)
    const oldLeader = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node1: peer({walPosition: 101 * MB}), node3: peer()}}))
    assert.equal(oldLeader.answer, 'yes', oldLeader.reason)
  })

  test('the former leader may take its lock back alone when nobody is ahead', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    const me = isHealthiestNode(ctx({name: 'node1', view: v, pg, config: QUORUM, peers: {}}))
    assert.equal(me.answer, 'yes', me.reason)
    const notLeader = isHealthiestNode(ctx({name: 'node2', view: view({voters: 'node2,node3', quorum: 1, syncLeader: 'node1'}), pg, config: QUORUM, peers: {}}))
    assert.equal(notLeader.answer, 'no')
  })

  test('equal WAL and a higher failover_priority: only a voter defers me', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    const voter = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({failoverPriority: 5})}}))
    assert.equal(voter.answer, 'no')
    assert.match(voter.reason, /node3 has equally tolerable WAL position and priority 5/)
    // a non-member with a higher priority is not among the race's members at all; the voter still votes
    const v4 = view({voters: 'node2,node3', quorum: 1})
    const nonVoter = isHealthiestNode(ctx({name: 'node2', view: v4, pg, config: QUORUM, peers: {node3: peer(), node4: peer({failoverPriority: 5})}}))
    assert.equal(nonVoter.answer, 'yes', nonVoter.reason)
  })

  test('a nofailover voter is asked but, being unable to promote, gives no vote', () => {
    const v = view({voters: 'node2,node3', quorum: 1})
    v.members[2] = member('node3', {tags: {nofailover: true}})
    const r = isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({nofailover: true})}}))
    assert.equal(r.answer, 'no')
  })

  test('quorum 0 (ANY n of n): a voter wins without votes', () => {
    const v = view({voters: 'node2,node3', quorum: 0})
    assert.equal(isHealthiestNode(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {}})).answer, 'yes')
  })
})

describe('quorum commit: is a failover possible (patroni/ha.py is_failover_possible)', () => {
  test('enough healthy voters must remain to reach the quorum', () => {
    const v = view({leader: 'node1', voters: 'node2,node3', quorum: 1})
    const both = isFailoverPossible(ctx({name: 'node1', view: v, config: QUORUM, peers: {node2: peer(), node3: peer()}}))
    assert.equal(both.ok, true, both.reason)
    const one = isFailoverPossible(ctx({name: 'node1', view: v, config: QUORUM, peers: {node2: peer(), node3: peer({reachable: false})}}))
    assert.equal(one.ok, false)
    assert.match(one.reason, /Quorum requirement 1 can not be reached/)
    // synchronous_mode on: one healthy /sync member suffices
    assert.equal(isFailoverPossible(ctx({name: 'node1', view: v, config: SYNC_ON, peers: {node2: peer(), node3: peer({reachable: false})}})).ok, true)
  })

  test('a named candidate skips the quorum check (the Patroni 4.0.6 switchover fix)', () => {
    const v = view({leader: 'node1', voters: 'node2,node3', quorum: 1, failover: {leader: 'node1', candidate: 'node2'}})
    const r = isFailoverPossible(ctx({name: 'node1', view: v, config: QUORUM, peers: {node2: peer(), node3: peer({reachable: false})}}), {only: ['node2']})
    assert.equal(r.ok, true, r.reason)
    // excluding the candidate (the former leader's question "can anybody else?") checks the quorum again
    const ex = isFailoverPossible(ctx({name: 'node1', view: v, config: QUORUM, peers: {node2: peer(), node3: peer()}}), {exclude: ['node2', 'node1']})
    assert.equal(ex.ok, false)
  })
})

describe('quorum commit: manual failover without a leader', () => {
  test('a switchover candidate whose leader is gone proves itself as in the race (stricter than Patroni)', () => {
    const v = view({voters: 'node2,node3', quorum: 1, failover: {leader: 'node1', candidate: 'node2'}})
    const pg = pgReplica({walPosition: 100 * MB})
    // a voter with a vote from node3 promotes
    assert.equal(manualFailoverNoLeader(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer()}})).answer, 'yes')
    // without a vote, or with a voter ahead, it waits
    const alone = manualFailoverNoLeader(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({reachable: false})}}))
    assert.equal(alone.answer, 'no')
    assert.match(alone.reason, /switchover candidate node2 waits: quorum commit: 0 quorum vote/)
    assert.equal(manualFailoverNoLeader(ctx({name: 'node2', view: v, pg, config: QUORUM, peers: {node3: peer({walPosition: 101 * MB})}})).answer, 'no')
    // outside the /sync members (as the simulator found: /sync had no voter left) it never promotes
    const out = view({voters: '', quorum: 0, failover: {leader: 'node1', candidate: 'node4'}})
    const r = manualFailoverNoLeader(ctx({name: 'node4', view: out, pg, config: QUORUM, peers: {node2: peer(), node3: peer()}}))
    assert.equal(r.answer, 'no')
    assert.match(r.reason, /not a \/sync member \(node1\)/)
  })

  test('the others wait for a switchover candidate only while it can promote', () => {
    const pg = pgReplica({walPosition: 100 * MB})
    const member = view({voters: 'node2,node3', quorum: 1, failover: {leader: 'node1', candidate: 'node2'}})
    const wait = manualFailoverNoLeader(ctx({name: 'node3', view: member, pg, config: QUORUM, peers: {node2: peer()}}))
    assert.equal(wait.answer, 'no')
    assert.match(wait.reason, /manual failover: to node2, i am node3/)
    // the candidate is behind me: I race (and win with node2's vote)
    const behind = manualFailoverNoLeader(ctx({name: 'node3', view: member, pg, config: QUORUM, peers: {node2: peer({walPosition: 99 * MB})}}))
    assert.equal(behind.answer, 'yes', behind.reason)
    // the candidate is not a member: the members race
    const outside = view({voters: 'node2,node3', quorum: 1, failover: {leader: 'node1', candidate: 'node4'}})
    const race = manualFailoverNoLeader(ctx({name: 'node3', view: outside, pg, config: QUORUM, peers: {node2: peer(), node4: peer()}}))
    assert.equal(race.answer, 'yes', race.reason)
  })

  test('others wait for a healthy candidate; when it is unhealthy, a non-voter may race too', () => {
    const v = view({voters: 'node2,node3', quorum: 1, failover: {candidate: 'node2'}})
    assert.equal(manualFailoverNoLeader(ctx({name: 'node3', view: v, pg: pgReplica(), config: QUORUM, peers: {node2: peer()}})).answer, 'no')
    const r = manualFailoverNoLeader(ctx({name: 'node4', view: v, pg: pgReplica({walPosition: 100 * MB}), config: QUORUM, peers: {node2: peer({reachable: false}), node3: peer()}}))
    // node4 is not a member: it needs quorum + 1 = 2 votes, and only node3 answers
    assert.equal(r.answer, 'no')
    assert.match(r.reason, /quorum vote/)
  })
})
