import { sql } from 'drizzle-orm'
import { index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { callbackStatus } from './schema-callbacks.js'
import { requests, tz } from './schema.js'

/**
 * An OpenDSR request (src/opendsr/): the controller's `subject_request_id`, under the controller
 * (the API key) that sent it, and the service's request it became. Only ids, the callback URLs and
 * the flavour it came in by (v2 OpenDSR or v1 OpenGDPR names); the identities are in the request.
 * Several may point at one request (DUPLICATE_POLICY merge).
 */
export const opendsrRequests = pgTable('opendsr_requests', {
  id: uuid('id').primaryKey().defaultRandom(),
  controllerId: text('controller_id').notNull(),
  subjectRequestId: uuid('subject_request_id').notNull(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  /** v2 (OpenDSR names) or v1 (OpenGDPR): which headers its callbacks carry. */
  flavour: text('flavour').notNull(),
  /** Removed (empty) with the request's other personal data by redaction: nothing more is sent. */
  callbackUrls: text('callback_urls').array().notNull(),
  receivedAt: tz('received_at').notNull(),
  createdAt: tz('created_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('opendsr_requests_controller_subject_request').on(t.controllerId, t.subjectRequestId),
  index('opendsr_requests_request').on(t.requestId)
])

/**
 * OpenDSR status callbacks' outbox (§8.5): one row per callback URL per change of the OpenDSR
 * status (pending, in_progress, completed, cancelled), written in the transaction that changes the
 * request's status, and sent with retries like the service's own callbacks.
 */
export const opendsrCallbacks = pgTable('opendsr_callbacks', {
  id: uuid('id').primaryKey().defaultRandom(),
  opendsrRequestId: uuid('opendsr_request_id').notNull().references(() => opendsrRequests.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  /** The OpenDSR status reported. */
  requestStatus: text('request_status').notNull(),
  at: tz('at').notNull(),
  status: callbackStatus('status').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: tz('next_attempt_at').notNull().defaultNow(),
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: tz('lease_expires_at'),
  responseStatus: integer('response_status'),
  lastErrorCode: text('last_error_code'),
  lastErrorMessage: text('last_error_message'),
  createdAt: tz('created_at').notNull().defaultNow(),
  deliveredAt: tz('delivered_at')
}, (t) => [
  index('opendsr_callbacks_request').on(t.opendsrRequestId),
  index('opendsr_callbacks_due').on(t.status, t.nextAttemptAt).where(sql`${t.status} in ('pending', 'sending')`)
])
