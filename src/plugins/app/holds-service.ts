import fp from 'fastify-plugin'
import { createHoldsService, type HoldsService } from '../../services/holds-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    holdsService: HoldsService
  }
}

export default fp(async function holdsService (fastify) {
  fastify.decorate('holdsService', createHoldsService({ dbh: fastify.dbh, registry: fastify.connectors, keyring: fastify.keyring }))
}, { name: 'holds-service', dependencies: ['core'] })
