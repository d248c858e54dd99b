/**
 * In-memory Files for unit tests and the simulator: the file exists (in `files`, with its mode)
 * exactly while `fn` runs. test/contract/files-contract.ts holds it to the same checks as the
 * real adapter.
 */
import type {Files} from '../../src/ports/files'

export class FakeFiles implements Files {
  /** Path -> content and mode, while a withPrivateFile call runs. */
  readonly files = new Map<string, {content: string; mode: number}>()
  private seq = 0

  async withPrivateFile<T>(name: string, content: string, fn: (path: string) => Promise<T>): Promise<T> {
    const path = `/fake-tmp/hactl-${++this.seq}/${name}`
    this.files.set(path, {content, mode: 0o600})
    try {
      return await fn(path)
    } finally {
      this.files.delete(path)
    }
  }

  /** For assertions: the content and mode of a live file, undefined when gone. */
  read(path: string): {content: string; mode: number} | undefined {
    return this.files.get(path)
  }
}
