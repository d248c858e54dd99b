/**
 * Handlers that ask the other members' REST APIs through the Peers port: their status for the
 * leader race (docs/ha-rules.md#peer-status) and, in failsafe mode, whether they vouch for this
 * primary (docs/ha-rules.md#failsafe-mode).
 */
import type {Action} from '../../core/actions'
import type {Observation, PeerStatus} from '../../core/observation'
import type {Logger} from '../../log/logger'
import type {Peers} from '../../ports/peers'
import type {AgentContext} from '../context'
import {errText, getPeerStatus, peerStatusFrom, slotNameFor} from '../helpers'
import {memberData} from '../publish'
import type {Handler} from './common'

type Of<K extends Action['type']> = Extract<Action, {type: K}>

/** branching: `GET /patroni` of `members` (2 s each, in parallel; patroni/ha.py Ha.fetch_nodes_statuses). */
export const fetchPeerStatus: Handler<Of<'fetch-peer-status'>> = async (a, _obs, x) => {
  const {log} = x
  const peers = await fetchPeers(x.peers, a.members, log)
  log.debug(`peer status: ${Object.entries(peers).map(([n, p]) => `${n}=${p.reachable ? `wal ${p.walPosition}${p.nofailover ? ' nofailover' : ''}` : 'unreachable'}`).join(', ')}`)
  return {outcome: {type: 'fetch-peer-status'}, peers}
}

async function fetchPeers(client: Peers, members: Array<{name: string; apiUrl: string}>, log?: Logger): Promise<Record<string, PeerStatus>> {
  const results = await Promise.all(
    members.map(async (m) => {
      try {
        const res = await getPeerStatus(m.apiUrl, 2000, client)
        if (res.status !== 200) log?.debug(`GET ${m.apiUrl}: status ${res.status}`)
        return [m.name, peerStatusFrom(res.status, res.body)] as const
      } catch (e) {
        log?.debug(`GET ${m.apiUrl}: ${errText(e)}${e instanceof Error && e.cause ? ` (${errText(e.cause)})` : ''}`)
        return [m.name, peerStatusFrom(0, undefined)] as const
      }
    }),
  )
  return Object.fromEntries(results)
}

/**
 * branching: the primary cannot reach etcd: ask every other member of `/failsafe` (as last read)
 * to vouch for it with `POST /failsafe` (2 s, one retry, in parallel). All must answer 200
 * `Accepted` (patroni/ha.py Ha.check_failsafe_topology).
 */
export const failsafeProbe: Handler<Of<'failsafe-probe'>> = async (_a, obs, x) => {
  return {outcome: {type: 'failsafe-probe', ok: await vouchedByAll(x, obs)}}
}

async function vouchedByAll(x: AgentContext, obs: Observation): Promise<boolean> {
  const {config, log, clock} = x
  const view = obs.dcs.reachable ? obs.dcs.cluster : obs.dcs.lastCluster
  const topology = view?.failsafe
  if (!topology || !Object.hasOwn(topology, config.name)) return false
  const me = memberData(x)
  const slots: Record<string, number> = {}
  if (obs.pg.walPosition !== null) slots[slotNameFor(config.name)] = obs.pg.walPosition
  const body = {name: config.name, conn_url: me.conn_url, api_url: me.api_url, slots}
  const others = Object.entries(topology).filter(([name]) => name !== config.name)
  const answers = await Promise.all(
    others.map(async ([name, url]) => {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const r = await x.peers.postFailsafe(url, body, 2000)
          if (r.status === 200 && r.body === 'Accepted') return true
          log.warning(`failsafe: ${name} did not vouch for me: ${r.status} ${r.body}`)
          return false
        } catch (e) {
          if (attempt === 1) log.warning(`failsafe: POST ${url.replace(/\/patroni$/, '')}/failsafe to ${name} failed: ${errText(e)}`)
        }
      }
      return false
    }),
  )
  const ok = answers.every(Boolean)
  if (ok) {
    x.state.failsafe.setActive(clock.now())
    // Every member vouched: this node goes on as the leader for another ttl, and the REST API
    // says so (Patroni's _handle_dcs_error calls set_is_leader(True) here).
    x.state.lastLockRenewal = clock.now()
  }
  return ok
}
