import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createHoldsRepository } from '../db/repositories/holds-repository.js'
import { createSystemEventsRepository } from '../db/repositories/system-events-repository.js'
import { HOLD_GROUNDS, isHoldGround } from '../domain/hold-grounds.js'

/** How long a claimed, undelivered review warning belongs to the run that claimed it (as deadline warnings). */
const CLAIM_LEASE_SECONDS = 300

/**
 * Legal holds past their review date, raised by the deadline monitor: once per hold and review date,
 * a `hold_review_due` system event (the audit trail), and the deadline webhook's signed POST
 * (`event: dsr.hold_review`) when one is configured. A failed delivery is tried again on the next
 * run; the event is recorded once whatever the webhook does. Answers counts (none when nothing is due).
 */
export async function warnHoldReviews (deps: {
  dbh: DbHandle
  log: FastifyBaseLogger
  /** Posts a warning's body to the webhook, answering its HTTP status; null without a webhook. */
  post: ((body: string, kind: string) => Promise<number>) | null
}, now: Date, limit = 500): Promise<Record<string, number>> {
  const holds = createHoldsRepository(deps.dbh)
  const events = createSystemEventsRepository(deps.dbh)
  const due = await holds.dueForReview(now, limit)
  if (due.length === 0) return {}
  const counts = { hold_reviews_due: due.length, hold_reviews_raised: 0, hold_reviews_notified: 0, hold_reviews_failed: 0 }
  for (const hold of due) {
    const reviewAt = new Date(hold.reviewAt)
    const claim = await holds.claimReview(hold.id, reviewAt, CLAIM_LEASE_SECONDS)
    if (!claim) continue
    const warning = {
      id: hold.id,
      ground: hold.ground,
      article: isHoldGround(hold.ground) ? HOLD_GROUNDS[hold.ground].article : null,
      reference: hold.reference,
      review_at: reviewAt.toISOString()
    }
    if (!claim.recorded) {
      await deps.dbh.transaction(async (tx) => {
        await events.record({ actor: 'deadline_monitor', action: 'hold_review_due', details: { hold_id: hold.id, ground: hold.ground, reference: hold.reference, review_at: warning.review_at } }, tx)
        await holds.markRecorded(hold.id, reviewAt, tx)
      })
      counts.hold_reviews_raised++
      deps.log.warn({ holdId: hold.id, ground: hold.ground }, 'legal hold past its review date')
    }
    if (!deps.post) {
      await holds.markDelivered(hold.id, reviewAt, 0)
      continue
    }
    const status = await deps.post(JSON.stringify({ event: 'dsr.hold_review', kind: 'hold_review_due', hold: warning, sent_at: now.toISOString() }), 'hold_review_due')
    if (status >= 200 && status < 300) {
      counts.hold_reviews_notified++
      await holds.markDelivered(hold.id, reviewAt, status)
    } else {
      counts.hold_reviews_failed++
      await holds.releaseClaim(hold.id, reviewAt)
    }
  }
  return counts
}
