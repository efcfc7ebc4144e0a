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
  fastify.addHook('onReady', service.prime)
}, { name: 'suppressions-service', dependencies: ['core'] })
