import fp from 'fastify-plugin'
import { createRestoresService, type RestoresService } from '../../backups/restores.js'

declare module 'fastify' {
  interface FastifyInstance {
    restoresService: RestoresService
  }
}

/** Backup restores: erase again everyone a restored backup brought back. */
export default fp(async function restoresService (fastify) {
  fastify.decorate('restoresService', createRestoresService({
    dbh: fastify.dbh, config: fastify.config, registry: fastify.connectors, keyring: fastify.keyring, tasks: fastify.engine.tasks, boss: fastify.engine.boss
  }))
}, { name: 'restores-service', dependencies: ['core', 'engine'] })
