/**
 * Python's difflib.unified_diff over lists of lines (SequenceMatcher without a junk function,
 * autojunk on), so `edit-config` shows the same hunks as patronictl. Pure.
 */

type Block = [i: number, j: number, size: number]
type Opcode = [tag: 'equal' | 'replace' | 'delete' | 'insert', i1: number, i2: number, j1: number, j2: number]

export class SequenceMatcher {
  private readonly b2j = new Map<string, number[]>()

  constructor(
    private readonly a: readonly string[],
    private readonly b: readonly string[],
  ) {
    b.forEach((line, j) => {
      const list = this.b2j.get(line)
      if (list) list.push(j)
      else this.b2j.set(line, [j])
    })
    // autojunk: in long sequences, lines repeated more than 1% of the time are not used as anchors
    const n = b.length
    if (n >= 200) {
      const ntest = Math.floor(n / 100) + 1
      for (const [line, idxs] of [...this.b2j]) if (idxs.length > ntest) this.b2j.delete(line)
    }
  }

  findLongestMatch(alo: number, ahi: number, blo: number, bhi: number): Block {
    const {a, b} = this
    let besti = alo
    let bestj = blo
    let bestsize = 0
    let j2len = new Map<number, number>()
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>()
      for (const j of this.b2j.get(a[i]!) ?? []) {
        if (j < blo) continue
        if (j >= bhi) break
        const k = (j2len.get(j - 1) ?? 0) + 1
        next.set(j, k)
        if (k > bestsize) {
          besti = i - k + 1
          bestj = j - k + 1
          bestsize = k
        }
      }
      j2len = next
    }
    while (besti > alo && bestj > blo && a[besti - 1] === b[bestj - 1]) {
      besti--
      bestj--
      bestsize++
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] === b[bestj + bestsize]) bestsize++
    return [besti, bestj, bestsize]
  }

  matchingBlocks(): Block[] {
    const la = this.a.length
    const lb = this.b.length
    const queue: Array<[number, number, number, number]> = [[0, la, 0, lb]]
    const blocks: Block[] = []
    while (queue.length > 0) {
      const [alo, ahi, blo, bhi] = queue.pop()!
      const x = this.findLongestMatch(alo, ahi, blo, bhi)
      const [i, j, k] = x
      if (k) {
        blocks.push(x)
        if (alo < i && blo < j) queue.push([alo, i, blo, j])
        if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi])
      }
    }
    blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])
    const out: Block[] = []
    let [i1, j1, k1] = [0, 0, 0]
    for (const [i2, j2, k2] of blocks) {
      if (i1 + k1 === i2 && j1 + k1 === j2) k1 += k2
      else {
        if (k1) out.push([i1, j1, k1])
        ;[i1, j1, k1] = [i2, j2, k2]
      }
    }
    if (k1) out.push([i1, j1, k1])
    out.push([la, lb, 0])
    return out
  }

  opcodes(): Opcode[] {
    let i = 0
    let j = 0
    const out: Opcode[] = []
    for (const [ai, bj, size] of this.matchingBlocks()) {
      const tag = i < ai && j < bj ? 'replace' : i < ai ? 'delete' : j < bj ? 'insert' : ''
      if (tag) out.push([tag, i, ai, j, bj])
      i = ai + size
      j = bj + size
      if (size) out.push(['equal', ai, i, bj, j])
    }
    return out
  }

  groupedOpcodes(n = 3): Opcode[][] {
    let codes = this.opcodes()
    if (codes.length === 0) codes = [['equal', 0, 1, 0, 1]]
    const first = codes[0]!
    if (first[0] === 'equal') codes[0] = ['equal', Math.max(first[1], first[2] - n), first[2], Math.max(first[3], first[4] - n), first[4]]
    const last = codes[codes.length - 1]!
    if (last[0] === 'equal') codes[codes.length - 1] = ['equal', last[1], Math.min(last[2], last[1] + n), last[3], Math.min(last[4], last[3] + n)]
    const groups: Opcode[][] = []
    let group: Opcode[] = []
    for (const code of codes) {
      let [tag, i1, i2, j1, j2] = code
      if (tag === 'equal' && i2 - i1 > n + n) {
        group.push([tag, i1, Math.min(i2, i1 + n), j1, Math.min(j2, j1 + n)])
        groups.push(group)
        group = []
        i1 = Math.max(i1, i2 - n)
        j1 = Math.max(j1, j2 - n)
      }
      group.push([tag, i1, i2, j1, j2])
    }
    if (group.length > 0 && !(group.length === 1 && group[0]![0] === 'equal')) groups.push(group)
    return groups
  }
}

function range(start: number, stop: number): string {
  let beginning = start + 1
  const length = stop - start
  if (length === 1) return String(beginning)
  if (!length) beginning--
  return `${beginning},${length}`
}

/**
 * difflib.unified_diff(a, b) with empty file names, each line as given (lines carry their own
 * line ends, as Python's do). Returns the lines it yields, line ends included.
 */
export function unifiedDiff(a: readonly string[], b: readonly string[], n = 3): string[] {
  const out: string[] = []
  for (const group of new SequenceMatcher(a, b).groupedOpcodes(n)) {
    if (out.length === 0) out.push('--- \n', '+++ \n')
    const first = group[0]!
    const last = group[group.length - 1]!
    out.push(`@@ -${range(first[1], last[2])} +${range(first[3], last[4])} @@\n`)
    for (const [tag, i1, i2, j1, j2] of group) {
      if (tag === 'equal') {
        for (const line of a.slice(i1, i2)) out.push(' ' + line)
        continue
      }
      if (tag === 'replace' || tag === 'delete') for (const line of a.slice(i1, i2)) out.push('-' + line)
      if (tag === 'replace' || tag === 'insert') for (const line of b.slice(j1, j2)) out.push('+' + line)
    }
  }
  return out
}

/** patronictl's show_diff input: the text cut into lines, each ending in a newline. */
export function diffLines(text: string): string[] {
  return text.replace(/\n+$/, '').split('\n').map((l) => l + '\n')
}

/** What patronictl prints for the diff when stdout is not a terminal. */
export function configDiffText(before: string, after: string): string {
  return unifiedDiff(diffLines(before), diffLines(after))
    .map((l) => l.replace(/\n$/, '') + '\n')
    .join('')
}
