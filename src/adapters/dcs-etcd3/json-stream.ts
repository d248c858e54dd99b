/**
 * Splits a byte stream of concatenated JSON objects (the gateway's /watch response: one object
 * per message, newline-separated in practice) without relying on the separator, so a message
 * split across TCP chunks or two messages in one chunk both parse.
 */
export class JsonObjectStream {
  private buf = ''
  private depth = 0
  private inString = false
  private escaped = false
  private start = -1
  private scanned = 0

  /** Feeds text; returns the complete objects it closed. Throws on text that is not JSON. */
  push(text: string): unknown[] {
    // The usual chunk is one whole message (and its newline): JSON.parse takes it at once, where
    // the scan below looks at every character in JavaScript. Anything else (part of a message,
    // two of them, text that is not an object) takes the scan.
    if (this.depth === 0 && (this.buf === '' || this.buf.trim() === '')) {
      let v: unknown
      try {
        v = JSON.parse(text)
      } catch {
        v = undefined
      }
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        this.buf = ''
        this.scanned = 0
        return [v]
      }
    }
    this.buf += text
    const out: unknown[] = []
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i]
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === '\\') this.escaped = true
        else if (c === '"') this.inString = false
        continue
      }
      if (c === '"') this.inString = true
      else if (c === '{') {
        if (this.depth++ === 0) this.start = i
      } else if (c === '}') {
        if (--this.depth === 0) {
          out.push(JSON.parse(this.buf.slice(this.start, i + 1)))
          this.buf = this.buf.slice(i + 1)
          i = -1
          this.start = -1
        } else if (this.depth < 0) throw new Error('unbalanced JSON in stream')
      } else if (this.depth === 0 && !/\s/.test(c)) {
        throw new Error(`unexpected ${JSON.stringify(c)} between JSON objects`)
      }
    }
    this.scanned = this.buf.length
    return out
  }
}
