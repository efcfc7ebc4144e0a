import fp from 'fastify-plugin'
import { createRequestsRepository } from '../../db/repositories/requests-repository.js'
import { createAccountsService, type AccountsService } from '../../services/accounts-service.js'
import { callbackUrlRefusal } from '../../callbacks/settings.js'

declare module 'fastify' {
  interface FastifyInstance {
    accountsService: AccountsService
  }
}

/** Customer accounts, and their administrators' decisions on their end users' requests. */
export default fp(async function accountsService (fastify) {
  const { dbh, engine } = fastify
  fastify.decorate('accountsService', createAccountsService({
    dbh,
    registry: fastify.connectors,
    tasks: engine.tasks,
    requests: createRequestsRepository(dbh),
    finalizer: engine.finalizer,
    callbackRefusal: (url) => callbackUrlRefusal(fastify.callbackSettings, url)
  }))
}, { name: 'accounts-service', dependencies: ['core', 'engine'] })
