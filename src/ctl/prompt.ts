/**
 * patronictl's questions (click.prompt / click.confirm). On a terminal they are asked with
 * @inquirer/prompts. Without one they behave like click reading a pipe: the question goes to
 * stdout, one answer per stdin line, end of input aborts (`Aborted!`, exit 1). All prompts share
 * one buffered reader, so answers piped in at once reach each question in turn (inquirer opens a
 * readline per prompt and would swallow them; toolchain-notes.md section 5).
 */

/** Where answers come from. */
export interface CtlInput {
  /** stdin is a terminal: ask with inquirer. */
  readonly isTTY: boolean
  /** The next line without its line break; null at end of input. */
  readLine(): Promise<string | null>
  /** Everything not read yet (`--apply -`). */
  readAll(): Promise<string>
  /** Lets go of stdin so that the process can exit. */
  close(): void
}

/** click's Abort: the user ended input or pressed Ctrl-C. The runner prints `Aborted!`, exit 1. */
export class PromptAborted extends Error {
  constructor() {
    super('Aborted!')
    this.name = 'PromptAborted'
  }
}

export interface Prompter {
  /** click.prompt(text, default=...): an empty answer takes the default; without one it asks again. */
  prompt(text: string, opts?: {default?: string; hide?: boolean}): Promise<string>
  /** click.confirm(text, default=False) */
  confirm(text: string, dflt?: boolean): Promise<boolean>
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
      if (iterator) void iterator.return?.()
    },
  }
}

/** click's `text [default]: ` */
export function promptText(text: string, dflt: string | undefined, suffix = ': '): string {
  return dflt === undefined ? `${text}${suffix}` : `${text} [${dflt}]${suffix}`
}

/** click against a pipe: the question written to `out`, the answer read from `input`. */
export function linePrompter(input: CtlInput, out: (s: string) => void): Prompter {
  const ask = async (question: string): Promise<string> => {
    // click writes the text without its trailing blanks, then input(' ') writes one blank
    out(question.replace(/ +$/, '') + ' ')
    const line = await input.readLine()
    if (line === null) throw new PromptAborted()
    return line
  }
  return {
    async prompt(text, opts = {}) {
      const q = promptText(text, opts.default)
      for (;;) {
        const v = await ask(q)
        if (v !== '') return v
        if (opts.default !== undefined) return opts.default
      }
    },
    async confirm(text, dflt = false) {
      const q = promptText(text, dflt ? 'Y/n' : 'y/N')
      for (;;) {
        const v = (await ask(q)).trim().toLowerCase()
        if (v === 'y' || v === 'yes') return true
        if (v === 'n' || v === 'no') return false
        if (v === '') return dflt
        out('Error: invalid input\n')
      }
    },
  }
}

function isExitPrompt(e: unknown): boolean {
  return e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')
}

/** A terminal: inquirer's prompts, with click's wording. Ctrl-C aborts like click. */
export function terminalPrompter(): Prompter {
  const guard = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f()
    } catch (e) {
      if (isExitPrompt(e)) throw new PromptAborted()
      throw e
    }
  }
  return {
    prompt(text, opts = {}) {
      return guard(async () => {
        const p = await import('@inquirer/prompts')
        if (opts.hide) {
          for (;;) {
            const v = await p.password({message: text, mask: true})
            if (v !== '' || opts.default !== undefined) return v === '' ? opts.default! : v
          }
        }
        return p.input({message: text, default: opts.default === '' ? undefined : opts.default, required: opts.default === undefined})
          .then((v) => (v === '' && opts.default !== undefined ? opts.default : v))
      })
    },
    confirm(text, dflt = false) {
      return guard(async () => (await import('@inquirer/prompts')).confirm({message: text, default: dflt}))
    },
  }
}

export function makePrompter(input: CtlInput | undefined, out: (s: string) => void): Prompter {
  if (input?.isTTY) return terminalPrompter()
  return linePrompter(input ?? linesInput(''), out)
}
