import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createArchivesRepository } from '../db/repositories/archives-repository.js'
import { createItemsRepository } from '../db/repositories/items-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { archivePrefix, itemFilesPrefix } from './layout.js'

const BATCH = 20

export interface SweepResult { archives: number, itemSets: number }

/**
 * Retention: deletes what was collected for access and portability requests once it has been kept
 * long enough, whether the request completed or partially completed (both get an archive).
 * Archives past `expires_at` (ready, or failed after their last attempt) lose their zip, the
 * collected items and the stored item files, and are marked expired; collected items of ready
 * archives go earlier when COLLECTED_ITEMS_RETENTION_DAYS is shorter. Items of closed requests that
 * have no archive (failed requests, requests closed before partial results were archived) go
 * COLLECTED_ITEMS_RETENTION_DAYS after the request closed. The request and its audit trail stay,
 * with an event holding counts only.
 *
 * `itemSets` counts the requests whose collected items were deleted ahead of an archive: the
 * second and third passes.
 *
 * Any number of processes may sweep at once: rows are taken with `for update skip locked`, in
 * small batches, each in its own transaction.
 */
export function createArchiveRetention (deps: { dbh: DbHandle, storage: BlobStore, log: FastifyBaseLogger, itemsRetentionDays: number }) {
  const { dbh, storage } = deps
  const archives = createArchivesRepository(dbh)
  const items = createItemsRepository(dbh)
  const requests = createRequestsRepository(dbh)

  async function batches (sweep: () => Promise<number>): Promise<number> {
    let total = 0
    for (;;) {
      const n = await sweep()
      total += n
      if (n < BATCH) return total
    }
  }

  return async function sweepExpiredArchives (now: Date = new Date()): Promise<SweepResult> {
    const expired = await batches(() => dbh.transaction(async (tx) => {
      const due = await archives.lockExpired(now, BATCH, tx)
      for (const archive of due) {
        await storage.delete(archivePrefix(archive.requestId))
        await storage.delete(itemFilesPrefix(archive.requestId))
        const removed = await items.deleteForRequest(archive.requestId, tx)
        await archives.markExpired(archive.id, now, tx)
        await requests.recordEvent(archive.requestId, 'retention', 'archive_expired', null, {
          archive_id: archive.id, archive_bytes: archive.size ?? 0, records_deleted: removed.records, files_deleted: removed.files
        }, tx)
      }
      return due.length
    }))
    const itemSets = await batches(() => dbh.transaction(async (tx) => {
      const due = await archives.lockItemsDue(now, deps.itemsRetentionDays, BATCH, tx)
      for (const archive of due) {
        await storage.delete(itemFilesPrefix(archive.requestId))
        const removed = await items.deleteForRequest(archive.requestId, tx)
        await requests.recordEvent(archive.requestId, 'retention', 'collected_items_deleted', null, {
          records_deleted: removed.records, files_deleted: removed.files
        }, tx)
      }
      return due.length
    })) + await batches(() => dbh.transaction(async (tx) => {
      const due = await items.lockUnarchivedItemsDue(now, deps.itemsRetentionDays, BATCH, tx)
      for (const { requestId } of due) {
        await storage.delete(itemFilesPrefix(requestId))
        const removed = await items.deleteForRequest(requestId, tx)
        await requests.recordEvent(requestId, 'retention', 'collected_items_deleted', null, {
          records_deleted: removed.records, files_deleted: removed.files
        }, tx)
      }
      return due.length
    }))
    if (expired + itemSets > 0) deps.log.info({ archives: expired, itemSets }, 'retention sweep deleted expired data')
    return { archives: expired, itemSets }
  }
}

export type SweepExpiredArchives = ReturnType<typeof createArchiveRetention>
