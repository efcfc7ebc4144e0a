import fp from 'fastify-plugin'
import { readinessWithConnectors, type Readiness } from '../../services/readiness.js'

declare module 'fastify' {
  interface FastifyInstance {
    readinessService: { check (): Promise<Readiness> }
  }
}

/** /health/ready: the database, its migrations, and the connectors marked required. */
export default fp(async function readinessService (fastify) {
  fastify.decorate('readinessService', { check: () => readinessWithConnectors(fastify.dbh, fastify.connectors) })
}, { name: 'readiness-service', dependencies: ['core'] })
