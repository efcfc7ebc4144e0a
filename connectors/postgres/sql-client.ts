import postgres from 'postgres'
import type { PGlite, Transaction } from '@electric-sql/pglite'
import type { ServiceDatabase } from '../types.js'
import { normalizePostgresJs, PGLITE_PARSERS } from '../../src/db/pg-types.js'

export type Row = Record<string, unknown>

export interface QueryResult<T = Row> {
  rows: T[]
  /** Rows returned, or affected by INSERT/UPDATE/DELETE. */
  count: number
}

export interface QueryOptions {
  /** Cancels the statement on the server (postgres.js) when aborted. */
  signal?: AbortSignal
}

/** What a transaction body may run: queries only, on the transaction's connection. */
export interface SqlQueryable {
  query<T = Row> (text: string, params: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<T>>
}

/** One statement with its positional parameters. */
export interface Statement { text: string, params: readonly unknown[] }

/**
 * The few things the connector needs from a database, over postgres.js or PGlite. Parameters
 * are positional (`$1`); strings and numbers go untyped so the server infers each from its use.
 */
export interface SqlClient extends SqlQueryable {
  readonly kind: 'postgres' | 'pglite'
  /**
   * Runs independent statements in one round trip: pipelined on one connection, each on its own
   * (as separate queries would run, each committed before the next begins). Results in order.
   */
  many<T = Row> (statements: readonly Statement[], opts?: QueryOptions): Promise<Array<QueryResult<T>>>
  /** Streams the rows in batches of at most `batchSize`; the next batch is read when asked for. */
  cursor<T = Row> (text: string, params: readonly unknown[], batchSize: number, opts?: QueryOptions): AsyncIterable<T[]>
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T> (fn: (tx: SqlQueryable) => Promise<T>): Promise<T>
  /** Ends the pool when this client owns it; a borrowed database is left open. */
  close (): Promise<void>
}

/** A client with its own small pool on `url`. */
export function sqlClientFromUrl (url: string, opts: { max?: number } = {}): SqlClient {
  const sql = postgres(url, {
    max: opts.max ?? 4,
    onnotice: () => {},
    idle_timeout: 60,
    connect_timeout: 10,
    connection: { application_name: 'dsar-connector-postgres' }
  })
  return postgresJsClient(sql, true)
}

/** A client over the service's own database (postgres.js or PGlite). It never closes it. */
export function sqlClientOfService (db: ServiceDatabase): SqlClient {
  return db.kind === 'postgres' ? postgresJsClient(db.sql, false) : pgliteClient(db.pg)
}

function postgresJsClient (sql: postgres.Sql, owned: boolean): SqlClient {
  return {
    kind: 'postgres',
    query: (text, params, opts) => pjsQuery(sql, text, params, opts),
    async many<T = Row> (statements: readonly Statement[], opts?: QueryOptions): Promise<Array<QueryResult<T>>> {
      if (statements.length <= 1) return Promise.all(statements.map((s) => pjsQuery<T>(sql, s.text, s.params, opts)))
      // Issued in one turn on one connection, postgres.js writes them together.
      const conn = await sql.reserve()
      try {
        const runs = statements.map((s) => pjsQuery<T>(conn, s.text, s.params, opts))
        for (const run of runs) run.catch(() => {}) // each is awaited below; the first failure is thrown
        return await Promise.all(runs)
      } finally {
        conn.release()
      }
    },
    async * cursor<T = Row> (text: string, params: readonly unknown[], batchSize: number, opts?: QueryOptions): AsyncIterable<T[]> {
      const q = sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })
      const stop = cancelOnAbort(q, opts?.signal)
      try {
        for await (const rows of q.cursor(batchSize)) yield normalizePostgresJs(rows) as unknown as T[]
      } finally {
        stop()
      }
    },
    async transaction (fn) {
      const result = await sql.begin((tx) => fn({ query: (text, params, opts) => pjsQuery(tx, text, params, opts) }))
      return result as Awaited<ReturnType<typeof fn>>
    },
    async close () {
      if (owned) await sql.end({ timeout: 5 })
    }
  }
}

async function pjsQuery<T> (sql: postgres.Sql | postgres.TransactionSql | postgres.ReservedSql, text: string, params: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<T>> {
  opts?.signal?.throwIfAborted()
  const q = sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })
  const stop = cancelOnAbort(q, opts?.signal)
  try {
    const res = await q
    return { rows: normalizePostgresJs(res) as T[], count: res.count ?? res.length }
  } finally {
    stop()
  }
}

function cancelOnAbort (q: { cancel (): unknown }, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => {}
  // cancel() asks the server to stop the statement; the query then rejects with 57014.
  const onAbort = () => { Promise.resolve(q.cancel()).catch(() => {}) }
  signal.addEventListener('abort', onAbort, { once: true })
  return () => signal.removeEventListener('abort', onAbort)
}

function pgliteClient (pg: PGlite): SqlClient {
  const query = async <T>(on: PGlite | Transaction, text: string, params: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<T>> => {
    opts?.signal?.throwIfAborted()
    const res = await on.query<T>(text, [...params], { parsers: PGLITE_PARSERS })
    return { rows: res.rows, count: res.rows.length > 0 ? res.rows.length : (res.affectedRows ?? 0) }
  }
  return {
    kind: 'pglite',
    query: (text, params, opts) => query(pg, text, params, opts),
    async many (statements, opts) {
      const results = []
      for (const s of statements) results.push(await query(pg, s.text, s.params, opts))
      return results as any
    },
    /**
     * PGlite has one connection: a real cursor would hold its transaction open while the
     * caller stores each batch in that same database, and deadlock. Its data is small, so
     * the rows are read at once and handed out in batches.
     */
    async * cursor<T = Row> (text: string, params: readonly unknown[], batchSize: number, opts?: QueryOptions): AsyncIterable<T[]> {
      const { rows } = await query<T>(pg, text, params, opts)
      for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize)
    },
    transaction: (fn) => pg.transaction((tx) => fn({ query: (text, params, opts) => query(tx, text, params, opts) })),
    async close () {}
  }
}
