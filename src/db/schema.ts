import { sql } from 'drizzle-orm'
import {
  bigint, boolean, check, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uniqueIndex, uuid
} from 'drizzle-orm/pg-core'
import { REQUEST_STATUSES } from '../domain/lifecycle.js'
import { CHANNELS, REQUEST_TYPES } from '../domain/requests.js'
import { REGIMES } from '../domain/deadlines.js'
import { ARCHIVE_STATUSES, TASK_STATUSES } from '../domain/statuses.js'
import type { Refusal } from '../domain/refusal-grounds.js'
import { TASK_ACTIONS, type SubjectIdentity } from '../../connectors/types.js'

export const requestType = pgEnum('request_type', REQUEST_TYPES)
export const requestStatus = pgEnum('request_status', REQUEST_STATUSES)
export const regime = pgEnum('regime', REGIMES)
export const channel = pgEnum('channel', CHANNELS)

export const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })

/** Subject identities as stored: exactly what connectors need to find the person, nothing more. */
export type StoredSubject = SubjectIdentity

export interface StoredRequester {
  kind: string
  name?: string
  email?: string
  authority_reference?: string
}

export const requests = pgTable('requests', {
  id: uuid('id').primaryKey(),
  // Insertion order, for stable cursor pagination (uuids are random, timestamps can tie).
  seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull().unique(),
  type: requestType('type').notNull(),
  status: requestStatus('status').notNull(),
  heldFrom: requestStatus('held_from'),
  regime: regime('regime').notNull(),
  jurisdiction: text('jurisdiction'),
  subject: jsonb('subject').$type<StoredSubject>().notNull(),
  requester: jsonb('requester').$type<StoredRequester>().notNull(),
  channel: channel('channel').notNull(),
  callbackUrl: text('callback_url'),
  /** Why the request was rejected: the coded legal ground, its provision and what the person is told. */
  refusal: jsonb('refusal').$type<Refusal>(),
  changes: jsonb('changes').$type<Array<{ field: string, value: unknown }>>(),
  /**
   * The purposes an opt-out request stops (domain/purposes.ts: marketing, partner_sharing, profiling):
   * those asked for, or the type's default; empty for other types.
   */
  optOutPurposes: text('opt_out_purposes').array().notNull().default(sql`'{}'::text[]`),
  notes: text('notes'),
  timeZone: text('time_zone').notNull(),
  receivedAt: tz('received_at').notNull(),
  /** The statutory deadline, without any extension. */
  dueAt: tz('due_at').notNull(),
  acknowledgeBy: tz('acknowledge_by'),
  /** The latest date the law allows *if* the extension is taken (null where it has none); not a deadline by itself. */
  extendedDueAt: tz('extended_due_at'),
  deadlineRule: text('deadline_rule').notNull(),
  /**
   * The extension, once taken (POST /v1/requests/:id/extension): when, by which API key, why (free
   * text written by staff, possibly personal: never logged), and when the person was told.
   */
  extensionTakenAt: tz('extension_taken_at'),
  extensionTakenBy: text('extension_taken_by'),
  extensionReason: text('extension_reason'),
  extensionNotifiedSubjectAt: tz('extension_notified_subject_at'),
  /**
   * The deadline the request is judged by: extended_due_at once the extension is taken, due_at
   * otherwise. Computed by the database, so every query that judges lateness (lists, deadline
   * monitor, metrics) reads the same definition.
   */
  effectiveDueAt: tz('effective_due_at').notNull().generatedAlwaysAs(
    sql`case when extension_taken_at is not null then extended_due_at else due_at end`),
  /**
   * Restriction of processing (restriction and objection requests): when a system first marked the
   * person's data (a `restrict` task succeeded with something restricted), and the lift, once
   * (POST /v1/requests/:id/restriction/lift): when, by which API key, why (free text from staff,
   * never logged), and when the person was told, which Art 18(3) requires before the lift.
   */
  restrictionPlacedAt: tz('restriction_placed_at'),
  restrictionLiftedAt: tz('restriction_lifted_at'),
  restrictionLiftedBy: text('restriction_lifted_by'),
  restrictionLiftReason: text('restriction_lift_reason'),
  restrictionNotifiedSubjectAt: tz('restriction_notified_subject_at'),
  /**
   * The person's identifiers as match keys (SHA-256 each, domain/duplicates.ts subjectKeys), to find an
   * open request for the same person; emptied with the identifiers when the request is redacted.
   */
  subjectKeys: text('subject_keys').array().notNull().default(sql`'{}'::text[]`),
  /** The open request for the same person and type this one arrived after (DUPLICATE_POLICY link or merge). */
  duplicateOf: uuid('duplicate_of'),
  /** The person is a child (a flag, or an age under CHILD_AGE, at intake; the age is not kept). */
  child: boolean('child').notNull().default(false),
  /** A child's request: the date the company holds itself to, well before the legal one (CHILD_DUE_DAYS). */
  internalDueAt: tz('internal_due_at'),
  /**
   * Service-run verification (POST /v1/requests/:id/verification): since when the request waits in
   * `verifying` on the person, and, where the regime stops the clock meanwhile (deadlines.ts
   * `clockStopsForIdentity`), since when its deadline is paused. Both are cleared when it leaves
   * `verifying`; `clock_paused_days` adds up the whole days the deadline was paused, by which
   * due_at and extended_due_at were recomputed.
   */
  verifyingSince: tz('verifying_since'),
  clockPausedSince: tz('clock_paused_since'),
  clockPausedDays: integer('clock_paused_days').notNull().default(0),
  createdBy: text('created_by').notNull(),
  /**
   * When the request's personal data (subject and requester identifiers, callback, rectified values,
   * notes and free-text reasons) was removed, REQUEST_IDENTIFIERS_RETENTION_DAYS after it closed. The
   * record of what was asked, when, and what was done stays.
   */
  identifiersRedactedAt: tz('identifiers_redacted_at'),
  idempotencyKey: text('idempotency_key'),
  requestHash: text('request_hash'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('requests_idempotency_key').on(t.createdBy, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  index('requests_status_effective_due_at').on(t.status, t.effectiveDueAt),
  index('requests_effective_due_at').on(t.effectiveDueAt),
  // The redaction job's candidates: requests still holding identifiers, oldest change first.
  index('requests_unredacted_updated_at').on(t.updatedAt).where(sql`${t.identifiersRedactedAt} is null`),
  // An extension is all or nothing, and only where the law allows one (a date to extend to).
  check('requests_extension_complete', sql`(${t.extensionTakenAt} is null
    and ${t.extensionTakenBy} is null and ${t.extensionReason} is null and ${t.extensionNotifiedSubjectAt} is null)
    or (${t.extensionTakenAt} is not null and ${t.extendedDueAt} is not null
    and ${t.extensionTakenBy} is not null and ${t.extensionReason} is not null)`),
  // A lift is all or nothing, of a restriction that was placed, with the person told.
  check('requests_restriction_lift_complete', sql`(${t.restrictionLiftedAt} is null
    and ${t.restrictionLiftedBy} is null and ${t.restrictionLiftReason} is null and ${t.restrictionNotifiedSubjectAt} is null)
    or (${t.restrictionLiftedAt} is not null and ${t.restrictionPlacedAt} is not null and ${t.restrictionLiftedBy} is not null
    and ${t.restrictionLiftReason} is not null and ${t.restrictionNotifiedSubjectAt} is not null)`),
  index('requests_type_seq').on(t.type, t.seq),
  index('requests_regime_seq').on(t.regime, t.seq),
  // The verification timeout's candidates.
  index('requests_verifying_since').on(t.verifyingSince).where(sql`${t.verifyingSince} is not null`)
])

/**
 * The subject keys of the open requests, one row per key (domain/duplicates.ts): what a new request
 * is matched against to find an open one for the same person and type. Kept by triggers (migration
 * 0012): a request's keys are added when it is stored and removed when it closes, so a lookup is one
 * short index range per key, however many requests the person has.
 */
export const openSubjectKeys = pgTable('open_subject_keys', {
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  type: requestType('type').notNull(),
  key: text('key').notNull(),
  receivedAt: tz('received_at').notNull()
}, (t) => [
  index('open_subject_keys_lookup').on(t.type, t.key, t.receivedAt, t.requestId),
  index('open_subject_keys_request').on(t.requestId)
])

export const requestEvents = pgTable('request_events', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  at: tz('at').notNull().defaultNow(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  fromStatus: requestStatus('from_status'),
  toStatus: requestStatus('to_status'),
  reason: text('reason'),
  details: jsonb('details').$type<Record<string, unknown>>(),
  // The audit chain (src/audit/, migration 0013): set when the event is sealed.
  contentHash: text('content_hash'),
  textHash: text('text_hash'),
  textSalt: text('text_salt'),
  chainPosition: bigint('chain_position', { mode: 'number' })
}, (t) => [
  index('request_events_request_id').on(t.requestId, t.id),
  index('request_events_unsealed').on(t.id).where(sql`${t.chainPosition} is null`)
])

/** API keys the service itself issued (the development key). Only a SHA-256 of each key is kept. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  keyHash: text('key_hash').notNull().unique(),
  scopes: jsonb('scopes').$type<string[]>().notNull(),
  /** The customer account a tenant key is bound to: it sees that account's requests only. */
  accountId: text('account_id'),
  createdAt: tz('created_at').notNull().defaultNow(),
  revokedAt: tz('revoked_at')
})

export const taskStatus = pgEnum('task_status', TASK_STATUSES)
export const taskAction = pgEnum('task_action', TASK_ACTIONS)

/** What a finished task did: counts per stream for collect, outcomes for erase. Never values. */
export interface TaskResult {
  records?: number
  files?: number
  bytes?: number
  streams?: Record<string, number>
  outcomes?: Array<{ status: string, stream: string, count?: number, externalRef?: string, reason?: string, ground?: string, reference?: string, review?: string, purposes?: string[] }>
  /** A manual task's outcome as the person who did it recorded it. */
  manual?: ManualOutcome
  /** A system's part of the request refused on a legal ground (the task is then skipped). */
  refusal?: Refusal
  /** An erase task's check: the system searched again after it erased (src/engine/erasure-check.ts). */
  verification?: ErasureVerification
  /** An unrestrict task that left the restriction mark in place: another restriction of the person is in force. */
  kept?: RestrictionKept
}

/**
 * Why lifting one request's restriction did not unmark the person's records in a system: the
 * `processing` entries of other requests (restrictions, objections being weighed) still on the
 * suppression list for the same person. Their own lift unmarks the records.
 */
export interface RestrictionKept {
  reason: string
  restrictions: Array<{ request_id: string, type: string }>
}

/**
 * What the search after an erasure found, as counts per stream (never values). `verified`: nothing
 * beyond what the erasure retained or deferred; `residue`: records it did not account for (the task
 * failed); `not_verifiable`: the system cannot be searched again (`reason` says why).
 */
export interface ErasureVerification {
  status: 'verified' | 'residue' | 'not_verifiable'
  /** When the last search ended; null when none could be made. */
  checked_at: string | null
  /** Searches made (more than one when the first still found records and the system was given time to settle). */
  checks: number
  reason?: string
  /** Records found in streams the erasure retained or deferred (expected), per stream. */
  retained?: Record<string, number>
  /** Streams the system deferred: it erases them later. */
  deferred?: string[]
  /** Records found that the erasure did not account for, per stream. */
  residue?: Record<string, number>
}

/** What a person recorded on completing a manual task. */
export interface ManualOutcome {
  outcome: 'done' | 'nothing_found'
  note: string
  evidence_ref: string | null
  by: string
}

/** One (connector, action) of a request: the unit of work the engine schedules, retries and reports. */
export const tasks = pgTable('tasks', {
  id: uuid('id').primaryKey().defaultRandom(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  connectorId: text('connector_id').notNull(),
  action: taskAction('action').notNull(),
  status: taskStatus('status').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  nextAttemptAt: tz('next_attempt_at'),
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: tz('lease_expires_at'),
  result: jsonb('result').$type<TaskResult>(),
  lastErrorCode: text('last_error_code'),
  lastErrorMessage: text('last_error_message'),
  skipReason: text('skip_reason'),
  /** A manual task's instructions, from the connector file as it stood when the task was planned. */
  instructions: text('instructions'),
  /** The managed account whose records this task serves (its administrator instructed it); null: the company's own part. */
  accountId: text('account_id'),
  /** The managed accounts whose records the company's own part leaves alone (they wait for their administrators). */
  excludedAccounts: text('excluded_accounts').array(),
  startedAt: tz('started_at'),
  finishedAt: tz('finished_at'),
  createdAt: tz('created_at').notNull().defaultNow(),
  updatedAt: tz('updated_at').notNull().defaultNow()
}, (t) => [
  uniqueIndex('tasks_request_connector_action').on(t.requestId, t.connectorId, t.action, sql`coalesce(${t.accountId}, '')`),
  index('tasks_status_lease').on(t.status, t.leaseExpiresAt),
  // Tasks are their own queue: a connector's claimable tasks, oldest first (TasksRepository.claimNext).
  index('tasks_queue').on(t.connectorId, t.createdAt, t.id).where(sql`${t.status} in ('pending', 'retry_wait', 'running')`)
])

/** Every attempt at a task, by which worker and when: the record that no task ran twice at once. */
export const taskRuns = pgTable('task_runs', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  taskId: uuid('task_id').notNull().references(() => tasks.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  worker: text('worker').notNull(),
  startedAt: tz('started_at').notNull().defaultNow(),
  endedAt: tz('ended_at'),
  outcome: text('outcome')
}, (t) => [
  index('task_runs_task_id').on(t.taskId, t.id)
])

/** Records collected for a request, stored as they stream in; deleted with the request's data. */
export const collectedItems = pgTable('collected_items', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  taskId: uuid('task_id').notNull().references(() => tasks.id, { onDelete: 'cascade' }),
  connectorId: text('connector_id').notNull(),
  stream: text('stream').notNull(),
  itemKey: text('item_key').notNull(),
  kind: text('kind').notNull().default('record'),
  data: jsonb('data').$type<Record<string, unknown>>(),
  file: jsonb('file').$type<{ name: string, contentType: string, size: number, sha256: string, storageKey: string }>(),
  collectedAt: tz('collected_at').notNull().defaultNow()
}, (t) => [
  index('collected_items_request').on(t.requestId, t.connectorId, t.stream, t.id),
  index('collected_items_task').on(t.taskId)
])

export const archiveStatus = pgEnum('archive_status', ARCHIVE_STATUSES)

/** The portability archive of an access or portability request (one per request). */
export const archives = pgTable('archives', {
  id: uuid('id').primaryKey().defaultRandom(),
  requestId: uuid('request_id').notNull().unique().references(() => requests.id, { onDelete: 'cascade' }),
  status: archiveStatus('status').notNull().default('building'),
  storageKey: text('storage_key'),
  /** Size and SHA-256 of the zip as delivered (plaintext), whatever is stored at rest. */
  size: bigint('size', { mode: 'number' }),
  sha256: text('sha256'),
  /** When stored encrypted: which configured key, and the sealed layout's parameters. */
  encryption: jsonb('encryption').$type<{ algorithm: 'aes-256-gcm', keyId: string, [k: string]: unknown }>(),
  manifest: jsonb('manifest').$type<Record<string, unknown>>(),
  errorCode: text('error_code'),
  createdAt: tz('created_at').notNull().defaultNow(),
  readyAt: tz('ready_at'),
  /** When the archive and the collected items are deleted (retention). */
  expiresAt: tz('expires_at'),
  deletedAt: tz('deleted_at'),
  /** The worker building it, until when (renewed while it builds): a build whose holder died is reaped. */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: tz('lease_expires_at'),
  /** Build attempts taken since the archive was last queued: bounds the builds queued again by the reaper. */
  buildAttempts: integer('build_attempts').notNull().default(0)
}, (t) => [index('archives_lease').on(t.leaseExpiresAt).where(sql`${t.status} = 'building'`)])

/** Signed download links handed to the person; revocable. Only the link id is stored, never the token. */
export const archiveLinks = pgTable('archive_links', {
  id: uuid('id').primaryKey().defaultRandom(),
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  createdBy: text('created_by').notNull(),
  createdAt: tz('created_at').notNull().defaultNow(),
  expiresAt: tz('expires_at').notNull(),
  revokedAt: tz('revoked_at'),
  revokedBy: text('revoked_by'),
  downloads: integer('downloads').notNull().default(0)
}, (t) => [index('archive_links_request').on(t.requestId)])

/** Every connector health check, kept as history; the latest per connector is its current health. */
export const connectorHealth = pgTable('connector_health', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  connectorId: text('connector_id').notNull(),
  status: text('status').notNull(),
  latencyMs: integer('latency_ms'),
  message: text('message'),
  checkedAt: tz('checked_at').notNull().defaultNow()
}, (t) => [index('connector_health_latest').on(t.connectorId, t.checkedAt)])

/**
 * One row per run of a scheduled job and period slot. The unique (name, slot) pair is what makes a
 * schedule fire once per period for the whole deployment, however many instances run.
 */
export const jobRuns = pgTable('job_runs', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  name: text('name').notNull(),
  slot: tz('slot').notNull(),
  instance: text('instance').notNull(),
  startedAt: tz('started_at').notNull().defaultNow(),
  finishedAt: tz('finished_at'),
  outcome: text('outcome'),
  /** Counts only, never values. */
  details: jsonb('details').$type<Record<string, unknown>>()
}, (t) => [uniqueIndex('job_runs_name_slot').on(t.name, t.slot)])

/** Audit events that belong to no single request: retention sweeps, key changes. Counts only. */
export const systemEvents = pgTable('system_events', {
  id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
  at: tz('at').notNull().defaultNow(),
  actor: text('actor').notNull(),
  action: text('action').notNull(),
  details: jsonb('details').$type<Record<string, unknown>>(),
  // As request_events': the audit chain (src/audit/).
  contentHash: text('content_hash'),
  chainPosition: bigint('chain_position', { mode: 'number' })
}, (t) => [
  index('system_events_action').on(t.action, t.at),
  index('system_events_unsealed').on(t.id).where(sql`${t.chainPosition} is null`)
])

/** Deadline warnings already sent, so each (request, kind) is notified once. */
export const deadlineNotifications = pgTable('deadline_notifications', {
  requestId: uuid('request_id').notNull().references(() => requests.id, { onDelete: 'cascade' }),
  kind: text('kind').notNull(),
  notifiedAt: tz('notified_at').notNull().defaultNow(),
  deliveryStatus: integer('delivery_status')
}, (t) => [uniqueIndex('deadline_notifications_pk').on(t.requestId, t.kind)])
