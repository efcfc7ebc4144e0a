import fp from 'fastify-plugin'
import { createIdentityReview, type IdentityReviewService } from '../../services/identity-review.js'
import { createIdentityRepository } from '../../db/repositories/identity-repository.js'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'

declare module 'fastify' {
  interface FastifyInstance {
    identityReviewService: IdentityReviewService
  }
}

/** The review of requests the identity check held (IDENTITY_CHECK): the people found, and the reviewer's choice. */
export default fp(async function identityReviewService (fastify) {
  const { dbh, engine } = fastify
  fastify.decorate('identityReviewService', createIdentityReview({
    dbh,
    registry: fastify.connectors,
    tasks: engine.tasks,
    requests: createRequestsRepository(dbh),
    identities: createIdentityRepository(dbh),
    boss: engine.boss,
    routing: engine.routing
  }))
}, { name: 'identity-review-service', dependencies: ['core', 'engine'] })
