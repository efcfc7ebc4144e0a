import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdParamsSchema, problem, ref } from '../../../src/schemas/common.js'
import { AuditReportSchema } from '../../../src/schemas/audit.js'

/** One request's part of the tamper-evident audit trail. */
const audit: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/events/verify', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'verifyRequestEvents',
      summary: "Verifies a request's audit events and reports the first broken link",
      description: "Walks the request's links of the audit chain in order: each must follow from the request's link before it and " +
        "from the chain's link before it, each event must still be there and hash as it did when sealed (events not sealed yet " +
        'are counted in `unsealed_events`). `first_break` names the first thing broken ' +
        '(`DSR_AUDIT_…`); `signed_head.covers_head` says whether the request\'s last link is under the latest signed head. ' +
        'Answers 200 whether or not the events are intact: `ok` says which. 404 only for a request that never had a sealed event ' +
        'and does not exist: the events of a deleted request are reported missing.',
      params: IdParamsSchema,
      response: { 200: ref(AuditReportSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.auditService.verifyRequest(request.params.id))
}

export default audit
