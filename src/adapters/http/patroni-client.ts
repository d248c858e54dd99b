/**
 * One HTTP(S) request to a member's Patroni-compatible REST API: the api_url's path is replaced by
 * the endpoint, no connection is reused, and the socket times out after `timeoutMs` of silence.
 * Used by the ctl commands (patronictl's PatroniRequest) and by the agent (peer status in the
 * leader race, the unique-name check, POST /failsafe).
 */
import type {IncomingMessage} from 'node:http'
import {VERSION} from '../../build-info'
import type {PatroniRest, RestOptions, RestRequest, RestResponse} from '../../ports/patroni-rest'

/** One request to a member's REST API. Network failures and timeouts throw (message says which). */
export async function patroniRequest(
  apiUrl: string,
  opts: RestOptions,
  req: RestRequest = {},
): Promise<RestResponse> {
  let url: URL
  try {
    url = new URL(apiUrl)
  } catch {
    throw new Error(`api_url ${JSON.stringify(apiUrl)} is not a URL`)
  }
  if (req.endpoint !== undefined) url = new URL(`${url.protocol}//${url.host}/${req.endpoint}`)
  const https = url.protocol === 'https:'
  const mod = https ? await import('node:https') : await import('node:http')
  const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body)
  const headers: Record<string, string> = {'user-agent': `hactl/${VERSION}`}
  if (opts.authorization) headers['authorization'] = opts.authorization
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  return new Promise<RestResponse>((resolve, reject) => {
    const r = mod.request(
      url,
      {
        method: req.method ?? 'GET',
        agent: false,
        headers,
        timeout: opts.timeoutMs,
        ...(https ? {ca: opts.ca, cert: opts.cert, key: opts.key, passphrase: opts.passphrase, rejectUnauthorized: !opts.insecure} : {}),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8')}))
        res.on('error', reject)
      },
    )
    r.on('timeout', () => r.destroy(new Error(`no answer from ${url.host} within ${opts.timeoutMs} ms`)))
    r.on('error', reject)
    r.end(body)
  })
}

/** The PatroniRest port over patroniRequest. */
export const httpPatroniRest: PatroniRest = {request: patroniRequest}
