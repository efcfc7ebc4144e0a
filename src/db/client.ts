import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { drizzle as drizzlePg } from 'drizzle-orm/postgres-js'
import { migrate as migratePg } from 'drizzle-orm/postgres-js/migrator'
import { drizzle as drizzleLite } from 'drizzle-orm/pglite'
import { migrate as migrateLite } from 'drizzle-orm/pglite/migrator'
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import type { SQL } from 'drizzle-orm'
import * as coreSchema from './schema.js'
import * as proofSchema from './schema-proof.js'

/** drizzle/ sits at the repo root: two levels up from src/db, three from dist/src/db. */
export const migrationsFolder = [ '../../drizzle', '../../../drizzle' ]
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(`${dir}/meta/_journal.json`)) ?? fileURLToPath(new URL('../../drizzle', import.meta.url))

const schema = { ...coreSchema, ...proofSchema }
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

/** The minimal SQL executor pg-boss needs, over the same connection as the app. */
export interface SqlExecutor {
  executeSql (text: string, values?: unknown[]): Promise<{ rows: any[] }>
}

/** The driver underneath, for the few places that need it (streaming cursors, the sample systems). */
export type RawClient = { kind: 'postgres', sql: postgres.Sql } | { kind: 'pglite', pg: PGlite }

/** What code running inside a transaction gets: the same three ways in, bound to the transaction. */
export interface TxHandle {
  db: Db
  executor: SqlExecutor
  rows<T = Record<string, unknown>> (query: SQL): Promise<T[]>
}

export interface DbHandle extends TxHandle {
  kind: 'postgres' | 'pglite'
  raw: RawClient
  /**
   * Runs one fixed SQL text with positional parameters as a prepared statement: for the hottest
   * statements, whose text never changes (parsed and planned once per connection).
   */
  prepared<T = Record<string, unknown>> (text: string, params: unknown[]): Promise<T[]>
  /**
   * Runs `fn` in one transaction. Its handle also serves pg-boss (`send(…, { db: tx.executor })`),
   * so jobs are enqueued atomically with the rows that need them.
   */
  transaction<T> (fn: (tx: TxHandle) => Promise<T>): Promise<T>
  migrate (): Promise<void>
  close (): Promise<void>
}

export interface OpenDbOptions {
  /** postgres:// URL; without one, an embedded PGlite database in `dataDir` (or `memory://`). */
  url?: string
  dataDir?: string
  /** Embedded only: start from this data directory tarball (PGlite `dumpDataDir`). */
  loadDataDir?: Blob
  maxConnections?: number
}

export async function openDb (opts: OpenDbOptions): Promise<DbHandle> {
  return opts.url ? openPostgres(opts.url, opts.maxConnections ?? 10) : openPglite(opts.dataDir ?? 'memory://', opts.loadDataDir)
}

const dialect = new PgDialect()

function openPostgres (url: string, max: number): DbHandle {
  const client = postgres(url, { max, onnotice: () => {}, connection: { application_name: 'dsar-service' } })
  const db = drizzlePg(client, { schema }) as unknown as Db
  return {
    kind: 'postgres',
    raw: { kind: 'postgres', sql: client },
    db,
    async rows (query) {
      // Prepared (named) statements: Postgres parses and plans a hot statement such as the
      // intake insert once per connection, and the client skips a describe round trip.
      const { sql: text, params } = dialect.sqlToQuery(query)
      return Array.from(await client.unsafe(text, params as any[], { prepare: true }))
    },
    async prepared (text, params) {
      return Array.from(await client.unsafe(text, params as any[], { prepare: true })) as any[]
    },
    executor: {
      async executeSql (text, values) {
        if (values?.length) return { rows: Array.from(await client.unsafe(text, values.map(pgValue) as any[])) }
        // pg-boss sends 'BEGIN; …; COMMIT;' as one string: it needs one connection for all of it.
        const conn = await client.reserve()
        try {
          const res: any = await conn.unsafe(text)
          const last = Array.isArray(res) && res.length > 0 && Array.isArray(res[res.length - 1]) ? res[res.length - 1] : res
          return { rows: Array.from(last) }
        } finally {
          conn.release()
        }
      }
    },
    async transaction (fn) {
      return client.begin(async (txSql) => {
        // drizzle reads the type parsers from `client.options`, which a transaction's sql lacks (it shares the pool's).
        const txDb = drizzlePg(Object.assign(txSql, { options: client.options }) as unknown as postgres.Sql, { schema }) as unknown as Db
        return fn({
          db: txDb,
          rows: async (query) => Array.from(await txDb.execute(query) as unknown as any[]),
          executor: {
            async executeSql (text, values) {
              return { rows: Array.from(await txSql.unsafe(text, (values ?? []).map(pgValue) as any[])) }
            }
          }
        })
      }) as Promise<any>
    },
    migrate: () => migratePg(drizzlePg(client), { migrationsFolder }),
    close: () => client.end({ timeout: 5 })
  }
}

function openPglite (dataDir: string, loadDataDir?: Blob): DbHandle {
  if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true })
  const client = new PGlite(dataDir, loadDataDir ? { loadDataDir } : {})
  const db = drizzleLite(client, { schema }) as unknown as Db
  return {
    kind: 'pglite',
    raw: { kind: 'pglite', pg: client },
    db,
    async rows (query) {
      return (await db.execute(query) as unknown as { rows: any[] }).rows
    },
    async prepared (text, params) {
      return (await client.query(text, params)).rows as any[]
    },
    executor: {
      async executeSql (text, values) {
        if (values?.length) return client.query(text, values)
        const results = await client.exec(text)
        return { rows: results.length > 0 ? results[results.length - 1]!.rows : [] }
      }
    },
    async transaction (fn) {
      // PGlite has one session: other queries wait until this transaction ends, so code inside
      // must use the handle it is given, never the outer one.
      return client.transaction(async (txPg) => {
        const txDb = drizzleLite(txPg as unknown as PGlite, { schema }) as unknown as Db
        return fn({
          db: txDb,
          rows: async (query) => (await txDb.execute(query) as unknown as { rows: any[] }).rows,
          executor: {
            async executeSql (text, values) {
              if (values?.length) return txPg.query(text, values)
              const results = await txPg.exec(text)
              return { rows: results.length > 0 ? results[results.length - 1]!.rows : [] }
            }
          }
        })
      })
    },
    migrate: () => migrateLite(drizzleLite(client), { migrationsFolder }),
    close: () => client.close()
  }
}

/** Values as node-postgres would send them (pg-boss passes objects, dates and undefined). */
function pgValue (v: unknown): unknown {
  if (v === undefined) return null
  if (v instanceof Date) return v.toISOString()
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) return JSON.stringify(v)
  return v
}
