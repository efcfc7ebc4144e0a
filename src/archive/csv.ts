import { Readable } from 'node:stream'
import { stringify } from 'csv-stringify'

/** A stream with more distinct fields than this puts the rest, as JSON, in one last column. */
export const MAX_CSV_COLUMNS = 500
export const OVERFLOW_COLUMN = '_other_fields'

/**
 * The header of a stream's CSV: the union of the records' keys in order of first appearance,
 * gathered in a first pass. Bounded: past MAX_CSV_COLUMNS, further keys are only noted as overflow.
 */
export class CsvColumns {
  readonly keys: string[] = []
  overflow = false
  readonly #seen = new Set<string>()

  add (record: Record<string, unknown>): void {
    for (const key of Object.keys(record)) {
      if (this.#seen.has(key)) continue
      if (this.keys.length >= MAX_CSV_COLUMNS) {
        this.overflow = true
        continue
      }
      this.#seen.add(key)
      this.keys.push(key)
    }
  }

  /** The header row as written. */
  header (): string[] {
    return this.overflow ? [...this.keys, OVERFLOW_COLUMN] : [...this.keys]
  }

  /** One record as a row in header order. */
  row (record: Record<string, unknown>): unknown[] {
    const row: unknown[] = this.keys.map((k) => record[k])
    if (this.overflow) {
      const rest = Object.fromEntries(Object.entries(record).filter(([k]) => !this.#seen.has(k)))
      row.push(Object.keys(rest).length > 0 ? rest : null)
    }
    return row
  }
}

/**
 * RFC 4180 CSV of a stream's records, streamed: UTF-8 with a byte order mark (so spreadsheet
 * programs read it as UTF-8), a header row, CRLF line ends, quoting where needed. Nested values are
 * JSON; null and missing fields are empty cells; text starting with = + - @ tab or CR is prefixed
 * with ' so a spreadsheet shows it instead of running it as a formula (numbers stay numbers).
 */
export function csvStream (columns: CsvColumns, records: AsyncIterable<Record<string, unknown>>): Readable {
  const stringifier = stringify({
    bom: true,
    header: true,
    columns: columns.header(),
    record_delimiter: 'windows',
    escape_formulas: true,
    cast: {
      boolean: (v) => (v ? 'true' : 'false'),
      object: (v) => JSON.stringify(v),
      date: (v) => v.toISOString(),
      bigint: (v) => v.toString()
    }
  })
  async function * rows () {
    for await (const record of records) yield columns.row(record)
  }
  const source = Readable.from(rows())
  source.once('error', (err) => stringifier.destroy(err))
  return source.pipe(stringifier)
}
