import fp from 'fastify-plugin'
import { createMetrics, type Metrics } from '../../services/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** The Prometheus metrics: the engine counts into them, `/metrics` renders them. */
export default fp(async function metrics (fastify) {
  fastify.decorate('metrics', createMetrics({ dbh: fastify.dbh, connectors: fastify.connectors }))
}, { name: 'metrics', dependencies: ['core'] })
