/**
 * The ProcessRunner contract (test/contract/process-runner-contract.ts) on NodeProcessRunner with
 * real processes: each contract program is a tiny /bin/sh script written into a fresh temp dir.
 * The scripts set their own PATH (for sleep): the suite gives them an empty environment.
 */
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {NodeProcessRunner} from '../../../src/adapters/process'
import {processRunnerContract, type ContractProgram} from '../../contract/process-runner-contract'
import {waitFor, within} from '../../harness/ports'

const SCRIPTS: Record<ContractProgram, string> = {
  exit: `printf '%s' "$2"; printf '%s' "$3" >&2; exit "$1"`,
  'kill-self': `kill -TERM $$; exit 0`,
  'echo-stdin': `while IFS= read -r line; do printf '%s\\n' "$line"; done; echo eof`,
  'print-env': `exec /usr/bin/env`,
  flood: `i=0
if [ "$2" = stderr ]; then exec 1>&2; fi
while [ $i -lt "$1" ]; do echo "line $i"; i=$((i+1)); done`,
  tree: `sleep 600 &
echo "$$ $!" > "$1"
wait`,
  daemon: `code=$1
trap 'echo bye; exit $code' USR1
echo ready
while :; do sleep 0.1; done`,
  'not-executable': `exit 0`,
}

processRunnerContract('NodeProcessRunner with /bin/sh scripts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hactl-proc-contract-'))
  const runner = new NodeProcessRunner()
  return {
    runner,
    async define(program) {
      const path = join(dir, program)
      const prelude = program === 'print-env' ? '' : 'PATH=/usr/bin:/bin\n'
      writeFileSync(path, `#!/bin/sh\n${prelude}${SCRIPTS[program]}\n`)
      chmodSync(path, program === 'not-executable' ? 0o644 : 0o755)
      return path
    },
    missing: join(dir, 'no-such-program'),
    tempPath: (name) => join(dir, name),
    async readFile(path) {
      try {
        return readFileSync(path, 'utf8')
      } catch {
        return undefined
      }
    },
    async finish(p, maxMs) {
      const r = await within(p, maxMs)
      if (r === 'timeout') throw new Error(`did not settle within ${maxMs} ms`)
      return r
    },
    async waitUntil(what, cond, maxMs) {
      await waitFor(what, async () => await cond(), {timeoutMs: maxMs, intervalMs: 20})
    },
    now: () => performance.now(),
    wallNow: () => Date.now(),
    async cleanup() {
      rmSync(dir, {recursive: true, force: true})
    },
  }
})
