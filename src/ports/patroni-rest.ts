/**
 * A member's Patroni-compatible REST API as the ctl commands reach it (patronictl's
 * PatroniRequest): one request, the api_url's path replaced by the endpoint, no connection
 * reuse. The real client is src/adapters/http/patroni-client.ts, built by src/wiring.
 *
 * Contract: network failures and timeouts (`timeoutMs` of silence on the socket) reject, with
 * a message that says which; answers of any HTTP status resolve.
 */
export interface RestOptions {
  authorization?: string
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  passphrase?: string
  insecure: boolean
  timeoutMs: number
}

export interface RestResponse {
  status: number
  body: string
}

export interface RestRequest {
  /** GET when absent. */
  method?: string
  /** Replaces the api_url's path; absent: the api_url as it is. */
  endpoint?: string
  /** Sent as is when a string, as JSON otherwise. */
  body?: unknown
}

export interface PatroniRest {
  request(apiUrl: string, opts: RestOptions, req?: RestRequest): Promise<RestResponse>
}
