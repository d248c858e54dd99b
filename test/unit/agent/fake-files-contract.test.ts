import {filesContract} from '../../contract/files-contract'
import {FakeFiles} from '../../fakes/fake-files'

filesContract('FakeFiles', () => {
  const files = new FakeFiles()
  return {files, peek: (p) => files.read(p)}
})
