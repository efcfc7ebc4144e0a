import { and, asc, desc, eq, gte, inArray, lt, notInArray, or, sql, type SQL } from 'drizzle-orm'
import type { Db, DbHandle, TxHandle } from '../client.js'
import { deadlineNotifications, requestEvents, requests } from '../schema.js'
import { canTransition, TERMINAL_STATUSES, type RequestStatus } from '../../domain/lifecycle.js'

export type RequestRow = typeof requests.$inferSelect
export type NewRequestRow = Omit<typeof requests.$inferInsert, 'seq'> & { id: string, createdAt: Date, updatedAt: Date }
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

const jsonText = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v))

/** $1…$22 of INSERT_REQUEST and INSERT_PLANNED. */
function requestParams (row: NewRequestRow): unknown[] {
  return [
    row.id, row.type, row.status, row.regime, row.jurisdiction ?? null,
    jsonText(row.subject), jsonText(row.requester), row.channel, row.callbackUrl ?? null, jsonText(row.changes), row.notes ?? null,
    row.timeZone, row.receivedAt.toISOString(), row.dueAt.toISOString(),
    row.acknowledgeBy?.toISOString() ?? null, row.extendedDueAt?.toISOString() ?? null, row.deadlineRule,
    row.createdBy, row.idempotencyKey ?? null, row.requestHash ?? null, row.createdAt.toISOString(), row.updatedAt.toISOString()
  ]
}

/**
 * Intake in one statement: the request row and its `created` audit event, atomically, in a single
 * round trip. Its text never changes, so it runs as a prepared statement. An idempotency key the
 * client already used makes it insert nothing and return no row.
 */
/** A new request's row ($1…$22, see requestParams); nothing when the client used the idempotency key before. */
const REQUEST_ROW = `
    insert into requests (
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at
    ) values (
      $1::uuid, $2::request_type, $3::request_status, $4::regime, $5::text, $6::jsonb, $7::jsonb, $8::channel,
      $9::text, $10::jsonb, $11::text, $12::text, $13::timestamptz, $14::timestamptz, $15::timestamptz,
      $16::timestamptz, $17::text, $18::text, $19::text, $20::text, $21::timestamptz, $22::timestamptz
    )
    on conflict (created_by, idempotency_key) where idempotency_key is not null do nothing`

const INSERT_REQUEST = `
  with r as (${REQUEST_ROW}
    returning id, status, created_at
  ), e as (
    insert into request_events (request_id, at, actor, action, to_status)
    select id, created_at, $23::text, 'created', status from r
  )
  select id from r`

/**
 * Several new requests in one statement (see insert): the columns of INSERT_REQUEST's $1…$23 as
 * one text array each, a row per element, in order. A request is stored with its audit event or,
 * when its client used the idempotency key before (also earlier in the same batch), not at all.
 */
const INSERT_REQUESTS = `
  with x as (
    select * from unnest(
      $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
      $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[]
    ) with ordinality as x(
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at, actor, i
    )
  ), r as (
    insert into requests (
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at
    )
    select id::uuid, type::request_type, status::request_status, regime::regime, jurisdiction, subject::jsonb, requester::jsonb,
      channel::channel, callback_url, changes::jsonb, notes, time_zone, received_at::timestamptz, due_at::timestamptz,
      acknowledge_by::timestamptz, extended_due_at::timestamptz, deadline_rule, created_by, idempotency_key, request_hash,
      created_at::timestamptz, updated_at::timestamptz
    from x order by i
    on conflict (created_by, idempotency_key) where idempotency_key is not null do nothing
    returning id, status, created_at
  ), e as (
    insert into request_events (request_id, at, actor, action, to_status)
    select r.id, r.created_at, x.actor, 'created', r.status from r join x on x.id::uuid = r.id order by x.i
  )
  select id from r`

/** The most requests one intake statement stores (see insert). */
const INSERT_BATCH_MAX = 64

/**
 * A request verified at intake, stored already planned (see insertPlanned): the row, its audit
 * events in the order given, and its tasks, in one statement, which also wakes the idle workers
 * of the tasks' connectors when it commits (jobs/queue.ts); nothing when the idempotency key was
 * used before.
 */
const INSERT_PLANNED = `
  with r as (${REQUEST_ROW}
    returning id, created_at
  ), e as (
    insert into request_events (request_id, at, actor, action, from_status, to_status, reason, details)
    select r.id, r.created_at, $23::text, x.e->>'action', (x.e->>'from')::request_status, (x.e->>'to')::request_status,
      x.e->>'reason', x.e->'details'
    from r, jsonb_array_elements($24::jsonb) with ordinality as x(e, i)
    order by x.i
  ), t as (
    insert into tasks (id, request_id, connector_id, action, max_attempts, created_at, updated_at)
    select (x.t->>'id')::uuid, r.id, x.t->>'connector', (x.t->>'action')::task_action, (x.t->>'max_attempts')::int, r.created_at, r.created_at
    from r, jsonb_array_elements($25::jsonb) as x(t)
  ), w as (
    select pg_notify($26::text, q) from r, unnest($27::text[]) as q
  )
  select id, (select count(*) from w) as woken from r`

/** An audit event written with a new request (insertPlanned). */
export interface IntakeEvent { action: string, from?: RequestStatus, to?: RequestStatus, reason?: string | null, details?: Record<string, unknown> | null }

export function createRequestsRepository (dbh: DbHandle) {
  const db: Db = dbh.db

  // Intake group commit: requests that arrive while the event loop is busy are stored together,
  // in one statement and one commit, when the loop next turns (setImmediate). Each caller still
  // waits for its own row to commit, and its request is atomic with its audit event as before.
  // Under load this saves a round trip, a commit and the client work of a statement per request.
  interface Pending { params: unknown[], id: string, resolve: (stored: boolean) => void, reject: (err: unknown) => void }
  let pending: Pending[] = []
  const flush = () => {
    const batch = pending
    pending = []
    // store() settles every caller's promise itself and never rejects.
    for (let at = 0; at < batch.length; at += INSERT_BATCH_MAX) store(batch.slice(at, at + INSERT_BATCH_MAX))
  }
  const storeOne = async (p: Pending) => {
    try {
      p.resolve((await dbh.prepared<{ id: string }>(INSERT_REQUEST, p.params)).length === 1)
    } catch (err) { p.reject(err) }
  }
  const store = async (batch: Pending[]) => {
    if (batch.length === 1) return storeOne(batch[0]!)
    const columns = batch[0]!.params.map((_, c) => batch.map((p) => p.params[c]))
    let stored: Set<string>
    try {
      stored = new Set((await dbh.prepared<{ id: string }>(INSERT_REQUESTS, columns)).map((r) => r.id))
    } catch {
      // One request the database refuses must not fail the others: each is tried on its own.
      await Promise.all(batch.map(storeOne))
      return
    }
    for (const p of batch) p.resolve(stored.has(p.id))
  }

  return {
    /**
     * Stores a new request and its `created` audit event in one statement (one round trip, atomic).
     * With an idempotency key already used by the same client, nothing is written and false is returned.
     */
    async insert (row: NewRequestRow, actor: string): Promise<boolean> {
      return new Promise<boolean>((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush)
        pending.push({ params: [...requestParams(row), actor], id: row.id, resolve, reject })
      })
    },

    /**
     * Stores a request whose identity was verified at intake with its plan, in one statement (on
     * its own, or in the caller's transaction): the row (status as planned), `events` in order, and `tasks`.
     * False, with nothing written, when the idempotency key was used before by the same client.
     */
    async insertPlanned (tx: TxHandle, row: NewRequestRow, actor: string, events: IntakeEvent[],
      tasks: Array<{ id: string, connectorId: string, action: string, maxAttempts: number }>,
      /** Notified when the statement commits: `pg_notify(channel, queue)` for each queue (the tasks' workers). */
      wake: { channel: string, queues: readonly string[] }): Promise<boolean> {
      const { rows } = await tx.executor.executeSql(INSERT_PLANNED, [
        ...requestParams(row),
        actor,
        JSON.stringify(events.map((e) => ({ action: e.action, from: e.from ?? null, to: e.to ?? null, reason: e.reason ?? null, details: e.details ?? null }))),
        JSON.stringify(tasks.map((t) => ({ id: t.id, connector: t.connectorId, action: t.action, max_attempts: t.maxAttempts }))),
        wake.channel,
        `{${wake.queues.map((q) => JSON.stringify(q)).join(',')}}`
      ])
      return rows.length === 1
    },

    async findById (id: string, on: TxHandle = dbh): Promise<RequestRow | null> {
      const [row] = await on.db.select().from(requests).where(eq(requests.id, id)).limit(1)
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
        f.afterSeq !== undefined ? lt(requests.seq, f.afterSeq) : undefined
      ]
      return db.select().from(requests).where(and(...where)).orderBy(desc(requests.seq)).limit(f.limit)
    },

    async events (requestId: string): Promise<RequestEventRow[]> {
      return db.select().from(requestEvents).where(eq(requestEvents.requestId, requestId)).orderBy(asc(requestEvents.id))
    },

    /** Takes the statutory extension in its own transaction (see extendIn). */
    async extend (id: string, input: ExtensionInput): Promise<ExtensionResult> {
      return dbh.transaction((tx) => extendIn(tx, id, input))
    },

    /** Records when the person was told of the extension, in its own transaction (see recordExtensionNoticeIn). */
    async recordExtensionNotice (id: string, input: { actor: string, notifiedSubjectAt: Date, now: Date }): Promise<ExtensionNoticeResult> {
      return dbh.transaction((tx) => recordExtensionNoticeIn(tx, id, input))
    },

    /** Moves a request to `to` in its own transaction (see transitionIn). */
    async transition (id: string, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>): Promise<TransitionResult> {
      return dbh.transaction((tx) => transitionIn(tx, id, to, actor, reason, details))
    }
  }
}

export type RequestsRepository = ReturnType<typeof createRequestsRepository>
/**
 * The one place a request changes status. The row is locked, the move is checked against the
 * lifecycle table, and the status and its audit event are written in the caller's transaction.
 */
export async function transitionIn (
  tx: TxHandle, id: string, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>
): Promise<TransitionResult> {
  const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
  if (!current) return { status: 'not_found' }
  return transitionFrom(tx, current, to, actor, reason, details)
}

/**
 * transitionIn for a request the caller has already locked and read in its transaction (`current`).
 * The update and its audit event are sent together: one round trip.
 */
export async function transitionFrom (
  tx: TxHandle, current: RequestRow, to: RequestStatus, actor: string, reason?: string, details?: Record<string, unknown>
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
    })
  ])
  return { status: 'moved', row: row! }
}

/** Appends an audit event that is not a status change (task outcomes, operator actions). */
export async function recordEvent (
  tx: TxHandle, requestId: string, actor: string, action: string, reason?: string | null, details?: Record<string, unknown>
): Promise<void> {
  await tx.db.insert(requestEvents).values({ requestId, actor, action, reason: reason ?? null, details: details ?? null })
}

/** Updates a request the caller has locked and appends its audit event, both stamped `at`. */
async function updateWithEvent (
  tx: TxHandle, id: string, at: Date, set: Partial<typeof requests.$inferInsert>,
  event: { actor: string, action: string, reason: string | null, details: Record<string, unknown> }
): Promise<RequestRow> {
  // Sent together: one round trip.
  const [[row]] = await Promise.all([
    tx.db.update(requests).set({ ...set, updatedAt: at }).where(eq(requests.id, id)).returning(),
    tx.db.insert(requestEvents).values({ requestId: id, at, ...event })
  ])
  return row!
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
export async function extendIn (tx: TxHandle, id: string, input: ExtensionInput): Promise<ExtensionResult> {
  const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
  if (!current) return { status: 'not_found' }
  if (current.extensionTakenAt !== null) return { status: 'already_taken', row: current }
  if (current.extendedDueAt === null) return { status: 'not_available', row: current }
  if (TERMINAL_STATUSES.includes(current.status)) return { status: 'closed', row: current }
  if (input.now.getTime() > current.dueAt.getTime()) return { status: 'too_late', row: current }
  const row = await updateWithEvent(tx, id, input.now, {
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
  })
  await tx.db.delete(deadlineNotifications).where(eq(deadlineNotifications.requestId, id))
  return { status: 'extended', row }
}

/**
 * Records when the person was told of an extension taken without that date (the letter often goes out
 * after the extension is recorded). Once: the row is locked, and the date and an
 * `extension_notice_recorded` event (saying whether it fell within the first period, as the law asks)
 * are written together. Also allowed after the request closed: it is a fact about the past.
 */
export async function recordExtensionNoticeIn (tx: TxHandle, id: string, input: { actor: string, notifiedSubjectAt: Date, now: Date }): Promise<ExtensionNoticeResult> {
  const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
  if (!current) return { status: 'not_found' }
  if (current.extensionTakenAt === null) return { status: 'not_taken', row: current }
  if (current.extensionNotifiedSubjectAt !== null) return { status: 'already_recorded', row: current }
  const row = await updateWithEvent(tx, id, input.now, { extensionNotifiedSubjectAt: input.notifiedSubjectAt }, {
    actor: input.actor,
    action: 'extension_notice_recorded',
    reason: null,
    details: { notified_subject_at: input.notifiedSubjectAt.toISOString(), within_first_period: input.notifiedSubjectAt.getTime() <= current.dueAt.getTime() }
  })
  return { status: 'recorded', row }
}

/**
 * Records that a system placed the request's restriction: the first time only, so `placed_at`
 * stays when the person's data was first marked. In the caller's transaction (the task's).
 */
export async function markRestrictionPlaced (tx: TxHandle, id: string): Promise<void> {
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
export async function liftRestrictionIn (tx: TxHandle, id: string, input: LiftInput): Promise<LiftResult> {
  const [current] = await tx.db.select().from(requests).where(eq(requests.id, id)).for('no key update')
  if (!current) return { status: 'not_found' }
  if (!RESTRICTING_TYPES.includes(current.type)) return { status: 'not_applicable', row: current }
  if (current.restrictionLiftedAt !== null) return { status: 'already_lifted', row: current }
  if (current.status !== 'completed') return { status: 'not_completed', row: current }
  if (current.restrictionPlacedAt === null) return { status: 'not_placed', row: current }
  if (current.identifiersRedactedAt !== null) return { status: 'redacted', row: current }
  const row = await updateWithEvent(tx, id, input.now, {
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
  })
  return { status: 'lifted', row }
}
