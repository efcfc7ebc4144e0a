import PgBoss from 'pg-boss'
import type { DbHandle, SqlExecutor, TxHandle } from '../db/client.js'
import { WAKE_CHANNEL } from '../db/wake.js'

/**
 * Queues and payloads, in one place.
 *
 * Tasks are their own queue: a task row already holds all a job would (its state, when its next
 * attempt is due, its lease, its attempts), so a process's workers claim due tasks straight from
 * the `tasks` table, of every connector with a free slot in one statement
 * (TasksRepository.claimNext), and a task's outcome is its completion. TASK_QUEUE names the queue
 * for waking idle workers: one notification per request planned, whatever its connectors.
 * Archive builds, transfers and scheduled jobs are pg-boss jobs.
 */
export const TASK_QUEUE = 'dsr_tasks'
/** A connector's part of the task queue, as the metrics name it. */
export const taskQueue = (connectorId: string) => `dsr_task_${connectorId}`
/** Direct transfers of archives to other controllers (GDPR Art 20(2)). */
export const TRANSFER_QUEUE = 'dsr_transfer'
export interface TransferJob { transferId: string }
/** Builds the portability archive of a completed access or portability request. */
export const ARCHIVE_QUEUE = 'dsr_archive'
export interface ArchiveJob { requestId: string }
/** The identity check run before a request's tasks are planned (src/engine/identify.ts). */
export const IDENTIFY_QUEUE = 'dsr_identify'
export interface IdentifyJob { requestId: string }
/** pg-boss's schema (createBoss). */
export const BOSS_SCHEMA = 'pgboss'

/**
 * How long a queued build may wait to be claimed once a worker takes its job, and how long the
 * start of a build (its claim and first page) may take: two leases (TASK_LEASE_SECONDS).
 */
export const archivePickupMs = (leaseMs: number) => 2 * leaseMs

/** One queue per scheduled job (scheduler.ts); pg-boss cron sends to it. */
export const cronQueue = (name: string) => `dsr_cron_${name}`

/**
 * The channel `pg_notify` wakes idle workers on (the payload is the queue's name), and the status
 * callbacks' queue: its jobs are the rows of the callback_deliveries outbox, written with the status
 * change they report and claimed straight from that table (src/callbacks/), like tasks.
 */
export { CALLBACK_QUEUE, WAKE_CHANNEL } from '../db/wake.js'

/**
 * The retry budget, in one place. A task (or transfer) is tried up to three layers deep:
 *
 *  1. HTTP attempts inside one connector call (connectors/http/request.ts): 5 for 5xx and network
 *     errors, and a separate 12 for 429s, which ask the client to slow down and are not faults.
 *  2. Task attempts (`maxAttempts`, per connector, 6 by default; transfers: TRANSFER_MAX_ATTEMPTS, 5):
 *     a retryable failure of a whole call is tried again with exponential backoff and jitter
 *     (TASK_RETRY_BASE_MS … TASK_RETRY_MAX_MS, or the system's Retry-After). These are ours: each
 *     is recorded as a run, and the task row says when the next is due.
 *  3. Infrastructure failures, when the worker could record nothing (the database went away, the
 *     process broke): a task's lease runs out and another claim takes it over, counting an
 *     attempt; a transfer's pg-boss job is retried (JOB_RETRY_LIMIT below). A worker that records
 *     its outcome never throws, so these never multiply layer 2.
 *
 * So one HTTP request is sent at most 5 × 6 = 30 times for faults (plus rate-limited waits) before
 * the task fails and a person decides. A status callback has one level of its own: its delivery's attempts
 * (CALLBACK_MAX_ATTEMPTS, one HTTP request each, backoff CALLBACK_RETRY_BASE_MS … _MAX_MS), again on each
 * redelivery; a worker that dies mid-send loses its lease and the next claim sends it again. Archive builds have no attempts of their own: pg-boss
 * retries them (ARCHIVE_RETRY_LIMIT), and the last failure marks the archive failed.
 */
export const JOB_RETRY_LIMIT = 3
export const ARCHIVE_RETRY_LIMIT = 3

/** A job as pg-boss's `insert` takes it. */
export interface JobInsert {
  name: string
  data: object
  retryLimit: number
  retryDelay: number
  retryBackoff: boolean
  expireInSeconds: number
  /** ISO time ending in Z: not fetched before. */
  startAfter?: string
}

/** The job of a transfer attempt: it outlives the longest attempt; retries are ours. */
export function transferJob (transferId: string, maxDurationMs: number, startAfter?: Date): JobInsert {
  return leasedJob(TRANSFER_QUEUE, { transferId } satisfies TransferJob, maxDurationMs, startAfter)
}

/** The job of an archive build: pg-boss retries it (the build is idempotent); the last failure marks it failed. */
export function archiveJob (requestId: string): JobInsert {
  return { name: ARCHIVE_QUEUE, data: { requestId } satisfies ArchiveJob, retryLimit: ARCHIVE_RETRY_LIMIT, retryDelay: 30, retryBackoff: true, expireInSeconds: 6 * 3600 }
}

/** The job of a request's identity check: pg-boss retries it (the check is idempotent); the last failure holds the request. */
export function identifyJob (requestId: string): JobInsert {
  return { name: IDENTIFY_QUEUE, data: { requestId } satisfies IdentifyJob, retryLimit: JOB_RETRY_LIMIT, retryDelay: 5, retryBackoff: true, expireInSeconds: 15 * 60 }
}

function leasedJob (name: string, data: object, maxMs: number, startAfter?: Date): JobInsert {
  return {
    name,
    data,
    retryLimit: JOB_RETRY_LIMIT,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: Math.ceil(maxMs / 1000) + 60,
    ...(startAfter ? { startAfter: startAfter.toISOString() } : {})
  }
}

/**
 * Wakes the idle workers of these tasks' connectors when the caller's transaction commits (the
 * tasks themselves, pending in the caller's transaction, are what the workers claim).
 */
export async function queueTasks (tasks: ReadonlyArray<{ connectorId: string }>, tx: TxHandle): Promise<void> {
  if (tasks.length === 0) return
  await wake(taskWake(tasks).queues, tx)
}

/** What wakes these tasks' workers: the channel, and their connectors' queues (for a statement that notifies itself). */
export function taskWake (tasks: ReadonlyArray<{ connectorId: string }>): { channel: string, queues: string[] } {
  return { channel: WAKE_CHANNEL, queues: tasks.length > 0 ? [TASK_QUEUE] : [] }
}

/** `pg_notify` on WAKE_CHANNEL for each queue, delivered when the caller's transaction commits. */
function wake (queues: readonly string[], tx: TxHandle) {
  return tx.executor.executeSql(`select pg_notify('${WAKE_CHANNEL}', q) from unnest(string_to_array($1, ',')) q`, [queues.join(',')])
}

/**
 * Queues jobs in the caller's transaction: they commit with the rows that need them, or not at
 * all. Workers idle on a queue with a job due now are woken when the transaction commits
 * (`pg_notify` is delivered at commit), so the job starts at once rather than at the next poll.
 */
export async function enqueue (boss: Boss, jobs: readonly JobInsert[], tx: TxHandle): Promise<void> {
  if (jobs.length === 0) return
  const now = Date.now()
  const due = [...new Set(jobs.filter((j) => !j.startAfter || Date.parse(j.startAfter) <= now).map((j) => j.name))]
  // Both statements are sent together; the notification is delivered at commit either way.
  await Promise.all([
    boss.insert(jobs as JobInsert[], { db: tx.executor } as PgBoss.InsertOptions),
    due.length > 0 ? wake(due, tx) : null
  ])
}

/**
 * The connection pg-boss queries through. pg-boss's own timers (supervision, cron) can have a query
 * in flight, or start one, after `stop()` returns; once `close()` is called, in-flight queries are
 * awaited and new ones never settle (pg-boss is stopping), so none meets a pool closed behind it.
 */
function gatedExecutor (executor: SqlExecutor): SqlExecutor & { close (): Promise<void> } {
  const inFlight = new Set<Promise<unknown>>()
  let closed = false
  return {
    executeSql (text, values) {
      if (closed) return new Promise(() => {})
      const query = executor.executeSql(text, values)
      inFlight.add(query)
      const forget = () => { inFlight.delete(query) }
      query.then(forget, forget)
      return query
    },
    async close () {
      closed = true
      await Promise.allSettled([...inFlight])
    }
  }
}

/**
 * pg-boss on the service's own connection (Postgres or the embedded database). `cronCheckSeconds`
 * (pg-boss's default: 30) is how often it looks for due cron schedules; the queue of the ticks it
 * found is polled as often, at most every 5 s (pg-boss's default).
 */
export function createBoss (dbh: DbHandle, opts: { supervise: boolean, schedule: boolean, cronCheckSeconds?: number }): Boss {
  const db = gatedExecutor(dbh.executor)
  const cronCheckSeconds = opts.cronCheckSeconds ?? 30
  const boss = new PgBoss({
    db,
    schema: BOSS_SCHEMA,
    supervise: opts.supervise,
    schedule: opts.schedule,
    cronMonitorIntervalSeconds: cronCheckSeconds,
    cronWorkerIntervalSeconds: Math.min(cronCheckSeconds, 5),
    migrate: true
  })
  // pg-boss 10's create_queue inserts the queue row, then alters tables: two processes creating one
  // new queue at once (workers starting together) deadlock, and the loser would die at boot. It
  // tries again; the queue then exists and the call does nothing.
  const createQueue = boss.createQueue.bind(boss)
  boss.createQueue = async (name: string, options?: Parameters<PgBoss['createQueue']>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await createQueue(name, options)
      } catch (err) {
        if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.floor(Math.random() * 100)))
      }
    }
  }
  return Object.assign(boss, { releaseConnection: db.close })
}

/** pg-boss, and `releaseConnection()` to call after `stop()`, before the pool closes. */
export type Boss = PgBoss & { releaseConnection (): Promise<void> }
