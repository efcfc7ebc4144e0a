import { sql } from 'drizzle-orm'
import { check, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core'
import { tz } from './schema.js'

/** What a hold covers in one system: every stream of it, or only those listed. */
export interface HoldCover { connector: string, streams?: string[] }

/**
 * Legal holds on a person (GDPR Art 17(3)): while active, an erasure of that person leaves the
 * streams a hold covers as they are and reports them retained, with the hold's ground and reference.
 * The person is known only by keyed hashes of their identifiers (personKeys, under the keyring's HMAC
 * secret): the identifiers themselves are never stored. A hold is active until it is released.
 */
export const legalHolds = pgTable('legal_holds', {
  id: uuid('id').primaryKey(),
  /** HMAC-SHA256 hex of each identifier (src/domain/person-keys.ts). */
  personKeys: text('person_keys').array().notNull(),
  /** A code of src/domain/hold-grounds.ts. */
  ground: text('ground').notNull(),
  /** The case, matter or file number the hold is kept under. */
  reference: text('reference').notNull(),
  note: text('note'),
  reviewAt: tz('review_at').notNull(),
  covers: jsonb('covers').$type<HoldCover[]>().notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: tz('created_at').notNull().defaultNow(),
  releasedAt: tz('released_at'),
  releasedBy: text('released_by'),
  releaseReason: text('release_reason')
}, (t) => [
  index('legal_holds_person_keys').using('gin', t.personKeys),
  index('legal_holds_review').on(t.reviewAt).where(sql`${t.releasedAt} is null`),
  check('legal_holds_released', sql`(${t.releasedAt} is null) = (${t.releaseReason} is null)`)
])

/** Review warnings sent about holds past their review date: one per hold and review date. */
export const holdReviewWarnings = pgTable('hold_review_warnings', {
  holdId: uuid('hold_id').notNull().references(() => legalHolds.id, { onDelete: 'cascade' }),
  reviewAt: tz('review_at').notNull(),
  notifiedAt: tz('notified_at').notNull().defaultNow(),
  /** Set once the warning was recorded as a system event (it is recorded once, whatever the webhook does). */
  recordedAt: tz('recorded_at'),
  deliveryStatus: integer('delivery_status')
}, (t) => [primaryKey({ columns: [t.holdId, t.reviewAt] })])
