/**
 * How the ctl commands talk to members' REST APIs (patronictl's PatroniRequest): Basic auth from
 * ctl.authentication, else restapi.authentication; CA from ctl.cacert, else restapi.cafile;
 * client certificate from ctl.certfile/keyfile/keyfile_password; certificates verified unless
 * insecure. The request itself goes through the PatroniRest port (CtlPorts.rest).
 */
import {readFileSync} from 'node:fs'
import {HactlError, errorMessage} from '../errors'
import type {RestOptions} from '../ports/patroni-rest'
import type {CtlContext} from './context'

export type {RestOptions, RestResponse} from '../ports/patroni-rest'

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

