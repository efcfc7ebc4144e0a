import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { collectedItems } from '../schema.js'

export type CollectedItemRow = typeof collectedItems.$inferSelect
export type ItemKind = 'record' | 'file'

/** What a request holds per connector, stream and kind: counts and the latest collection time. */
export interface StreamTotals { connectorId: string, stream: string, kind: ItemKind, count: number, lastCollectedAt: Date }

export function createItemsRepository (dbh: DbHandle) {
  return {
    /** Items of a request in collection order (keyset by id), optionally for one connector, stream or kind. */
    async page (requestId: string, f: { connector?: string, stream?: string, kind?: ItemKind, afterId?: number, limit: number }): Promise<CollectedItemRow[]> {
      const where: Array<SQL | undefined> = [
        eq(collectedItems.requestId, requestId),
        f.connector ? eq(collectedItems.connectorId, f.connector) : undefined,
        f.stream ? eq(collectedItems.stream, f.stream) : undefined,
        f.kind ? eq(collectedItems.kind, f.kind) : undefined,
        f.afterId !== undefined ? gt(collectedItems.id, f.afterId) : undefined
      ]
      return dbh.db.select().from(collectedItems).where(and(...where)).orderBy(asc(collectedItems.id)).limit(f.limit)
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
    async deleteForRequest (tx: TxHandle, requestId: string): Promise<{ records: number, files: number }> {
      const [row] = await tx.rows<{ records: number, files: number }>(sql`
        with d as (delete from collected_items where request_id = ${requestId} returning kind)
        select count(*) filter (where kind = 'record')::int as records, count(*) filter (where kind = 'file')::int as files from d`)
      return { records: Number(row?.records ?? 0), files: Number(row?.files ?? 0) }
    }
  }
}

export type ItemsRepository = ReturnType<typeof createItemsRepository>
