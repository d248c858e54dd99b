/**
 * The table patronictl prints: Python PrettyTable (hrules FRAME, or ALL when a cell has several
 * lines), padding 1, header cells aligned like their column, and patronictl's twist of writing
 * a title over the first border (` Cluster: demo (7711...) `). cli-table3 draws different
 * frames, so this small renderer produces the bytes directly. Pure.
 *
 * Widths count code points; PrettyTable counts East Asian wide characters twice, so a table
 * with such names would be narrower here.
 */

export type Align = 'l' | 'r'

export interface PrettyTableOptions {
  /** Written over the first border line from its second character, cut to fit. */
  title?: string
  /** Per-column alignment by header name; default left. */
  align?: Readonly<Record<string, Align>>
}

function width(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

function justify(s: string, w: number, align: Align): string {
  const pad = ' '.repeat(Math.max(0, w - width(s)))
  return align === 'r' ? pad + s : s + pad
}

/** Renders the table without a trailing newline (click.echo adds it). */
export function prettyTable(columns: readonly string[], rows: ReadonlyArray<readonly string[]>, opts: PrettyTableOptions = {}): string {
  const align = columns.map((c) => opts.align?.[c] ?? 'l')
  const widths = columns.map((c) => width(c))
  for (const row of rows) {
    row.forEach((cell, i) => {
      for (const line of cell.split('\n')) widths[i] = Math.max(widths[i] ?? 0, width(line))
    })
  }
  const rule = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+'
  let top = rule
  if (opts.title) {
    const title = Array.from(opts.title).slice(0, Math.max(0, width(rule) - 2)).join('')
    top = rule[0] + title + Array.from(rule).slice(1 + width(title)).join('')
  }
  const line = (cells: readonly string[]) => '|' + cells.map((c, i) => ' ' + justify(c, widths[i]!, align[i]!) + ' ').join('|') + '|'
  const everyRow = rows.some((r) => r.some((c) => c.includes('\n')))
  const out = [top, line(columns), rule]
  for (const row of rows) {
    const split = row.map((c) => c.split('\n'))
    const height = Math.max(1, ...split.map((l) => l.length))
    for (let y = 0; y < height; y++) out.push(line(split.map((l) => l[y] ?? '')))
    if (everyRow) out.push(rule)
  }
  if (!everyRow) out.push(rule)
  return out.join('\n')
}
