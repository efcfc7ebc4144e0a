import fp from 'fastify-plugin'
import { createConnectorsService, type ConnectorsService } from '../../services/connectors-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    connectorsService: ConnectorsService
  }
}

export default fp(async function connectorsService (fastify) {
  fastify.decorate('connectorsService', createConnectorsService({ dbh: fastify.dbh, circuit: fastify.engine.circuit }))
}, { name: 'connectors-service', dependencies: ['core', 'engine'] })
