import {readFileSync, statSync} from 'node:fs'
import {nodeFiles} from '../../../src/adapters/fs/node-files'
import {filesContract} from '../../contract/files-contract'

filesContract('nodeFiles', () => ({
  files: nodeFiles,
  peek: (p) => {
    try {
      return {content: readFileSync(p, 'utf8'), mode: statSync(p).mode & 0o777}
    } catch {
      return undefined
    }
  },
}))
