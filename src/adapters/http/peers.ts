import type {PeerAnswer, Peers} from '../../ports/peers'
import {patroniRequest} from './patroni-client'

/** Peers over node:http(s) (not fetch: undici's parser costs the agent ~14 MB RSS). */
export const httpPeers: Peers = {
  status: (apiUrl, timeoutMs): Promise<PeerAnswer> => patroniRequest(apiUrl, {insecure: true, timeoutMs}),
  postFailsafe: (apiUrl, body, timeoutMs) => patroniRequest(apiUrl, {insecure: true, timeoutMs}, {method: 'POST', endpoint: 'failsafe', body}),
  liveness: (apiUrl, timeoutMs) => patroniRequest(apiUrl, {insecure: true, timeoutMs}, {endpoint: 'liveness'}),
}
