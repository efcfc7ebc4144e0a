import type { DbHandle, TxHandle } from '../client.js'
import { pgTextArray } from '../pg-types.js'
import type { RequestStatus } from '../../domain/lifecycle.js'
import type { requests } from '../schema.js'
import { CALLBACK_QUEUE, WAKE_CHANNEL } from '../wake.js'

export type NewRequestRow = Omit<typeof requests.$inferInsert, 'seq'> & { id: string, createdAt: Date, updatedAt: Date }

const jsonText = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v))

/**
 * $1…$26 of INSERT_REQUEST and INSERT_PLANNED, as text (so that INSERT_REQUESTS can take them as text
 * arrays): `child` too, read as `$24::text::boolean`, since postgres.js would send any string given
 * for a boolean parameter as false.
 */
function requestParams (row: NewRequestRow): unknown[] {
  return [
    row.id, row.type, row.status, row.regime, row.jurisdiction ?? null,
    jsonText(row.subject), jsonText(row.requester), row.channel, row.callbackUrl ?? null, jsonText(row.changes), row.notes ?? null,
    row.timeZone, row.receivedAt.toISOString(), row.dueAt.toISOString(),
    row.acknowledgeBy?.toISOString() ?? null, row.extendedDueAt?.toISOString() ?? null, row.deadlineRule,
    row.createdBy, row.idempotencyKey ?? null, row.requestHash ?? null, row.createdAt.toISOString(), row.updatedAt.toISOString(),
    pgTextArray(row.subjectKeys ?? []), row.child === true ? 'true' : 'false', row.internalDueAt?.toISOString() ?? null,
    pgTextArray(row.optOutPurposes ?? [])
  ]
}

/**
 * The open request of the same type that shares a subject key with the new one ($2 its type, $23
 * its keys), the earliest received: the new one's `duplicate_of` (domain/duplicates.ts). One short
 * range of open_subject_keys' index per key (kept by triggers), however many open requests the person has.
 */
const openDuplicate = (type: string, keys: string) => `(
      select d.request_id from unnest(${keys}) as u(key)
      cross join lateral (
        select k.request_id, k.received_at from open_subject_keys k
        where k.type = ${type} and k.key = u.key
        order by k.received_at, k.request_id limit 1
      ) d
      order by d.received_at, d.request_id limit 1)`

/** A new request's row ($1…$26, see requestParams); nothing when the client used the idempotency key before. */
const REQUEST_ROW = `
    insert into requests (
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at, subject_keys, child, internal_due_at, opt_out_purposes, duplicate_of
    ) values (
      $1::uuid, $2::request_type, $3::request_status, $4::regime, $5::text, $6::jsonb, $7::jsonb, $8::channel,
      $9::text, $10::jsonb, $11::text, $12::text, $13::timestamptz, $14::timestamptz, $15::timestamptz,
      $16::timestamptz, $17::text, $18::text, $19::text, $20::text, $21::timestamptz, $22::timestamptz,
      $23::text[], $24::text::boolean, $25::timestamptz, $26::text[], ${openDuplicate('$2::request_type', '$23::text[]')}
    )
    on conflict (created_by, idempotency_key) where idempotency_key is not null do nothing`

/** The row and its `created` audit event ($27 the actor), as the opening CTEs of the single-request statements. */
const CREATED = `
  with r as (${REQUEST_ROW}
    returning id, status, created_at, duplicate_of
  ), e as (
    insert into request_events (request_id, at, actor, action, to_status)
    select id, created_at, $27::text, 'created', status from r
  )`

const INSERT_REQUEST = `${CREATED}
  select id, duplicate_of from r`

/**
 * INSERT_REQUEST for a request with a callback_url: also its first status callback (the outbox row
 * of its creation), woken on when the statement commits ($28 the channel, $29 the queue). A separate
 * text, so requests without a callback (most) run the statement above, unchanged.
 */
const INSERT_REQUEST_WITH_CALLBACK = `${CREATED}, c as (
    insert into callback_deliveries (request_id, to_status, at)
    select id, status, created_at from r
    returning id
  ), w as (
    select pg_notify($28::text, $29::text) from c
  )
  select id, duplicate_of, (select count(*) from w) as woken from r`

/**
 * Several new requests in one statement (see insert): the columns of INSERT_REQUEST's $1…$27 as
 * one text array each, a row per element, in order. Requests of one statement do not see each
 * other as duplicates (one snapshot): the policies that act on a duplicate (merge, refuse) store
 * one at a time, under a lock (see insertIn). A request is stored with its audit event or,
 * when its client used the idempotency key before (also earlier in the same batch), not at all.
 */
const INSERT_REQUESTS = `
  with x as (
    select * from unnest(
      $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
      $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],
      $25::text[], $26::text[], $27::text[]
    ) with ordinality as x(
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at, subject_keys, child, internal_due_at, opt_out_purposes, actor, i
    )
  ), r as (
    insert into requests (
      id, type, status, regime, jurisdiction, subject, requester, channel, callback_url, changes, notes,
      time_zone, received_at, due_at, acknowledge_by, extended_due_at, deadline_rule,
      created_by, idempotency_key, request_hash, created_at, updated_at, subject_keys, child, internal_due_at, opt_out_purposes, duplicate_of
    )
    select id::uuid, type::request_type, status::request_status, regime::regime, jurisdiction, subject::jsonb, requester::jsonb,
      channel::channel, callback_url, changes::jsonb, notes, time_zone, received_at::timestamptz, due_at::timestamptz,
      acknowledge_by::timestamptz, extended_due_at::timestamptz, deadline_rule, created_by, idempotency_key, request_hash,
      created_at::timestamptz, updated_at::timestamptz, subject_keys::text[], child::boolean, internal_due_at::timestamptz, opt_out_purposes::text[],
      ${openDuplicate('x.type::request_type', 'x.subject_keys::text[]')}
    from x order by i
    on conflict (created_by, idempotency_key) where idempotency_key is not null do nothing
    returning id, status, created_at, duplicate_of
  ), e as (
    insert into request_events (request_id, at, actor, action, to_status)
    select r.id, r.created_at, x.actor, 'created', r.status from r join x on x.id::uuid = r.id order by x.i
  )
  select id, duplicate_of from r`

/** The most requests one intake statement stores (see insert). */
const INSERT_BATCH_MAX = 64

/**
 * A request verified at intake, stored already planned (see insertPlanned): the row, its audit
 * events in the order given, and its tasks, in one statement, which also wakes the idle workers
 * of the tasks' connectors when it commits (jobs/queue.ts); nothing when the idempotency key was
 * used before.
 */
const INSERT_PLANNED = planned(false)

/**
 * INSERT_PLANNED's text; with `callbacks`, also a status callback for each status the request went
 * through (the events with a `to`: its creation and transitions, in order), and a wake of the
 * callback workers ($32 the queue). Requests without a callback_url run the text without.
 */
function planned (callbacks: boolean): string {
  return `
  with r as (${REQUEST_ROW}
    returning id, created_at, duplicate_of
  ), e as (
    insert into request_events (request_id, at, actor, action, from_status, to_status, reason, details)
    select r.id, r.created_at, $27::text, x.e->>'action', (x.e->>'from')::request_status, (x.e->>'to')::request_status,
      x.e->>'reason', x.e->'details'
    from r, jsonb_array_elements($28::jsonb) with ordinality as x(e, i)
    order by x.i
  ), t as (
    insert into tasks (id, request_id, connector_id, action, status, instructions, max_attempts, created_at, updated_at)
    select (x.t->>'id')::uuid, r.id, x.t->>'connector', (x.t->>'action')::task_action, (x.t->>'status')::task_status, x.t->>'instructions',
      (x.t->>'max_attempts')::int, r.created_at, r.created_at
    from r, jsonb_array_elements($29::jsonb) as x(t)
  ), w as (
    select pg_notify($30::text, q) from r, unnest($31::text[]) as q
  )${callbacks
? `, c as (
    insert into callback_deliveries (request_id, to_status, from_status, at)
    select r.id, (x.e->>'to')::request_status, (x.e->>'from')::request_status, r.created_at
    from r, jsonb_array_elements($28::jsonb) with ordinality as x(e, i)
    where x.e->>'to' is not null
    order by x.i
    returning id
  ), wc as (
    select pg_notify($30::text, $32::text) from (select 1 from c limit 1) as any_callback
  )
  select id, duplicate_of, (select count(*) from w) + (select count(*) from wc) as woken from r`
: `
  select id, duplicate_of, (select count(*) from w) as woken from r`}`
}

const INSERT_PLANNED_WITH_CALLBACKS = planned(true)

/** A request as intake stored it: the open request it duplicates, if any; null when nothing was stored (a used idempotency key). */
export type Stored = { duplicateOf: string | null } | null

interface StoredRow { id: string, duplicate_of: string | null }

const stored = (row: StoredRow | undefined): Stored => (row ? { duplicateOf: row.duplicate_of ?? null } : null)

/** An audit event written with a new request (insertPlanned). */
export interface IntakeEvent { action: string, from?: RequestStatus, to?: RequestStatus, reason?: string | null, details?: Record<string, unknown> | null }

/**
 * Storing new requests: one at a time as they arrive, grouped into one statement when several
 * arrive together, or already planned when verified at intake. Part of the requests repository.
 */
export function createIntake (dbh: DbHandle) {
  // Intake group commit: requests that arrive while the event loop is busy are stored together,
  // in one statement and one commit, when the loop next turns (setImmediate). Each caller still
  // waits for its own row to commit, and its request is atomic with its audit event as before.
  // Under load this saves a round trip, a commit and the client work of a statement per request.
  interface Pending { params: unknown[], id: string, resolve: (stored: Stored) => void, reject: (err: unknown) => void }
  let pending: Pending[] = []
  const flush = () => {
    const batch = pending
    pending = []
    // store() settles every caller's promise itself and never rejects.
    for (let at = 0; at < batch.length; at += INSERT_BATCH_MAX) void store(batch.slice(at, at + INSERT_BATCH_MAX))
  }
  const storeOne = async (p: Pending) => {
    try {
      p.resolve(stored((await dbh.prepared<StoredRow>(INSERT_REQUEST, p.params))[0]))
    } catch (err) { p.reject(err) }
  }
  const store = async (batch: Pending[]) => {
    if (batch.length === 1) return storeOne(batch[0]!)
    const columns = batch[0]!.params.map((_, c) => batch.map((p) => p.params[c]))
    let rows: Map<string, StoredRow>
    try {
      rows = new Map((await dbh.prepared<StoredRow>(INSERT_REQUESTS, columns)).map((r) => [r.id, r]))
    } catch {
      // One request the database refuses must not fail the others: each is tried on its own.
      await Promise.all(batch.map(storeOne))
      return
    }
    for (const p of batch) p.resolve(stored(rows.get(p.id)))
  }

  return {
    /**
     * Stores a new request and its `created` audit event in one statement (one round trip, atomic).
     * With an idempotency key already used by the same client, nothing is written and null is returned.
     */
    async insert (row: NewRequestRow, actor: string): Promise<Stored> {
      if (row.callbackUrl) {
        // Stored on its own, with its callback: the grouped statement serves requests without one.
        return stored((await dbh.prepared<StoredRow>(INSERT_REQUEST_WITH_CALLBACK, [...requestParams(row), actor, WAKE_CHANNEL, CALLBACK_QUEUE]))[0])
      }
      return new Promise<Stored>((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush)
        pending.push({ params: [...requestParams(row), actor], id: row.id, resolve, reject })
      })
    },

    /** insert, in the caller's transaction: one statement of its own, not grouped with others. */
    async insertIn (row: NewRequestRow, actor: string, tx: TxHandle): Promise<Stored> {
      const { rows } = await tx.executor.executeSql(row.callbackUrl ? INSERT_REQUEST_WITH_CALLBACK : INSERT_REQUEST,
        [...requestParams(row), actor, ...(row.callbackUrl ? [WAKE_CHANNEL, CALLBACK_QUEUE] : [])])
      return stored(rows[0] as StoredRow | undefined)
    },

    /**
     * Stores a request whose identity was verified at intake with its plan, in one statement (on
     * its own, or in the caller's transaction): the row (status as planned), `events` in order, and `tasks`.
     * Null, with nothing written, when the idempotency key was used before by the same client.
     */
    async insertPlanned (row: NewRequestRow, actor: string, events: IntakeEvent[],
      tasks: Array<{ id: string, connectorId: string, action: string, status: string, instructions: string | null, maxAttempts: number }>,
      /** Notified when the statement commits: `pg_notify(channel, queue)` for each queue (the tasks' workers). */
      wake: { channel: string, queues: readonly string[] }, tx: TxHandle = dbh): Promise<Stored> {
      const callback = row.callbackUrl ? [CALLBACK_QUEUE] : []
      const { rows } = await tx.executor.executeSql(callback.length > 0 ? INSERT_PLANNED_WITH_CALLBACKS : INSERT_PLANNED, [
        ...requestParams(row),
        actor,
        JSON.stringify(events.map((e) => ({ action: e.action, from: e.from ?? null, to: e.to ?? null, reason: e.reason ?? null, details: e.details ?? null }))),
        JSON.stringify(tasks.map((t) => ({ id: t.id, connector: t.connectorId, action: t.action, status: t.status, instructions: t.instructions, max_attempts: t.maxAttempts }))),
        wake.channel,
        pgTextArray(wake.queues),
        ...callback
      ])
      return stored(rows[0] as StoredRow | undefined)
    }
  }
}
