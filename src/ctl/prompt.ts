/**
 * patronictl's questions (click.prompt / click.confirm), worded and shown exactly as click shows
 * them (`Primary [c1]: `, `Apply these changes? [y/N]: `), so that people and `expect` scripts
 * see the same screen as with patronictl.
 *
 * On a terminal they are read with node:readline (line editing, Ctrl-C or Ctrl-D aborts like click,
 * hidden input for passwords). Without one they are read like click reads a pipe: the question goes
 * to stdout, one answer per stdin line, end of input aborts (`Aborted!`, exit 1). Unlike click, an
 * abort at end of input names the option that skips the question, and a pipe that stays open
 * without an answer ends in an error after a timeout (HACTL_PROMPT_TIMEOUT seconds, 60 by default,
 * 0 waits for ever) instead of hanging a script. All questions of one command share one reader, so
 * answers piped in at once reach each question in turn (inquirer opened a readline per prompt and
 * swallowed them; docs/architecture.md#prompts-from-a-pipe).
 */
import type {Interface} from 'node:readline'
import {HactlError} from '../errors'

/** Where answers come from. */
export interface CtlInput {
  /** stdin is a terminal: ask on it with readline, as click does. */
  readonly isTTY: boolean
  /** The next line without its line break; null at end of input. */
  readLine(): Promise<string | null>
  /** Everything not read yet (`--apply -`). */
  readAll(): Promise<string>
  /** Lets go of stdin so that the process can exit. */
  close(): void
}

/**
 * click's Abort: the user ended input or pressed Ctrl-C. The runner prints `Aborted!`, exit 1,
 * then the hint when there is one (why, and how not to be asked).
 */
export class PromptAborted extends Error {
  constructor(readonly hint?: string) {
    super('Aborted!')
    this.name = 'PromptAborted'
  }
}

export interface AskOptions {
  /** click's default: an empty answer takes it; without one the question is asked again. */
  default?: string
  /** Do not echo the answer (passwords). */
  hide?: boolean
  /** How to avoid the question, for the hint when no answer can come: `pass --candidate NAME`. */
  skip?: string
}

export interface Prompter {
  /** click.prompt(text, default=...) */
  prompt(text: string, opts?: AskOptions): Promise<string>
  /** click.confirm(text, default=False); `skip` defaults to `pass --force`. */
  confirm(text: string, dflt?: boolean, opts?: {skip?: string}): Promise<boolean>
  /** Lets go of the terminal (a readline keeps the process alive). */
  close?(): void
}

/** Answers from lines of text (tests, or a pipe): the same reader click's input() is. */
export function linesInput(text: string): CtlInput {
  let rest = text
  return {
    isTTY: false,
    async readLine() {
      if (rest === '') return null
      const nl = rest.indexOf('\n')
      const line = nl < 0 ? rest : rest.slice(0, nl)
      rest = nl < 0 ? '' : rest.slice(nl + 1)
      return line.replace(/\r$/, '')
    },
    async readAll() {
      const all = rest
      rest = ''
      return all
    },
    close() {},
  }
}

/** process.stdin as a CtlInput, opened on first use only (read commands never touch stdin). */
export function stdinInput(stdin: NodeJS.ReadStream = process.stdin): CtlInput {
  let buf = ''
  let ended = false
  let iterator: AsyncIterator<Buffer | string> | undefined
  const more = async (): Promise<boolean> => {
    if (ended) return false
    iterator ??= stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>
    const r = await iterator.next()
    if (r.done) {
      ended = true
      return false
    }
    buf += typeof r.value === 'string' ? r.value : r.value.toString('utf8')
    return true
  }
  return {
    isTTY: stdin.isTTY === true,
    async readLine() {
      for (;;) {
        const nl = buf.indexOf('\n')
        if (nl >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          return line.replace(/\r$/, '')
        }
        if (!(await more())) {
          if (buf === '') return null
          const line = buf
          buf = ''
          return line
        }
      }
    },
    async readAll() {
      while (await more()) {
        // keep reading to the end
      }
      const all = buf
      buf = ''
      return all
    },
    close() {
      if (!iterator) return
      // an async generator queues return() behind a pending next(): destroy the stream so that
      // an unanswered read (a pipe that stays open) cannot keep the process alive
      stdin.destroy()
      void iterator.return?.()
    },
  }
}

/** click's `text [default]: ` */
export function promptText(text: string, dflt: string | undefined, suffix = ': '): string {
  return dflt === undefined ? `${text}${suffix}` : `${text} [${dflt}]${suffix}`
}

/** One question shown, one line read; throws PromptAborted (or an error) when no answer can come. */
type AskLine = (question: string, opts: {hide: boolean; skip?: string}) => Promise<string>

/** click's prompt/confirm loop over any line source. */
function clickPrompter(askLine: AskLine, out: (s: string) => void, close?: () => void): Prompter {
  return {
    async prompt(text, opts = {}) {
      const q = promptText(text, opts.default)
      for (;;) {
        const v = await askLine(q, {hide: opts.hide === true, skip: opts.skip})
        if (v !== '') return v
        if (opts.default !== undefined) return opts.default
      }
    },
    async confirm(text, dflt = false, opts = {}) {
      const q = promptText(text, dflt ? 'Y/n' : 'y/N')
      for (;;) {
        const v = (await askLine(q, {hide: false, skip: opts.skip ?? 'pass --force'})).trim().toLowerCase()
        if (v === 'y' || v === 'yes') return true
        if (v === 'n' || v === 'no') return false
        if (v === '') return dflt
        out('Error: invalid input\n')
      }
    },
    ...(close ? {close} : {}),
  }
}

/** click writes the text without its trailing blanks, then input(' ') writes one blank. */
function shown(question: string): string {
  return question.replace(/ +$/, '') + ' '
}

/** Seconds a question waits for a line on a stdin that is not a terminal (HACTL_PROMPT_TIMEOUT). */
export function promptTimeoutMs(env: Record<string, string | undefined>): number {
  const v = env['HACTL_PROMPT_TIMEOUT']
  if (v === undefined || v.trim() === '') return 60_000
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) {
    throw new HactlError('USAGE', `HACTL_PROMPT_TIMEOUT=${v} is not a number of seconds`, {hints: ['0 waits for an answer for ever']})
  }
  return n * 1000
}

const TIMED_OUT = Symbol('timed out')

function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms <= 0) return p
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)))
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

function noAnswerHint(question: string, skip: string | undefined, why: string): string {
  const q = question.trim()
  return `stdin is not a terminal and ${why} before an answer to "${q}"; ${skip ? `${skip}, or ` : ''}give the answers on stdin, one line each`
}

/** click against a pipe: the question written to `out`, the answer read from `input`. */
export function linePrompter(input: CtlInput, out: (s: string) => void, opts: {timeoutMs?: number} = {}): Prompter {
  const timeoutMs = opts.timeoutMs ?? 0
  return clickPrompter(async (question, {skip}) => {
    out(shown(question))
    const line = await within(input.readLine(), timeoutMs)
    if (line === TIMED_OUT) {
      out('\n')
      throw new HactlError('USAGE', `no answer to "${question.trim()}" on stdin within ${timeoutMs / 1000} s`, {
        hints: [noAnswerHint(question, skip, 'stayed open without a line'), 'HACTL_PROMPT_TIMEOUT=<seconds> waits longer (0: for ever)'],
      })
    }
    if (line === null) throw new PromptAborted(noAnswerHint(question, skip, 'ended'))
    return line
  }, out)
}

/**
 * A terminal: click's texts read with node:readline. One readline serves every question of the
 * command (lines typed ahead are kept for the next one) and is closed by close().
 */
export function terminalPrompter(stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout): Prompter {
  let rl: Interface | undefined
  let ended = false
  let muted = false
  const typedAhead: string[] = []
  let waiting: ((line: string | null) => void) | undefined
  const deliver = (line: string | null) => {
    const w = waiting
    waiting = undefined
    if (w) w(line)
    else if (line !== null) typedAhead.push(line)
  }
  // loaded on the first question: the read commands share this module and start in milliseconds
  const open = async (): Promise<Interface> => {
    if (rl) return rl
    const [{createInterface}, {Writable}] = await Promise.all([import('node:readline'), import('node:stream')])
    // readline echoes through this; muted while a hidden answer is typed
    const echo = new Writable({
      write(chunk: Buffer | string, _enc, cb) {
        if (!muted) stdout.write(chunk)
        cb()
      },
    })
    Object.defineProperty(echo, 'columns', {get: () => stdout.columns})
    const r = createInterface({input: stdin, output: echo, terminal: true, historySize: 0})
    r.on('line', (l) => deliver(l))
    r.on('SIGINT', () => {
      stdout.write('\n')
      r.close()
    })
    r.on('close', () => {
      ended = true
      deliver(null)
    })
    return (rl = r)
  }
  const askLine: AskLine = async (question, {hide}) => {
    const r = await open()
    if (typedAhead.length === 0 && ended) throw new PromptAborted()
    if (hide) {
      stdout.write(shown(question))
      muted = true
    } else {
      r.setPrompt(shown(question))
      r.prompt()
    }
    try {
      const line = typedAhead.length > 0 ? typedAhead.shift()! : await new Promise<string | null>((resolve) => (waiting = resolve))
      if (line === null) throw new PromptAborted()
      return line
    } finally {
      if (hide) {
        muted = false
        stdout.write('\n')
      }
    }
  }
  return clickPrompter(askLine, (s) => void stdout.write(s), () => rl?.close())
}

export function makePrompter(input: CtlInput | undefined, out: (s: string) => void, opts: {timeoutMs?: number} = {}): Prompter {
  if (input?.isTTY) return terminalPrompter()
  return linePrompter(input ?? linesInput(''), out, opts)
}
