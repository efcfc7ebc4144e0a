import type { DbHandle } from '../db/client.js'
import { createRedactionRepository } from '../db/repositories/redaction-repository.js'
import { createSystemEventsRepository } from '../db/repositories/system-events-repository.js'

const DAY = 86_400_000

/**
 * Removes the personal data of requests closed more than `retentionDays` ago, keeping the record of
 * what was asked, when, under which law, what each system did and when: the subject's and the
 * requester's identifiers, the callback address, rectified values (field names stay), notes, the
 * request fingerprint (a hash of the body, e-mail included), and every free-text reason people
 * wrote (cancellations, skips, the extension, a restriction's lift, transfer notes and receiver
 * replies, backup restore notes). Service-written reasons and all counts, codes and dates stay. A
 * request whose restriction is still in force keeps its identifiers until the restriction is lifted.
 * In batches, each in one transaction; counts only in system_events. Safe to run at any time and again.
 */
export async function redactClosedRequests (dbh: DbHandle, opts: { now: Date, retentionDays: number, batchSize?: number }): Promise<{ redacted: number }> {
  const redaction = createRedactionRepository(dbh)
  const systemEvents = createSystemEventsRepository(dbh)
  const cutoff = new Date(opts.now.getTime() - opts.retentionDays * DAY).toISOString()
  const batchSize = opts.batchSize ?? 500
  let redacted = 0
  for (;;) {
    const done = await dbh.transaction(async (tx) => {
      const ids = await redaction.lockDue(cutoff, batchSize, tx)
      if (ids.length === 0) return 0
      await redaction.redactRequests(ids, opts, tx)
      return ids.length
    })
    redacted += done
    if (done < batchSize) break
  }
  // Restore notes are staff free text too; a restore's record (connector, backup date, counts) stays.
  const notes = await redaction.clearRestoreNotes(cutoff)
  if (redacted > 0 || notes.length > 0) {
    await systemEvents.recordIdentifiersRedacted({ requests: redacted, restore_notes: notes.length, retention_days: opts.retentionDays })
  }
  return { redacted }
}
