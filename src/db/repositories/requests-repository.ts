import { and, asc, desc, eq, gte, inArray, lt, notInArray, or, sql, type SQL } from 'drizzle-orm'
import type { Db, DbHandle, TxHandle } from '../client.js'
import { tenantEvents, tenantParts, tenantRequests } from '../tenant-scope.js'
import { deadlineNotifications, requestEvents, requests } from '../schema.js'
import { canTransition, TERMINAL_STATUSES, type RequestStatus } from '../../domain/lifecycle.js'
import type { Refusal } from '../../domain/refusal-grounds.js'
import { createIntake } from './intake.js'
import { pgTextArray } from '../pg-types.js'
import { createOpenDsrRepository } from './opendsr-repository.js'
import { createCallbacksRepository } from './callbacks-repository.js'
import { createSuppressionsRepository } from './suppressions-repository.js'

export type { IntakeEvent, NewRequestRow } from './intake.js'

export type RequestRow = typeof requests.$inferSelect
export type RequestEventRow = typeof requestEvents.$inferSelect

export interface ListFilter {
  status?: RequestStatus[]
  type?: string[]
  regime?: string[]
  dueBefore?: Date
  dueAfter?: Date
  overdue?: boolean
  now: Date
  afterSeq?: number
  limit: number
}

export interface ExtensionInput {
  actor: string
  /** Free text from staff, possibly personal: stored and shown to readers of the request, never logged. */
  reason: string
  notifiedSubjectAt: Date | null
  now: Date
}

/**
 * What taking the extension came to. `already_taken` carries the row as it stands, so the caller
 * can tell an exact replay of the call that took it from a second, different attempt.
 */
export type ExtensionResult =
  | { status: 'extended', row: RequestRow }
  | { status: 'already_taken', row: RequestRow }
  | { status: 'not_found' }
  | { status: 'not_available', row: RequestRow }
  | { status: 'closed', row: RequestRow }
  | { status: 'too_late', row: RequestRow }

export type ExtensionNoticeResult =
  | { status: 'recorded', row: RequestRow }
  | { status: 'not_found' }
  | { status: 'not_taken', row: RequestRow }
  | { status: 'already_recorded', row: RequestRow }

export interface LiftInput {
  actor: string
  /** Free text from staff, possibly personal: stored and shown to readers of the request, never logged. */
  reason: string
  notifiedSubjectAt: Date
  now: Date
  /** The connectors the lift plans unrestrict tasks for (recorded in the audit event). */
  connectors: string[]
  /** Connectors that restricted but are no longer configured: nothing can lift their mark from here. */
  notConfigured: string[]
}

/** What recording a lift came to; every refusal carries the row as it stands. */
export type LiftResult =
  | { status: 'lifted', row: RequestRow }
  | { status: 'not_found' }
  | { status: 'not_applicable' | 'not_placed' | 'not_completed' | 'already_lifted' | 'redacted', row: RequestRow }

/** Request types that place a restriction of processing (GDPR Art 18; Art 18(1)(d) while an objection is weighed). */
export const RESTRICTING_TYPES: ReadonlyArray<RequestRow['type']> = ['restriction', 'objection']

export type TransitionResult =
  | { status: 'moved', row: RequestRow }
  | { status: 'not_found' }
  | { status: 'illegal', from: RequestStatus }

export function createRequestsRepository (dbh: DbHandle) {
  const db: Db = dbh.db
  const callbacks = createCallbacksRepository(dbh)
  const opendsr = createOpenDsrRepository(dbh)
  const suppressionList = createSuppressionsRepository(dbh)

  /**
   * The one place a request changes status. The row is locked, the move is checked against the
   * lifecycle table, and the status, its audit event and, when the request has a callback_url, its
   * status callback (the outbox row) are written in the caller's transaction.
   */
  async function transitionIn (
    id: string, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>, tx: TxHandle = dbh
  ): Promise<TransitionResult> {
    const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
    if (!current) return { status: 'not_found' }
    return transitionFrom(current, to, actor, reason, details, tx)
  }

  /**
   * transitionIn for a request the caller has already locked and read in its transaction (`current`).
   * The update, its audit event and its callback are sent together: one round trip.
   */
  async function transitionFrom (
    current: RequestRow, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>, tx: TxHandle = dbh
  ): Promise<TransitionResult> {
    if (!canTransition(current.status, to, current.heldFrom)) return { status: 'illegal', from: current.status }
    const now = new Date()
    const [[row]] = await Promise.all([
      tx.db.update(requests).set({
        status: to,
        heldFrom: to === 'on_hold' ? current.status : null,
        updatedAt: now
      }).where(eq(requests.id, current.id)).returning(),
      tx.db.insert(requestEvents).values({
        requestId: current.id, at: now, actor, action: 'transition', fromStatus: current.status, toStatus: to, reason: reason ?? null, details: details ?? null
      }),
      current.callbackUrl !== null ? callbacks.queueStatusChange(current.id, current.status, to, now, tx) : null,
      // OpenDSR requests of this request are told when their status (pending, in_progress…) changes with it.
      opendsr.queueStatusChange(current.id, current.status, to, now, tx),
      // A request rejected or cancelled withdraws what it put on the suppression list.
      to === 'rejected' || to === 'cancelled' ? suppressionList.endIn(current.id, to, now, null, tx) : null
    ])
    return { status: 'moved', row: row! }
  }

  /** Appends an audit event that is not a status change (task outcomes, operator actions). */
  async function recordEvent (
    requestId: string, actor: string, action: string, reason?: string | null, details?: Record<string, unknown>, tx: TxHandle = dbh
  ): Promise<void> {
    await tx.db.insert(requestEvents).values({ requestId, actor, action, reason: reason ?? null, details: details ?? null })
  }

  /**
   * The one place a request's deadline is extended. Like transitionIn: the row is locked, the rules
   * are checked, and the extension and its audit event are written in the caller's transaction.
   *
   * Refused when already taken (once per request), where the regime has no extension, once the
   * request is closed, and after the statutory due_at: the law lets the controller extend only by
   * telling the person within the first period. The due_soon/overdue warnings already sent were
   * about a date that no longer applies, so they are forgotten: the deadline monitor warns again
   * ahead of the extended date.
   */
  async function extendIn (id: string, input: ExtensionInput, tx: TxHandle = dbh): Promise<ExtensionResult> {
    const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
    if (!current) return { status: 'not_found' }
    if (current.extensionTakenAt !== null) return { status: 'already_taken', row: current }
    if (current.extendedDueAt === null) return { status: 'not_available', row: current }
    if (TERMINAL_STATUSES.includes(current.status)) return { status: 'closed', row: current }
    if (input.now.getTime() > current.dueAt.getTime()) return { status: 'too_late', row: current }
    const row = await updateWithEvent(id, input.now, {
      extensionTakenAt: input.now,
      extensionTakenBy: input.actor,
      extensionReason: input.reason,
      extensionNotifiedSubjectAt: input.notifiedSubjectAt
    }, {
      actor: input.actor,
      action: 'extension_taken',
      reason: input.reason,
      details: {
        due_at: current.dueAt.toISOString(),
        extended_due_at: current.extendedDueAt.toISOString(),
        notified_subject_at: input.notifiedSubjectAt?.toISOString() ?? null
      }
    }, tx)
    await tx.db.delete(deadlineNotifications).where(eq(deadlineNotifications.requestId, id))
    return { status: 'extended', row }
  }

  /**
   * Records when the person was told of an extension taken without that date (the letter often goes out
   * after the extension is recorded). Once: the row is locked, and the date and an
   * `extension_notice_recorded` event (saying whether it fell within the first period, as the law asks)
   * are written together. Also allowed after the request closed: it is a fact about the past.
   */
  async function recordExtensionNoticeIn (id: string, input: { actor: string, notifiedSubjectAt: Date, now: Date }, tx: TxHandle = dbh): Promise<ExtensionNoticeResult> {
    const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
    if (!current) return { status: 'not_found' }
    if (current.extensionTakenAt === null) return { status: 'not_taken', row: current }
    if (current.extensionNotifiedSubjectAt !== null) return { status: 'already_recorded', row: current }
    const row = await updateWithEvent(id, input.now, { extensionNotifiedSubjectAt: input.notifiedSubjectAt }, {
      actor: input.actor,
      action: 'extension_notice_recorded',
      reason: null,
      details: { notified_subject_at: input.notifiedSubjectAt.toISOString(), within_first_period: input.notifiedSubjectAt.getTime() <= current.dueAt.getTime() }
    }, tx)
    return { status: 'recorded', row }
  }

  /**
   * Records that a system placed the request's restriction: the first time only, so `placed_at`
   * stays when the person's data was first marked. In the caller's transaction (the task's).
   */
  async function markRestrictionPlaced (id: string, tx: TxHandle = dbh): Promise<void> {
    await tx.db.update(requests).set({ restrictionPlacedAt: sql`coalesce(${requests.restrictionPlacedAt}, now())` })
      .where(eq(requests.id, id))
  }

  /**
   * The one place a restriction is lifted. Like extendIn: the row is locked, the rules are checked, and
   * the lift and its `restriction_lifted` audit event are written in the caller's transaction, which
   * plans the unrestrict tasks too. Refused for types that restrict nothing, before the request has
   * completed, when nothing was restricted, a second time, and once the identifiers were removed (the
   * systems could no longer find the records to lift). The request stays completed: see lifecycle.ts.
   */
  async function liftRestrictionIn (id: string, input: LiftInput, tx: TxHandle = dbh): Promise<LiftResult> {
    const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
    if (!current) return { status: 'not_found' }
    if (!RESTRICTING_TYPES.includes(current.type)) return { status: 'not_applicable', row: current }
    if (current.restrictionLiftedAt !== null) return { status: 'already_lifted', row: current }
    if (current.status !== 'completed') return { status: 'not_completed', row: current }
    if (current.restrictionPlacedAt === null) return { status: 'not_placed', row: current }
    if (current.identifiersRedactedAt !== null) return { status: 'redacted', row: current }
    const row = await updateWithEvent(id, input.now, {
      restrictionLiftedAt: input.now,
      restrictionLiftedBy: input.actor,
      restrictionLiftReason: input.reason,
      restrictionNotifiedSubjectAt: input.notifiedSubjectAt
    }, {
      actor: input.actor,
      action: 'restriction_lifted',
      reason: input.reason,
      details: {
        placed_at: current.restrictionPlacedAt.toISOString(),
        notified_subject_at: input.notifiedSubjectAt.toISOString(),
        connectors: input.connectors,
        ...(input.notConfigured.length > 0 ? { not_configured: input.notConfigured } : {})
      }
    }, tx)
    return { status: 'lifted', row }
  }

  return {
    ...createIntake(dbh),

    /** The request (for a tenant key: one of its account's requests, or with `part` one with a part of its account: db/tenant-scope.ts). */
    async findById (id: string, tx: TxHandle = dbh, opts: { part?: boolean } = {}): Promise<RequestRow | null> {
      const [row] = await tx.db.select().from(requests).where(and(eq(requests.id, id), opts.part ? tenantParts(requests.id) : tenantRequests(requests.id))).limit(1)
      return row ?? null
    },

    /**
     * Serialises intake for one person and type until the caller's transaction ends: an advisory lock
     * per subject key (in one order, so two callers never wait on each other crosswise). Two requests
     * for the same person then cannot both miss each other as duplicates.
     */
    async lockSubject (type: string, keys: readonly string[], tx: TxHandle): Promise<void> {
      const sorted = [...keys].sort()
      await tx.rows(sql`select pg_advisory_xact_lock(hashtextextended(${type} || ':' || k, 0))
        from unnest(${pgTextArray(sorted)}::text[]) with ordinality as x(k, i) order by i`)
    },

    /** The earliest open request of this type sharing a subject key with `keys` (see intake.ts openDuplicate). */
    async findOpenDuplicate (type: string, keys: readonly string[], tx: TxHandle = dbh): Promise<RequestRow | null> {
      if (keys.length === 0) return null
      const [row] = await tx.db.select().from(requests).where(sql`${requests.id} = (
        select d.request_id from unnest(${pgTextArray(keys)}::text[]) as u(key)
        cross join lateral (
          select k.request_id, k.received_at from open_subject_keys k
          where k.type = ${type}::request_type and k.key = u.key
          order by k.received_at, k.request_id limit 1
        ) d
        order by d.received_at, d.request_id limit 1)`).limit(1)
      return row ?? null
    },

    async findByIdempotencyKey (createdBy: string, key: string): Promise<RequestRow | null> {
      const [row] = await db.select().from(requests)
        .where(and(eq(requests.createdBy, createdBy), eq(requests.idempotencyKey, key))).limit(1)
      return row ?? null
    },

    /** Newest first, keyed on the insertion sequence so pages never skip or repeat a row. */
    async list (f: ListFilter): Promise<RequestRow[]> {
      const where: Array<SQL | undefined> = [
        f.status && inArray(requests.status, f.status),
        f.type && inArray(requests.type, f.type as RequestRow['type'][]),
        f.regime && inArray(requests.regime, f.regime as RequestRow['regime'][]),
        // Lateness is judged by the effective deadline: extended_due_at once the extension is taken.
        f.dueBefore && lt(requests.effectiveDueAt, f.dueBefore),
        f.dueAfter && gte(requests.effectiveDueAt, f.dueAfter),
        f.overdue === true ? and(lt(requests.effectiveDueAt, f.now), notInArray(requests.status, [...TERMINAL_STATUSES])) : undefined,
        f.overdue === false ? or(gte(requests.effectiveDueAt, f.now), inArray(requests.status, [...TERMINAL_STATUSES])) : undefined,
        f.afterSeq !== undefined ? lt(requests.seq, f.afterSeq) : undefined,
        tenantRequests(requests.id)
      ]
      return db.select().from(requests).where(and(...where)).orderBy(desc(requests.seq)).limit(f.limit)
    },

    /** The request's trail; for a tenant key, without what names other customer accounts (db/tenant-scope.ts). */
    async events (requestId: string): Promise<RequestEventRow[]> {
      return db.select().from(requestEvents).where(and(eq(requestEvents.requestId, requestId), tenantRequests(requestEvents.requestId), tenantEvents(requestEvents.details)))
        .orderBy(asc(requestEvents.id))
    },

    /** Takes the statutory extension in its own transaction (see extendIn). */
    async extend (id: string, input: ExtensionInput): Promise<ExtensionResult> {
      return dbh.transaction((tx) => extendIn(id, input, tx))
    },

    /** Records when the person was told of the extension, in its own transaction (see recordExtensionNoticeIn). */
    async recordExtensionNotice (id: string, input: { actor: string, notifiedSubjectAt: Date, now: Date }): Promise<ExtensionNoticeResult> {
      return dbh.transaction((tx) => recordExtensionNoticeIn(id, input, tx))
    },

    /** Moves a request to `to` in its own transaction (see transitionIn). */
    async transition (id: string, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>): Promise<TransitionResult> {
      return dbh.transaction((tx) => transitionIn(id, to, actor, reason, details, tx))
    },

    /** The request's type and status, its row locked (FOR NO KEY UPDATE) for the caller's transaction; null when there is none. */
    async lockTypeAndStatus (id: string, tx: TxHandle = dbh): Promise<Pick<RequestRow, 'type' | 'status'> | null> {
      const [row] = await tx.db.select({ type: requests.type, status: requests.status }).from(requests)
        .where(and(eq(requests.id, id), tenantRequests(requests.id))).for('no key update')
      return row ?? null
    },

    /** Records why the request was rejected, in the caller's transaction (with the transition to rejected). */
    async setRefusal (id: string, refusal: Refusal, tx: TxHandle = dbh): Promise<void> {
      await tx.db.update(requests).set({ refusal }).where(eq(requests.id, id))
    },

    transitionIn,
    transitionFrom,
    recordEvent,
    extendIn,
    recordExtensionNoticeIn,
    markRestrictionPlaced,
    liftRestrictionIn
  }
}

export type RequestsRepository = ReturnType<typeof createRequestsRepository>

/** Updates a request the caller has locked and appends its audit event, both stamped `at`, in the caller's transaction. */
async function updateWithEvent (
  id: string, at: Date, set: Partial<typeof requests.$inferInsert>,
  event: { actor: string, action: string, reason: string | null, details: Record<string, unknown> },
  tx: TxHandle
): Promise<RequestRow> {
  // Sent together: one round trip.
  const [[row]] = await Promise.all([
    tx.db.update(requests).set({ ...set, updatedAt: at }).where(eq(requests.id, id)).returning(),
    tx.db.insert(requestEvents).values({ requestId: id, at, ...event })
  ])
  return row!
}
