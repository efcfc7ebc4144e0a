import fp from 'fastify-plugin'
import { createSuppressionsService, type SuppressionsService } from '../../services/suppressions-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    suppressionsService: SuppressionsService
  }
}

/** The suppression list: entries made and ended with their requests, and the check other systems call. */
export default fp(async function suppressionsService (fastify) {
  const service = createSuppressionsService({ dbh: fastify.dbh, keyring: fastify.keyring })
  fastify.decorate('suppressionsService', service)
  // The HMAC secret is loaded once the app is ready, not on first use inside a request's transaction.
  // A database not migrated yet (the OpenAPI export builds the app without one) leaves it to first use.
  fastify.addHook('onReady', async () => {
    await service.prime().catch((err: unknown) => fastify.log.warn({ code: (err as { code?: string }).code }, 'suppression list: HMAC secret not loaded yet, it is loaded on first use'))
  })
}, { name: 'suppressions-service', dependencies: ['core'] })
