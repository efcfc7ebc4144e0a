import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, ref } from '../../../src/schemas/common.js'
import { SuppressionAnswerSchema, SuppressionCheckSchema } from '../../../src/schemas/suppressions.js'

/** The suppression list, as other systems ask it before they process a person. */
const suppressions: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/check', {
    config: { scope: 'suppressions:check' },
    schema: {
      tags: ['suppressions'],
      operationId: 'checkSuppression',
      summary: 'Whether a person may be processed for a purpose, and if not, why',
      description: 'Call it before processing a person: sending a newsletter, sharing with a partner, profiling, or any other use. ' +
        'Give the identifiers you hold (the same shapes as a request\'s `subject`: e-mail, phone, their SHA-256, ids) and the purpose. ' +
        'The answer is `suppressed` when an entry in force on the suppression list stops that purpose for any of the identifiers, ' +
        'and `allowed` otherwise; `entries` names the requests behind it (id, type, the purposes they stop, since when), never identifiers.\n\n' +
        'The list is built from requests once the person\'s identity is verified: a marketing opt-out stops `marketing`; a consent ' +
        'withdrawal stops `marketing`, `partner_sharing` and `profiling`; an objection stops `marketing` for good and, while it is ' +
        'weighed, `processing`; a restriction stops `processing`. `processing` stops every purpose, `transactional` included. ' +
        'A restriction\'s entry ends when that request\'s restriction is lifted (POST /v1/requests/{id}/restriction/lift); another ' +
        'restriction of the same person stays in force. A rejected or cancelled request\'s entries are withdrawn. The list holds the ' +
        'identifiers only as keyed hashes, so it outlives the redaction of the requests.\n\n' +
        'Needs the `suppressions:check` scope (or `admin`). 400 `DSR_VALIDATION_FAILED` for a missing, unknown or malformed field or purpose.',
      body: ref(SuppressionCheckSchema),
      response: {
        200: ref(SuppressionAnswerSchema),
        ...authErrorResponses,
        413: problem(),
        415: problem()
      }
    }
  }, async (request) => fastify.suppressionsService.check(request.body))
}

export default suppressions
