import { eq, sql } from 'drizzle-orm'
import type { TxHandle } from '../client.js'
import { connectorHealth } from '../schema.js'

export type ConnectorHealthRow = typeof connectorHealth.$inferSelect
export type NewConnectorHealthRow = typeof connectorHealth.$inferInsert

/** A connector's latest check as the latest-per-connector query returns it (snake_case, raw types). */
export interface LatestHealthRow {
  connector_id: string
  status: string
  latency_ms: number | null
  message: string | null
  checked_at: Date | string
}

/** The history of connector health checks (connector_health): the latest one per connector is its current health. */
export function createConnectorHealthRepository (dbh: TxHandle) {
  return {
    /** The latest check of every connector that has one (ties on checked_at broken by the newest id). */
    async latest (tx: TxHandle = dbh): Promise<LatestHealthRow[]> {
      return tx.rows<LatestHealthRow>(sql`
    select distinct on (connector_id) connector_id, status, latency_ms, message, checked_at
    from connector_health order by connector_id, checked_at desc, id desc`)
    },

    /** The status of the connector's latest check; null when it was never checked. */
    async latestStatus (connectorId: string, tx: TxHandle = dbh): Promise<string | null> {
      const [row] = await tx.db.select({ status: connectorHealth.status }).from(connectorHealth)
        .where(eq(connectorHealth.connectorId, connectorId))
        .orderBy(sql`${connectorHealth.checkedAt} desc, ${connectorHealth.id} desc`).limit(1)
      return row?.status ?? null
    },

    /** Appends a check to the history. */
    async recordHealth (check: NewConnectorHealthRow, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(connectorHealth).values(check)
    }
  }
}

export type ConnectorHealthRepository = ReturnType<typeof createConnectorHealthRepository>
