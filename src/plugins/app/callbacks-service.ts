import fp from 'fastify-plugin'
import { createCallbacksRepository } from '../../db/repositories/callbacks-repository.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createCallbacksService } from '../../services/callbacks-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    callbacksService: ReturnType<typeof createCallbacksService>
  }
}

/** A request's status callbacks: the delivery log and redelivery (the engine sends them). */
export default fp(async function callbacksService (fastify) {
  fastify.decorate('callbacksService', createCallbacksService({
    requests: createRequestsRepository(fastify.dbh), callbacks: createCallbacksRepository(fastify.dbh)
  }))
}, { name: 'callbacks-service', dependencies: ['core'] })
