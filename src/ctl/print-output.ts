/**
 * patronictl's print_output: one table, five formats. Pure; returns the exact text (with the
 * trailing newline click.echo adds).
 */
import {type PyValue, pyJsonDumps, pyStr, pyTruthy} from './py-format'
import {pyYamlDump} from './py-yaml'
import {type Align, prettyTable} from './pretty-table'

export const OUTPUT_FORMATS = ['pretty', 'tsv', 'json', 'yaml', 'yml'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number] | 'topology'

export function printOutput(
  columns: readonly string[],
  rows: PyValue[][],
  opts: {fmt: OutputFormat; align?: Readonly<Record<string, Align>>; header?: string; delimiter?: string},
): string {
  const {fmt, header = ''} = opts
  if (fmt === 'json' || fmt === 'yaml' || fmt === 'yml') {
    // With a title (the member list), cells whose text is empty are left out.
    const elements: PyValue[] = rows.map((r) => {
      const o: {[k: string]: PyValue} = {}
      columns.forEach((c, i) => {
        const v = r[i] ?? ''
        if (!header || pyStr(v) !== '') o[c] = v
      })
      return o
    })
    return (fmt === 'json' ? pyJsonDumps(elements) : pyYamlDump(elements)) + '\n'
  }
  let cols = [...columns]
  let body = rows.map((r) => [...r])
  const listCluster = header !== '' && cols[0] === 'Cluster'
  const tagsAt = cols.indexOf('Tags')
  if (listCluster && tagsAt >= 0) {
    for (const row of body) {
      if (pyTruthy(row[tagsAt])) row[tagsAt] = pyYamlDump(row[tagsAt]!, {flow: fmt !== 'pretty'}).trim()
    }
  }
  if (listCluster && fmt !== 'tsv') {
    cols = cols.slice(1)
    body = body.map((r) => r.slice(1))
  }
  if (fmt === 'tsv') {
    const delimiter = opts.delimiter ?? '\t'
    return [cols, ...body].map((r) => r.map((c) => pyStr(c)).join(delimiter) + '\n').join('')
  }
  return prettyTable(cols, body.map((r) => r.map((c) => pyStr(c))), {title: header, align: opts.align}) + '\n'
}
