import { sql } from 'drizzle-orm'
import { bigint, index, integer, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { CALLBACK_STATUSES } from '../domain/statuses.js'
import { requests, requestStatus, tz } from './schema.js'

export const callbackStatus = pgEnum('callback_status', CALLBACK_STATUSES)

/**
 * The status callbacks' outbox: one row per status change of a request that has a callback_url,
 * written by the statement (or in the transaction) that changes the status, so a change is never
 * reported without having happened, nor happens without being reported. Its id is the delivery id
 * the receiver sees on every attempt. Only ids and statuses: the URL is read from the request at
 * sending (so a redacted request, whose callback_url is gone, sends nothing more).
 */
export const callbackDeliveries = pgTable('callback_deliveries', {
  id: uuid('id').primaryKey().defaultRandom(),
  // Insertion order, for stable cursor pagination.
  seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull().unique(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  event: text('event').notNull().default('request.status_changed'),
  /** A notice to a managed account's callback_url (its part waits for its administrator), instead of the request's. */
  accountId: text('account_id'),
  toStatus: requestStatus('to_status').notNull(),
  fromStatus: requestStatus('from_status'),
  /** When the status changed. */
  at: tz('at').notNull(),
  status: callbackStatus('status').notNull().default('pending'),
  /** Attempts made, redeliveries included. */
  attempts: integer('attempts').notNull().default(0),
  /** `attempts` when the current round began (0, or when it was last redelivered): each round has CALLBACK_MAX_ATTEMPTS. */
  roundStart: integer('round_start').notNull().default(0),
  nextAttemptAt: tz('next_attempt_at').notNull().defaultNow(),
  /** The worker sending it right now, until when. */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: tz('lease_expires_at'),
  responseStatus: integer('response_status'),
  lastErrorCode: text('last_error_code'),
  lastErrorMessage: text('last_error_message'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow(),
  deliveredAt: tz('delivered_at')
}, (t) => [
  index('callback_deliveries_request').on(t.requestId, t.seq),
  // What the drain claims: due deliveries, and sending ones whose worker stopped.
  index('callback_deliveries_due').on(t.status, t.nextAttemptAt).where(sql`${t.status} in ('pending', 'sending')`)
])

/** Every attempt at a delivery: when, what the receiver answered (its status only), or why it failed. */
export const callbackAttempts = pgTable('callback_attempts', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  deliveryId: uuid('delivery_id').notNull().references(() => callbackDeliveries.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  worker: text('worker').notNull(),
  startedAt: tz('started_at').notNull(),
  endedAt: tz('ended_at').notNull().defaultNow(),
  /** delivered, retry, failed */
  outcome: text('outcome').notNull(),
  responseStatus: integer('response_status'),
  errorCode: text('error_code'),
  errorMessage: text('error_message')
}, (t) => [index('callback_attempts_delivery').on(t.deliveryId, t.id)])
