import { mkdirSync } from 'node:fs'
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
import * as callbackSchema from './schema-callbacks.js'
import * as verificationSchema from './schema-verification.js'
import * as auditSchema from './schema-audit.js'
import * as transferSchema from './schema-transfers.js'
import * as identitySchema from './schema-identity.js'
import * as suppressionSchema from './schema-suppressions.js'
import * as holdSchema from './schema-holds.js'
import * as accountSchema from './schema-accounts.js'
import * as opendsrSchema from './schema-opendsr.js'
import { normalizePostgresJs, PGLITE_PARSERS } from './pg-types.js'
import { shippedPath } from '../shipped-path.js'

/** drizzle/ sits at the repo root. */
export const migrationsFolder = shippedPath(import.meta.url, '../../drizzle', 'meta/_journal.json')

const schema = { ...coreSchema, ...proofSchema, ...callbackSchema, ...verificationSchema, ...auditSchema, ...transferSchema, ...identitySchema, ...suppressionSchema, ...holdSchema, ...opendsrSchema, ...accountSchema }
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

/**
 * The minimal SQL executor pg-boss needs, over the same connection as the app. Like every raw path
 * here, its rows follow one set of type conventions on both databases (pg-types.ts).
 */
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
   * Runs `fn` on one connection, without a transaction: statements it sends in one turn go out
   * in one write (one round trip) and run in the order sent, each committed on its own before the
   * next begins, so a later one sees what an earlier one wrote.
   */
  together<T> (fn: (on: TxHandle) => Promise<T>): Promise<T>
  /**
   * Runs `fn` in one transaction. Its handle also serves pg-boss (`send(…, { db: tx.executor })`),
   * so jobs are enqueued atomically with the rows that need them.
   */
  transaction<T> (fn: (tx: TxHandle) => Promise<T>): Promise<T>
  /** LISTEN on `channel` (a connection of its own on Postgres); resolves to the function that stops. */
  listen (channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>
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

/**
 * The embedded database's files cannot be opened: PGlite aborts (`RuntimeError: Aborted()`) on a
 * damaged data folder, e.g. one whose control file was cut short. Start-up prints this message,
 * which says what to do, instead of the bare abort.
 */
export class EmbeddedDbUnreadableError extends Error {
  readonly code = 'EMBEDDED_DB_UNREADABLE'
  constructor (dataDir: string, cause: unknown) {
    super(`The embedded database in ${dataDir} cannot be opened: its files are damaged or incomplete ` +
      `(${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}). Nothing was changed. ` +
      'Restore that folder from a backup (a copy taken while the service was stopped), or move it aside to start ' +
      'with an empty database; for data that must survive crashes and power loss, use a Postgres server (DATABASE_URL).', { cause })
    this.name = 'EmbeddedDbUnreadableError'
  }
}

const dialect = new PgDialect()

/** Seconds before a connection retries after `retries` failed connects in a row: 50 ms doubling, at most 0.5 s. */
export function reconnectBackoff (retries: number): number {
  return Math.min(0.05 * 2 ** Math.max(0, retries - 1), 0.5)
}

const CONNECT_TIMEOUT_SECONDS = 5

/** How long taking a connection of the pool for a transaction may wait before it fails as unreachable. */
const RESERVE_TIMEOUT_MS = 15_000

/**
 * A connection of the pool for one caller (a transaction, pg-boss' multi-statement SQL). Bounded:
 * postgres.js can lose a reserve request when connections close and reopen around it (a restart),
 * which would leave the caller, and the lease it renews, waiting forever. Past the bound it fails as
 * CONNECT_TIMEOUT (the database is unreachable: 503 to an API caller, a retry for a job), and a
 * connection that comes after all goes back to the pool.
 */
async function reserveWithin (client: postgres.Sql, ms = RESERVE_TIMEOUT_MS): Promise<postgres.ReservedSql> {
  let timer: NodeJS.Timeout | undefined
  let late = false
  const reserving = client.reserve()
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      late = true
      reject(Object.assign(new Error(`no database connection within ${ms} ms`), { code: 'CONNECT_TIMEOUT' }))
    }, ms)
  })
  try {
    return await Promise.race([reserving, timeout])
  } finally {
    clearTimeout(timer)
    if (late) reserving.then((conn) => conn.release(), () => {})
  }
}

function openPostgres (url: string, max: number): DbHandle {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: 'dsar-service' },
    // Through an outage or a restart, every failed connect adds to a backoff shared by the pool,
    // which by default grows to 10-20 s: the service would stay unready that long after the
    // database came back. Retry within half a second instead (a failed connect is cheap: refused).
    backoff: reconnectBackoff,
    // A database that does not answer at all (a network partition) fails a request in seconds, not 30.
    connect_timeout: CONNECT_TIMEOUT_SECONDS
  })
  const db = drizzlePg(preparing(client), { schema }) as unknown as Db
  return {
    kind: 'postgres',
    raw: { kind: 'postgres', sql: client },
    db,
    async rows (query) {
      // Prepared (named) statements: Postgres parses and plans a hot statement such as the
      // intake insert once per connection, and the client skips a describe round trip.
      const { sql: text, params } = dialect.sqlToQuery(query)
      return normalizePostgresJs(await client.unsafe(text, params as any[], { prepare: true }))
    },
    async prepared (text, params) {
      return normalizePostgresJs(await client.unsafe(text, params as any[], { prepare: true })) as any[]
    },
    executor: postgresExecutor(client, async (fn) => {
      // pg-boss sends 'BEGIN; …; COMMIT;' as one string: it needs one connection for all of it.
      const conn = await reserveWithin(client)
      try { return await fn(conn) } finally { conn.release() }
    }),
    async together (fn) {
      const conn = await reserveWithin(client)
      try {
        return await fn(onConnection(conn, client))
      } finally {
        conn.release()
      }
    },
    async transaction (fn) {
      // A reserved connection, not sql.begin: BEGIN is sent without waiting for its answer, so it
      // travels with the transaction's first statement (one write, one round trip fewer). Should
      // BEGIN fail, so do the statements behind it, and the transaction with them.
      const conn = await reserveWithin(client)
      try {
        const begun = conn.unsafe('begin').execute()
        begun.catch(() => {})
        const result = await fn(onConnection(conn, client))
        await begun
        await conn.unsafe('commit')
        return result
      } catch (err) {
        await conn.unsafe('rollback').catch(() => {})
        throw err
      } finally {
        conn.release()
      }
    },
    async listen (channel, onPayload) {
      const { unlisten } = await client.listen(channel, onPayload)
      return unlisten
    },
    migrate: () => migratePg(drizzlePg(client), { migrationsFolder }),
    close: () => client.end({ timeout: 5 })
  }
}

/** The three ways in, bound to one reserved connection (a transaction's, or `together`'s). */
function onConnection (conn: postgres.ReservedSql, client: postgres.Sql): TxHandle {
  let connDb: Db | undefined
  return {
    // Built when first used: much work on a connection never touches drizzle's query builder.
    // Without the schema (the relational query API is not used), so building it costs no schema walk.
    get db () {
      // drizzle reads the type parsers from `client.options`, which a reserved connection's sql lacks (it shares the pool's).
      return (connDb ??= drizzlePg(preparing(Object.assign(conn, { options: client.options }) as unknown as postgres.Sql)) as unknown as Db)
    },
    async rows (query) {
      const { sql: text, params } = dialect.sqlToQuery(query)
      return normalizePostgresJs(await conn.unsafe(text, params as any[], { prepare: true }))
    },
    executor: postgresExecutor(conn, (fn) => fn(conn))
  }
}

async function openPglite (dataDir: string, loadDataDir?: Blob): Promise<DbHandle> {
  if (!dataDir.includes('://')) mkdirSync(dataDir, { recursive: true })
  const client = new PGlite(dataDir, loadDataDir ? { loadDataDir } : {})
  try {
    await client.waitReady
  } catch (err) {
    throw dataDir.includes('://') ? err : new EmbeddedDbUnreadableError(dataDir, err)
  }
  const db = drizzleLite(client, { schema }) as unknown as Db
  return {
    kind: 'pglite',
    raw: { kind: 'pglite', pg: client },
    db,
    async rows (query) {
      const { sql: text, params } = dialect.sqlToQuery(query)
      return (await client.query(text, params, { parsers: PGLITE_PARSERS })).rows as any[]
    },
    async prepared (text, params) {
      return (await client.query(text, params, { parsers: PGLITE_PARSERS })).rows as any[]
    },
    executor: pgliteExecutor(client),
    // One session: every statement already goes over the same connection.
    together (fn) { return fn(this as TxHandle) },
    async transaction (fn) {
      // PGlite has one session: other queries wait until this transaction ends, so code inside
      // must use the handle it is given, never the outer one.
      return client.transaction(async (txPg) => {
        const txDb = drizzleLite(txPg as unknown as PGlite, { schema }) as unknown as Db
        return fn({
          db: txDb,
          async rows (query) {
            const { sql: text, params } = dialect.sqlToQuery(query)
            return (await txPg.query(text, params, { parsers: PGLITE_PARSERS })).rows as any[]
          },
          executor: pgliteExecutor(txPg)
        })
      })
    },
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    migrate: () => migrateLite(drizzleLite(client), { migrationsFolder }),
    close: () => client.close()
  }
}

/**
 * pg-boss's executor on postgres.js: values sent as node-postgres sends them, rows typed as on
 * PGlite. Parameterless text may hold several statements (simple protocol, on one connection given
 * by `onOneConnection`); the last statement's rows are returned, as node-postgres returns them.
 */
function postgresExecutor (sql: postgres.Sql | postgres.TransactionSql, onOneConnection: <T>(fn: (conn: postgres.Sql | postgres.TransactionSql) => Promise<T>) => Promise<T>): SqlExecutor {
  return {
    async executeSql (text, values) {
      if (values?.length) return { rows: normalizePostgresJs(await sql.unsafe(text, values.map(pgValue) as any[], { prepare: true })) }
      return onOneConnection(async (conn) => {
        const res: any = await conn.unsafe(text)
        const last = Array.isArray(res) && res.length > 0 && Array.isArray(res[res.length - 1]) ? res[res.length - 1] : res
        return { rows: normalizePostgresJs(last) }
      })
    }
  }
}

/** pg-boss's executor on PGlite, with the same row types as everywhere else. */
function pgliteExecutor (pg: Pick<PGlite, 'query' | 'exec'>): SqlExecutor {
  return {
    async executeSql (text, values) {
      if (values?.length) return pg.query(text, values, { parsers: PGLITE_PARSERS })
      const results = await pg.exec(text, { parsers: PGLITE_PARSERS })
      return { rows: results.length > 0 ? results[results.length - 1]!.rows : [] }
    }
  }
}

/**
 * The client with every parameterised statement prepared (named), as drizzle's queries are not
 * unless given a name. postgres.js sends an unnamed statement with parameters in two round trips
 * (Parse and Describe, then wait for the parameter types before Bind and Execute), and nothing
 * else can be pipelined on the connection meanwhile; a prepared one, after its first use on a
 * connection, takes one round trip and skips Postgres's parse and plan. The statements kept per
 * connection are few (the service's SQL texts are fixed, or vary only with bounded list lengths)
 * and go with the connection (postgres.js recycles a connection after 30 to 60 minutes).
 */
function preparing<T extends postgres.Sql> (sql: T): T {
  const unsafe = sql.unsafe.bind(sql)
  return new Proxy(sql, {
    get (target, prop, receiver) {
      if (prop === 'unsafe') return (text: string, args?: any[], opts?: postgres.UnsafeQueryOptions) => unsafe(text, args, { ...opts, prepare: true })
      return Reflect.get(target, prop, receiver)
    }
  })
}

/** Values as node-postgres would send them (pg-boss passes objects, dates and undefined). */
function pgValue (v: unknown): unknown {
  if (v === undefined) return null
  if (v instanceof Date) return v.toISOString()
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) return JSON.stringify(v)
  return v
}
