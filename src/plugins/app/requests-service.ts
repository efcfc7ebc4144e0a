import fp from 'fastify-plugin'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createItemsRepository } from '../../db/repositories/items-repository.js'
import { createRequestsService } from '../../services/requests-service.js'
import { createFulfilmentService } from '../../services/fulfilment-service.js'
import { parseApprovalPolicy } from '../../domain/approval.js'
import { parseDuplicatePolicy } from '../../domain/duplicates.js'
import { callbackUrlRefusal } from '../../callbacks/settings.js'
import { earliestReceivedAt } from '../../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    requestsService: ReturnType<typeof createRequestsService>
    /** Fulfilment's steps in a caller's transaction, for the services that end in one (verification). */
    fulfilmentService: ReturnType<typeof createFulfilmentService>
  }
}

/** Requests: intake, reading, the lifecycle and what staff do with tasks. */
export default fp(async function requestsService (fastify) {
  const { dbh, engine } = fastify
  const fulfilment = createFulfilmentService({
    dbh,
    registry: fastify.connectors,
    tasks: engine.tasks,
    requests: createRequestsRepository(dbh),
    boss: engine.boss,
    finalizer: engine.finalizer,
    approval: parseApprovalPolicy(fastify.config.APPROVAL_REQUIRED).policy,
    log: fastify.log,
    deadlines: { piplDays: fastify.config.PIPL_RESPONSE_DAYS },
    identityCheck: fastify.config.IDENTITY_CHECK,
    suppressions: fastify.suppressionsService
  })
  fastify.decorate('fulfilmentService', fulfilment)
  fastify.decorate('requestsService', createRequestsService({
    repo: createRequestsRepository(dbh),
    dbh,
    duplicates: parseDuplicatePolicy(fastify.config.DUPLICATE_POLICY).policy,
    children: { age: fastify.config.CHILD_AGE, dueDays: fastify.config.CHILD_DUE_DAYS },
    tasks: engine.tasks,
    items: createItemsRepository(dbh),
    fulfilment,
    deadlines: { piplDays: fastify.config.PIPL_RESPONSE_DAYS },
    archiveOf: fastify.archivesService.summary,
    callbackRefusal: (callbackUrl) => callbackUrlRefusal(fastify.callbackSettings, callbackUrl),
    earliestReceivedAt: (now) => earliestReceivedAt(fastify.config, now)
  }))
}, { name: 'requests-service', dependencies: ['core', 'engine', 'archives-service', 'suppressions-service'] })
