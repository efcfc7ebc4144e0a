import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { renewLease } from '../leases.js'
import { archives } from '../schema.js'
import { transferAttempts, transfers } from '../schema-transfers.js'
import { TRANSFER_STATUSES } from '../../domain/statuses.js'
import { JobErrors } from '../../errors.js'

export type TransferRow = typeof transfers.$inferSelect
export type NewTransfer = typeof transfers.$inferInsert
export type TransferAttemptRow = typeof transferAttempts.$inferSelect
export type TransferStatus = typeof TRANSFER_STATUSES[number]

/** How a worker leaves a transfer it was sending. */
export interface TransferRelease {
  status: 'delivered' | 'retry_wait' | 'failed'
  /** Recorded on the attempt: delivered, retry, failed. */
  outcome: string
  responseStatus?: number | null
  responseExcerpt?: string | null
  deliveredSha256?: string | null
  errorCode?: string | null
  errorMessage?: string | null
  nextAttemptAt?: Date | null
  bytesSent?: number | null
}

/**
 * Transfer bookkeeping. A transfer is sent only by the worker holding its lease, and only from
 * pending or retry_wait (or a lease that expired): a delivered or failed transfer is never claimed
 * again, whatever the queue redelivers.
 */
export function createTransfersRepository (dbh: DbHandle) {
  return {
    async insert (row: NewTransfer, tx: TxHandle = dbh): Promise<TransferRow> {
      const [inserted] = await tx.db.insert(transfers).values(row).returning()
      return inserted!
    },

    async get (transferId: string, tx: TxHandle = dbh): Promise<TransferRow | null> {
      const [row] = await tx.db.select().from(transfers).where(eq(transfers.id, transferId)).limit(1)
      return row ?? null
    },

    async forRequest (requestId: string): Promise<TransferRow[]> {
      return dbh.db.select().from(transfers).where(eq(transfers.requestId, requestId)).orderBy(asc(transfers.createdAt), asc(transfers.id))
    },

    async attemptsOf (transferIds: string[]): Promise<TransferAttemptRow[]> {
      if (transferIds.length === 0) return []
      return dbh.db.select().from(transferAttempts).where(inArray(transferAttempts.transferId, transferIds)).orderBy(asc(transferAttempts.id))
    },

    /** Whether the request has an archive that can be sent now. */
    async archiveReady (requestId: string, tx: TxHandle = dbh): Promise<boolean> {
      const rows = await tx.db.select({ id: archives.id }).from(archives)
        .where(and(eq(archives.requestId, requestId), eq(archives.status, 'ready'), isNull(archives.deletedAt)))
      return rows.length > 0
    },

    /** Takes the lease and counts the attempt; null when the transfer is finished or being sent. */
    async claim (transferId: string, worker: string, leaseMs: number): Promise<TransferRow | null> {
      const [row] = await dbh.db.update(transfers).set({
        status: 'sending',
        attempts: sql`${transfers.attempts} + 1`,
        leaseOwner: worker,
        leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval`,
        nextAttemptAt: null,
        updatedAt: sql`now()`
      }).where(and(
        eq(transfers.id, transferId),
        sql`(${transfers.status} in ('pending', 'retry_wait') or (${transfers.status} = 'sending' and ${transfers.leaseExpiresAt} < now()))`
      )).returning()
      if (!row) return null
      await dbh.db.insert(transferAttempts).values({ transferId, attempt: row.attempts, worker })
      return row
    },

    /** Extends a held lease; false when it was lost (the sender must stop). */
    heartbeat: (transferId: string, worker: string, leaseMs: number): Promise<boolean> => renewLease(dbh, 'transfers', transferId, worker, leaseMs),

    /**
     * Leaves the sending state, only while `worker` holds the lease, and closes the attempt. A
     * transfer that ends (delivered or failed) loses its stored authorization in the same update.
     */
    async release (transfer: TransferRow, worker: string, next: TransferRelease, tx: TxHandle = dbh): Promise<boolean> {
      const ended = next.status !== 'retry_wait'
      const rows = await tx.db.update(transfers).set({
        status: next.status,
        ...(next.responseStatus !== undefined ? { responseStatus: next.responseStatus, responseExcerpt: next.responseExcerpt ?? null } : {}),
        ...(next.deliveredSha256 ? { deliveredSha256: next.deliveredSha256 } : {}),
        lastErrorCode: next.errorCode ?? null,
        lastErrorMessage: next.errorMessage ?? null,
        nextAttemptAt: next.nextAttemptAt ?? null,
        leaseOwner: null,
        leaseExpiresAt: null,
        ...(ended ? { authHeaderSealed: null, finishedAt: sql`now()` } : {}),
        ...(next.status === 'delivered' ? { deliveredAt: sql`now()` } : {}),
        updatedAt: sql`now()`
      }).where(and(eq(transfers.id, transfer.id), eq(transfers.leaseOwner, worker), eq(transfers.status, 'sending')))
        .returning({ id: transfers.id })
      if (rows.length === 0) return false
      await tx.db.update(transferAttempts).set({
        endedAt: sql`now()`,
        outcome: next.outcome,
        responseStatus: next.responseStatus ?? null,
        responseExcerpt: next.responseExcerpt ?? null,
        errorCode: next.errorCode ?? null,
        bytesSent: next.bytesSent ?? null
      }).where(and(eq(transferAttempts.transferId, transfer.id), eq(transferAttempts.attempt, transfer.attempts), isNull(transferAttempts.endedAt)))
      return true
    },

    /**
     * Transfers whose sender vanished (lease expired): their open attempt is closed as
     * lease_expired; those with attempts left go back to retry_wait for the caller to enqueue,
     * the others fail (authorization erased). The receiver may have got the archive in that attempt:
     * the resend carries the same Idempotency-Key.
     */
    async reapExpired (limit = 100, tx: TxHandle = dbh): Promise<{ retry: TransferRow[], failed: TransferRow[] }> {
      const expired = await tx.rows<{ id: string }>(sql`
        select id from transfers where status = 'sending' and lease_expires_at < now()
        order by lease_expires_at limit ${limit} for update skip locked`)
      if (expired.length === 0) return { retry: [], failed: [] }
      const ids = expired.map((r) => r.id)
      await tx.db.update(transferAttempts).set({ endedAt: sql`now()`, outcome: 'lease_expired', errorCode: JobErrors.TransferWorkerLost.code })
        .where(and(inArray(transferAttempts.transferId, ids), isNull(transferAttempts.endedAt)))
      const retry = await tx.db.update(transfers).set({
        status: 'retry_wait',
        leaseOwner: null,
        leaseExpiresAt: null,
        lastErrorCode: JobErrors.TransferWorkerLost.code,
        lastErrorMessage: 'the worker sending it stopped',
        updatedAt: sql`now()`
      }).where(and(inArray(transfers.id, ids), sql`${transfers.attempts} < ${transfers.maxAttempts}`)).returning()
      const failed = await tx.db.update(transfers).set({
        status: 'failed',
        leaseOwner: null,
        leaseExpiresAt: null,
        authHeaderSealed: null,
        finishedAt: sql`now()`,
        lastErrorCode: JobErrors.TransferWorkerLost.code,
        lastErrorMessage: 'the worker sending it stopped, and no attempts are left',
        updatedAt: sql`now()`
      }).where(and(inArray(transfers.id, ids), eq(transfers.status, 'sending'))).returning()
      return { retry, failed }
    }
  }
}

export type TransfersRepository = ReturnType<typeof createTransfersRepository>
