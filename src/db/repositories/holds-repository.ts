import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { holdReviewWarnings, legalHolds, type HoldCover } from '../schema-holds.js'

export type HoldRow = typeof legalHolds.$inferSelect
export type NewHold = Pick<typeof legalHolds.$inferInsert, 'id' | 'personKeys' | 'ground' | 'reference' | 'note' | 'reviewAt' | 'covers' | 'createdBy'>
export type { HoldCover }

/** The keys as a text[] built in SQL, so that both drivers bind one JSON text. */
const keyArray = (keys: readonly string[]) => sql`array(select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))`

/** Legal holds (schema-holds.ts) and the review warnings sent about them. */
export function createHoldsRepository (dbh: DbHandle) {
  return {
    async insert (hold: NewHold, tx: TxHandle = dbh): Promise<HoldRow> {
      const [row] = await tx.db.insert(legalHolds).values(hold).returning()
      return row!
    },

    async findById (id: string, tx: TxHandle = dbh): Promise<HoldRow | null> {
      const [row] = await tx.db.select().from(legalHolds).where(eq(legalHolds.id, id))
      return row ?? null
    },

    /** Newest first; `active` filters on whether a hold is still in force (not released). */
    async list (opts: { active?: boolean | undefined, limit: number }, tx: TxHandle = dbh): Promise<HoldRow[]> {
      const where = opts.active === undefined ? undefined : opts.active ? isNull(legalHolds.releasedAt) : sql`${legalHolds.releasedAt} is not null`
      return tx.db.select().from(legalHolds).where(where).orderBy(desc(legalHolds.createdAt), desc(legalHolds.id)).limit(opts.limit)
    },

    /** Active holds on a person known by any of `keys`, oldest first. */
    async activeFor (keys: readonly string[], tx: TxHandle = dbh): Promise<HoldRow[]> {
      if (keys.length === 0) return []
      return tx.db.select().from(legalHolds)
        .where(and(isNull(legalHolds.releasedAt), sql`${legalHolds.personKeys} && ${keyArray(keys)}`))
        .orderBy(legalHolds.createdAt, legalHolds.id)
    },

    /** Releases an active hold; null when there is none with this id still active. */
    async release (id: string, by: string, reason: string, tx: TxHandle = dbh): Promise<HoldRow | null> {
      const [row] = await tx.db.update(legalHolds).set({ releasedAt: sql`now()`, releasedBy: by, releaseReason: reason })
        .where(and(eq(legalHolds.id, id), isNull(legalHolds.releasedAt))).returning()
      return row ?? null
    },

    /** Active holds whose review date is before `now`, earliest first. */
    async dueForReview (now: Date, limit: number, tx: TxHandle = dbh): Promise<HoldRow[]> {
      return tx.db.select().from(legalHolds)
        .where(and(isNull(legalHolds.releasedAt), lt(legalHolds.reviewAt, now)))
        .orderBy(legalHolds.reviewAt, legalHolds.id).limit(limit)
    },

    /**
     * Claims the review warning of (hold, review date); true when this caller holds the claim. One
     * delivered is never claimed again; one claimed and undelivered is taken over after `leaseSeconds`.
     */
    async claimReview (holdId: string, reviewAt: Date, leaseSeconds: number, tx: TxHandle = dbh): Promise<{ recorded: boolean } | null> {
      const [row] = await tx.rows<{ recorded_at: unknown }>(sql`
        insert into hold_review_warnings (hold_id, review_at) values (${holdId}, ${reviewAt.toISOString()})
        on conflict (hold_id, review_at) do update set notified_at = now()
          where hold_review_warnings.delivery_status is null
            and hold_review_warnings.notified_at < now() - make_interval(secs => ${leaseSeconds})
        returning recorded_at`)
      return row ? { recorded: row.recorded_at !== null } : null
    },

    /** Notes that the warning's system event was recorded (in the caller's transaction with the event). */
    async markRecorded (holdId: string, reviewAt: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(holdReviewWarnings).set({ recordedAt: sql`now()` })
        .where(and(eq(holdReviewWarnings.holdId, holdId), eq(holdReviewWarnings.reviewAt, reviewAt)))
    },

    /** Records the HTTP status of a delivered warning (or 0 where no webhook is configured): it is not sent again. */
    async markDelivered (holdId: string, reviewAt: Date, status: number, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(holdReviewWarnings).set({ deliveryStatus: status })
        .where(and(eq(holdReviewWarnings.holdId, holdId), eq(holdReviewWarnings.reviewAt, reviewAt)))
    },

    /** Gives a claim back after a failed delivery (its event stays recorded), so the next run tries again. */
    async releaseClaim (holdId: string, reviewAt: Date, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(holdReviewWarnings).set({ notifiedAt: sql`'epoch'::timestamptz` })
        .where(and(eq(holdReviewWarnings.holdId, holdId), eq(holdReviewWarnings.reviewAt, reviewAt)))
    }
  }
}

export type HoldsRepository = ReturnType<typeof createHoldsRepository>
