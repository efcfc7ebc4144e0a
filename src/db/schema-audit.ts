import { sql } from 'drizzle-orm'
import { bigint, check, index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { tz } from './schema.js'

/**
 * The audit chain (src/audit/): one link per sealed audit event (request_events and system_events),
 * in the order the seal step took them. Each link holds the event's content hash as it was when
 * sealed, the hash chaining it to the request's previous link (request events only), and the hash
 * chaining it to the previous link of the whole service.
 *
 * Deliberately no foreign key to the events: a link outlives its event, so an event deleted after it
 * was sealed (by hand, or with its request, which request_events cascades from) is reported as
 * missing at its exact id, instead of silently taking its link along.
 */
export const auditChain = pgTable('audit_chain', {
  position: bigint('position', { mode: 'number' }).primaryKey(),
  source: text('source').notNull(),
  eventId: bigint('event_id', { mode: 'number' }).notNull(),
  requestId: uuid('request_id'),
  contentHash: text('content_hash').notNull(),
  requestHash: text('request_hash'),
  chainHash: text('chain_hash').notNull(),
  sealedAt: tz('sealed_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('audit_chain_event').on(t.source, t.eventId),
  index('audit_chain_request').on(t.requestId, t.position).where(sql`${t.requestId} is not null`),
  check('audit_chain_source', sql`${t.source} in ('request', 'system')`),
  check('audit_chain_request_link', sql`(${t.source} = 'request') = (${t.requestId} is not null and ${t.requestHash} is not null)`)
])

/** The chain's head as signed by the seal job with the receipt key (a compact JWS, EdDSA). */
export const auditHeads = pgTable('audit_heads', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  position: bigint('position', { mode: 'number' }).notNull(),
  chainHash: text('chain_hash').notNull(),
  signedAt: tz('signed_at').notNull(),
  kid: text('kid').notNull(),
  jws: text('jws').notNull()
}, (t) => [index('audit_heads_position').on(t.position)])
