import { eq, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { requestIdentities } from '../schema-identity.js'
import type { SubjectIdentity } from '../../../connectors/types.js'
import type { Candidate } from '../../domain/identity.js'

export type RequestIdentityRow = typeof requestIdentities.$inferSelect

/** What the identity check found for each request (schema-identity.ts). */
export function createIdentityRepository (dbh: DbHandle) {
  return {
    async get (requestId: string, tx: TxHandle = dbh): Promise<RequestIdentityRow | null> {
      const [row] = await tx.db.select().from(requestIdentities).where(eq(requestIdentities.requestId, requestId)).limit(1)
      return row ?? null
    },

    /** Records the check's finding (replacing an earlier one: a request checked again after a retry). */
    async record (requestId: string, found: { status: 'resolved' | 'conflict' | 'failed', subject: SubjectIdentity | null, candidates: Candidate[] }, tx: TxHandle = dbh): Promise<void> {
      const now = new Date()
      await tx.db.insert(requestIdentities)
        .values({ requestId, status: found.status, subject: found.subject, candidates: found.candidates, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({
          target: requestIdentities.requestId,
          set: { status: found.status, subject: found.subject, candidates: found.candidates, chosenBy: null, chosenAt: null, updatedAt: now }
        })
    },

    /** A reviewer's choice: the identifiers the request's tasks now use. */
    async choose (requestId: string, subject: SubjectIdentity, actor: string, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(requestIdentities)
        .set({ status: 'chosen', subject, chosenBy: actor, chosenAt: sql`now()`, updatedAt: sql`now()` })
        .where(eq(requestIdentities.requestId, requestId))
    }
  }
}

export type IdentityRepository = ReturnType<typeof createIdentityRepository>
