import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/client.js'
import { whenReachable } from '../db/unreachable.js'
import { JobErrors } from '../errors.js'
import { createTasksRepository, type ClaimedTask } from '../db/repositories/tasks-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { BlobStore } from '../storage/blob-store.js'
import { ARCHIVE_QUEUE, CALLBACK_QUEUE, IDENTIFY_QUEUE, TASK_QUEUE, TRANSFER_QUEUE, WAKE_CHANNEL, type ArchiveJob, type Boss, type IdentifyJob, type TransferJob } from '../jobs/queue.js'
import { createWaker, startDrain, startWorker, type Worker, type WorkOptions } from '../jobs/worker.js'
import { createTaskRunner, type RunnerOptions } from './runner.js'
import type { HoldLookup } from './holds.js'
import { createCircuit } from './circuit.js'
import { createIdentityCheck } from './identify.js'
import { createControllerRouting } from './controller-routing.js'
import { DEFAULT_ASSISTANCE_DAYS } from '../domain/accounts.js'
import type { Notifier } from '../notify/notifier.js'
import type { IdentityCheckMode } from '../domain/identity.js'
import { createFinalizer, type RequestClosedListener } from './finalize.js'
import type { TaskMetrics } from '../services/metrics.js'
import { createTransferRunner, type OpenArchive } from '../transfers/runner.js'
import type { TransferSettings } from '../transfers/settings.js'
import type { ArchiveJobRunner } from '../archive/job.js'
import type { SweepExpiredArchives } from '../archive/retention.js'
import { createCallbackSender } from '../callbacks/sender.js'
import type { CallbackSettings } from '../callbacks/settings.js'
import { createOpenDsrSender } from '../opendsr/sender.js'
import type { OpenDsrSigner } from '../opendsr/signing.js'
import { OPENDSR_CALLBACK_QUEUE } from '../db/wake.js'

/** How long a worker that found a finished request's lock held waits before it looks at the request again. */
const CLOSE_RECHECK_MS = 250

export interface EngineOptions {
  leaseMs: number
  retryBaseMs: number
  retryMaxMs: number
  /** Searches after an erasure, at most (ERASURE_CHECK_ATTEMPTS). */
  erasureCheckAttempts: number
  pollSeconds: number
  /** Archives built at once by one worker process. */
  archiveConcurrency: number
}

/**
 * The worker runtime: the job queue, the workers of every queue (tasks per connector, transfers,
 * archives, scheduled jobs), the circuit breaker and the reaper of work whose worker died. Any number
 * of processes may run it on one database. What people ask of a request (verify, retry, skip, lift a
 * restriction) is in src/services/fulfilment-service.ts.
 */
export function createEngine (deps: {
  dbh: DbHandle
  /** The job queue (createBoss with supervise and schedule): started and stopped with the engine. */
  boss: Boss
  registry: ConnectorRegistry
  storage: BlobStore
  log: FastifyBaseLogger
  options: EngineOptions
  /** Told in the transaction that closes a request (the archive's build, the backups' tombstones). */
  onClosed: readonly RequestClosedListener[]
  transfers: { settings: TransferSettings, openArchive: OpenArchive }
  archives: { build: ArchiveJobRunner, sweep: SweepExpiredArchives }
  /** Status callbacks: their outbox is drained here. */
  callbacks: CallbackSettings
  /** OpenDSR status callbacks (src/opendsr/): signed with this; their outbox is drained here too. */
  opendsrSigner?: OpenDsrSigner | null
  metrics?: TaskMetrics
  /** The active legal holds on a person, which an erasure keeps (engine/holds.ts). */
  holds?: HoldLookup
  /** Managed accounts' administrators: how they are told of their end users' requests (engine/controller-routing.ts). */
  controllers?: { notifier: Notifier | null, assistanceDays: number, publicUrl: string }
  /** IDENTITY_CHECK: which requests the identity check searches every system for (identify.ts). */
  identityCheck?: IdentityCheckMode
}) {
  const { dbh, registry, log, boss } = deps
  const tasks = createTasksRepository(dbh)
  const finalizer = createFinalizer({ dbh, tasks, requests: createRequestsRepository(dbh), onClosed: deps.onClosed })
  boss.on('error', (err) => log.error({ err }, 'job queue error'))
  const worker = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const runnerOptions: RunnerOptions = { worker, leaseMs: deps.options.leaseMs, retryBaseMs: deps.options.retryBaseMs, retryMaxMs: deps.options.retryMaxMs, erasureCheckAttempts: deps.options.erasureCheckAttempts }
  const circuit = createCircuit({ dbh, registry, log: log.child({ component: 'circuit' }) })
  const runTask = createTaskRunner({
    dbh,
    registry,
    tasks,
    finalizer,
    storage: deps.storage,
    log: log.child({ component: 'engine' }),
    options: runnerOptions,
    circuit,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.holds ? { holds: deps.holds } : {}),
    // This process's idle task drain wakes when the retry is due (others find it by polling).
    onRetryDue: (at) => { setTimeout(() => waker.wake(TASK_QUEUE), Math.max(0, at.getTime() - Date.now())).unref() },
    onCloseBusy: (requestId) => {
      // Looked at again once the holder (most often the worker closing it) is likely done. Should
      // this process stop first, the reaper closes a request left with every task finished.
      const timer = setTimeout(() => {
        closeRechecks.delete(timer)
        const closing = finalizer.closeIfDone(requestId, 'engine')
          .catch((err: unknown) => log.error({ err, requestId }, 'closing the request failed'))
          .finally(() => closingNow.delete(closing))
        closingNow.add(closing)
      }, CLOSE_RECHECK_MS)
      timer.unref()
      closeRechecks.add(timer)
    }
  })
  const closeRechecks = new Set<NodeJS.Timeout>()
  const closingNow = new Set<Promise<unknown>>()
  const transfers = createTransferRunner({ dbh, boss, log: log.child({ component: 'transfers' }), ...deps.transfers, options: runnerOptions })
  const routing = createControllerRouting({
    dbh,
    requests: createRequestsRepository(dbh),
    notifier: deps.controllers?.notifier ?? null,
    assistanceDays: deps.controllers?.assistanceDays ?? DEFAULT_ASSISTANCE_DAYS,
    publicUrl: deps.controllers?.publicUrl ?? 'http://localhost:3000',
    log: log.child({ component: 'controllers' })
  })
  const identity = createIdentityCheck({ dbh, registry, boss, log: log.child({ component: 'identity' }), routing, ...(deps.identityCheck ? { mode: deps.identityCheck } : {}) })
  const callbacks = createCallbackSender({ dbh, log: log.child({ component: 'callbacks' }), settings: deps.callbacks, worker })
  const opendsrCallbacks = createOpenDsrSender({ dbh, log: log.child({ component: 'opendsr-callbacks' }), settings: deps.callbacks, signer: deps.opendsrSigner ?? null, worker })
  let reaper: NodeJS.Timeout | undefined
  let started = false
  const waker = createWaker()
  const workers: Worker[] = []
  let unlisten: (() => Promise<void>) | null = null

  /** Works a queue in this process (see jobs/worker.ts); stopped with the engine. */
  function work<T> (opts: Omit<WorkOptions<T>, 'pollMs'> & { pollMs?: number }): void {
    workers.push(startWorker(boss, waker, log.child({ component: 'worker' }), { pollMs: deps.options.pollSeconds * 1000, ...opts }))
  }

  /**
   * Work whose worker stopped. A task whose lease ran out needs nothing here: the next claim of its
   * connector takes it over (TasksRepository.claimNext). Transfers and archive builds are queued again, and requests
   * whose last task finished without closing them are closed.
   */
  async function reap () {
    const reaped = await dbh.transaction((tx) => transfers.reap(tx))
    if (reaped > 0) log.warn({ reaped }, 'transfers whose worker stopped were queued again')
    const builds = await dbh.transaction((tx) => deps.archives.build.reap(boss, deps.options.leaseMs, tx))
    if (builds > 0) log.warn({ builds }, 'archive builds whose worker stopped were queued again or failed')
    // A worker that finished a request's last task and stopped before closing the request.
    let closed = 0
    for (const requestId of await tasks.stranded()) {
      if (await finalizer.closeIfDone(requestId, 'engine')) closed++
    }
    if (closed > 0) log.warn({ closed }, 'requests whose last task finished without closing them were closed')
  }

  return {
    worker,
    tasks,
    boss,
    finalizer,
    circuit,
    transfers,
    /** The identity check of requests before they are planned (identify.ts). */
    identity,
    /** Routing of managed accounts' end users to their administrators (controller-routing.ts). */
    routing,
    /** Retention: deletes expired archives and collected data as of `now` (the scheduler's archive_expiry job runs it). */
    sweepExpiredArchives: deps.archives.sweep,

    work,

    async start (opts: { workers: boolean }) {
      await boss.start()
      started = true
      await boss.createQueue(TRANSFER_QUEUE)
      await boss.createQueue(ARCHIVE_QUEUE)
      await boss.createQueue(IDENTIFY_QUEUE)
      if (!opts.workers) return
      // Jobs queued by any process wake this one's idle workers when their transaction commits.
      unlisten = await dbh.listen(WAKE_CHANNEL, (queue) => waker.wake(queue))
      // Tasks are their own queue: one drain claims the due tasks of every connector with a free
      // slot in one statement, within each connector's concurrency.
      if (registry.size > 0) {
        workers.push(startDrain<ClaimedTask>(waker, log.child({ component: 'worker' }), {
          queue: TASK_QUEUE,
          concurrency: new Map([...registry.values()].map((c) => [c.id, c.concurrency])),
          keyOf: (claimed) => claimed.task.connectorId,
          pollMs: deps.options.pollSeconds * 1000,
          async fetch (free) {
            const { claimed, nextDueAt } = await tasks.claimNext(free, worker, deps.options.leaseMs)
            const tookOver = claimed.filter((c) => c.tookOver)
            if (tookOver.length > 0) log.warn({ connectors: [...new Set(tookOver.map((c) => c.task.connectorId))], tasks: tookOver.length }, 'tasks whose worker stopped were taken over')
            return { jobs: claimed, dueInMs: nextDueAt ? nextDueAt.getTime() - Date.now() : null }
          },
          run: runTask
        }))
      }
      // Status callbacks are their own queue too: the outbox rows written with each status change.
      workers.push(startDrain(waker, log.child({ component: 'worker' }), {
        queue: CALLBACK_QUEUE,
        concurrency: new Map([[CALLBACK_QUEUE, deps.callbacks.concurrency]]),
        keyOf: () => CALLBACK_QUEUE,
        pollMs: deps.options.pollSeconds * 1000,
        fetch: (free) => callbacks.claim(free.get(CALLBACK_QUEUE)!),
        run: callbacks.run
      }))
      // OpenDSR's callbacks likewise; without the facade's key (removed since they were queued) they fail, coded.
      workers.push(startDrain(waker, log.child({ component: 'worker' }), {
        queue: OPENDSR_CALLBACK_QUEUE,
        concurrency: new Map([[OPENDSR_CALLBACK_QUEUE, deps.callbacks.concurrency]]),
        keyOf: () => OPENDSR_CALLBACK_QUEUE,
        pollMs: deps.options.pollSeconds * 1000,
        fetch: (free) => opendsrCallbacks.claim(free.get(OPENDSR_CALLBACK_QUEUE)!),
        run: opendsrCallbacks.run
      }))
      // A request's identity check, before its tasks are planned; the last failed attempt holds the request.
      work<IdentifyJob>({
        queue: IDENTIFY_QUEUE,
        concurrency: 2,
        handler: (job) => identity.run(job.data.requestId, { lastAttempt: job.retryCount >= job.retryLimit })
      })
      work<TransferJob>({ queue: TRANSFER_QUEUE, concurrency: deps.transfers.settings.concurrency, handler: (job) => transfers.run(job.data.transferId) })
      // deps.archives.sweep runs from the scheduler's archive_expiry cron job (scheduler.ts, jobs.ts).
      // A build the database's going away interrupted is tried again here once it is back (a build is
      // idempotent), rather than after the queue's retry delay: the person's archive is not held up.
      work<ArchiveJob>({
        queue: ARCHIVE_QUEUE,
        concurrency: deps.options.archiveConcurrency,
        handler: (job) => whenReachable(() => deps.archives.build(job.data.requestId, job, { worker, leaseMs: deps.options.leaseMs }), {
          waitMs: 60_000,
          onWait: () => log.warn({ requestId: job.data.requestId }, 'archive build interrupted by the database: building again once it is back'),
          // A build given up because a database call never answered (archive/job.ts) is the same case.
          alsoWhen: (err) => (err as { code?: unknown }).code === JobErrors.ArchiveBuildTimeout.code
        })
      })
      reaper = setInterval(() => { reap().catch((err: unknown) => log.error({ err }, 'reaper failed')) }, Math.max(1000, deps.options.leaseMs / 2))
      reaper.unref()
    },

    async stop () {
      if (reaper) clearInterval(reaper)
      for (const timer of closeRechecks) clearTimeout(timer)
      closeRechecks.clear()
      transfers.interrupt()
      callbacks.interrupt()
      opendsrCallbacks.interrupt()
      await Promise.all(workers.splice(0).map((w) => w.stop(10_000)))
      await Promise.allSettled([...closingNow])
      if (unlisten) await unlisten().catch((err: unknown) => log.warn({ err }, 'could not stop listening for new jobs'))
      unlisten = null
      if (started) await boss.stop({ graceful: true, wait: true, timeout: 10_000 })
      await boss.releaseConnection()
      started = false
    }
  }
}

export type Engine = ReturnType<typeof createEngine>
