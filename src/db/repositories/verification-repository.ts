import { and, desc, eq, lte, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { requestEvents, requests } from '../schema.js'
import { verificationChallenges } from '../schema-verification.js'
import type { ChallengeStatus } from '../../domain/verification-codes.js'
import type { RequestRow } from './requests-repository.js'

export type ChallengeRow = typeof verificationChallenges.$inferSelect

/**
 * Verification challenges, and the request's wait in `verifying` (verifying_since, the paused
 * clock). Every method takes the caller's transaction last; the request's row is locked by the caller.
 */
export function createVerificationRepository (dbh: DbHandle) {
  return {
    /** The request's row, locked (FOR NO KEY UPDATE) for the caller's transaction; null when there is none. */
    async lockRequest (id: string, tx: TxHandle = dbh): Promise<RequestRow | null> {
      const [row] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
      return row ?? null
    },

    /** The request's latest challenge, whatever its status, locked; null when none was ever sent. */
    async latest (requestId: string, tx: TxHandle = dbh): Promise<ChallengeRow | null> {
      const [row] = await tx.db.select().from(verificationChallenges).where(eq(verificationChallenges.requestId, requestId))
        .orderBy(desc(verificationChallenges.createdAt), desc(verificationChallenges.id)).limit(1).for('update')
      return row ?? null
    },

    /** The challenge a link token belongs to (by the token's hash), not locked: the caller locks its request, then reads it again. */
    async byTokenHash (tokenHash: string, tx: TxHandle = dbh): Promise<ChallengeRow | null> {
      const [row] = await tx.db.select().from(verificationChallenges).where(eq(verificationChallenges.tokenHash, tokenHash))
      return row ?? null
    },

    async insert (row: typeof verificationChallenges.$inferInsert, tx: TxHandle = dbh): Promise<void> {
      await tx.db.insert(verificationChallenges).values(row)
    },

    /** Closes the request's open challenge (if any) with `status`; returns its id. */
    async closeOpen (requestId: string, status: Exclude<ChallengeStatus, 'open'>, at: Date, tx: TxHandle = dbh): Promise<string | null> {
      const [row] = await tx.db.update(verificationChallenges).set({ status, closedAt: at })
        .where(and(eq(verificationChallenges.requestId, requestId), eq(verificationChallenges.status, 'open')))
        .returning({ id: verificationChallenges.id })
      return row?.id ?? null
    },

    /** Counts a wrong code; the challenge is locked when it reaches its max_attempts. Returns the updated row. */
    async countWrongCode (id: string, at: Date, tx: TxHandle = dbh): Promise<ChallengeRow> {
      const [row] = await tx.db.update(verificationChallenges).set({
        attempts: sql`${verificationChallenges.attempts} + 1`,
        status: sql`case when ${verificationChallenges.attempts} + 1 >= ${verificationChallenges.maxAttempts} then 'locked' else 'open' end`,
        closedAt: sql`case when ${verificationChallenges.attempts} + 1 >= ${verificationChallenges.maxAttempts} then ${at.toISOString()}::timestamptz else null end`
      }).where(eq(verificationChallenges.id, id)).returning()
      return row!
    },

    /** Sets the request's wait fields (and its deadline, when the clock resumed), with the audit event, in the caller's transaction. */
    async updateWait (
      id: string, set: Partial<Pick<RequestRow, 'verifyingSince' | 'clockPausedSince' | 'clockPausedDays' | 'dueAt' | 'extendedDueAt'>>,
      event: { at: Date, actor: string, action: string, reason?: string, details: Record<string, unknown> } | null, tx: TxHandle = dbh
    ): Promise<void> {
      await Promise.all([
        tx.db.update(requests).set(set).where(eq(requests.id, id)),
        event ? tx.db.insert(requestEvents).values({ requestId: id, at: event.at, actor: event.actor, action: event.action, reason: event.reason ?? null, details: event.details }) : null
      ])
    },

    /** Requests still waiting in `verifying` since `cutoff` or earlier, oldest first. */
    async waitingSince (cutoff: Date, limit: number, tx: TxHandle = dbh): Promise<string[]> {
      const rows = await tx.db.select({ id: requests.id }).from(requests)
        .where(and(eq(requests.status, 'verifying'), lte(requests.verifyingSince, cutoff)))
        .orderBy(requests.verifyingSince).limit(limit)
      return rows.map((r) => r.id)
    }
  }
}

export type VerificationRepository = ReturnType<typeof createVerificationRepository>
