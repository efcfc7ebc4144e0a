import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm'
import { tenantParts, tenantRequests } from '../tenant-scope.js'
import type { DbHandle, TxHandle } from '../client.js'
import { renewLease } from '../leases.js'
import { pgTextArray } from '../pg-types.js'
import { collectedItems, requests, taskRuns, tasks, type StoredSubject, type TaskResult } from '../schema.js'
import { OPEN_TASK_STATUSES, TERMINAL_TASK_STATUSES, type TaskStatus } from '../../domain/statuses.js'
import type { RequestStatus } from '../../domain/lifecycle.js'
import type { RequestRow } from './requests-repository.js'
import type { TaskAction } from '../../../connectors/types.js'

export type TaskRow = typeof tasks.$inferSelect
export type NewCollectedItem = typeof collectedItems.$inferInsert

/** How a worker leaves a running task. */
export interface TaskRelease {
  status: TaskStatus
  result?: TaskResult | null
  errorCode?: string | null
  errorMessage?: string | null
  nextAttemptAt?: Date | null
  /** Recorded on the run: succeeded, retry, failed, skipped. */
  outcome: string
}

/** Task bookkeeping. Every write that must agree with another happens inside the caller's transaction. */
export function createTasksRepository (dbh: DbHandle) {
  return {
    /**
     * Plans one task per connector; an existing (request, connector, action) task is kept. One with
     * `instructions` is manual: a person does it, and no worker claims it.
     */
    /**
     * Plans `action` on each connector, once per (request, connector, action, account): `accounts`
     * limits the tasks to a managed account's records (`accountId`, its administrator instructed them)
     * or keeps them off the records of managed accounts that wait (`excludedAccounts`).
     */
    async plan (requestId: string, action: TaskAction, connectors: Array<{ id: string, maxAttempts: number, instructions?: string | null }>, tx: TxHandle = dbh,
      accounts: { accountId?: string, excludedAccounts?: readonly string[] } = {}): Promise<TaskRow[]> {
      if (connectors.length === 0) return []
      const scope = {
        ...(accounts.accountId !== undefined ? { accountId: accounts.accountId } : {}),
        ...(accounts.excludedAccounts?.length ? { excludedAccounts: [...accounts.excludedAccounts] } : {})
      }
      return tx.db.insert(tasks)
        .values(connectors.map((c) => ({
          requestId, connectorId: c.id, action, maxAttempts: c.maxAttempts, ...scope, ...(c.instructions ? { status: 'manual' as const, instructions: c.instructions } : {})
        })))
        .onConflictDoNothing()
        .returning()
    },

    /**
     * Claims due tasks of several connectors at once, up to each one's limit: pending, in
     * retry_wait with their next attempt due, or running under a lease that ran out (its worker
     * stopped; that run is closed as `lease_expired`, as before). Tasks are their own queue
     * (jobs/queue.ts), and this is its fetch: one statement takes the leases (FOR UPDATE SKIP
     * LOCKED: workers in any number of processes never take the same task, and a task never runs
     * twice at the same time), opens the new run records, and returns with each task what its
     * worker needs (the request's state and subject, the connector's latest health), from one
     * snapshot in one round trip. `nextDueAt` is when the next task of these connectors waiting on
     * a retry becomes due, for the worker's sleep when nothing was due now.
     */
    async claimNext (limits: ReadonlyMap<string, number>, worker: string, leaseMs: number): Promise<{ claimed: ClaimedTask[], nextDueAt: Date | null }> {
      const rows = await dbh.rows<Record<string, unknown>>(sql`
        with wanted as (
          select * from unnest(${pgTextArray(limits.keys())}::text[], ${`{${[...limits.values()].join(',')}}`}::int[]) as w(connector_id, n)
        ), picked as (
          select p.id, p.took_over from wanted w cross join lateral (
            select id, status = 'running' as took_over from tasks
            where connector_id = w.connector_id
              and (status = 'pending' or (status = 'retry_wait' and next_attempt_at <= now()) or (status = 'running' and lease_expires_at < now()))
            order by created_at, id
            limit w.n
            for update skip locked
          ) p
        ), claimed as (
          update tasks t set status = 'running', attempts = t.attempts + 1, lease_owner = ${worker},
            lease_expires_at = now() + ${`${leaseMs} milliseconds`}::interval, started_at = coalesce(t.started_at, now()),
            next_attempt_at = null, updated_at = now()
          from picked where t.id = picked.id
          returning t.*, picked.took_over
        ), closed as (
          update task_runs set ended_at = now(), outcome = 'lease_expired'
          where task_id in (select id from claimed) and ended_at is null
        ), run as (
          -- The clock, not the statement's start: the row lock may have been waited for.
          insert into task_runs (task_id, attempt, worker, started_at) select id, attempts, ${worker}, clock_timestamp() from claimed
        )
        select due.next_due, c.* from (
          select min(next_attempt_at) as next_due from tasks
          where connector_id in (select connector_id from wanted) and status = 'retry_wait' and next_attempt_at > now()
        ) due left join lateral (
          select claimed.*, r.status as request_status,
            -- The identifiers the identity check settled on (enriched, or a reviewer's choice), else the request's own.
            coalesce((select i.subject from request_identities i where i.request_id = r.id and i.subject is not null), r.subject) as request_subject, r.changes as request_changes, r.opt_out_purposes as request_purposes,
            (select h.status from connector_health h where h.connector_id = claimed.connector_id
              order by h.checked_at desc, h.id desc limit 1) as connector_health,
            -- Earlier runs only: the statement's snapshot does not see the runs inserted above.
            exists (select 1 from task_runs p where p.task_id = claimed.id) as ran_before
          from claimed join requests r on r.id = claimed.request_id
        ) c on true`)
      const nextDueAt = (rows[0]?.next_due as Date | null | undefined) ?? null
      return {
        nextDueAt,
        claimed: rows.filter((row) => row.id !== null && row.id !== undefined).map((row) => ({
          task: taskFromRow(row),
          request: { status: row.request_status as RequestStatus, subject: row.request_subject as StoredSubject, changes: row.request_changes as RequestRow['changes'], optOutPurposes: (row.request_purposes ?? []) as string[] },
          connectorDown: row.connector_health === 'down',
          ranBefore: row.ran_before === true,
          tookOver: row.took_over === true
        }))
      }
    },

    /** Extends a held lease; false when the lease was lost (the worker must stop). */
    heartbeat: (taskId: string, worker: string, leaseMs: number): Promise<boolean> => renewLease(dbh, 'tasks', taskId, worker, leaseMs),

    /**
     * Leaves the running state, only if this worker still holds the lease. Closes the run record.
     * Returns false when the lease was lost, in which case nothing is written.
     */
    async release (task: TaskRow, worker: string, next: TaskRelease, tx: TxHandle = dbh): Promise<boolean> {
      const terminal = TERMINAL_TASK_STATUSES.includes(next.status)
      const rows = await tx.db.update(tasks).set({
        status: next.status,
        ...(next.result !== undefined ? { result: next.result } : {}),
        lastErrorCode: next.errorCode ?? null,
        lastErrorMessage: next.errorMessage ?? null,
        nextAttemptAt: next.nextAttemptAt ?? null,
        leaseOwner: null,
        leaseExpiresAt: null,
        ...(terminal ? { finishedAt: sql`now()` } : {}),
        updatedAt: sql`now()`
      }).where(and(eq(tasks.id, task.id), eq(tasks.leaseOwner, worker), eq(tasks.status, 'running')))
        .returning({ id: tasks.id })
      if (rows.length === 0) return false
      await tx.db.update(taskRuns).set({ endedAt: sql`now()`, outcome: next.outcome })
        .where(and(eq(taskRuns.taskId, task.id), eq(taskRuns.worker, worker), isNull(taskRuns.endedAt)))
      return true
    },

    /**
     * Ends a run with the task's outcome, in the caller's transaction (which holds the request's
     * lock): one statement releases the task (only if `worker` still holds its lease), closes the
     * run record, appends the audit event, stores the last collected items, and counts the
     * request's tasks as they now stand. Null when the lease was lost: nothing is written.
     */
    async finishRun (task: TaskRow, worker: string, next: TaskRelease, event: RunEvent, items: readonly NewCollectedItem[] = [], tx: TxHandle = dbh): Promise<Map<TaskStatus, number> | null> {
      const rows = await tx.rows<{ mine: boolean, status: TaskStatus, n: number }>(sql`
        ${releaseRun(task, worker, next, event, items)}
        select true as mine, status, 1 as n from released
        union all
        select false, status, count(*)::int from tasks where request_id = ${task.requestId} and id <> ${task.id} group by status`)
      if (!rows.some((r) => r.mine)) return null
      return countsOf(rows)
    },

    /**
     * The same outcome without a transaction or the request's lock: the statement commits on its
     * own, and a second one, sent with it on the same connection, counts the request's tasks once
     * it has. Of tasks finishing at once, the last to commit therefore sees every other one
     * finished (each count starts after its own commit), so at least one of them finds the
     * request done; closing it is then guarded by the request's lock (finalize.ts). One round
     * trip, and no worker waits on another's lock. Null when the lease was lost.
     */
    async finish (task: TaskRow, worker: string, next: TaskRelease, event: RunEvent, items: readonly NewCollectedItem[] = []): Promise<Map<TaskStatus, number> | null> {
      // Sent together on one connection, in this order, each statement committed on its own.
      const [mine, counts] = await dbh.together((on) => Promise.all([
        on.rows(sql`${releaseRun(task, worker, next, event, items)} select status from released`),
        this.statusCounts(task.requestId, on)
      ]))
      return mine.length === 0 ? null : counts
    },

    /**
     * Requests left in progress with every task finished: the worker that finished the last task
     * stopped before it could close the request (finish commits the outcome on its own). The
     * reaper closes them.
     */
    async stranded (limit = 100): Promise<string[]> {
      const rows = await dbh.rows<{ id: string }>(sql`
        select r.id from requests r
        where r.status = 'in_progress'
          and exists (select 1 from tasks t where t.request_id = r.id)
          and not exists (select 1 from tasks t where t.request_id = r.id and t.status in (${sql.join(OPEN_TASK_STATUSES.map((st) => sql`${st}`), sql`, `)}))
        order by r.updated_at limit ${limit}`)
      return rows.map((r) => r.id)
    },

    async get (taskId: string, tx: TxHandle = dbh): Promise<TaskRow | null> {
      const [row] = await tx.db.select().from(tasks).where(eq(tasks.id, taskId)).limit(1)
      return row ?? null
    },

    async forRequest (requestId: string, tx: TxHandle = dbh): Promise<TaskRow[]> {
      return tx.db.select().from(tasks).where(eq(tasks.requestId, requestId)).orderBy(asc(tasks.connectorId), asc(tasks.action))
    },

    /** Operator actions: only from the states listed, atomically. */
    async reset (taskId: string, from: readonly TaskStatus[], to: { status: TaskStatus, skipReason?: string | null, result?: TaskResult }, tx: TxHandle = dbh): Promise<TaskRow | null> {
      const [row] = await tx.db.update(tasks).set({
        status: to.status,
        skipReason: to.skipReason ?? null,
        ...(to.result ? { result: to.result } : {}),
        ...(to.status === 'pending' ? { lastErrorCode: null, lastErrorMessage: null, finishedAt: null, attempts: 0 } : { finishedAt: sql`now()` }),
        updatedAt: sql`now()`
      }).where(and(eq(tasks.id, taskId), inArray(tasks.status, [...from]))).returning()
      return row ?? null
    },

    /**
     * The connectors that placed the request's restriction: their restrict task succeeded with
     * records restricted (a system that found nothing of the person has nothing to lift).
     */
    async restrictedConnectors (requestId: string, tx: TxHandle = dbh): Promise<string[]> {
      const rows = await tx.rows<{ connector_id: string }>(sql`
        select connector_id from tasks
        where request_id = ${requestId} and action = 'restrict' and status = 'succeeded'
          and (exists (select 1 from jsonb_array_elements(coalesce(result->'outcomes', '[]'::jsonb)) o where o->>'status' = 'restricted')
            or result->'manual'->>'outcome' = 'done')
        order by connector_id`)
      return rows.map((r) => r.connector_id)
    },

    /**
     * Locks the request's row for the caller's transaction; false when there is no such request.
     * Every lock on a request is FOR NO KEY UPDATE: it serialises whoever changes the request,
     * without waiting on the rows that merely reference it being written (task outcomes, events,
     * items: their foreign-key checks take KEY SHARE, which FOR UPDATE would wait for).
     */
    async lockRequestOnly (requestId: string, tx: TxHandle = dbh): Promise<boolean> {
      return (await tx.rows(sql`select 1 from requests where id = ${requestId} and ${tenantRequests(sql`requests.id`) ?? sql`true`} for no key update`)).length === 1
    },

    /**
     * The request's row, locked for the caller's transaction; null when there is none, or, with `skipLocked`, when another holds its lock.
     * For a tenant key, only one of its account's requests, or with `part` one with a part of its account (db/tenant-scope.ts).
     */
    async lockRequest (requestId: string, opts: { skipLocked?: boolean, part?: boolean } = {}, tx: TxHandle = dbh) {
      const [row] = await tx.db.select().from(requests).where(and(eq(requests.id, requestId), opts.part ? tenantParts(requests.id) : tenantRequests(requests.id))).for('no key update', opts.skipLocked ? { skipLocked: true } : {})
      return row ?? null
    },

    async statusCounts (requestId: string, tx: TxHandle = dbh): Promise<Map<TaskStatus, number>> {
      return countsOf(await tx.rows<{ status: TaskStatus, n: number }>(sql`
        select status, count(*)::int as n from tasks where request_id = ${requestId} group by status`))
    },

    /** A re-run starts clean: what an interrupted attempt stored is dropped first. */
    async clearItems (taskId: string): Promise<void> {
      // A task that never ran before has nothing to drop (ClaimedTask.ranBefore).
      await dbh.db.delete(collectedItems).where(eq(collectedItems.taskId, taskId))
    },

    /**
     * Stores items only while `worker` still holds the task's lease, checked under a row lock in the
     * same transaction: a run that lost its lease (stalled past it, then taken over and cleared by
     * another worker) cannot add its items after the new run's clearItems. False when the lease is lost.
     */
    async storeItems (items: NewCollectedItem[], lease: { taskId: string, worker: string }): Promise<boolean> {
      // The last batch of a task is stored with its outcome instead (release, then insertItems, in one transaction).
      if (items.length === 0) return true
      return dbh.transaction(async (tx) => {
        const held = await tx.db.select({ id: tasks.id }).from(tasks)
          .where(and(eq(tasks.id, lease.taskId), eq(tasks.leaseOwner, lease.worker), eq(tasks.status, 'running')))
          .for('share')
        if (held.length === 0) return false
        await tx.db.insert(collectedItems).values(items)
        return true
      })
    }
  }
}

export type TasksRepository = ReturnType<typeof createTasksRepository>

/** A task whose lease was just taken, with what running it needs. */
export interface ClaimedTask {
  task: TaskRow
  request: { status: RequestStatus, subject: StoredSubject, changes: RequestRow['changes'], optOutPurposes: string[] }
  /** The connector's latest stored health check says down. */
  connectorDown: boolean
  /** An earlier run (maybe before an operator's retry) may have stored items. */
  ranBefore: boolean
  /** The task was running under a lease that ran out (its worker stopped): this claim took it over. */
  tookOver?: boolean
}

/** The audit event a run's outcome appends. */
export interface RunEvent { action: string, reason: string | null, details: Record<string, unknown> }

/**
 * The CTEs that end a run (used by finishRun and finish): release the task only if `worker` still
 * holds its lease for this attempt (an attempt given up as hung, whose task this worker has claimed
 * again since, must not release the new one), close the run record, append the audit event, store
 * the last collected items.
 * `released` holds the task's row when it was this worker's to release, and nothing otherwise.
 */
function releaseRun (task: TaskRow, worker: string, next: TaskRelease, event: RunEvent, items: readonly NewCollectedItem[]) {
  const terminal = TERMINAL_TASK_STATUSES.includes(next.status)
  return sql`
    with released as (
      update tasks set status = ${next.status},
        result = case when ${next.result !== undefined} then ${next.result === undefined ? null : JSON.stringify(next.result)}::jsonb else result end,
        last_error_code = ${next.errorCode ?? null}, last_error_message = ${next.errorMessage ?? null},
        next_attempt_at = ${next.nextAttemptAt?.toISOString() ?? null}::timestamptz, lease_owner = null, lease_expires_at = null,
        finished_at = case when ${terminal} then now() else finished_at end, updated_at = now()
      where id = ${task.id} and lease_owner = ${worker} and status = 'running' and attempts = ${task.attempts}
      returning request_id, status
    ), run as (
      update task_runs set ended_at = now(), outcome = ${next.outcome}
      where task_id = ${task.id} and worker = ${worker} and ended_at is null and exists (select 1 from released)
    ), event as (
      insert into request_events (request_id, actor, action, reason, details)
      select request_id, 'engine', ${event.action}, ${event.reason}, ${JSON.stringify(event.details)}::jsonb from released
    ), items as (
      insert into collected_items (request_id, task_id, connector_id, stream, item_key, kind, data, file)
      select i.request_id, i.task_id, i.connector_id, i.stream, i.item_key, i.kind, i.data, i.file
      from jsonb_to_recordset(${items.length > 0 ? JSON.stringify(items.map(itemRecord)) : '[]'}::jsonb)
        as i(request_id uuid, task_id uuid, connector_id text, stream text, item_key text, kind text, data jsonb, file jsonb)
      where exists (select 1 from released)
    )`
}

function countsOf (rows: ReadonlyArray<{ mine?: boolean, status: TaskStatus, n: number }>): Map<TaskStatus, number> {
  const counts = new Map<TaskStatus, number>()
  for (const r of rows) counts.set(r.status, (counts.get(r.status) ?? 0) + Number(r.n))
  return counts
}

/** An item as releaseRun's jsonb_to_recordset reads it. */
function itemRecord (i: NewCollectedItem) {
  return { request_id: i.requestId, task_id: i.taskId, connector_id: i.connectorId, stream: i.stream, item_key: i.itemKey, kind: i.kind ?? 'record', data: i.data ?? null, file: i.file ?? null }
}

/** A raw `tasks` row (snake_case, types as db/pg-types.ts gives them) as drizzle would return it. */
/** A text[] column read raw: an array from postgres.js, an array or its text form from the embedded database; null stays null. */
function textArray (v: unknown): string[] | null {
  if (v === null || v === undefined) return null
  if (Array.isArray(v)) return v as string[]
  const text = String(v)
  return text === '{}' ? [] : text.slice(1, -1).split(',').map((s) => s.replace(/^"|"$/g, ''))
}

function taskFromRow (r: Record<string, unknown>): TaskRow {
  return {
    id: r.id as string,
    requestId: r.request_id as string,
    connectorId: r.connector_id as string,
    action: r.action as TaskRow['action'],
    status: r.status as TaskStatus,
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    nextAttemptAt: r.next_attempt_at as Date | null,
    leaseOwner: r.lease_owner as string | null,
    leaseExpiresAt: r.lease_expires_at as Date | null,
    result: r.result as TaskResult | null,
    lastErrorCode: r.last_error_code as string | null,
    lastErrorMessage: r.last_error_message as string | null,
    skipReason: r.skip_reason as string | null,
    instructions: r.instructions as string | null,
    accountId: (r.account_id ?? null) as string | null,
    excludedAccounts: textArray(r.excluded_accounts),
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date | null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date
  }
}
