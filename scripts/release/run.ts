import {spawnSync, type SpawnSyncOptions} from 'node:child_process'
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'

export class ReleaseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReleaseError'
  }
}

/** Runs a program (no shell) and returns its stdout; a non-zero exit becomes a ReleaseError with the output's tail. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & {input?: string | Buffer} = {}): string {
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts})
  if (r.error) throw new ReleaseError(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) {
    const tail = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n')
    throw new ReleaseError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${tail}`)
  }
  return String(r.stdout ?? '')
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')))
  })
}
