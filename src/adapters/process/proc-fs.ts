import {readdirSync, readFileSync} from 'node:fs'
import type {ProcessInfo} from '../../ports/process-runner'

/**
 * Linux /proc readers. USER_HZ is 100 on every Linux architecture Node supports (the kernel
 * exports it to user space as a constant, whatever CONFIG_HZ is).
 */
const USER_HZ = 100
let bootTimeMs: number | undefined

function bootTime(): number {
  if (bootTimeMs === undefined) {
    const m = /^btime\s+(\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
    bootTimeMs = m ? Number(m[1]) * 1000 : 0
  }
  return bootTimeMs
}

/** Parses /proc/<pid>/stat text; the command name may contain spaces and parentheses. */
export function parseProcStat(pid: number, text: string): ProcessInfo | undefined {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  const rest = text.slice(close + 2).split(' ')
  const state = rest[0] ?? '?'
  const ppid = Number(rest[1])
  const ticks = Number(rest[19])
  if (!Number.isFinite(ppid) || !Number.isFinite(ticks)) return undefined
  return {pid, ppid, comm: text.slice(open + 1, close), startTimeMs: bootTime() + (ticks * 1000) / USER_HZ, state}
}

export function procInfo(pid: number): ProcessInfo | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    const info = parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'))
    // A zombie has exited; a dead process is gone. Neither must ever be treated as running.
    return info && info.state !== 'Z' && info.state !== 'X' ? info : undefined
  } catch {
    return undefined
  }
}

/** Every descendant of `root` (children first discovered, then theirs), from one scan of /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    const pid = Number(e)
    let info: ProcessInfo | undefined
    try {
      info = parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      continue // exited during the scan
    }
    if (!info) continue
    const list = children.get(info.ppid) ?? []
    list.push(pid)
    children.set(info.ppid, list)
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length) {
    const p = queue.shift()!
    for (const c of children.get(p) ?? []) {
      if (out.includes(c) || c === root) continue
      out.push(c)
      queue.push(c)
    }
  }
  return out
}
