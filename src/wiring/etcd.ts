/**
 * How the ctl configuration (patronictl's view of a node's YAML, `-d/--dcs-url`, `--etcd`) maps
 * onto the etcd v3 adapter's section. Shared by the ctl and render roots; only the type of the
 * adapter is needed here, so loading this module loads no adapter.
 */
import type {Etcd3Section} from '../adapters/dcs-etcd3'
import type {CtlContext} from '../ctl/context'

/** The etcd3 section of a ctl context (endpoints are full URLs there, so no protocol; srv discovers them). */
export function etcd3SectionOf(ctx: CtlContext): Etcd3Section {
  const e = ctx.config.etcd3
  const hosts = (e?.endpoints ?? []).filter((x): x is string => typeof x === 'string')
  return {
    hosts: hosts.length || !e?.srv ? hosts : undefined,
    srv: e?.srv,
    srv_suffix: e?.srv_suffix,
    proxy: e?.proxy,
    username: e?.username,
    password: e?.password,
    cacert: e?.cacert,
    cert: e?.cert,
    key: e?.key,
  }
}

/** patronictl's cluster namespace, when the configuration sets one. */
export function namespaceOf(ctx: CtlContext): string | undefined {
  return typeof ctx.config.namespace === 'string' ? ctx.config.namespace : undefined
}

/**
 * The options of an etcd store that holds no lease (ctl commands, haproxy render): the section,
 * scope and namespace of the ctl context, its retry_timeout, hactl's user agent.
 */
export function leaselessDcsOptions(ctx: CtlContext, scope: string, version: string) {
  return {
    section: etcd3SectionOf(ctx),
    name: scope,
    scope,
    namespace: namespaceOf(ctx),
    timing: {retryTimeout: ctx.retryTimeout},
    userAgent: `hactl/${version}`,
  }
}
