/**
 * A logical replication consumer for the permanent-slot tests (test/integration/agent/
 * replication-slots.test.ts, test/integration/interop/replication-slots-mixed.shared.ts): it
 * reads the `cdc` slot (test_decoding in database postgres) with pg_logical_slot_get_changes,
 * which confirms what it returns, and remembers every slot_probe value it saw and the position it
 * confirmed last, so that a test can check a failover lost or repeated nothing.
 */

/** An LSN text (`16/B374D848`) as a number. */
export function lsn(text: string): bigint {
  const [hi, lo] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

export class CdcConsumer<N> {
  /** Every value of slot_probe the consumer has seen, in order. */
  readonly consumed: number[] = []
  /** The position the consumer confirmed last. */
  confirmed = 0n

  /** `sql(n, query)` runs a query on member n as a superuser and returns psql -At's output. */
  constructor(private readonly sql: (n: N, query: string) => Promise<string>) {}

  private trySql(n: N, q: string): Promise<string | undefined> {
    return this.sql(n, q).catch(() => undefined)
  }

  /** The slot's confirmed_flush_lsn on n, undefined when it is absent there. */
  async position(n: N): Promise<bigint | undefined> {
    const v = await this.trySql(n, "select confirmed_flush_lsn from pg_replication_slots where slot_name = 'cdc' and slot_type = 'logical' and plugin = 'test_decoding' and database = 'postgres'")
    return v ? lsn(v) : undefined
  }

  /** Reads (and so confirms) every change of the slot on n, the primary; returns the new values of slot_probe. */
  async consume(n: N): Promise<number[]> {
    const out = await this.sql(n, "select lsn, data from pg_logical_slot_get_changes('cdc', NULL, NULL)")
    const got: number[] = []
    for (const line of out.split('\n').filter(Boolean)) {
      const [at, data] = line.split('|')
      const m = /table public\.slot_probe: INSERT: v\[integer\]:(\d+)/.exec(data ?? '')
      if (m) got.push(Number(m[1]))
      if (lsn(at!) > this.confirmed) this.confirmed = lsn(at!)
    }
    this.consumed.push(...got)
    return got
  }

  /**
   * What a live consumer does between writes: a checkpoint logs the running transactions, and
   * reading past them lets the slot's restart_lsn move on the primary (so replicas can use a copy).
   */
  async poll(n: N): Promise<void> {
    await this.trySql(n, 'checkpoint')
    if ((await this.trySql(n, 'select pg_is_in_recovery()')) === 'f') await this.consume(n)
  }
}
