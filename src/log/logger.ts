import {closeSync, fchmodSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'

/**
 * The agent's log, in Patroni's shape so that existing log parsing keeps working:
 * `2026-11-21 10:00:00,123 INFO: no action. I am (node1), the leader with the lock`
 * (Python logging's default asctime and Patroni's default format), optionally as JSON lines,
 * to stderr or to `<log.dir>/patroni.log` rotated like Python's RotatingFileHandler.
 * Writes are synchronous: one line per HA cycle costs nothing, and a line written just before
 * a crash or a demotion must not sit in a buffer.
 */
export const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const
export type LogLevel = (typeof LEVELS)[number]
const RANK: Record<LogLevel, number> = {DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50}

export interface LogSettings {
  type: 'plain' | 'json'
  level: LogLevel
  /** Python %-style format for plain lines; for JSON, the field names to emit (or renames). */
  format: string | Array<string | Record<string, string>>
  /** strftime pattern for asctime; when absent, Python's default `%Y-%m-%d %H:%M:%S,mmm`. */
  dateformat?: string
  /** JSON lines only, as Patroni's json formatter (its plain formatter ignores them). */
  staticFields: Record<string, string>
  dir?: string
  fileNum: number
  fileSize: number
  /** log.mode: permissions of the log file, set at every open (Patroni's PatroniFileHandler); absent: the umask decides. */
  mode?: number
  /**
   * log.deduplicate_heartbeat_logs: at level INFO, a heartbeat line ('no action. ...', 'PAUSE: no
   * action...') that repeats the previous one is not written (patroni/log.py PatroniLogger.run).
   */
  deduplicateHeartbeats?: boolean
}

export const DEFAULT_LOG_SETTINGS: LogSettings = {
  type: 'plain',
  level: 'INFO',
  format: '%(asctime)s %(levelname)s: %(message)s',
  staticFields: {},
  fileNum: 4,
  fileSize: 25_000_000,
}

/** Accepts Patroni's level spellings (WARN, FATAL) and maps them to the five levels. */
export function parseLevel(value: string): LogLevel | undefined {
  const v = value.trim().toUpperCase()
  if (v === 'WARN') return 'WARNING'
  if (v === 'FATAL') return 'CRITICAL'
  return (LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined
}

export interface LogRecord {
  time: Date
  level: LogLevel
  message: string
  name: string
  fields?: Record<string, unknown>
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** strftime subset that log.dateformat uses in practice; unknown directives stay as written. */
export function strftime(d: Date, pattern: string): string {
  const tz = -d.getTimezoneOffset()
  const sign = tz >= 0 ? '+' : '-'
  const map: Record<string, () => string> = {
    Y: () => String(d.getFullYear()),
    y: () => pad(d.getFullYear() % 100),
    m: () => pad(d.getMonth() + 1),
    d: () => pad(d.getDate()),
    H: () => pad(d.getHours()),
    I: () => pad(d.getHours() % 12 || 12),
    M: () => pad(d.getMinutes()),
    S: () => pad(d.getSeconds()),
    f: () => pad(d.getMilliseconds() * 1000, 6),
    p: () => (d.getHours() < 12 ? 'AM' : 'PM'),
    z: () => `${sign}${pad(Math.floor(Math.abs(tz) / 60))}${pad(Math.abs(tz) % 60)}`,
    j: () => pad(Math.floor((d.getTime() - new Date(d.getFullYear(), 0, 1).getTime()) / 86_400_000) + 1, 3),
    '%': () => '%',
  }
  return pattern.replace(/%([a-zA-Z%])/g, (all, c: string) => (map[c] ? map[c]() : all))
}

/** Python logging's asctime: local time, `2026-11-21 10:00:00,123` unless a datefmt is given. */
export function asctime(d: Date, dateformat?: string): string {
  if (dateformat) return strftime(d, dateformat)
  // strftime's '%Y-%m-%d %H:%M:%S' written out: one line per HA cycle goes through here.
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`
}

function recordAttrs(r: LogRecord, s: LogSettings): Record<string, unknown> {
  return {
    asctime: asctime(r.time, s.dateformat),
    levelname: r.level,
    levelno: RANK[r.level],
    message: r.message,
    msg: r.message,
    name: r.name,
    process: process.pid,
    created: r.time.getTime() / 1000,
    msecs: r.time.getMilliseconds(),
  }
}

/** `%(name)s`, `%(name)-8s`, `%(levelno)d`: the Python %-format forms used in log formats. */
export function pyFormat(format: string, attrs: Record<string, unknown>): string {
  return format.replace(/%\((\w+)\)(-?)(\d*)([sdfr])/g, (all, key: string, left: string, width: string, _t: string) => {
    if (!(key in attrs)) return all
    const text = String(attrs[key])
    const w = Number(width || 0)
    return left ? text.padEnd(w) : text.padStart(w)
  })
}

export function formatRecord(r: LogRecord, s: LogSettings): string {
  // The default plain format, as pyFormat would expand it, without building every attribute.
  if (s.type !== 'json' && s.format === DEFAULT_LOG_SETTINGS.format) return `${asctime(r.time, s.dateformat)} ${r.level}: ${r.message}`
  const attrs = recordAttrs(r, s)
  if (s.type === 'json') {
    const out: Record<string, unknown> = {}
    const fmt = s.format
    if (Array.isArray(fmt)) {
      for (const item of fmt) {
        if (typeof item === 'string') out[item] = attrs[item]
        else for (const [from, to] of Object.entries(item)) out[to] = attrs[from]
      }
    } else {
      // A %-style format in JSON mode names the fields it mentions, in order.
      const keys = [...fmt.matchAll(/%\((\w+)\)/g)].map((m) => m[1])
      for (const k of keys.length ? keys : ['asctime', 'levelname', 'message']) out[k] = attrs[k]
    }
    Object.assign(out, s.staticFields, r.fields ?? {})
    return JSON.stringify(out)
  }
  return pyFormat(Array.isArray(s.format) ? DEFAULT_LOG_SETTINGS.format as string : s.format, attrs)
}

/** Patroni's heartbeat lines (patroni/log.py PatroniLogger._is_heartbeat_msg). */
export function isHeartbeat(message: string): boolean {
  return message.startsWith('no action. ') || message.startsWith('PAUSE: no action')
}

export interface LogSink {
  /** `level` lets a sink mark the line's priority (the journal); files ignore it. */
  write(line: string, level?: LogLevel): void
  close(): void
}

/** sd-daemon(3) priority prefixes: <2> crit, <3> err, <4> warning, <6> info, <7> debug. */
export const SD_PRIORITY: Record<LogLevel, number> = {DEBUG: 7, INFO: 6, WARNING: 4, ERROR: 3, CRITICAL: 2}

/**
 * Whether file descriptor `fd` is the journal stream systemd names in JOURNAL_STREAM
 * ("device:inode", systemd.exec(5)): the variable alone is not enough, since programs started
 * from a unit inherit it while their stderr may go elsewhere (a file, a pipe, a terminal).
 */
export function isJournalStream(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM'] ?? '')
  if (!m) return false
  try {
    const st = fstatSync(fd, {bigint: true})
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2])
  } catch {
    return false
  }
}

/** Each line of `text` with the journal's priority prefix, so `journalctl -p warning` filters. */
export function withPriority(text: string, level: LogLevel): string {
  const p = `<${SD_PRIORITY[level]}>`
  return text
    .split('\n')
    .map((l) => p + l)
    .join('\n')
}

export class StderrSink implements LogSink {
  /** Prefix lines with their priority: on when stderr is the journal's stream (JOURNAL_STREAM). */
  constructor(private readonly journal: boolean = isJournalStream()) {}

  write(line: string, level?: LogLevel): void {
    try {
      writeSync(2, (this.journal && level !== undefined ? withPriority(line, level) : line) + '\n')
    } catch {
      // stderr closed (EPIPE/EAGAIN): logging must never take the agent down.
    }
  }
  close(): void {}
}

/** `<dir>/patroni.log`, rotated to `.1` ... `.<fileNum>` once it would pass fileSize bytes. */
export class RotatingFileSink implements LogSink {
  private fd: number
  private size: number
  readonly path: string

  constructor(
    readonly dir: string,
    readonly fileSize: number,
    readonly fileNum: number,
    name = 'patroni.log',
    /** Permissions set at every open, the rotated file's too (log.mode); a reload changes it from the next open on, as in Patroni. */
    public mode?: number,
  ) {
    mkdirSync(dir, {recursive: true})
    this.path = join(dir, name)
    this.fd = this.open()
    this.size = fstatSync(this.fd).size
  }

  private open(): number {
    const fd = openSync(this.path, 'a')
    if (this.mode !== undefined) {
      try {
        fchmodSync(fd, this.mode)
      } catch (e) {
        new StderrSink().write(`cannot set mode ${this.mode.toString(8)} on ${this.path}: ${(e as Error).message}`)
      }
    }
    return fd
  }

  write(line: string): void {
    const buf = Buffer.from(line + '\n', 'utf8')
    if (this.fileSize > 0 && this.size > 0 && this.size + buf.length > this.fileSize) this.rotate()
    try {
      writeSync(this.fd, buf)
      this.size += buf.length
    } catch (e) {
      new StderrSink().write(`log file ${this.path} not writable (${(e as Error).message}): ${line}`)
    }
  }

  private rotate(): void {
    closeSync(this.fd)
    if (this.fileNum > 0) {
      rmSync(`${this.path}.${this.fileNum}`, {force: true})
      for (let i = this.fileNum - 1; i >= 1; i--) {
        try {
          renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`)
        } catch {
          // a gap in the numbering is fine: Python's handler skips missing files too
        }
      }
      renameSync(this.path, `${this.path}.1`)
    } else {
      rmSync(this.path, {force: true})
    }
    this.fd = this.open()
    this.size = 0
  }

  close(): void {
    closeSync(this.fd)
  }
}

export class Logger {
  /** The last heartbeat line written, while nothing else was (log.deduplicate_heartbeat_logs). */
  private lastHeartbeat: string | undefined

  constructor(
    private settings: LogSettings,
    private sink: LogSink,
    readonly name = 'hactl',
    private now: () => Date = () => new Date(),
  ) {}

  static fromSettings(settings: LogSettings, name?: string): Logger {
    const sink = settings.dir ? new RotatingFileSink(settings.dir, settings.fileSize, settings.fileNum, undefined, settings.mode) : new StderrSink()
    return new Logger(settings, sink, name)
  }

  /** Applies new settings (SIGHUP / POST /reload); reopens the file sink when the dir changed. */
  reconfigure(settings: LogSettings): void {
    const dirChanged = settings.dir !== this.settings.dir || settings.fileSize !== this.settings.fileSize || settings.fileNum !== this.settings.fileNum
    if (dirChanged) {
      this.sink.close()
      this.sink = settings.dir ? new RotatingFileSink(settings.dir, settings.fileSize, settings.fileNum, undefined, settings.mode) : new StderrSink()
    } else if (this.sink instanceof RotatingFileSink) {
      this.sink.mode = settings.mode
    }
    this.settings = settings
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.settings.level]
  }

  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return
    // Patroni deduplicates only when its level is INFO; any other line in between resets (hactl
    // has no 'Lock owner' line to key on, which Patroni writes before each heartbeat).
    if (this.settings.level === 'INFO') {
      if (!isHeartbeat(message)) this.lastHeartbeat = undefined
      else if (this.settings.deduplicateHeartbeats === true && message === this.lastHeartbeat) return
      else this.lastHeartbeat = message
    }
    this.sink.write(formatRecord({time: this.now(), level, message, name: this.name, fields}, this.settings), level)
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('DEBUG', message, fields)
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.log('INFO', message, fields)
  }
  warning(message: string, fields?: Record<string, unknown>): void {
    this.log('WARNING', message, fields)
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.log('ERROR', message, fields)
  }
  critical(message: string, fields?: Record<string, unknown>): void {
    this.log('CRITICAL', message, fields)
  }

  close(): void {
    this.sink.close()
  }
}
