/**
 * Quorum commit (`synchronous_mode: quorum`, Patroni 4; docs/ha-rules.md#quorum-commit): the state
 * machine that moves synchronous_standby_names (`ANY numsync (sync...)`) and the `/sync` key
 * (`quorum` of `voters`) towards what the cluster needs, one safe step at a time. Patroni's
 * patroni/quorum.py QuorumStateResolver is the reference; this is the same algorithm in this
 * repository's terms.
 *
 * The invariant kept at every step: any set of nodes that can acknowledge a commit (the primary
 * plus `numsync` of `sync`) overlaps any set that can win a leader race (`quorum` of `voters` plus
 * the node racing), i.e. |voters ∪ sync ∪ {leader}| <= quorum + numsync + 1. An increase of
 * either number is written before the matching decrease elsewhere; nodes join the side that keeps
 * the two sets nested (one a subset of the other).
 */

/** A set of member names compared case-insensitively that remembers the last spelling added. */
export class NameSet implements Iterable<string> {
  private readonly byKey = new Map<string, string>()
  constructor(names: Iterable<string> = []) {
    for (const n of names) this.add(n)
  }
  add(name: string): void {
    this.byKey.set(name.toLowerCase(), name)
  }
  has(name: string): boolean {
    return this.byKey.has(name.toLowerCase())
  }
  get size(): number {
    return this.byKey.size
  }
  [Symbol.iterator](): Iterator<string> {
    return this.byKey.values()
  }
  union(other: Iterable<string>): NameSet {
    return new NameSet([...this, ...other])
  }
  minus(other: NameSet): NameSet {
    return new NameSet([...this].filter((n) => !other.has(n)))
  }
  and(other: NameSet): NameSet {
    return new NameSet([...this].filter((n) => other.has(n)))
  }
  subsetOf(other: NameSet): boolean {
    return [...this].every((n) => other.has(n))
  }
  equals(other: NameSet): boolean {
    return this.size === other.size && this.subsetOf(other)
  }
  /** Proper subset. */
  lessThan(other: NameSet): boolean {
    return this.size < other.size && this.subsetOf(other)
  }
  sorted(): string[] {
    return [...this].sort()
  }
}

export interface QuorumInput {
  /** `/sync`'s leader. */
  leader: string
  /** `/sync`'s quorum. */
  quorum: number
  /** `/sync`'s sync_standby: the voters. */
  voters: Iterable<string>
  /** The number in the running synchronous_standby_names. */
  numsync: number
  /** The names in the running synchronous_standby_names. */
  sync: Iterable<string>
  /** How many listed standbys are proven to have reached the primary's position since they were listed. */
  numsyncConfirmed: number
  /** Standbys streaming from the primary that may be listed (pickQuorumStandbys' `active`). */
  active: Iterable<string>
  /** synchronous_node_count. */
  syncWanted: number
  /** Who should be the leader: the node running this (differs from `leader` right after a failover). */
  leaderWanted: string
}

/**
 * One step. `sync`: set synchronous_standby_names to `ANY num (names)`; `quorum`: write `/sync`
 * as {leader, quorum: num, sync_standby: names}; `restart`: stop here, look at the world again
 * (a standby was just listed and may be confirmed in a moment) and run the resolver anew.
 */
export interface QuorumTransition {
  type: 'sync' | 'quorum' | 'restart'
  leader: string
  num: number
  names: string[]
}

export class QuorumError extends Error {}

class Resolver {
  leader: string
  quorum: number
  voters: NameSet
  numsync: number
  sync: NameSet
  numsyncConfirmed: number
  readonly active: NameSet
  readonly syncWanted: number
  readonly leaderWanted: string

  constructor(i: QuorumInput) {
    this.leader = i.leader
    this.quorum = i.quorum
    this.voters = new NameSet(i.voters)
    this.sync = new NameSet(i.sync)
    // numsync cannot exceed the number of listed names.
    this.numsync = Math.min(i.numsync, this.sync.size)
    this.numsyncConfirmed = i.numsyncConfirmed
    this.active = new NameSet(i.active)
    this.syncWanted = i.syncWanted
    this.leaderWanted = i.leaderWanted
  }

  checkInvariants(): void {
    const voters = this.voters.union([this.leader])
    const sync = this.sync.union([this.leaderWanted])
    const all = voters.union(sync)
    if (this.voters.size && all.size > this.quorum + this.numsync + 1) {
      throw new QuorumError(`Quorum and sync not guaranteed to overlap: nodes ${all.size} >= quorum ${this.quorum} + sync ${this.numsync} + 1`)
    }
    if (!(voters.subsetOf(sync) || sync.subsetOf(voters))) {
      throw new QuorumError(`Mismatched sets: voter only=${voters.minus(sync).sorted().join(',')} sync only=${sync.minus(voters).sorted().join(',')}`)
    }
  }

  *quorumUpdate(quorum: number, voters: NameSet, leader?: string, adjustQuorum = true): Generator<QuorumTransition> {
    if (quorum < 0) throw new QuorumError(`Quorum ${quorum} < 0 of (${voters.sorted().join(',')})`)
    if (quorum > 0 && quorum >= voters.size) throw new QuorumError(`Quorum ${quorum} >= N of (${voters.sorted().join(',')})`)
    const oldLeader = this.leader
    if (leader !== undefined) {
      this.leader = leader
    } else if (this.numsyncConfirmed === 0 && this.voters.size === 0) {
      // Nobody is known to have caught up: /sync keeps no voters.
      quorum = 0
      voters = new NameSet()
    } else if (adjustQuorum) {
      // Fewer standbys confirmed than listed: a higher quorum makes sure the race still finds one.
      quorum += Math.max(this.numsync - this.numsyncConfirmed, 0)
    }
    if (this.leader === oldLeader && quorum === this.quorum && voters.equals(this.voters)) {
      if (this.voters.size) return
      // Nothing to write: tell the caller to look at the world again.
      yield {type: 'restart', leader: this.leader, num: this.quorum, names: [...this.voters]}
    }
    this.quorum = quorum
    this.voters = voters
    this.checkInvariants()
    yield {type: 'quorum', leader: this.leader, num: this.quorum, names: [...this.voters]}
  }

  *syncUpdate(numsync: number, sync: NameSet): Generator<QuorumTransition> {
    if (numsync < 0) throw new QuorumError(`Sync ${numsync} < 0 of (${sync.sorted().join(',')})`)
    if (numsync > sync.size) throw new QuorumError(`Sync ${numsync} > N of (${sync.sorted().join(',')})`)
    this.numsync = numsync
    this.sync = sync
    this.checkInvariants()
    yield {type: 'sync', leader: this.leader, num: this.numsync, names: [...this.sync]}
  }

  /** Finishes a sequence that an earlier round left half done. */
  *nonSteady(): Generator<QuorumTransition> {
    if (this.sync.lessThan(this.voters)) {
      // voters grew first: drop dead voters that are not listed, then list the live ones.
      const removeFromVoters = this.voters.minus(this.sync.union(this.active))
      if (removeFromVoters.size) {
        yield* this.quorumUpdate(
          this.voters.size - removeFromVoters.size - this.numsync,
          this.voters.minus(removeFromVoters),
          undefined,
          this.sync.minus(this.active).size === 0,
        )
      }
      const addToSync = this.voters.and(this.active).minus(this.sync)
      if (addToSync.size) yield* this.syncUpdate(this.numsync, this.sync.union(addToSync))
    } else if (this.voters.lessThan(this.sync)) {
      // the list grew first: voters follow for the live ones, the dead leave the list.
      const dead = this.sync.minus(this.active)
      const kept = this.sync.minus(dead)
      if (dead.size && kept.size && (this.voters.size === 0 || kept.and(this.voters).size)) {
        yield* this.syncUpdate(Math.min(this.numsync, this.sync.size - dead.size), kept)
      }
      const addToVoters = this.sync.minus(this.voters).and(this.active)
      if (addToVoters.size) {
        const voters = this.voters.union(addToVoters)
        yield* this.quorumUpdate(voters.size - this.numsync, voters)
      }
      const removeFromSync = this.sync.minus(this.voters)
      if (removeFromSync.size) {
        yield* this.syncUpdate(Math.min(this.numsync, this.sync.size - removeFromSync.size), this.sync.minus(removeFromSync))
      }
    }
    if (!this.voters.equals(this.sync)) throw new Error(`quorum resolver: voters ${this.voters.sorted()} != sync ${this.sync.sorted()}`)

    const all = this.voters.union(this.sync).size
    if (this.quorum + Math.min(this.numsync, this.numsyncConfirmed) - all > 0) {
      // In the middle of a change of the replication factor.
      if (this.numsync > this.syncWanted) {
        yield* this.syncUpdate(Math.max(this.syncWanted, this.voters.size - this.quorum), this.sync)
      } else {
        yield* this.quorumUpdate(this.sync.size - this.numsync, this.voters)
      }
    } else if (this.numsync === this.syncWanted && this.quorum + this.numsync - all > 0 && this.numsync > this.numsyncConfirmed) {
      yield* this.quorumUpdate(this.sync.size - this.numsync, this.voters)
    }
  }

  *removeGone(): Generator<QuorumTransition> {
    let toRemove = this.sync.minus(this.active)
    if (toRemove.size && this.sync.equals(toRemove)) {
      yield* this.quorumUpdate(0, new NameSet(), undefined, false)
      yield* this.syncUpdate(0, new NameSet())
      return
    }
    if (!toRemove.size) return
    if (this.quorum) {
      // Lower the quorum first, as far as it goes (names in reverse order, for determinism).
      const remove = new NameSet([...toRemove].sort().reverse().slice(0, this.quorum))
      const sync = this.sync.minus(remove)
      // Removing from the list may go together with raising numsync when that is wanted.
      const numsync = Math.min(this.syncWanted > this.numsync ? this.syncWanted : this.numsync, sync.size)
      yield* this.syncUpdate(numsync, sync)
      const voters = this.voters.minus(remove)
      toRemove = toRemove.and(this.sync)
      yield* this.quorumUpdate(voters.size - this.numsync, voters, undefined, toRemove.size === 0)
    }
    if (toRemove.size) {
      if (this.quorum !== 0) throw new Error(`quorum resolver: quorum ${this.quorum} != 0 while removing nodes`)
      const numsync = this.numsync - toRemove.size
      const sync = this.sync.minus(toRemove)
      const voters = this.voters.minus(toRemove)
      const syncDecrease = numsync - Math.min(this.syncWanted, sync.size)
      const quorum = syncDecrease ? Math.min(syncDecrease, voters.size - 1) : 0
      yield* this.quorumUpdate(quorum, voters, undefined, false)
      yield* this.syncUpdate(numsync, sync)
    }
  }

  *addNew(): Generator<QuorumTransition> {
    let toAdd = this.active.minus(this.sync)
    if (!toAdd.size) return
    const syncWanted = Math.min(this.syncWanted, this.sync.union(toAdd).size)
    let increase = syncWanted - this.numsync
    if (increase > 0) {
      let add: NameSet
      if (this.sync.size) {
        add = new NameSet(toAdd.sorted().slice(0, increase))
        increase = add.size
      } else {
        // Only the leader so far: every new node may join at once.
        add = toAdd
      }
      yield* this.syncUpdate(this.numsync + increase, this.sync.union(add))
      const voters = this.voters.union(add)
      // Patroni subtracts the wanted count here; when fewer names joined than numsync was meant to
      // grow by, that quorum breaks the invariant and its resolver fails on every cycle (e.g. voters
      // d,f at ANY 1 when c joins and synchronous_node_count goes to 3 at once). The numsync just
      // written is what the quorum must complement; replicationFactor() raises numsync after.
      yield* this.quorumUpdate(voters.size - this.numsync, voters)
      toAdd = toAdd.minus(this.sync)
    }
    if (toAdd.size) {
      const voters = this.voters.union(toAdd)
      yield* this.quorumUpdate(voters.size - syncWanted, voters, undefined, syncWanted > this.numsyncConfirmed)
      yield* this.syncUpdate(syncWanted, this.sync.union(toAdd))
    }
  }

  *replicationFactor(): Generator<QuorumTransition> {
    const increase = Math.min(this.syncWanted, this.sync.size) - this.numsync
    if (increase > 0) {
      yield* this.syncUpdate(this.numsync + increase, this.sync)
      yield* this.quorumUpdate(this.voters.size - this.numsync, this.voters)
    } else if (increase < 0) {
      if (this.quorum - increase < this.voters.size) {
        yield* this.quorumUpdate(this.voters.size - this.numsync - increase, this.voters, undefined, this.syncWanted > this.numsyncConfirmed)
      }
      yield* this.syncUpdate(this.numsync + increase, this.sync)
    }
  }

  *generate(): Generator<QuorumTransition> {
    try {
      if (this.leaderWanted !== this.leader) {
        // A failover: the former leader becomes a voter, the new one leaves the voters.
        const voters = this.voters.minus(new NameSet([this.leaderWanted])).union([this.leader])
        if (!this.sync.size) yield* this.syncUpdate(voters.size - this.quorum, voters)
        yield* this.quorumUpdate(this.quorum, voters, this.leaderWanted)
        // Right after a promotion nobody may be connected yet: give them a loop to come back.
        if (!this.sync.and(this.active).size) return
      } else {
        this.checkInvariants()
      }
    } catch (e) {
      if (!(e instanceof QuorumError)) throw e
      yield* this.quorumUpdate(this.sync.size - this.numsync, this.sync)
    }
    if (this.numsyncConfirmed === 0 && this.sync.and(this.active).size) {
      // After a restart or failover nobody is confirmed yet: what the quorum proves counts.
      this.numsyncConfirmed = Math.min(this.sync.and(this.active).size, this.voters.size - this.quorum)
    }
    yield* this.nonSteady()
    yield* this.removeGone()
    yield* this.addNew()
    yield* this.replicationFactor()
  }
}

/**
 * The steps from the current state to the wanted one, in the order they must be applied. Two
 * consecutive steps of the same type are merged into the later one (nobody can have seen the
 * intermediate value); a `restart` ends the list. Throws QuorumError only for input that no
 * step can repair (a negative number); the caller logs it and tries again next cycle.
 */
export function resolveQuorum(input: QuorumInput): QuorumTransition[] {
  const all = [...new Resolver(input).generate()]
  const out: QuorumTransition[] = []
  for (let k = 0; k < all.length; k++) {
    if (k + 1 < all.length && all[k + 1].type === all[k].type) continue
    out.push(all[k])
    if (all[k].type === 'restart') break
  }
  return out
}

/** The invariant of a (synchronous_standby_names, `/sync`) pair, for tests and the simulator. */
export function quorumInvariantHolds(s: {leader: string; quorum: number; voters: Iterable<string>; numsync: number; sync: Iterable<string>}): boolean {
  const voters = new NameSet(s.voters)
  const sync = new NameSet(s.sync)
  if (!voters.size) return true
  return voters.union(sync).union([s.leader]).size <= s.quorum + Math.min(s.numsync, sync.size) + 1
}

/** What the lock holder sees for one round of quorum upkeep (patroni/ha.py _process_quorum_replication). */
export interface QuorumView {
  me: string
  /** `/sync`: leader (null = empty key or none), quorum and voters. */
  keyLeader: string | null
  keyQuorum: number
  keyVoters: readonly string[]
  /** The running synchronous_standby_names, parsed (core/sync.ts parseSsn). */
  live: {kind: 'off' | 'priority' | 'any'; num: number; members: readonly string[]; hasStar: boolean}
  /** pickQuorumStandbys' answer. */
  active: readonly string[]
  confirmed: readonly string[]
  /** synchronous_node_count. */
  nodeCount: number
  strict: boolean
}

/**
 * One step of quorum upkeep. `enable-sync`: write `/sync` = {leader: me} (CAS), as Patroni's
 * _maybe_enable_synchronous_mode does for an empty key; `write-sync`: `/sync` = {leader, quorum,
 * sync_standby: voters} (CAS); `set-ssn`: synchronous_standby_names = formatQuorumSsn(num, names);
 * `restart`: look at the world again in a moment; `error`: the state could not be resolved (logged,
 * nothing written).
 */
export type QuorumStep =
  | {type: 'enable-sync'}
  | {type: 'write-sync'; leader: string; quorum: number; voters: string[]}
  | {type: 'set-ssn'; num: number; names: string[]}
  | {type: 'restart'}
  | {type: 'strict-hold'; names: string[]}
  | {type: 'error'; message: string}

/**
 * The steps of one quorum upkeep round, in order, from one look at the world. When `/sync` is
 * empty the only step is `enable-sync` (the caller writes it and asks again). Strict mode with
 * fewer active standbys than it needs keeps listing the voters (or the placeholder) so commits
 * wait instead of going unconfirmed. Otherwise the resolver's transitions follow, and a list
 * still in priority form is rewritten as `ANY` (FIRST -> ANY).
 */
export function quorumUpkeepSteps(v: QuorumView): QuorumStep[] {
  if (!v.keyLeader) return [{type: 'enable-sync'}]
  const minSync = v.strict ? 1 : 0
  const sync = v.live.hasStar ? ['__patroni_strict_sync_replica_placeholder__'] : [...v.live.members]
  const numsync = Math.min(v.live.num, sync.length)
  const steps: QuorumStep[] = []
  if (v.keyLeader.toLowerCase() === v.me.toLowerCase()) {
    if (v.active.length < minSync) {
      const voters = new NameSet(v.keyVoters)
      const want = Math.max(minSync, voters.size - v.keyQuorum)
      if (!voters.equals(new NameSet(sync)) || want !== numsync || v.live.kind !== 'any') {
        steps.push({type: 'set-ssn', num: want, names: [...voters]})
      }
      steps.push({type: 'strict-hold', names: [...voters]})
      return steps
    }
    if (minSync === 0 && v.active.length === 0 && v.keyVoters.length === 0 && (sync.length || numsync)) {
      steps.push({type: 'set-ssn', num: 0, names: []})
      return steps
    }
  }
  let transitions: QuorumTransition[]
  try {
    transitions = resolveQuorum({
      leader: v.keyLeader,
      quorum: v.keyQuorum,
      voters: v.keyVoters,
      numsync,
      sync,
      numsyncConfirmed: v.confirmed.length,
      active: v.active,
      syncWanted: v.nodeCount,
      leaderWanted: v.me,
    })
  } catch (e) {
    return [...steps, {type: 'error', message: e instanceof Error ? e.message : String(e)}]
  }
  for (const t of transitions) {
    if (t.type === 'quorum') steps.push({type: 'write-sync', leader: t.leader, quorum: t.num, voters: [...t.names]})
    else if (t.type === 'sync') steps.push({type: 'set-ssn', num: t.num, names: [...t.names]})
    else steps.push({type: 'restart'})
  }
  if (transitions.length === 0 && v.live.kind === 'priority' && sync.length) steps.push({type: 'set-ssn', num: numsync, names: sync})
  return steps
}

/**
 * synchronous_standby_names to set before promotion in quorum commit mode (patroni/ha.py
 * _process_quorum_prepromote): the other `/sync` members (the former leader among them) with a
 * count that keeps the invariant of the `/sync` still in force; the resolver takes over once
 * this node leads. `quorum` counts only when `/sync` names a leader.
 */
export function quorumPrepromoteSsn(me: string, sync: {leader: string | null; quorum: number; voters: readonly string[]}, strict: boolean): {num: number; names: string[]} {
  const quorum = sync.leader ? sync.quorum : 0
  const members = new NameSet(sync.leader ? [sync.leader, ...sync.voters] : [])
  let num = members.size - quorum - 1
  const names = members.minus(new NameSet([me]))
  if (names.size === members.size) num += 1 // promoted from outside the voters (manual failover, or it won the votes)
  return {num: Math.max(num, strict ? 1 : 0), names: [...names]}
}
