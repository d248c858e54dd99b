import {flush, handle} from '@oclif/core'
import {HactlError} from './errors'
import {main} from './main'

main()
  .then(() => flush())
  .catch(async (error: unknown) => {
    await flush()
    if (error instanceof HactlError) {
      process.stderr.write(`Error: ${error.message}\n`)
      for (const hint of error.hints) process.stderr.write(`  hint: ${hint}\n`)
      process.exitCode = error.exitCode
      return
    }
    return handle(error as Error)
  })
