import fp from 'fastify-plugin'
import { createOpenDsrRepository } from '../../db/repositories/opendsr-repository.js'
import { createOpenDsrService } from '../../services/opendsr-service.js'
import { callbackUrlRefusal } from '../../callbacks/settings.js'
import { earliestReceivedAt } from '../../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    opendsrService: ReturnType<typeof createOpenDsrService>
  }
}

/** The OpenDSR facade over the requests service (its callbacks are sent by the engine). */
export default fp(async function opendsrService (fastify) {
  fastify.decorate('opendsrService', createOpenDsrService({
    requests: fastify.requestsService,
    repo: createOpenDsrRepository(fastify.dbh),
    signer: fastify.opendsrSigner,
    callbackRefusal: (url) => callbackUrlRefusal(fastify.callbackSettings, url),
    earliestReceivedAt: (now) => earliestReceivedAt(fastify.config, now)
  }))
}, { name: 'opendsr-service', dependencies: ['core', 'requests-service'] })
