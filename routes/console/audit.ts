import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/**
 * The whole service's audit trail, verified as GET /v1/audit/verify does it (and under its scope):
 * whether every link follows from the one before and the signed heads match, or where it first broke.
 */
const audit: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/console/audit', {
    config: { public: 'console', consoleScope: 'admin' },
    schema: { hide: true }
  }, async (request, reply) => {
    const report = await fastify.auditService.verify()
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').view('console/audit', {
      title: 'Audit trail', operator: request.operator, csrf: reply.generateCsrf(), report
    })
  })
}

export default audit
