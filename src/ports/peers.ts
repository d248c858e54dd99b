/**
 * The other members' REST APIs as the agent reaches them: the status probe of the leader race
 * (Patroni's fetch_node_status, GET /patroni) and failsafe_mode's POST /failsafe.
 *
 * Contract: every call completes within `timeoutMs` (the socket's silence limit) or rejects; a
 * rejection means "unreachable", never "not a member". Answers of any HTTP status resolve. No
 * retries (the callers decide that), no connection reuse, the peer's certificate is not
 * verified (Patroni does not verify it for these calls either).
 */
export interface PeerAnswer {
  status: number
  /** The body as text. */
  body: string
}

export interface Peers {
  /** GET the api_url as the member published it (normally `.../patroni`), as Patroni does. */
  status(apiUrl: string, timeoutMs: number): Promise<PeerAnswer>
  /** POST `<api_url host>/failsafe` with a JSON body. */
  postFailsafe(apiUrl: string, body: unknown, timeoutMs: number): Promise<PeerAnswer>
  /** GET `<api_url host>/liveness` (the unique-name check at start-up). */
  liveness(apiUrl: string, timeoutMs: number): Promise<PeerAnswer>
}
