import type { FastifyBaseLogger } from 'fastify'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle, TxHandle } from '../db/client.js'
import { createArchivesRepository, type BuildHolder } from '../db/repositories/archives-repository.js'
import { renewLease } from '../db/leases.js'
import { holdLease, within } from '../jobs/lease.js'

const DEFAULT_BUILD_TIMEOUT_MS = 3_600_000
import { createItemsRepository } from '../db/repositories/items-repository.js'
import { createRequestsRepository } from '../db/repositories/requests-repository.js'
import { createTasksRepository } from '../db/repositories/tasks-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { Readable } from 'node:stream'
import { Piscina } from 'piscina'
import { buildArchive, READ_AT_ONCE, type BuildInput, type BuiltArchive } from './builder.js'
import type { SystemInfo, ThreadResult, ThreadTask } from './build-thread.js'
import type { ControllerInfo } from './controller.js'
import { systemsOf } from './completeness.js'
import { archiveStorageKey } from './layout.js'
import { ConnectorError } from '../../connectors/types.js'
import { DsrError, JobErrors } from '../errors.js'
import { ARCHIVE_QUEUE, ARCHIVE_RETRY_LIMIT, BOSS_SCHEMA, archiveJob, archivePickupMs, enqueue, type Boss } from '../jobs/queue.js'

const DAY_MS = 86_400_000

/** Where the queue is in its retries of one job: the last attempt marks the archive failed. */
export interface JobAttempt { retryCount: number, retryLimit: number }

/**
 * The `dsr_archive` job: builds the archive of a completed or partially completed request and
 * marks it ready; manifest.json, README.txt and index.html say which systems were not searched. Safe on
 * redelivery: a ready archive is left alone, and every attempt builds under a fresh archive id, so
 * a half-built file of an earlier attempt is deleted and replaced, never taken for the new one.
 */
export function createArchiveJob (deps: {
  dbh: DbHandle
  storage: BlobStore
  registry: ConnectorRegistry
  log: FastifyBaseLogger
  retentionDays: number
  encryptionKey: Buffer | null
  /** The company-wide information every archive carries (CONTROLLER_FILE). */
  controller: ControllerInfo
  /** Threads that build small archives off the main thread (ARCHIVE_THREADS); 0 builds every archive on it. */
  threads?: number
  /** A build not finished after this long is given up and tried again (ARCHIVE_BUILD_TIMEOUT_SECONDS). */
  buildTimeoutMs?: number
}) {
  const { dbh, storage } = deps
  // Started with the first build: a process that builds no archives (ROLE=api) starts no threads.
  let pool: Piscina<ThreadTask, ThreadResult> | null = null
  const threads = () => (pool ??= new Piscina<ThreadTask, ThreadResult>({
    // The worker module beside this one: .ts when run from the sources, .js when built.
    filename: new URL(`./build-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href,
    maxThreads: deps.threads!,
    idleTimeout: 60_000
  }))
  // What the archive thread needs of the connectors: fixed for the process's life, so made once.
  const systemsInfo: SystemInfo[] = [...deps.registry.values()].map((c) => ({
    id: c.id, displayName: c.displayName, streams: c.streams.map((s) => ({ name: s.name, description: s.description, categories: [...s.categories], processing: s.processing }))
  }))

  /**
   * Builds the zip and stores it. A small request (its items all read with the claim, records only)
   * is built on an archive thread and stored from here; a larger one, or one with files, streams
   * from the database and storage on this thread, page by page.
   */
  async function build (input: BuildInput, log: FastifyBaseLogger): Promise<BuiltArchive & { thread: boolean }> {
    const items = input.firstItems
    if (!deps.threads || !items || items.length > READ_AT_ONCE || items.some((i) => i.kind !== 'record')) {
      return { ...await buildArchive({ items: itemsRepo, storage, registry: deps.registry, encryptionKey: deps.encryptionKey, log }, input), thread: false }
    }
    const { firstItems: _, ...rest } = input
    const done = await threads().run({ input: rest, items, systems: systemsInfo, encryptionKey: deps.encryptionKey })
    for (const warning of done.warnings) log.warn(warning)
    await storage.put(input.storageKey, Readable.from([Buffer.from(done.bytes.buffer, done.bytes.byteOffset, done.bytes.byteLength)]))
    return { ...done.built, thread: true }
  }
  const archives = createArchivesRepository(dbh)
  const itemsRepo = createItemsRepository(dbh)
  const requests = createRequestsRepository(dbh)
  const tasks = createTasksRepository(dbh)
  const expiry = (from: Date) => new Date(from.getTime() + deps.retentionDays * DAY_MS)

  return Object.assign(async function runArchiveJob (requestId: string, attempt: JobAttempt, holder: BuildHolder): Promise<void> {
    // One round trip: the request, its tasks, the claim on its archive row and the first page of
    // its items, sent together (independent statements, each on its own).
    // Bounded: a start that does not answer fails the job, which is tried again (a claim that was
    // made meanwhile is not renewed, so the reaper queues it again too; the later build supersedes).
    const [request, requestTasks, claim, firstItems] = await within(dbh.together((on) => Promise.all([
      requests.findById(requestId, on), tasks.forRequest(requestId, on),
      archives.claimBuild(requestId, (id) => archiveStorageKey(requestId, id), holder, on), itemsRepo.page(requestId, { limit: READ_AT_ONCE + 1 }, on)
    ])), archivePickupMs(holder.leaseMs), () => new JobErrors.ArchiveBuildTimeout())
    if (!request || !claim) return
    if (claim.previousKey) await storage.delete(claim.previousKey)
    const storageKey = archiveStorageKey(requestId, claim.id)
    const log = deps.log.child({ component: 'archive', requestId, archiveId: claim.id, attempt: attempt.retryCount + 1 })
    const started = Date.now()
    // Renewed while the build runs: should this process die, the lease runs out and the engine's
    // reaper queues the build again (reapArchiveBuilds). A lost lease needs no abort: the row then
    // has a newer id, so this attempt's result is discarded as superseded.
    const lease = holdLease({ leaseMs: holder.leaseMs, renew: () => renewLease(dbh, 'archives', claim.id, holder.worker, holder.leaseMs), log })
    try {
      const systems = systemsOf(requestTasks.filter((t) => t.action === 'collect'))
      const built = await within(build({ archiveId: claim.id, storageKey, request, systems, generatedAt: new Date(), controller: deps.controller, firstItems }, log),
        deps.buildTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS, () => new JobErrors.ArchiveBuildTimeout())
      const readyAt = new Date()
      const kept = await within(archives.markReadyWithEvent(claim.id, {
        size: built.size,
        sha256: built.sha256,
        manifest: built.manifest as unknown as Record<string, unknown>,
        encryption: built.encryption,
        readyAt,
        expiresAt: expiry(readyAt)
      }, {
        requestId,
        actor: 'engine',
        details: {
          archive_id: claim.id,
          bytes: built.size,
          files: built.manifest.files,
          records: built.manifest.records,
          encrypted: built.encryption !== null,
          complete: built.manifest.completeness.complete,
          missing: built.manifest.completeness.systems.filter((s) => s.status !== 'collected').map((s) => s.connector)
        }
      }), 2 * holder.leaseMs, () => new JobErrors.ArchiveBuildTimeout())
      if (!kept) await storage.delete(storageKey) // a newer attempt owns the row now
      log.info({ ms: Date.now() - started, bytes: built.size, files: built.manifest.files, thread: built.thread }, kept ? 'archive ready' : 'archive superseded')
    } catch (err) {
      // The attempt is over: its lease is no longer renewed, whatever happens to the record below.
      lease.stop()
      await storage.delete(storageKey).catch(() => {})
      const code = err instanceof DsrError || err instanceof ConnectorError ? err.code : JobErrors.ArchiveBuildFailed.code
      const final = attempt.retryCount >= attempt.retryLimit
      log.error({ err, code, final }, 'archive build failed')
      // Bounded like the rest: a database call lost with its connection (the cause of many failures
      // here) must not hold the job, and the lease, for good. Unrecorded, the lease runs out and the
      // reaper queues the build again, or fails it with DSR_ARCHIVE_WORKER_LOST after its last attempt.
      await within(dbh.transaction(async (tx) => {
        // A failed archive keeps its collected items only until the retention period ends.
        const marked = await archives.markAttemptFailed(claim.id, code, final ? { expiresAt: expiry(new Date()) } : null, archivePickupMs(holder.leaseMs), tx)
        if (marked && final) await requests.recordEvent(requestId, 'engine', 'archive_failed', null, { archive_id: claim.id, error_code: code }, tx)
      }), archivePickupMs(holder.leaseMs), () => new JobErrors.ArchiveBuildTimeout()).catch((recordErr: unknown) => {
        log.warn({ err: recordErr }, 'the failed attempt could not be recorded: its lease runs out and the reaper takes it')
      })
      throw err
    } finally {
      lease.stop()
    }
  }, {
    /**
     * Builds whose worker died (their lease ran out), in the reaper's transaction: queued again
     * while attempts are left (the queue's own retry would come only when the job expires, hours
     * later), else failed with DSR_ARCHIVE_WORKER_LOST and `archive_failed` on the trail.
     */
    async reap (boss: Boss, leaseMs: number, tx: TxHandle): Promise<number> {
      const code = JobErrors.ArchiveWorkerLost.code
      const { retry, failed } = await archives.reapExpired({ queue: { schema: BOSS_SCHEMA, name: ARCHIVE_QUEUE }, maxAttempts: ARCHIVE_RETRY_LIMIT + 1, errorCode: code, expiresAt: expiry(new Date()), pickupMs: archivePickupMs(leaseMs) }, tx)
      await enqueue(boss, retry.map((a) => archiveJob(a.requestId)), tx)
      for (const a of failed) await requests.recordEvent(a.requestId, 'engine', 'archive_failed', null, { archive_id: a.id, error_code: code }, tx)
      return retry.length + failed.length
    },

    /** Ends the archive threads (when the engine stops). */
    async close (): Promise<void> {
      await pool?.destroy()
    }
  })
}

export type ArchiveJobRunner = ReturnType<typeof createArchiveJob>
