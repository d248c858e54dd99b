/**
 * Network namespaces for the labs that need a real network (test/chaos, test/integration/vip):
 * `ip` with its own complaint in the error, a bridge namespace joined by veth pairs to one
 * namespace per member, and the teardown of what a lab made when the test process ends, on
 * SIGINT and SIGTERM too. Only namespaces the labs create are touched.
 */
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

const run = promisify(execFile)

/** Runs `ip ARGS`; its stdout, or an error carrying what ip printed on stderr. */
export async function ip(args: string[]): Promise<string> {
  try {
    const {stdout} = await run('ip', args)
    return stdout
  } catch (e) {
    const err = e as {stderr?: string; message: string}
    throw new Error(`ip ${args.join(' ')}: ${err.stderr?.trim() || err.message}`)
  }
}

/** A lab that can tear down what it made without waiting (an exit handler cannot wait). */
export interface SyncTeardown {
  destroySync(): void
}

const live = new Set<SyncTeardown>()
let hooked = false

/** `lab.destroySync()` runs when the process exits or is interrupted, unless forgotten first. */
export function destroyOnExit(lab: SyncTeardown): void {
  live.add(lab)
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const l of live) l.destroySync()
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const l of live) l.destroySync()
      process.exit(130)
    })
  }
}

/** The lab was torn down the normal way: nothing is left for the exit handler. */
export function forgetOnExit(lab: SyncTeardown): void {
  live.delete(lab)
}

/** Makes namespace `ns` with its loopback up; its name goes into `made` (for the teardown) once it exists. */
export async function addNamespace(ns: string, made: string[]): Promise<void> {
  await ip(['netns', 'add', ns])
  made.push(ns)
  await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
}

export interface BridgeMember {
  ns: string
  /** the veth end in the bridge namespace (at most 15 characters) */
  port: string
  /** eth0's IPv4 address inside `ns`, on a /24 */
  address: string
}

/**
 * Namespace `br` holding bridge br0, and a namespace per member joined to it by a veth pair:
 * `eth0` inside the member, `port` on the bridge.
 */
export async function bridgeNetwork(br: string, members: BridgeMember[], made: string[]): Promise<void> {
  await addNamespace(br, made)
  await ip(['-n', br, 'link', 'add', 'br0', 'type', 'bridge'])
  await ip(['-n', br, 'link', 'set', 'br0', 'up'])
  for (const m of members) {
    await addNamespace(m.ns, made)
    await ip(['link', 'add', 'name', 'eth0', 'netns', m.ns, 'type', 'veth', 'peer', 'name', m.port, 'netns', br])
    await ip(['-n', br, 'link', 'set', m.port, 'master', 'br0'])
    await ip(['-n', br, 'link', 'set', m.port, 'up'])
    await ip(['-n', m.ns, 'addr', 'add', `${m.address}/24`, 'dev', 'eth0'])
    await ip(['-n', m.ns, 'link', 'set', 'eth0', 'up'])
  }
}
