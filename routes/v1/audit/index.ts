import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, ref } from '../../../src/schemas/common.js'
import { AuditReportSchema } from '../../../src/schemas/audit.js'

/** The tamper-evident audit trail of the whole service. */
const audit: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/verify', {
    config: { scope: 'admin' },
    schema: {
      tags: ['audit'],
      operationId: 'verifyAuditTrail',
      summary: 'Verifies the audit trail of the whole service and reports the first broken link',
      description: 'Walks the audit chain (every request event and system event, in the order they were sealed): each link must ' +
        'follow from the one before, each event must still be there and hash as it did when sealed. Then the signed heads are ' +
        'checked against the chain (events not sealed yet are counted in `unsealed_events`). `first_break` names the first ' +
        'thing broken (its code is one of `DSR_AUDIT_…`), with the event and request where it broke; `signed_head` is the latest ' +
        'head signed with the receipt key (verify it with `/.well-known/jwks.json`). Answers 200 whether or not the trail is ' +
        'intact: `ok` says which. Reads the whole chain: meant for audits and monitoring, not for every request.',
      response: { 200: ref(AuditReportSchema), ...authErrorResponses }
    }
  }, async () => fastify.auditService.verify())
}

export default audit
