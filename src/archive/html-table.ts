import { humanize } from './labels.js'

export const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
export const count = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`

/**
 * At most this many records of a stream are shown as table rows in index.html; the rest are in the
 * stream's CSV and NDJSON files, which the page points to. Keeps the page readable, and its size
 * bounded whatever the number of records.
 */
export const HTML_ROWS_PER_STREAM = 500
/** A table with more rows than this is collapsed (a <details> the person opens). */
export const OPEN_ROWS = 10
/** Longer text in a cell is cut here, with a mark; the files have it whole. */
const CELL_CHARS = 2000

/** One value as the text of a table cell: nested lists and objects in a compact, readable form. */
function cellText (value: unknown): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'Yes' : 'No'
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value.map(cellText).join(', ')
  return JSON.stringify(value)
}

function cell (value: unknown): string {
  const text = cellText(value)
  return escape(text.length > CELL_CHARS ? `${text.slice(0, CELL_CHARS)}…` : text)
}

export interface TableInput {
  /** The stream's title, naming the table for screen readers. */
  title: string
  /** Field names in column order (the CSV's header). */
  columns: readonly string[]
  records: number
  rows: AsyncIterable<Record<string, unknown>>
  /** Where every record is: the CSV and NDJSON paths. */
  files: { table: string, records: string }
}

/**
 * A stream's records as an HTML table, streamed row by row: one row per record up to
 * HTML_ROWS_PER_STREAM, column headings from the field names made readable. Wide tables scroll in
 * a focusable region (readable at 375 px); long ones are collapsed.
 */
export async function * recordsTable (input: TableInput): AsyncGenerator<string> {
  const shown = Math.min(input.records, HTML_ROWS_PER_STREAM)
  const collapsed = shown > OPEN_ROWS
  if (collapsed) yield `<details class="records">\n<summary>Show ${shown === input.records ? `all ${count(shown, 'record', 'records')}` : `the first ${count(shown, 'record', 'records')}`}</summary>\n`
  if (input.columns.length > 3) yield `<p class="note">${input.columns.length} fields: on a narrow screen, scroll the table sideways to see them all.</p>\n`
  yield `<div class="scroll" role="region" tabindex="0" aria-label="${escape(`${input.title}: records`)}">
<table data-records-table>
<thead><tr>${input.columns.map((c) => `<th scope="col" data-field="${escape(c)}">${escape(humanize(c))}</th>`).join('')}</tr></thead>
<tbody>
`
  let n = 0
  for await (const record of input.rows) {
    if (n++ >= HTML_ROWS_PER_STREAM) break
    yield `<tr>${input.columns.map((c) => `<td>${cell(record[c])}</td>`).join('')}</tr>\n`
  }
  yield '</tbody>\n</table>\n</div>\n'
  if (collapsed) yield '</details>\n'
  if (input.records > shown) {
    yield `<p class="note" data-rows-capped>This page shows the first ${count(shown, 'record', 'records')} of ${count(input.records, 'record', 'records')}. ` +
      `All of them are in <a href="${escape(input.files.table)}">the table file (CSV)</a>, which any spreadsheet program opens, ` +
      `and in <a href="${escape(input.files.records)}">the NDJSON file</a>.</p>\n`
  }
}
