import fp from 'fastify-plugin'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createTransfersService } from '../../services/transfers-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    transfersService: ReturnType<typeof createTransfersService>
  }
}

/** Direct transfers of a portability archive to another controller. */
export default fp(async function transfersService (fastify) {
  fastify.decorate('transfersService', createTransfersService({
    dbh: fastify.dbh, requests: createRequestsRepository(fastify.dbh), runner: fastify.engine.transfers, settings: fastify.transferSettings
  }))
}, { name: 'transfers-service', dependencies: ['core', 'engine'] })
