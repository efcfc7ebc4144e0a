import fp from 'fastify-plugin'
import { archiveKeyBytes } from '../../config.js'
import { createEngine, type Engine } from '../../engine/engine.js'
import { openArchiveStream } from '../../archive/read.js'
import { createArchiveJob } from '../../archive/job.js'
import { readControllerFile } from '../../archive/controller.js'
import { SAMPLE_CONTROLLER_FILE } from '../../connectors/samples.js'
import { createArchiveRetention } from '../../archive/retention.js'
import { archiveOnClose } from '../../archive/rebuild.js'
import { tombstonesOnClose } from '../../backups/tombstones.js'
import { createArchivesRepository } from '../../db/repositories/archives-repository.js'
import { createItemsRepository } from '../../db/repositories/items-repository.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createBoss } from '../../jobs/queue.js'
import { createHoldLookup } from '../../engine/holds.js'

declare module 'fastify' {
  interface FastifyInstance {
    engine: Engine
  }
}

export interface EnginePluginOptions {
  /** Start the engine when the app is ready (with workers unless ROLE=api); tools that only need the routes turn it off. */
  startEngine: boolean
}

/**
 * The worker runtime: the job queue, the task runner, archive builds and direct transfers. It
 * starts when the app is ready and stops, gracefully, when it closes. What follows a request's
 * close (its archive, its backup tombstones) listens to the engine's request-closed event here.
 */
export default fp<EnginePluginOptions>(async function engine (fastify, opts) {
  const { config, dbh, storage } = fastify
  const archiveDeps = { dbh, storage, config }
  const archiveJob = createArchiveJob({
    ...archiveDeps,
    registry: fastify.connectors,
    log: fastify.log,
    retentionDays: config.ARCHIVE_RETENTION_DAYS,
    encryptionKey: config.ARCHIVE_ENCRYPTION_KEY ? archiveKeyBytes(config.ARCHIVE_ENCRYPTION_KEY) : null,
    threads: config.ARCHIVE_THREADS,
    buildTimeoutMs: config.ARCHIVE_BUILD_TIMEOUT_SECONDS * 1000,
    controller: readControllerFile(config.CONTROLLER_FILE ?? SAMPLE_CONTROLLER_FILE)
  })
  const boss = createBoss(dbh, { supervise: true, schedule: true, cronCheckSeconds: config.SCHEDULER_CHECK_SECONDS })
  const engine = createEngine({
    metrics: fastify.metrics,
    dbh,
    holds: createHoldLookup({ dbh, keyring: fastify.keyring }),
    identityCheck: config.IDENTITY_CHECK,
    controllers: { notifier: fastify.notifier, assistanceDays: config.ACCOUNT_ASSISTANCE_DAYS, publicUrl: config.PUBLIC_URL ?? `http://localhost:${config.PORT}` },
    boss,
    onClosed: [
      archiveOnClose({ archives: createArchivesRepository(dbh), items: createItemsRepository(dbh), requests: createRequestsRepository(dbh), boss, leaseMs: config.TASK_LEASE_SECONDS * 1000 }),
      tombstonesOnClose
    ],
    registry: fastify.connectors,
    storage,
    log: fastify.log,
    options: {
      leaseMs: config.TASK_LEASE_SECONDS * 1000,
      retryBaseMs: config.TASK_RETRY_BASE_MS,
      retryMaxMs: config.TASK_RETRY_MAX_MS,
      erasureCheckAttempts: config.ERASURE_CHECK_ATTEMPTS,
      pollSeconds: config.TASK_POLL_SECONDS,
      archiveConcurrency: config.ARCHIVE_CONCURRENCY
    },
    callbacks: fastify.callbackSettings,
    opendsrSigner: fastify.opendsrSigner,
    transfers: { settings: fastify.transferSettings, openArchive: (requestId) => openArchiveStream(archiveDeps, requestId) },
    archives: {
      build: archiveJob,
      sweep: createArchiveRetention({
        ...archiveDeps, log: fastify.log, itemsRetentionDays: config.COLLECTED_ITEMS_RETENTION_DAYS ?? config.ARCHIVE_RETENTION_DAYS
      })
    }
  })
  fastify.decorate('engine', engine)
  if (opts.startEngine) fastify.addHook('onReady', async () => engine.start({ workers: config.ROLE !== 'api' }))
  fastify.addHook('onClose', async () => {
    await engine.stop()
    await archiveJob.close()
  })
}, { name: 'engine', dependencies: ['core', 'metrics'] })
