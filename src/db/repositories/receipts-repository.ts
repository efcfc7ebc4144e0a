import { and, asc, desc, eq, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { requestEvents, requests, tasks } from '../schema.js'
import { backupRestoreErasures, backupRestores, backupTombstones, erasureReceipts } from '../schema-proof.js'
import type { RequestRow } from './requests-repository.js'
import type { TaskRow } from './tasks-repository.js'

export type ErasureReceiptRow = typeof erasureReceipts.$inferSelect
export type NewErasureReceipt = typeof erasureReceipts.$inferInsert

/** The restore whose re-erasure a request is, with the request the person was first erased by. */
export interface ReErasureOrigin {
  restoreId: string
  connectorId: string
  backupTakenAt: Date
  originalRequestId: string
}

/** Erasure receipts, and the reads a receipt is built from (the request, its closing, tasks and restore). */
export function createReceiptsRepository (dbh: DbHandle) {
  return {
    async findRequest (id: string, tx: TxHandle = dbh): Promise<RequestRow | null> {
      const [row] = await tx.db.select().from(requests).where(eq(requests.id, id)).limit(1)
      return row ?? null
    },

    /** When the request last moved to `status` (its current closing); null when no event says so. */
    async closedAt (requestId: string, status: RequestRow['status'], tx: TxHandle = dbh): Promise<Date | null> {
      const [closing] = await tx.db.select({ at: requestEvents.at }).from(requestEvents)
        .where(and(eq(requestEvents.requestId, requestId), eq(requestEvents.toStatus, status)))
        .orderBy(desc(requestEvents.at), desc(requestEvents.id)).limit(1)
      return closing?.at ?? null
    },

    /** The receipt stored for this closing of the request. */
    async storedReceipt (requestId: string, closedAt: Date, tx: TxHandle = dbh): Promise<ErasureReceiptRow | null> {
      const [row] = await tx.db.select().from(erasureReceipts)
        .where(and(eq(erasureReceipts.requestId, requestId), eq(erasureReceipts.closedAt, closedAt))).limit(1)
      return row ?? null
    },

    /** Stores a receipt; one already stored (for the same closing) is kept and this one dropped. */
    async insertReceipt (receipt: NewErasureReceipt, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(erasureReceipts).values(receipt).onConflictDoNothing()
    },

    /** The request's tasks, by connector and action. */
    async tasksOf (requestId: string, tx: TxHandle = dbh): Promise<TaskRow[]> {
      return tx.db.select().from(tasks).where(eq(tasks.requestId, requestId)).orderBy(asc(tasks.connectorId), asc(tasks.action))
    },

    /** The restore that made this request (a re-erasure), if one did. */
    async reErasureOrigin (requestId: string, tx: TxHandle = dbh): Promise<ReErasureOrigin | null> {
      const [row] = await tx.db.select({
        restoreId: backupRestores.id,
        connectorId: backupRestores.connectorId,
        backupTakenAt: backupRestores.backupTakenAt,
        originalRequestId: backupTombstones.requestId
      }).from(backupRestoreErasures)
        .innerJoin(backupRestores, eq(backupRestores.id, backupRestoreErasures.restoreId))
        .innerJoin(backupTombstones, eq(backupTombstones.id, backupRestoreErasures.tombstoneId))
        .where(eq(backupRestoreErasures.requestId, requestId)).limit(1)
      return row ?? null
    },

    /**
     * Erasure requests closed completed or partially_completed, identifiers not yet redacted, with
     * no receipt for their current closing (the latest event that moved them to their status);
     * oldest update first.
     */
    async dueForReceipt (limit: number): Promise<string[]> {
      const due = await dbh.rows<{ id: string }>(sql`
        select r.id from requests r
        where r.type = 'erasure' and r.status in ('completed', 'partially_completed') and r.identifiers_redacted_at is null
          and not exists (
            select 1 from erasure_receipts e
            where e.request_id = r.id
              and e.closed_at >= (select max(ev.at) from request_events ev where ev.request_id = r.id and ev.to_status = r.status))
        order by r.updated_at limit ${limit}`)
      return due.map((r) => r.id)
    }
  }
}

export type ReceiptsRepository = ReturnType<typeof createReceiptsRepository>
