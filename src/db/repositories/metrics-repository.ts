import { sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { OPEN_STATUSES } from '../../domain/lifecycle.js'
import { OPEN_TASK_STATUSES } from '../../domain/statuses.js'

const openList = sql.join(OPEN_STATUSES.map((s) => sql`${s}`), sql`, `)

/** The counting queries behind the Prometheus gauges (read at scrape time) and the readiness check. */
export function createMetricsRepository (dbh: DbHandle) {
  return {
    /** Requests by type, status and regime. */
    async requestCounts (tx: TxHandle = dbh): Promise<Array<{ type: string, status: string, regime: string, n: number }>> {
      return tx.rows<{ type: string, status: string, regime: string, n: number }>(sql`
        select type, status, regime, count(*)::int as n from requests group by type, status, regime`)
    },

    /**
     * Open requests past their effective due date. Not coalesce(extended_due_at, due_at): intake
     * stores extended_due_at wherever the law allows an extension, taken or not, so that would
     * hide requests that are late.
     */
    async overdueCount (tx: TxHandle = dbh): Promise<number> {
      const [row] = await tx.rows<{ n: number }>(sql`
        select count(*)::int as n from requests
        where status in (${openList}) and effective_due_at < now()`)
      return Number(row?.n ?? 0)
    },

    /** Tasks not finished, by connector and status. */
    async openTaskCounts (tx: TxHandle = dbh): Promise<Array<{ connector_id: string, status: string, n: number }>> {
      return tx.rows<{ connector_id: string, status: string, n: number }>(sql`
        select connector_id, status::text as status, count(*)::int as n from tasks
        where status in (${sql.join(OPEN_TASK_STATUSES.map((s) => sql`${s}`), sql`, `)}) group by connector_id, status`)
    },

    /** pg-boss jobs by queue and state; throws while pg-boss has not created its schema. */
    async queueJobCounts (tx: TxHandle = dbh): Promise<Array<{ name: string, state: string, n: number }>> {
      return tx.rows<{ name: string, state: string, n: number }>(sql`
          select name, state::text as state, count(*)::int as n from pgboss.job group by name, state`)
    },

    /**
     * The `created_at` of the newest migration applied (drizzle records its journal's `when`), as
     * the driver returns it; null when none. Throws 42P01 while the migrations table does not exist.
     */
    async latestAppliedMigration (tx: TxHandle = dbh): Promise<string | number | null> {
      const [row] = await tx.rows<{ latest: string | number | null }>(sql`
      select max(created_at) as latest from drizzle.__drizzle_migrations`)
      return row?.latest ?? null
    }
  }
}

export type MetricsRepository = ReturnType<typeof createMetricsRepository>
