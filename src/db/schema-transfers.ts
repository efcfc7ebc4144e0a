import { bigint, index, integer, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { TRANSFER_STATUSES } from '../domain/statuses.js'
import { requests, tz } from './schema.js'

/** Direct transfers of archives to other controllers: their rows and attempts. */
export const transferStatus = pgEnum('transfer_status', TRANSFER_STATUSES)

/** Direct transmission of the archive to another controller (GDPR Art 20(2), PIPL Art 45). */
export const transfers = pgTable('transfers', {
  id: uuid('id').primaryKey().defaultRandom(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  destination: text('destination').notNull(),
  /** The auth header to send, encrypted at rest; removed once the transfer ends. */
  authHeaderSealed: text('auth_header_sealed'),
  status: transferStatus('status').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull().default(5),
  nextAttemptAt: tz('next_attempt_at'),
  responseStatus: integer('response_status'),
  /** The receiver's answer, truncated: what it said it received (a reference, a hash). */
  responseExcerpt: text('response_excerpt'),
  deliveredSha256: text('delivered_sha256'),
  lastErrorCode: text('last_error_code'),
  lastErrorMessage: text('last_error_message'),
  notes: text('notes'),
  /** The worker sending it right now, until when: a transfer is never sent by two workers at once. */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: tz('lease_expires_at'),
  createdBy: text('created_by').notNull(),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow(),
  deliveredAt: tz('delivered_at'),
  finishedAt: tz('finished_at')
}, (t) => [
  index('transfers_request').on(t.requestId),
  index('transfers_status_lease').on(t.status, t.leaseExpiresAt)
])

/** Every attempt at a transfer: who sent it, what the receiver answered (status, first 2 KB). */
export const transferAttempts = pgTable('transfer_attempts', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  transferId: uuid('transfer_id').notNull().references(() => transfers.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  worker: text('worker').notNull(),
  startedAt: tz('started_at').notNull().defaultNow(),
  endedAt: tz('ended_at'),
  /** delivered, retry, failed, lease_expired */
  outcome: text('outcome'),
  responseStatus: integer('response_status'),
  responseExcerpt: text('response_excerpt'),
  errorCode: text('error_code'),
  bytesSent: bigint('bytes_sent', { mode: 'number' })
}, (t) => [index('transfer_attempts_transfer').on(t.transferId, t.id)])
