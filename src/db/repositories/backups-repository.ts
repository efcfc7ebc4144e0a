import { and, asc, count, eq, gt, gte, isNotNull, isNull, lte, or, sql } from 'drizzle-orm'
import type { TxHandle } from '../client.js'
import { requestEvents, requests, tasks } from '../schema.js'
import { backupRestoreErasures, backupRestores, backupTombstones } from '../schema-proof.js'
import type { RequestRow } from './requests-repository.js'
import type { TaskRow } from './tasks-repository.js'

export type RestoreRow = typeof backupRestores.$inferSelect
export type NewRestore = typeof backupRestores.$inferInsert
export type NewRestoreErasure = typeof backupRestoreErasures.$inferInsert
export type NewRequest = typeof requests.$inferInsert
export type NewRequestEvent = typeof requestEvents.$inferInsert

/** A live tombstone in restored data, locked, with what its re-erasure takes from the original request. */
export interface LiveTombstone extends Pick<RequestRow, 'regime' | 'jurisdiction' | 'timeZone' | 'requester'> {
  id: string
  sealedSubject: string | null
  originalId: string
}

/** A tombstone waiting for its seal and kept_until, with the identifiers of its request. */
export interface PendingTombstone {
  id: string
  connectorId: string
  lastErasedAt: Date
  sealedSubject: string | null
  subject: RequestRow['subject']
}

/** What settling a pending tombstone writes: the seal (when there is one to make) and its kept_until. */
export interface TombstoneSettlement {
  sealedSubject?: string
  retentionDays: number
  keptUntil: Date
}

/** The tombstones of a connector whose last erasure is in a backup taken at `takenAt` (its restored data). */
const inRestoredData = (connectorId: string, takenAt: Date) =>
  and(eq(backupTombstones.connectorId, connectorId), gte(backupTombstones.lastErasedAt, takenAt))

/**
 * Backup restores, their re-erasures, and backup tombstones. It takes any handle, not only the
 * pool's: the tombstone functions run in a transaction they are given and have no other, and
 * nothing here needs more than a handle's query paths.
 */
export function createBackupsRepository (dbh: TxHandle) {
  return {
    async findRestore (id: string, tx: TxHandle = dbh): Promise<RestoreRow | null> {
      const [row] = await tx.db.select().from(backupRestores).where(eq(backupRestores.id, id)).limit(1)
      return row ?? null
    },

    /** The restore of this connector from the backup taken at `backupTakenAt` (there is at most one). */
    async findRestoreOf (connectorId: string, backupTakenAt: Date, tx: TxHandle = dbh): Promise<RestoreRow | null> {
      const [row] = await tx.db.select().from(backupRestores)
        .where(and(eq(backupRestores.connectorId, connectorId), eq(backupRestores.backupTakenAt, backupTakenAt))).limit(1)
      return row ?? null
    },

    /** The requests a restore made, each with the request that first erased the person, oldest first. */
    async reErasuresOf (restoreId: string, tx: TxHandle = dbh): Promise<Array<Pick<RequestRow, 'id' | 'status'> & { originalRequestId: string }>> {
      return tx.db.select({
        id: requests.id, status: requests.status, originalRequestId: backupTombstones.requestId
      }).from(backupRestoreErasures)
        .innerJoin(requests, eq(requests.id, backupRestoreErasures.requestId))
        .innerJoin(backupTombstones, eq(backupTombstones.id, backupRestoreErasures.tombstoneId))
        .where(eq(backupRestoreErasures.restoreId, restoreId))
        .orderBy(asc(backupRestoreErasures.createdAt), asc(requests.id))
    },

    /** Records a restore; null when the same one (connector, backup_taken_at) exists already. */
    async insertRestore (restore: NewRestore, tx: TxHandle = dbh): Promise<string | null> {
      const [row] = await tx.db.insert(backupRestores).values(restore).onConflictDoNothing().returning({ id: backupRestores.id })
      return row?.id ?? null
    },

    /** Inserts a request made by a restore, then its first audit event: two statements, in this order. */
    async insertReErasureRequest (request: NewRequest & { id: string }, created: Omit<NewRequestEvent, 'requestId'>, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(requests).values(request)
      await tx.db.insert(requestEvents).values({ requestId: request.id, ...created })
    },

    /** Links a re-erasure to its restore and tombstone; false when that tombstone was already erased again for the restore. */
    async linkReErasure (link: NewRestoreErasure, tx: TxHandle = dbh): Promise<boolean> {
      const linked = await tx.db.insert(backupRestoreErasures).values(link)
        .onConflictDoNothing().returning({ requestId: backupRestoreErasures.requestId })
      return linked.length > 0
    },

    async setRestoreCounts (id: string, counts: { matched: number, expired: number, unreadable: number }, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(backupRestores).set(counts).where(eq(backupRestores.id, id))
    },

    /** How many of the connector's tombstones in restored data are expired, or past kept_until at `now`. */
    async countGoneInRestoredData (connectorId: string, takenAt: Date, now: Date, tx: TxHandle = dbh): Promise<number> {
      const [expired] = await tx.db.select({ n: count() }).from(backupTombstones)
        .where(and(inRestoredData(connectorId, takenAt), or(isNotNull(backupTombstones.expiredAt), lte(backupTombstones.keptUntil, now))))
      return Number(expired?.n ?? 0)
    },

    /** The live tombstones in restored data, oldest erasure first, locked for the caller's transaction. */
    async lockLiveInRestoredData (connectorId: string, takenAt: Date, now: Date, tx: TxHandle = dbh): Promise<LiveTombstone[]> {
      return tx.db.select({
        id: backupTombstones.id,
        sealedSubject: backupTombstones.sealedSubject,
        originalId: requests.id,
        regime: requests.regime,
        jurisdiction: requests.jurisdiction,
        timeZone: requests.timeZone,
        requester: requests.requester
      }).from(backupTombstones).innerJoin(requests, eq(requests.id, backupTombstones.requestId))
        .where(and(inRestoredData(connectorId, takenAt), isNull(backupTombstones.expiredAt), gt(backupTombstones.keptUntil, now)))
        .orderBy(asc(backupTombstones.lastErasedAt), asc(backupTombstones.id))
        .for('update', { of: backupTombstones })
    },

    /** The request's erase tasks that succeeded. */
    async succeededErasures (requestId: string, tx: TxHandle = dbh): Promise<Array<Pick<TaskRow, 'connectorId' | 'finishedAt' | 'result'>>> {
      return tx.db.select({ connectorId: tasks.connectorId, finishedAt: tasks.finishedAt, result: tasks.result })
        .from(tasks).where(and(eq(tasks.requestId, requestId), eq(tasks.action, 'erase'), eq(tasks.status, 'succeeded')))
    },

    /** The tombstone a re-erasure was made for; null for a request no restore made. */
    async reErasedTombstoneOf (requestId: string, tx: TxHandle = dbh): Promise<string | null> {
      const [link] = await tx.db.select({ tombstoneId: backupRestoreErasures.tombstoneId })
        .from(backupRestoreErasures).where(eq(backupRestoreErasures.requestId, requestId))
      return link?.tombstoneId ?? null
    },

    /**
     * Moves a live tombstone of the connector on to a later erasure (last_erased_at never goes back),
     * pending again: kept_until is recomputed when it is next settled. False when it is not live.
     */
    async moveTombstoneOn (tombstoneId: string, connectorId: string, erasedAt: Date, tx: TxHandle = dbh): Promise<boolean> {
      const moved = await tx.db.update(backupTombstones).set({
        lastErasedAt: sql`greatest(${backupTombstones.lastErasedAt}, ${erasedAt.toISOString()}::timestamptz)`,
        keptUntil: null,
        retentionDays: null
      }).where(and(eq(backupTombstones.id, tombstoneId), eq(backupTombstones.connectorId, connectorId), isNull(backupTombstones.expiredAt)))
        .returning({ id: backupTombstones.id })
      return moved.length > 0
    },

    /** A pending tombstone for the request's erasure from the connector; false when the request has one for it already. */
    async insertPendingTombstone (tombstone: { requestId: string, connectorId: string, erasedAt: Date }, tx: TxHandle = dbh): Promise<boolean> {
      const inserted = await tx.db.insert(backupTombstones).values({
        requestId: tombstone.requestId, connectorId: tombstone.connectorId, erasedAt: tombstone.erasedAt, lastErasedAt: tombstone.erasedAt
      }).onConflictDoNothing().returning({ id: backupTombstones.id })
      return inserted.length > 0
    },

    /** Up to `limit` pending tombstones (one connector's, or all), oldest first. */
    async pendingTombstones (limit: number, connectorId?: string, tx: TxHandle = dbh): Promise<PendingTombstone[]> {
      return tx.db.select({
        id: backupTombstones.id,
        connectorId: backupTombstones.connectorId,
        lastErasedAt: backupTombstones.lastErasedAt,
        sealedSubject: backupTombstones.sealedSubject,
        subject: requests.subject
      }).from(backupTombstones).innerJoin(requests, eq(requests.id, backupTombstones.requestId))
        .where(and(
          isNull(backupTombstones.keptUntil), isNull(backupTombstones.expiredAt),
          connectorId ? eq(backupTombstones.connectorId, connectorId) : undefined
        ))
        .orderBy(asc(backupTombstones.createdAt)).limit(limit)
    },

    /** Seals (when given the seal) and sets the kept_until of a tombstone still pending. */
    async settleTombstone (id: string, settlement: TombstoneSettlement, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(backupTombstones).set(settlement)
        .where(and(eq(backupTombstones.id, id), isNull(backupTombstones.keptUntil)))
    },

    /**
     * Deletes the sealed identifiers of the live tombstones (one connector's, or all) whose
     * kept_until has come, marking them expired at `now`: the connector of each one expired.
     */
    async expireTombstonesDue (now: Date, connectorId?: string, tx: TxHandle = dbh): Promise<string[]> {
      const expired = await tx.db.update(backupTombstones).set({ sealedSubject: null, expiredAt: now })
        .where(and(
          isNull(backupTombstones.expiredAt), lte(backupTombstones.keptUntil, now),
          connectorId ? eq(backupTombstones.connectorId, connectorId) : undefined
        ))
        .returning({ connectorId: backupTombstones.connectorId })
      return expired.map((r) => r.connectorId)
    }
  }
}

export type BackupsRepository = ReturnType<typeof createBackupsRepository>
