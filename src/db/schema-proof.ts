import { sql } from 'drizzle-orm'
import { check, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { requests, tz } from './schema.js'

/** Proof of erasure and backups: the service's own keys, signed receipts, backup tombstones and restores. */

/**
 * Keys the service made for itself because none was configured (RECEIPT_SIGNING_KEY,
 * RECEIPT_HMAC_KEY, BACKUP_TOMBSTONE_KEY): made once, on first need, and kept so that receipts still
 * verify and tombstones still open after a restart. A configured key is never written here.
 */
export const serviceKeys = pgTable('service_keys', {
  purpose: text('purpose').primaryKey(),
  material: text('material').notNull(),
  createdAt: tz('created_at').notNull().defaultNow()
})

/**
 * Signed erasure receipts, one per closing (completed or partially_completed) of an erasure request:
 * the compact JWS as issued, so the same request always answers with the same receipt.
 */
export const erasureReceipts = pgTable('erasure_receipts', {
  id: uuid('id').primaryKey(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  /** The transition into completed or partially_completed that this receipt attests. */
  closedAt: tz('closed_at').notNull(),
  jws: text('jws').notNull(),
  payloadSha256: text('payload_sha256').notNull(),
  kid: text('kid').notNull(),
  issuedAt: tz('issued_at').notNull()
}, (t) => [uniqueIndex('erasure_receipts_request_closed').on(t.requestId, t.closedAt)])

/**
 * Backup tombstones: who was erased from which system, and when, so that a restore of that system
 * from an older backup can be followed by erasing them again. The identifiers are sealed (AES-256-GCM)
 * and deleted at kept_until, when the last backup that can hold them is gone (the row, without them,
 * stays as the count-only record). Written pending (no seal, no kept_until) in the transaction that
 * closes the erasure; the erasure_proof job (or a restore) seals it.
 */
export const backupTombstones = pgTable('backup_tombstones', {
  id: uuid('id').primaryKey().defaultRandom(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  connectorId: text('connector_id').notNull(),
  /** When the system's erase task finished. */
  erasedAt: tz('erased_at').notNull(),
  /** The latest erasure of this person from this system through this tombstone (restores re-erase). */
  lastErasedAt: tz('last_erased_at').notNull(),
  sealedSubject: text('sealed_subject'),
  retentionDays: integer('retention_days'),
  keptUntil: tz('kept_until'),
  /** When the sealed identifiers were deleted, kept_until having passed. */
  expiredAt: tz('expired_at'),
  createdAt: tz('created_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('backup_tombstones_request_connector').on(t.requestId, t.connectorId),
  index('backup_tombstones_connector').on(t.connectorId, t.lastErasedAt),
  index('backup_tombstones_pending').on(t.createdAt).where(sql`${t.keptUntil} is null and ${t.expiredAt} is null`),
  index('backup_tombstones_live_until').on(t.keptUntil).where(sql`${t.expiredAt} is null`),
  check('backup_tombstones_expired_unsealed', sql`${t.expiredAt} is null or ${t.sealedSubject} is null`)
])

/** An operator's statement that a connector's system was restored from a backup taken at backup_taken_at. */
export const backupRestores = pgTable('backup_restores', {
  id: uuid('id').primaryKey().defaultRandom(),
  connectorId: text('connector_id').notNull(),
  backupTakenAt: tz('backup_taken_at').notNull(),
  /** Free text from staff: stored and shown, never logged. */
  note: text('note'),
  createdBy: text('created_by').notNull(),
  createdAt: tz('created_at').notNull().defaultNow(),
  /** Live tombstones erased again, tombstones already expired, and live ones whose seal could not be opened. */
  matched: integer('matched').notNull().default(0),
  expired: integer('expired').notNull().default(0),
  unreadable: integer('unreadable').notNull().default(0)
}, (t) => [uniqueIndex('backup_restores_connector_taken').on(t.connectorId, t.backupTakenAt)])

/** The erasure request a restore made for one tombstone: at most one per (restore, tombstone). */
export const backupRestoreErasures = pgTable('backup_restore_erasures', {
  restoreId: uuid('restore_id').notNull().references(() => backupRestores.id, { onDelete: 'cascade' }),
  tombstoneId: uuid('tombstone_id').notNull().references(() => backupTombstones.id, { onDelete: 'cascade' }),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  createdAt: tz('created_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('backup_restore_erasures_pk').on(t.restoreId, t.tombstoneId),
  uniqueIndex('backup_restore_erasures_request').on(t.requestId)
])
