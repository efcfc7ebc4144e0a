import fp from 'fastify-plugin'
import type { Config } from '../../config.js'
import type { DbHandle } from '../../db/client.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createRequestsService } from '../../services/requests-service.js'
import type { KeyRecord } from '../../services/api-keys.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    dbh: DbHandle
    apiKeys: ReadonlyMap<string, KeyRecord>
    requestsService: ReturnType<typeof createRequestsService>
  }
}

export interface ServicesOptions { config: Config, dbh: DbHandle, apiKeys: ReadonlyMap<string, KeyRecord> }

/** Decorates the app with its configuration, database and services. */
export default fp<ServicesOptions>(async function services (fastify, opts) {
  fastify.decorate('config', opts.config)
  fastify.decorate('dbh', opts.dbh)
  fastify.decorate('apiKeys', opts.apiKeys)
  fastify.decorate('requestsService', createRequestsService({
    repo: createRequestsRepository(opts.dbh),
    deadlines: { piplDays: opts.config.PIPL_RESPONSE_DAYS },
    log: fastify.log.child({ component: 'requests' })
  }))
}, { name: 'services' })
