import { jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { requests, tz } from './schema.js'
import type { SubjectIdentity } from '../../connectors/types.js'
import type { Candidate } from '../domain/identity.js'

/**
 * What the identity check found for a request (src/engine/identify.ts): the people its identifiers
 * led to, and the identifiers its tasks use. Personal data like the request's subject, and
 * redacted with it (engine/redaction.ts deletes the row).
 */
export const requestIdentities = pgTable('request_identities', {
  requestId: uuid('request_id').primaryKey().references(() => requests.id, { onDelete: 'cascade' }),
  /** resolved (one person or none) | conflict (several: the request is on hold) | failed (a system could not be searched: on hold) | chosen (a reviewer decided) */
  status: text('status').notNull(),
  /** The identifiers the request's tasks search and act by; null while the request is on hold. */
  subject: jsonb('subject').$type<SubjectIdentity>(),
  /** Every person found, with their identifiers, systems and record counts. */
  candidates: jsonb('candidates').$type<Candidate[]>().notNull(),
  /** Who chose, and which candidate (by index), for a conflict a reviewer resolved. */
  chosenBy: text('chosen_by'),
  chosenAt: tz('chosen_at'),
  createdAt: tz('created_at').notNull(),
  updatedAt: tz('updated_at').notNull()
})
