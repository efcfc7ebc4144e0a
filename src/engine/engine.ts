import { hostname } from 'node:os'
import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { createRequestsRepository, liftRestrictionIn, recordEvent, transitionIn, type IntakeEvent, type NewRequestRow, type RequestRow } from '../db/repositories/requests-repository.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { createTasksRepository, type TaskRow } from '../db/repositories/tasks-repository.js'
import { Errors } from '../errors.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { BlobStore } from '../storage/blob-store.js'
import { finalizeIfDone } from './finalize.js'
import { canDo, planFor, plannedDetails, planRequest, planTasks, startedReason } from './planner.js'
import { ARCHIVE_QUEUE, createBoss, enqueue, taskJob, taskQueue, TRANSFER_QUEUE, WAKE_CHANNEL, type ArchiveJob, type TaskJob, type TransferJob } from '../jobs/queue.js'
import { createWaker, startWorker, type Worker, type WorkOptions } from '../jobs/worker.js'
import { createTaskRunner, type RunnerOptions } from './runner.js'
import { createCircuit } from './circuit.js'
import type { TaskMetrics } from '../services/metrics.js'
import { createTransferRunner, type OpenArchive } from '../transfers/runner.js'
import type { TransferSettings } from '../transfers/settings.js'
import type { ArchiveJobRunner } from '../archive/job.js'
import type { SweepExpiredArchives } from '../archive/retention.js'

export interface EngineOptions {
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
  pollSeconds: number
  /** Archives built at once by one worker process. */
  archiveConcurrency: number
}

/**
 * The fan-out engine: plans tasks for ready requests, runs them on pg-boss workers with per-connector
 * concurrency, and gives operators retry and skip. Any number of processes may run it on one database.
 */
export function createEngine (deps: {
  dbh: DbHandle
  registry: ConnectorRegistry
  storage: BlobStore
  log: FastifyBaseLogger
  options: EngineOptions
  transfers: { settings: TransferSettings, openArchive: OpenArchive }
  archives: { build: ArchiveJobRunner, sweep: SweepExpiredArchives }
  metrics?: TaskMetrics
}) {
  const { dbh, registry, log } = deps
  const tasks = createTasksRepository(dbh)
  const requests = createRequestsRepository(dbh)
  const boss = createBoss(dbh, { supervise: true, schedule: true })
  boss.on('error', (err) => log.error({ err }, 'job queue error'))
  const worker = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const runnerOptions: RunnerOptions = { worker, leaseMs: deps.options.leaseMs, retryBaseMs: deps.options.retryBaseMs, retryMaxMs: deps.options.retryMaxMs }
  const circuit = createCircuit({ dbh, registry, boss, log: log.child({ component: 'circuit' }) })
  const runTask = createTaskRunner({
    dbh, boss, registry, tasks, requests, storage: deps.storage, log: log.child({ component: 'engine' }), options: runnerOptions,
    circuit, ...(deps.metrics ? { metrics: deps.metrics } : {})
  })
  const transfers = createTransferRunner({ dbh, boss, log: log.child({ component: 'transfers' }), ...deps.transfers, options: runnerOptions })
  let reaper: NodeJS.Timeout | undefined
  let started = false
  const waker = createWaker()
  const workers: Worker[] = []
  let unlisten: (() => Promise<void>) | null = null

  /** Works a queue in this process (see jobs/worker.ts); stopped with the engine. */
  function work<T> (opts: Omit<WorkOptions<T>, 'pollMs'> & { pollMs?: number }): void {
    workers.push(startWorker(boss, waker, log.child({ component: 'worker' }), { pollMs: deps.options.pollSeconds * 1000, ...opts }))
  }

  async function reap () {
    const reaped = await dbh.transaction(async (tx) => {
      const expired = await tasks.reapExpired(tx, { leaseMs: deps.options.leaseMs })
      await enqueue(tx, boss, expired.map((task) => taskJob(task, registry.get(task.connectorId)?.timeoutMs ?? 60_000)))
      return expired.length + await transfers.reap(tx)
    })
    if (reaped > 0) log.warn({ reaped }, 'tasks or transfers whose worker stopped were queued again')
  }

  return {
    worker,
    tasks,
    boss,
    circuit,
    transfers,
    /** Retention: deletes expired archives and collected data as of `now` (the scheduler's archive_expiry job runs it). */
    sweepExpiredArchives: deps.archives.sweep,

    work,

    async start (opts: { workers: boolean }) {
      await boss.start()
      started = true
      for (const connector of registry.values()) await boss.createQueue(taskQueue(connector.id))
      await boss.createQueue(TRANSFER_QUEUE)
      await boss.createQueue(ARCHIVE_QUEUE)
      if (!opts.workers) return
      // Jobs queued by any process wake this one's idle workers when their transaction commits.
      unlisten = await dbh.listen(WAKE_CHANNEL, (queue) => waker.wake(queue))
      for (const connector of registry.values()) {
        work<TaskJob>({ queue: taskQueue(connector.id), concurrency: connector.concurrency, handler: (job) => runTask(job.data.taskId) })
      }
      work<TransferJob>({ queue: TRANSFER_QUEUE, concurrency: deps.transfers.settings.concurrency, handler: (job) => transfers.run(job.data.transferId) })
      // deps.archives.sweep runs from the scheduler's archive_expiry cron job (scheduler.ts, jobs.ts).
      work<ArchiveJob>({ queue: ARCHIVE_QUEUE, concurrency: deps.options.archiveConcurrency, handler: (job) => deps.archives.build(job.data.requestId, job) })
      reaper = setInterval(() => { reap().catch((err: unknown) => log.error({ err }, 'reaper failed')) }, Math.max(1000, deps.options.leaseMs / 2))
      reaper.unref()
    },

    async stop () {
      if (reaper) clearInterval(reaper)
      transfers.interrupt()
      await Promise.all(workers.splice(0).map((w) => w.stop(10_000)))
      if (unlisten) await unlisten().catch((err: unknown) => log.warn({ err }, 'could not stop listening for new jobs'))
      unlisten = null
      if (started) await boss.stop({ graceful: true, wait: true, timeout: 10_000 })
      await boss.releaseConnection()
      started = false
    },

    /**
     * A request whose identity was verified at intake, stored in one transaction with everything
     * that follows from it: the row (in_progress, or ready when no connector can serve it), its
     * audit events (created, verified, planned, started), its tasks and their jobs. Null when the
     * idempotency key was used before (nothing written). The tasks are returned as stored.
     */
    async createVerified (row: NewRequestRow, actor: string, method: string): Promise<{ status: RequestStatus, tasks: TaskRow[] } | null> {
      const at = row.createdAt
      const planned: TaskRow[] = planFor(registry, row.type).flatMap(({ action, connectors }) => connectors.map((c) => ({
        id: randomUUID(), requestId: row.id, connectorId: c.id, action, status: 'pending' as const, attempts: 0, maxAttempts: c.maxAttempts,
        nextAttemptAt: null, leaseOwner: null, leaseExpiresAt: null, result: null, lastErrorCode: null, lastErrorMessage: null,
        skipReason: null, startedAt: null, finishedAt: null, createdAt: at, updatedAt: at
      })))
      const status: RequestStatus = planned.length > 0 ? 'in_progress' : 'ready'
      const events: IntakeEvent[] = [
        { action: 'created', to: 'received' },
        { action: 'transition', from: 'received', to: 'ready', reason: `identity verified (${method})`, details: { method } },
        { action: 'planned', details: plannedDetails(row.type, planned) },
        ...(planned.length > 0 ? [{ action: 'transition', from: 'ready' as const, to: 'in_progress' as const, reason: startedReason(planned.length) }] : [])
      ]
      const keyUsedBefore = Symbol('idempotency key used before')
      try {
        return await dbh.transaction(async (tx) => {
          // Sent together; when the key was used before nothing is stored, and the jobs roll back.
          const [inserted] = await Promise.all([
            requests.insertPlanned(tx, { ...row, status }, actor, events, planned),
            enqueue(tx, boss, planned.map((task) => taskJob(task, registry.get(task.connectorId)!.timeoutMs)))
          ])
          if (!inserted) throw keyUsedBefore
          return { status, tasks: planned }
        })
      } catch (err) {
        if (err === keyUsedBefore) return null
        throw err
      }
    },

    /** Identity verified: the request becomes ready and its tasks are planned, atomically. */
    async verify (requestId: string, actor: string, method: string): Promise<void> {
      await dbh.transaction(async (tx) => {
        const moved = await transitionIn(tx, requestId, 'ready', actor, `identity verified (${method})`, { method })
        if (moved.status === 'not_found') throw new Errors.RequestNotFound(requestId)
        if (moved.status === 'illegal') throw new Errors.IllegalTransition(moved.from, 'ready')
        await planRequest(tx, moved.row, { registry, tasks, boss, actor })
      })
    },

    /**
     * Lifts a completed request's restriction (GDPR Art 18(3): the person was told first, at
     * `notifiedSubjectAt`). In one transaction: the lift is recorded on the request with its
     * `restriction_lifted` event, and an `unrestrict` task (with its job) is planned for every
     * connector that placed the restriction. The request stays completed: the lift is a later act on
     * a fulfilled request, not a reopening of it, so its deadline, overdue state and metrics are not
     * disturbed (see lifecycle.ts); the unrestrict tasks show the lift's progress, and a failed one
     * is retried or skipped like any other.
     */
    async liftRestriction (requestId: string, actor: string, input: { reason: string, notifiedSubjectAt: Date, now: Date }): Promise<RequestRow> {
      return dbh.transaction(async (tx) => {
        if (!await tasks.lockRequest(tx, requestId)) throw new Errors.RequestNotFound(requestId)
        const restricted = await tasks.restrictedConnectors(tx, requestId)
        const configured = restricted.filter((id) => { const c = registry.get(id); return c !== undefined && canDo(c, 'unrestrict') })
        const notConfigured = restricted.filter((id) => !configured.includes(id))
        const lifted = await liftRestrictionIn(tx, requestId, { actor, ...input, connectors: configured, notConfigured })
        switch (lifted.status) {
          case 'not_found': throw new Errors.RequestNotFound(requestId)
          case 'not_applicable': throw new Errors.RestrictionNotPlaced(`a ${lifted.row.type} request places none`)
          case 'not_placed': throw new Errors.RestrictionNotPlaced("no system marked the person's data as restricted")
          case 'not_completed': throw new Errors.RestrictionNotCompleted(lifted.row.status)
          case 'already_lifted': throw new Errors.RestrictionAlreadyLifted()
          case 'redacted': throw new Errors.RestrictionSubjectRedacted()
        }
        if (notConfigured.length > 0) {
          log.warn({ requestId, connectors: notConfigured }, 'restriction lifted: connectors that placed it are not configured here, their mark stays')
        }
        await planTasks(tx, requestId, 'unrestrict', configured, { registry, tasks, boss })
        return lifted.row
      })
    },

    /** Runs a failed task again from scratch, reopening the request if it had closed. */
    async retryTask (requestId: string, taskId: string, actor: string): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const request = await tasks.lockRequest(tx, requestId)
        const task = request ? await tasks.get(taskId, tx) : null
        if (!request || !task || task.requestId !== requestId) throw new Errors.TaskNotFound(taskId)
        const reset = await tasks.reset(tx, taskId, ['failed'], { status: 'pending' })
        if (!reset) throw new Errors.IllegalTaskAction('retry', task.status)
        if (request.status === 'failed' || request.status === 'partially_completed') {
          await transitionIn(tx, requestId, 'in_progress', actor, `task ${task.connectorId}/${task.action} retried`)
        }
        await recordEvent(tx, requestId, actor, 'task_retried', null, { task_id: taskId, connector: task.connectorId, action: task.action })
        await enqueue(tx, boss, [taskJob(task, registry.get(task.connectorId)?.timeoutMs ?? 60_000)])
        return reset
      })
    },

    /** Marks a task as deliberately not done, with the reason on record; may close the request. */
    async skipTask (requestId: string, taskId: string, actor: string, reason: string): Promise<TaskRow> {
      return dbh.transaction(async (tx) => {
        const request = await tasks.lockRequest(tx, requestId)
        const task = request ? await tasks.get(taskId, tx) : null
        if (!request || !task || task.requestId !== requestId) throw new Errors.TaskNotFound(taskId)
        const skipped = await tasks.reset(tx, taskId, ['failed', 'pending', 'retry_wait', 'waiting'], { status: 'skipped', skipReason: reason })
        if (!skipped) throw new Errors.IllegalTaskAction('skip', task.status)
        if (request.status === 'failed' || request.status === 'partially_completed') {
          await transitionIn(tx, requestId, 'in_progress', actor, `task ${task.connectorId}/${task.action} skipped`)
        }
        await recordEvent(tx, requestId, actor, 'task_skipped', reason, { task_id: taskId, connector: task.connectorId, action: task.action })
        await finalizeIfDone(tx, requestId, tasks, actor, boss)
        return skipped
      })
    }
  }
}

export type Engine = ReturnType<typeof createEngine>
