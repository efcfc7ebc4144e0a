import fp from 'fastify-plugin'
import { createReportsService, type ReportsService } from '../../services/reports-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    reportsService: ReportsService
  }
}

export default fp(async function reportsService (fastify) {
  fastify.decorate('reportsService', createReportsService({ dbh: fastify.dbh, config: fastify.config }))
}, { name: 'reports-service', dependencies: ['core'] })
