import { sql } from 'drizzle-orm'
import { index, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core'
import { tz } from './schema.js'

/**
 * The suppression list: what other systems must not do with a person's data, and why. One row per
 * request, purpose stopped and identifier of the person, the identifier held only as a keyed hash
 * (personKeys: HMAC-SHA256 under the keyring's HMAC secret), so that an entry outlives the
 * redaction of its request's identifiers and the list cannot be read back into addresses.
 *
 * An entry is in force from `since` until `ended_at` (lifted, or withdrawn with its request);
 * `end_reason` says which. Entries are never deleted: the list is the record of what was stopped
 * and when. There is deliberately no foreign key to `requests`: an entry names the request it
 * belongs to, and the list stands on its own.
 */
export const suppressions = pgTable('suppressions', {
  requestId: uuid('request_id').notNull(),
  /** The request's type when the entry was made (restriction, objection, consent_withdrawal, marketing_opt_out). */
  requestType: text('request_type').notNull(),
  /** A CheckPurpose; `processing` stops every purpose. */
  purpose: text('purpose').notNull(),
  /** HMAC-SHA256 (hex) of one canonical identifier of the person (src/domain/person-keys.ts). */
  personKey: text('person_key').notNull(),
  since: tz('since').notNull(),
  endedAt: tz('ended_at'),
  /** `lifted` (the restriction was lifted), `rejected` or `cancelled` (the request was). */
  endReason: text('end_reason')
}, (t) => [
  primaryKey({ columns: [t.requestId, t.purpose, t.personKey] }),
  // The check: the entries in force for a person's keys.
  index('suppressions_in_force').on(t.personKey, t.purpose).where(sql`${t.endedAt} is null`)
])
