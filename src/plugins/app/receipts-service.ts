import fp from 'fastify-plugin'
import { createReceiptsService, type ReceiptsService } from '../../services/receipts-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    receiptsService: ReceiptsService
  }
}

export default fp(async function receiptsService (fastify) {
  fastify.decorate('receiptsService', createReceiptsService({
    dbh: fastify.dbh, config: fastify.config, registry: fastify.connectors, keyring: fastify.keyring
  }))
}, { name: 'receipts-service', dependencies: ['core'] })
