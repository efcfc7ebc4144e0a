import fp from 'fastify-plugin'
import { createAuditService, type AuditService } from '../../services/audit-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    auditService: AuditService
  }
}

export default fp(async function auditService (fastify) {
  fastify.decorate('auditService', createAuditService({ dbh: fastify.dbh, keyring: fastify.keyring }))
}, { name: 'audit-service', dependencies: ['core'] })
