/**
 * How values come back from raw SQL, the same on both databases and through every path (the app's
 * own `rows`/`prepared`, pg-boss's executor, the postgres connector): node-postgres' conventions,
 * which pg-boss is written for, except where those lose information.
 *
 *   timestamptz, timestamp      → Date (a `timestamp` without zone is read as UTC)
 *   timestamptz[], timestamp[]  → Date[]
 *   date                        → 'YYYY-MM-DD' string (a calendar day has no instant)
 *   int8                        → string (a number would lose precision past 2^53)
 *   json, jsonb                 → parsed
 *
 * Neither driver does this on its own: drizzle's postgres.js driver swaps the client's timestamp
 * parsers for pass-through ones (its column mappers want text), so raw rows carry timestamps as
 * text on Postgres; PGlite parses them to Date, dates to Date and int8 to number. A pg-boss job's
 * `createdOn` was therefore a Date embedded and a string on Postgres, and every cron job failed there.
 */

const TIMESTAMP = new Set([1114, 1184])
const TIMESTAMP_ARRAY = new Set([1115, 1185])
const DATE = 1082
const INT8 = 20

/** A timestamp's text as Postgres writes it ('2026-12-01 22:38:49.764+00', or without zone) as a Date. */
export function timestampFromText (text: string): Date {
  const iso = text.replace(' ', 'T')
  // '+00' → '+00:00'; no zone at all (timestamp without time zone) → UTC.
  const zoned = /[+-]\d\d$/.test(iso) ? `${iso}:00` : /([+-]\d\d:?\d\d|Z)$/.test(iso) ? iso : `${iso}Z`
  return new Date(zoned)
}

function timestampArrayFromText (text: string): Date[] {
  const out: Date[] = []
  for (const m of text.slice(1, -1).matchAll(/"([^"]*)"|([^,]+)/g)) {
    const v = m[1] ?? m[2]!
    if (v !== 'NULL') out.push(timestampFromText(v))
  }
  return out
}

function toDate (v: unknown): unknown {
  if (typeof v === 'string') return timestampFromText(v)
  return v
}

/** PGlite parsers for the conventions above (its defaults give Date for `date` and number for int8). */
export const PGLITE_PARSERS: Record<number, (text: string) => any> = {
  [INT8]: (x) => x,
  [DATE]: (x) => x,
  1114: timestampFromText,
  1184: timestampFromText,
  1115: timestampArrayFromText,
  1185: timestampArrayFromText
}

interface ColumnInfo { name: string, type: number }

/**
 * Brings a postgres.js result to the conventions above. Only timestamp and date columns need it:
 * on the shared client drizzle left them as text; a client drizzle never touched returns Dates,
 * which pass through (and a `date`'s Date, UTC midnight, becomes its day).
 */
export function normalizePostgresJs<T> (rows: T[] & { columns?: readonly ColumnInfo[] }): T[] {
  const columns = rows.columns?.filter((c) => c.type === DATE || TIMESTAMP.has(c.type) || TIMESTAMP_ARRAY.has(c.type))
  if (!columns || columns.length === 0 || rows.length === 0) return Array.from(rows)
  const out = Array.from(rows)
  for (const row of out as Array<Record<string, unknown>>) {
    for (const c of columns) {
      const v = row[c.name]
      if (v === null || v === undefined) continue
      row[c.name] = c.type === DATE
        ? (v instanceof Date ? v.toISOString().slice(0, 10) : v)
        : TIMESTAMP.has(c.type)
          ? toDate(v)
          : typeof v === 'string' ? timestampArrayFromText(v) : Array.isArray(v) ? v.map(toDate) : v
    }
  }
  return out
}

/** A Postgres text array literal (`{"a","b"}`) for a `$n::text[]` parameter. */
export function pgTextArray (values: Iterable<string>): string {
  return `{${[...values].map((v) => JSON.stringify(v)).join(',')}}`
}
