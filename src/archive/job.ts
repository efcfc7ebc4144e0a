import type { FastifyBaseLogger } from 'fastify'
import type { ConnectorRegistry } from '../connectors/registry.js'
import type { DbHandle } from '../db/client.js'
import { createArchivesRepository } from '../db/repositories/archives-repository.js'
import { createItemsRepository } from '../db/repositories/items-repository.js'
import { createRequestsRepository, recordEvent } from '../db/repositories/requests-repository.js'
import { createTasksRepository } from '../db/repositories/tasks-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { buildArchive, READ_AT_ONCE } from './builder.js'
import { systemsOf } from './completeness.js'
import { archiveStorageKey } from './layout.js'

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
}) {
  const { dbh, storage } = deps
  const archives = createArchivesRepository(dbh)
  const items = createItemsRepository(dbh)
  const requests = createRequestsRepository(dbh)
  const tasks = createTasksRepository(dbh)
  const expiry = (from: Date) => new Date(from.getTime() + deps.retentionDays * DAY_MS)

  return async function runArchiveJob (requestId: string, attempt: JobAttempt): Promise<void> {
    // One round trip: the request, its tasks, the claim on its archive row and the first page of
    // its items, sent together (independent statements, each on its own).
    const [request, requestTasks, claim, firstItems] = await dbh.together((on) => Promise.all([
      requests.findById(requestId, on), tasks.forRequest(requestId, on),
      archives.claimBuild(requestId, (id) => archiveStorageKey(requestId, id), on), items.page(requestId, { limit: READ_AT_ONCE + 1 }, on)
    ]))
    if (!request || !claim) return
    if (claim.previousKey) await storage.delete(claim.previousKey)
    const storageKey = archiveStorageKey(requestId, claim.id)
    const log = deps.log.child({ component: 'archive', requestId, archiveId: claim.id, attempt: attempt.retryCount + 1 })
    const started = Date.now()
    try {
      const systems = systemsOf(requestTasks.filter((t) => t.action === 'collect'))
      const built = await buildArchive({ items, storage, registry: deps.registry, encryptionKey: deps.encryptionKey, log }, {
        archiveId: claim.id, storageKey, request, systems, generatedAt: new Date(), firstItems
      })
      const readyAt = new Date()
      const kept = await archives.markReadyWithEvent(claim.id, {
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
          archive_id: claim.id, bytes: built.size, files: built.manifest.files, records: built.manifest.records, encrypted: built.encryption !== null,
          complete: built.manifest.completeness.complete,
          missing: built.manifest.completeness.systems.filter((s) => s.status !== 'collected').map((s) => s.connector)
        }
      })
      if (!kept) await storage.delete(storageKey) // a newer attempt owns the row now
      log.info({ ms: Date.now() - started, bytes: built.size, files: built.manifest.files }, kept ? 'archive ready' : 'archive superseded')
    } catch (err) {
      await storage.delete(storageKey).catch(() => {})
      const code = typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('DSR_')
        ? (err as { code: string }).code
        : 'DSR_ARCHIVE_BUILD_FAILED'
      const final = attempt.retryCount >= attempt.retryLimit
      await dbh.transaction(async (tx) => {
        // A failed archive keeps its collected items only until the retention period ends.
        const marked = await archives.markAttemptFailed(tx, claim.id, code, final ? { expiresAt: expiry(new Date()) } : null)
        if (marked && final) await recordEvent(tx, requestId, 'engine', 'archive_failed', null, { archive_id: claim.id, error_code: code })
      })
      log.error({ err, code, final }, 'archive build failed')
      throw err
    }
  }
}

export type ArchiveJobRunner = ReturnType<typeof createArchiveJob>
