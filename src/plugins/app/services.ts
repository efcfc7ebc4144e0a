import fp from 'fastify-plugin'
import { archiveKeyBytes, type Config } from '../../config.js'
import type { DbHandle } from '../../db/client.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createItemsRepository } from '../../db/repositories/items-repository.js'
import { createRequestsService } from '../../services/requests-service.js'
import type { KeyRecord } from '../../services/api-keys.js'
import { createEngine, type Engine } from '../../engine/engine.js'
import { createFulfilmentService } from '../../services/fulfilment-service.js'
import type { ConnectorRegistry } from '../../connectors/registry.js'
import type { BlobStore } from '../../storage/blob-store.js'
import { createTransfersService } from '../../services/transfers-service.js'
import { transferSettings } from '../../transfers/settings.js'
import type { HostResolver } from '../../transfers/addresses.js'
import { openArchiveStream } from '../../archive/read.js'
import { createArchiveJob } from '../../archive/job.js'
import { createArchiveRetention } from '../../archive/retention.js'
import { createMetrics, type Metrics } from '../../services/metrics.js'
import { createScheduler, type Scheduler } from '../../engine/scheduler.js'
import { scheduledJobs } from '../../engine/jobs.js'
import { createLinkSigner } from '../../archive/links.js'
import { createArchivesRepository } from '../../db/repositories/archives-repository.js'
import { createArchivesService, type ArchivesService } from '../../services/archives-service.js'
import { createKeyring, type Keyring } from '../../receipts/keys.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    dbh: DbHandle
    apiKeys: ReadonlyMap<string, KeyRecord>
    connectors: ConnectorRegistry
    storage: BlobStore
    engine: Engine
    requestsService: ReturnType<typeof createRequestsService>
    transfersService: ReturnType<typeof createTransfersService>
    archivesService: ArchivesService
    metrics: Metrics
    scheduler: Scheduler
    /** The keys that sign erasure receipts, hash identifiers and seal tombstones: one, shared, loaded once. */
    keyring: Keyring
  }
}

export interface ServicesOptions {
  config: Config
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  registry: ConnectorRegistry
  storage: BlobStore
  startEngine: boolean
  /** DNS for direct transfers; the system resolver by default (tests play DNS with their own). */
  resolveHost?: HostResolver
}

/**
 * Decorates the app with its configuration, database, connectors, engine and services. The engine
 * starts when the app is ready (with workers unless ROLE=api) and stops, gracefully, when it closes.
 */
export default fp<ServicesOptions>(async function services (fastify, opts) {
  const transfers = transferSettings(opts.config, opts.resolveHost)
  const archiveDeps = { dbh: opts.dbh, storage: opts.storage, config: opts.config }
  const encryptionKey = opts.config.ARCHIVE_ENCRYPTION_KEY ? archiveKeyBytes(opts.config.ARCHIVE_ENCRYPTION_KEY) : null
  const archiveRetentionDays = opts.config.ARCHIVE_RETENTION_DAYS
  const sweepExpiredArchives = createArchiveRetention({
    ...archiveDeps, log: fastify.log, itemsRetentionDays: opts.config.COLLECTED_ITEMS_RETENTION_DAYS ?? archiveRetentionDays
  })
  const metrics = createMetrics({ dbh: opts.dbh, connectors: opts.registry })
  const archiveJob = createArchiveJob({
    ...archiveDeps, registry: opts.registry, log: fastify.log, retentionDays: archiveRetentionDays, encryptionKey, threads: opts.config.ARCHIVE_THREADS
  })
  const engine = createEngine({
    metrics,
    dbh: opts.dbh,
    registry: opts.registry,
    storage: opts.storage,
    log: fastify.log,
    options: {
      leaseMs: opts.config.TASK_LEASE_SECONDS * 1000,
      retryBaseMs: opts.config.TASK_RETRY_BASE_MS,
      retryMaxMs: opts.config.TASK_RETRY_MAX_MS,
      pollSeconds: opts.config.TASK_POLL_SECONDS,
      archiveConcurrency: opts.config.ARCHIVE_CONCURRENCY
    },
    transfers: { settings: transfers, openArchive: (requestId) => openArchiveStream(archiveDeps, requestId) },
    archives: {
      build: archiveJob,
      sweep: sweepExpiredArchives
    }
  })
  const signer = createLinkSigner(opts.config.LINK_SIGNING_KEY)
  if (signer.ephemeral && opts.config.ROLE !== 'worker') {
    fastify.log.warn('LINK_SIGNING_KEY is not set: signed archive links use a key made for this process; they stop working when it restarts and are refused by other processes')
  }
  const archivesService = createArchivesService({
    ...archiveDeps,
    archives: createArchivesRepository(opts.dbh),
    requests: createRequestsRepository(opts.dbh),
    signer,
    encryptionKey,
    linkTtlSeconds: opts.config.ARCHIVE_LINK_TTL_SECONDS,
    boss: engine.boss
  })
  fastify.decorate('config', opts.config)
  fastify.decorate('dbh', opts.dbh)
  fastify.decorate('apiKeys', opts.apiKeys)
  fastify.decorate('connectors', opts.registry)
  fastify.decorate('storage', opts.storage)
  fastify.decorate('engine', engine)
  fastify.decorate('requestsService', createRequestsService({
    repo: createRequestsRepository(opts.dbh),
    tasks: engine.tasks,
    items: createItemsRepository(opts.dbh),
    fulfilment: createFulfilmentService({
      dbh: opts.dbh, registry: opts.registry, tasks: engine.tasks, requests: createRequestsRepository(opts.dbh), boss: engine.boss, log: fastify.log
    }),
    deadlines: { piplDays: opts.config.PIPL_RESPONSE_DAYS },
    archiveOf: archivesService.summary
  }))
  fastify.decorate('archivesService', archivesService)
  fastify.decorate('transfersService', createTransfersService({
    dbh: opts.dbh, requests: createRequestsRepository(opts.dbh), runner: engine.transfers, settings: transfers
  }))
  const keyring = createKeyring({ dbh: opts.dbh, config: opts.config })
  fastify.decorate('keyring', keyring)
  const scheduler = createScheduler({
    dbh: opts.dbh,
    boss: engine.boss,
    work: engine.work,
    instance: engine.worker,
    log: fastify.log.child({ component: 'scheduler' }),
    jobs: scheduledJobs({ config: opts.config, dbh: opts.dbh, registry: opts.registry, circuit: engine.circuit, sweepExpiredArchives, keyring, log: fastify.log })
  })
  fastify.decorate('metrics', metrics)
  fastify.decorate('scheduler', scheduler)
  if (opts.startEngine) {
    fastify.addHook('onReady', async () => {
      await engine.start({ workers: opts.config.ROLE !== 'api' })
      if (opts.config.ROLE !== 'api' && opts.config.SCHEDULER_ENABLED) await scheduler.start()
    })
  }
  fastify.addHook('onClose', async () => {
    await engine.stop()
    await archiveJob.close()
  })
}, { name: 'services' })
