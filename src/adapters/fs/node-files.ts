import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Files} from '../../ports/files'

/** Files on the local disk, under the system's temporary directory. */
export const nodeFiles: Files = {
  async withPrivateFile(name, content, fn) {
    const dir = mkdtempSync(join(tmpdir(), 'hactl-'))
    try {
      const path = join(dir, name)
      writeFileSync(path, content, {mode: 0o600})
      return await fn(path)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  },
}
