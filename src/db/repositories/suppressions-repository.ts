import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { suppressions } from '../schema-suppressions.js'

export type SuppressionRow = typeof suppressions.$inferSelect

/** One request's entries on the list, as the check and the request's listing show them. */
export interface RequestEntry {
  requestId: string
  requestType: string
  purpose: string
  since: Date
  endedAt: Date | null
  endReason: string | null
}

/**
 * The suppression list (schema-suppressions.ts). Entries are written and ended in the caller's
 * transaction, with the change to their request; the check reads the entries in force for a
 * person's keyed hashes through the partial index `suppressions_in_force`.
 */
export function createSuppressionsRepository (dbh: DbHandle) {
  return {
    /** Puts a request's entries on the list: one row per purpose and key. Entries already there stay as they are. */
    async addIn (entry: { requestId: string, requestType: string, purposes: readonly string[], keys: readonly string[], since: Date }, tx: TxHandle = dbh): Promise<number> {
      const values = entry.purposes.flatMap((purpose) => entry.keys.map((personKey) => ({
        requestId: entry.requestId, requestType: entry.requestType, purpose, personKey, since: entry.since
      })))
      if (values.length === 0) return 0
      const added = await tx.db.insert(suppressions).values(values).onConflictDoNothing().returning({ purpose: suppressions.purpose })
      return added.length
    },

    /** Ends a request's entries in force (only those for `purposes` when given); returns how many ended. */
    async endIn (requestId: string, reason: string, at: Date, purposes: readonly string[] | null, tx: TxHandle = dbh): Promise<number> {
      const ended = await tx.db.update(suppressions).set({ endedAt: at, endReason: reason })
        .where(and(eq(suppressions.requestId, requestId), isNull(suppressions.endedAt), purposes ? inArray(suppressions.purpose, [...purposes]) : undefined))
        .returning({ purpose: suppressions.purpose })
      return ended.length
    },

    /** The entries in force for any of these keys, one per request and purpose. */
    async inForce (keys: readonly string[]): Promise<RequestEntry[]> {
      if (keys.length === 0) return []
      return dbh.db.selectDistinct({
        requestId: suppressions.requestId,
        requestType: suppressions.requestType,
        purpose: suppressions.purpose,
        since: suppressions.since,
        endedAt: suppressions.endedAt,
        endReason: suppressions.endReason
      }).from(suppressions).where(and(inArray(suppressions.personKey, [...keys]), isNull(suppressions.endedAt)))
    },

    /** A request's entries, in force or ended, one per purpose (its keys are not shown). */
    async ofRequest (requestId: string): Promise<RequestEntry[]> {
      return dbh.db.selectDistinct({
        requestId: suppressions.requestId,
        requestType: suppressions.requestType,
        purpose: suppressions.purpose,
        since: suppressions.since,
        endedAt: suppressions.endedAt,
        endReason: suppressions.endReason
      }).from(suppressions).where(eq(suppressions.requestId, requestId)).orderBy(asc(suppressions.since), asc(suppressions.purpose))
    },

    /**
     * The other requests whose `processing` entry (a restriction, or an objection being weighed) is in
     * force for a person this request's entries name: while there is one, the person's restriction
     * mark must stay. No secret is needed: the keys are compared as stored.
     */
    async otherRestrictionsInForce (requestId: string, tx: TxHandle = dbh): Promise<Array<{ requestId: string, requestType: string }>> {
      const rows = await tx.rows<{ request_id: string, request_type: string }>(sql`
        select distinct other.request_id, other.request_type
          from suppressions mine
          join suppressions other on other.person_key = mine.person_key and other.purpose = 'processing' and other.ended_at is null
         where mine.request_id = ${requestId} and other.request_id <> ${requestId}
         order by other.request_id`)
      return rows.map((r) => ({ requestId: r.request_id, requestType: r.request_type }))
    }
  }
}

export type SuppressionsRepository = ReturnType<typeof createSuppressionsRepository>
