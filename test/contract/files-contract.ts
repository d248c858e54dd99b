/**
 * The Files port's contract (src/ports/files.ts), run on the real adapter (files on disk) and on
 * FakeFiles: the same assertions, a `peek` from the factory to look at a path while it exists.
 */
import assert from 'node:assert/strict'
import {test} from 'node:test'
import type {Files} from '../../src/ports/files'

export interface FilesEnv {
  files: Files
  /** Content and mode of `path`, undefined when it does not exist. */
  peek(path: string): {content: string; mode: number} | undefined
}

export function filesContract(label: string, make: () => FilesEnv): void {
  test(`${label}: the file holds the content, owner-only, while fn runs, and is gone after`, async () => {
    const {files, peek} = make()
    let seen: string | undefined
    const r = await files.withPrivateFile('pgpass', 'h:5432:*:u:secret\n', async (path) => {
      seen = path
      assert.deepEqual(peek(path), {content: 'h:5432:*:u:secret\n', mode: 0o600})
      assert.ok(path.endsWith('/pgpass'), path)
      return 42
    })
    assert.equal(r, 42, 'the result passes through')
    assert.equal(peek(seen!), undefined, 'removed after')
  })

  test(`${label}: removed also when fn rejects; the error passes through unchanged`, async () => {
    const {files, peek} = make()
    let seen: string | undefined
    const boom = new Error('script failed')
    await assert.rejects(
      files.withPrivateFile('pgpass', 'x', async (path) => {
        seen = path
        throw boom
      }),
      (e) => e === boom,
    )
    assert.equal(peek(seen!), undefined)
  })

  test(`${label}: two calls at once get two files`, async () => {
    const {files, peek} = make()
    const paths: string[] = []
    await Promise.all(
      ['a', 'b'].map((c) =>
        files.withPrivateFile('pgpass', c, async (path) => {
          paths.push(path)
          await new Promise((r) => setImmediate(r))
          assert.equal(peek(path)?.content, c)
        }),
      ),
    )
    assert.notEqual(paths[0], paths[1])
  })
}
