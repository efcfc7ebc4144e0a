import { and, asc, eq, gt, type SQL } from 'drizzle-orm'
import type { DbHandle } from '../client.js'
import { collectedItems } from '../schema.js'

export type CollectedItemRow = typeof collectedItems.$inferSelect

export function createItemsRepository (dbh: DbHandle) {
  return {
    /** Items of a request in collection order, optionally for one connector or stream. */
    async page (requestId: string, f: { connector?: string, stream?: string, afterId?: number, limit: number }): Promise<CollectedItemRow[]> {
      const where: Array<SQL | undefined> = [
        eq(collectedItems.requestId, requestId),
        f.connector ? eq(collectedItems.connectorId, f.connector) : undefined,
        f.stream ? eq(collectedItems.stream, f.stream) : undefined,
        f.afterId !== undefined ? gt(collectedItems.id, f.afterId) : undefined
      ]
      return dbh.db.select().from(collectedItems).where(and(...where)).orderBy(asc(collectedItems.id)).limit(f.limit)
    }
  }
}
