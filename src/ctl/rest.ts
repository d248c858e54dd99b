/**
 * The REST client of the ctl commands (patronictl's PatroniRequest): requests go to a member's
 * api_url, with the path replaced by the endpoint; Basic auth from ctl.authentication, else
 * restapi.authentication; CA from ctl.cacert, else restapi.cafile; client certificate from
 * ctl.certfile/keyfile/keyfile_password; certificates verified unless insecure.
 */
import {readFileSync} from 'node:fs'
import type {IncomingMessage} from 'node:http'
import {VERSION} from '../build-info'
import {HactlError, errorMessage} from '../errors'
import type {CtlContext} from './context'

export interface RestOptions {
  authorization?: string
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  passphrase?: string
  insecure: boolean
  timeoutMs: number
}

function section(raw: Record<string, unknown>, name: string): Record<string, unknown> {
  const s = raw[name]
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : {}
}

function readPem(path: unknown, key: string): Buffer | undefined {
  if (typeof path !== 'string' || path === '') return undefined
  try {
    return readFileSync(path)
  } catch (e) {
    throw new HactlError('CONFIG_INVALID', `${key}: cannot read ${JSON.stringify(path)}: ${errorMessage(e)}`)
  }
}

export function restOptions(ctx: CtlContext): RestOptions {
  const ctl = section(ctx.raw, 'ctl')
  const restapi = section(ctx.raw, 'restapi')
  const auth = section(ctl, 'authentication')['username'] !== undefined ? section(ctl, 'authentication') : section(restapi, 'authentication')
  const o: RestOptions = {insecure: ctx.insecure, timeoutMs: ctx.retryTimeout * 1000}
  if (typeof auth['username'] === 'string') {
    o.authorization = 'Basic ' + Buffer.from(`${auth['username']}:${String(auth['password'] ?? '')}`).toString('base64')
  }
  o.ca = ctl['cacert'] !== undefined ? readPem(ctl['cacert'], 'ctl.cacert') : readPem(restapi['cafile'], 'restapi.cafile')
  o.cert = readPem(ctl['certfile'], 'ctl.certfile')
  if (o.cert) {
    o.key = readPem(ctl['keyfile'], 'ctl.keyfile')
    if (typeof ctl['keyfile_password'] === 'string') o.passphrase = ctl['keyfile_password']
  }
  return o
}

export interface RestResponse {
  status: number
  body: string
}

/** One request to a member's REST API. Network failures and timeouts throw (message says which). */
export async function patroniRequest(
  apiUrl: string,
  opts: RestOptions,
  req: {method?: string; endpoint?: string; body?: unknown} = {},
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
