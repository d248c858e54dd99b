import assert from 'node:assert/strict'
import {test} from 'node:test'
import {shellSplit} from '../../../src/agent/callbacks'

test('callback command lines split like Python shlex.split', () => {
  assert.deepEqual(shellSplit('/usr/local/bin/cb.sh'), ['/usr/local/bin/cb.sh'])
  assert.deepEqual(shellSplit('  sudo  /x/y  --flag  '), ['sudo', '/x/y', '--flag'])
  assert.deepEqual(shellSplit(`/bin/cb "a b" 'c d' e\\ f`), ['/bin/cb', 'a b', 'c d', 'e f'])
  assert.deepEqual(shellSplit(`x "say \\"hi\\"" '\\n'`), ['x', 'say "hi"', '\\n'])
  assert.deepEqual(shellSplit(`x ""`), ['x', ''])
  assert.equal(shellSplit(`x "unterminated`), undefined)
  assert.deepEqual(shellSplit(''), [])
})
