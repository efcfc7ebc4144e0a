import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import type { DbHandle } from '../../db/client.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createItemsRepository } from '../../db/repositories/items-repository.js'
import { createRequestsService } from '../../services/requests-service.js'
import type { KeyRecord } from '../../services/api-keys.js'
import { createEngine, type Engine } from '../../engine/engine.js'
import type { ConnectorRegistry } from '../../connectors/registry.js'
import type { BlobStore } from '../../storage/blob-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    dbh: DbHandle
    apiKeys: ReadonlyMap<string, KeyRecord>
    connectors: ConnectorRegistry
    storage: BlobStore
    engine: Engine
    requestsService: ReturnType<typeof createRequestsService>
  }
}

export interface ServicesOptions {
  config: Config
  dbh: DbHandle
  apiKeys: ReadonlyMap<string, KeyRecord>
  registry: ConnectorRegistry
  storage: BlobStore
  startEngine: boolean
}

/**
 * Decorates the app with its configuration, database, connectors, engine and services. The engine
 * starts when the app is ready (with workers unless ROLE=api) and stops, gracefully, when it closes.
 */
export default fp<ServicesOptions>(async function services (fastify, opts) {
  const engine = createEngine({
    dbh: opts.dbh,
    registry: opts.registry,
    storage: opts.storage,
    log: fastify.log,
    options: {
      leaseMs: opts.config.TASK_LEASE_SECONDS * 1000,
      retryBaseMs: opts.config.TASK_RETRY_BASE_MS,
      retryMaxMs: opts.config.TASK_RETRY_MAX_MS,
      pollSeconds: opts.config.TASK_POLL_SECONDS
    }
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
    engine,
    deadlines: { piplDays: opts.config.PIPL_RESPONSE_DAYS }
  }))
  if (opts.startEngine) {
    fastify.addHook('onReady', async () => {
      await engine.start({ workers: opts.config.ROLE !== 'api' })
    })
  }
  fastify.addHook('onClose', async () => {
    await engine.stop()
  })
}, { name: 'services' })
