import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm'
import { TERMINAL_STATUSES } from '../../domain/lifecycle.js'
import type { DbHandle, TxHandle } from '../client.js'
import { collectedItems } from '../schema.js'

export type CollectedItemRow = typeof collectedItems.$inferSelect
export type ItemKind = 'record' | 'file'

/** What a request holds per connector, stream and kind: counts and the latest collection time. */
export interface StreamTotals { connectorId: string, stream: string, kind: ItemKind, count: number, lastCollectedAt: Date }

export function createItemsRepository (dbh: DbHandle) {
  return {
    /** Items of a request in collection order (keyset by id), optionally for one connector, stream or kind. */
    async page (requestId: string, f: { connector?: string, stream?: string, kind?: ItemKind, afterId?: number, limit: number }, tx: TxHandle = dbh): Promise<CollectedItemRow[]> {
      const where: Array<SQL | undefined> = [
        eq(collectedItems.requestId, requestId),
        f.connector ? eq(collectedItems.connectorId, f.connector) : undefined,
        f.stream ? eq(collectedItems.stream, f.stream) : undefined,
        f.kind ? eq(collectedItems.kind, f.kind) : undefined,
        f.afterId !== undefined ? gt(collectedItems.id, f.afterId) : undefined
      ]
      return tx.db.select().from(collectedItems).where(and(...where)).orderBy(asc(collectedItems.id)).limit(f.limit)
    },

    /** Every item of one stream and kind, read page by page: never all at once. */
    async * each (requestId: string, connector: string, stream: string, kind: ItemKind, pageSize = 500): AsyncGenerator<CollectedItemRow> {
      let afterId: number | undefined
      for (;;) {
        const rows = await this.page(requestId, { connector, stream, kind, limit: pageSize, ...(afterId !== undefined ? { afterId } : {}) })
        yield * rows
        if (rows.length < pageSize) return
        afterId = rows[rows.length - 1]!.id
      }
    },

    async totals (requestId: string): Promise<StreamTotals[]> {
      const rows = await dbh.db.select({
        connectorId: collectedItems.connectorId,
        stream: collectedItems.stream,
        kind: collectedItems.kind,
        count: sql<number>`count(*)::int`,
        lastCollectedAt: sql<string>`max(${collectedItems.collectedAt})`
      }).from(collectedItems).where(eq(collectedItems.requestId, requestId))
        .groupBy(collectedItems.connectorId, collectedItems.stream, collectedItems.kind)
        .orderBy(asc(collectedItems.connectorId), asc(collectedItems.stream), asc(collectedItems.kind))
      return rows.map((r) => ({ ...r, kind: r.kind as ItemKind, count: Number(r.count), lastCollectedAt: new Date(r.lastCollectedAt) }))
    },

    /** Deletes every item of a request (retention); counts records and files. Stored files are the caller's. */
    async deleteForRequest (requestId: string, tx: TxHandle = dbh): Promise<{ records: number, files: number }> {
      const [row] = await tx.rows<{ records: number, files: number }>(sql`
        with d as (delete from collected_items where request_id = ${requestId} returning kind)
        select count(*) filter (where kind = 'record')::int as records, count(*) filter (where kind = 'file')::int as files from d`)
      return { records: Number(row?.records ?? 0), files: Number(row?.files ?? 0) }
    },

    /**
     * When retention last deleted the request's collected items (null if it never did). From then on
     * what is left is not what was collected, and no archive may be built from it: the request must be
     * run again.
     */
    async itemsSweptAt (requestId: string, tx: TxHandle = dbh): Promise<Date | null> {
      const [row] = await tx.rows<{ at: string | Date | null }>(sql`
        select max(at) as at from request_events
        where request_id = ${requestId} and action in (${sql.join(ITEMS_DELETED_EVENTS.map((a) => sql`${a}`), sql`, `)})`)
      return row?.at ? new Date(row.at) : null
    },

    /**
     * Closed requests without an archive that still hold collected items (what failed or skipped
     * collections stored, or requests closed before partial results got archives), closed at least
     * `itemDays` ago, locked for this sweep; others sweeping at once, or an operator retrying a task,
     * skip them or wait. "Closed" is the request's latest status transition.
     */
    async lockUnarchivedItemsDue (now: Date, itemDays: number, limit: number, tx: TxHandle = dbh): Promise<Array<{ requestId: string }>> {
      const statuses = sql.join(TERMINAL_STATUSES.map((s) => sql`${s}`), sql`, `)
      const rows = await tx.rows<{ request_id: string }>(sql`
        select r.id as request_id from requests r
        where r.status in (${statuses})
          and not exists (select 1 from archives a where a.request_id = r.id)
          and exists (select 1 from collected_items i where i.request_id = r.id)
          and coalesce((select max(e.at) from request_events e where e.request_id = r.id and e.action = 'transition'), r.updated_at)
            + make_interval(days => ${itemDays}) <= ${now.toISOString()}::timestamptz
        order by r.id limit ${limit}
        for update of r skip locked`)
      return rows.map((r) => ({ requestId: r.request_id }))
    }
  }
}

export type ItemsRepository = ReturnType<typeof createItemsRepository>

/** The audit events retention leaves when it deletes a request's collected items. */
export const ITEMS_DELETED_EVENTS = ['collected_items_deleted', 'archive_expired'] as const
