import { sql } from 'drizzle-orm'
import { index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { requests, tz } from './schema.js'

/**
 * Verification challenges the service sent to the person (one-time code and one-time link, by
 * e-mail). Neither the code nor the link's token is stored: the code as an HMAC under the service's
 * VERIFICATION_CODE_KEY (a 6-digit code is low in entropy, so an unkeyed hash would be reversed by
 * trying all million), the token (256 random bits) as its SHA-256. A challenge is open until it is
 * confirmed, locked (too many wrong codes), superseded by a new one, or past `expires_at`.
 */
export const verificationChallenges = pgTable('verification_challenges', {
  id: uuid('id').primaryKey(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  /** How it was sent: 'email' (code and link in one message). */
  channel: text('channel').notNull(),
  codeHash: text('code_hash').notNull(),
  tokenHash: text('token_hash').notNull(),
  expiresAt: tz('expires_at').notNull(),
  /** Wrong codes entered so far; at `max_attempts` the challenge is locked. */
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  /** open | confirmed | locked | superseded */
  status: text('status').notNull().default('open'),
  createdBy: text('created_by').notNull(),
  createdAt: tz('created_at').notNull(),
  closedAt: tz('closed_at')
}, (t) => [
  index('verification_challenges_request').on(t.requestId, t.createdAt),
  uniqueIndex('verification_challenges_token').on(t.tokenHash),
  // At most one open challenge per request.
  uniqueIndex('verification_challenges_open').on(t.requestId).where(sql`${t.status} = 'open'`)
])
