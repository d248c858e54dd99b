/**
 * Runs one patronictl-compatible read command without oclif (src/cli.ts sends `hactl list`
 * and friends here so they start fast). The oclif classes in src/commands call the same entry,
 * so both paths parse and behave the same. Both reach it through src/wiring/ctl.ts, which hands
 * it the real ports. Returns the exit code: 0, 1 for errors (patronictl's `Error: ...`), 2 for
 * command-line mistakes.
 */
import {isatty} from 'node:tty'
import {FAST_CTL_SPECS, WRITE_CTL_SPECS} from '../commands/shared/ctl-specs'
import {HactlError, errorMessage} from '../errors'
import {UsageError, parseCommandArgv, usageLine} from './argv'
import type {CtlPorts} from './context'
import {type CtlInput, PromptAborted, stdinInput} from './prompt'
import {type CtlHandler, type CtlIo, READ_COMMANDS} from './read-commands'

const BIN = 'hactl'

/** stdin for the questions, opened only when a command asks one (read commands never do). */
function lazyStdin(): CtlInput {
  let real: CtlInput | undefined
  const get = () => (real ??= stdinInput())
  return {
    get isTTY() {
      return isatty(0)
    },
    readLine: () => get().readLine(),
    readAll: () => get().readAll(),
    close: () => real?.close(),
  }
}

export function processIo(signal?: AbortSignal): CtlIo {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    now: () => Date.now(),
    signal,
    input: lazyStdin(),
  }
}

async function handlerFor(id: string): Promise<CtlHandler | undefined> {
  if (Object.hasOwn(READ_COMMANDS, id)) return READ_COMMANDS[id]
  if (!Object.hasOwn(WRITE_CTL_SPECS, id)) return undefined
  // pg, the prompts and the diff are only needed by these
  return (await import('./write-commands')).WRITE_COMMANDS[id]
}

export async function runCtl(ports: CtlPorts, id: string, argv: readonly string[], io?: CtlIo): Promise<number> {
  const spec = FAST_CTL_SPECS[id]
  const handler = await handlerFor(id)
  if (!spec || !handler) throw new HactlError('INTERNAL', `no fast ctl command ${id}`)
  let controller: AbortController | undefined
  let onSigint: (() => void) | undefined
  if (!io) {
    // Ctrl-C ends a watch loop the way click does (`Aborted!`, exit 1) instead of killing node mid-write.
    controller = new AbortController()
    onSigint = () => controller!.abort()
    process.once('SIGINT', onSigint)
    io = processIo(controller.signal)
  }
  try {
    const parsed = parseCommandArgv(spec, argv)
    return await handler(parsed, io, ports)
  } catch (e) {
    return reportCtlError(e, io, () => usageLine(BIN, spec) + `\nTry '${BIN} ${spec.id} --help' for help.\n`)
  } finally {
    if (onSigint) process.removeListener('SIGINT', onSigint)
    io.input?.close()
  }
}

/** patronictl's error shape: `Error: <message>` on stderr; usage errors with click's header. */
export function reportCtlError(e: unknown, io: CtlIo, usage: () => string): number {
  if (e instanceof PromptAborted) {
    // click's Abort; the unanswered question stays on stdout without a line end, as in patronictl
    io.err('Aborted!\n')
    if (e.hint) io.err(`  hint: ${e.hint}\n`)
    return 1
  }
  if (e instanceof UsageError) {
    io.err(`${usage()}\nError: ${e.message}\n`)
    return e.exitCode
  }
  if (e instanceof HactlError) {
    io.err(`Error: ${e.message}\n`)
    for (const h of e.hints) io.err(`  hint: ${h}\n`)
    return e.exitCode
  }
  io.err(`Error: ${errorMessage(e)}\n`)
  return 1
}
