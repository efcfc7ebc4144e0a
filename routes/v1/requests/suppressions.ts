import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdParamsSchema, problem, ref } from '../../../src/schemas/common.js'
import { RequestSuppressionsSchema } from '../../../src/schemas/suppressions.js'

/** What a request put on the suppression list. */
const requestSuppressions: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/suppressions', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'getRequestSuppressions',
      summary: "The request's entries on the suppression list",
      description: 'One entry per purpose the request stops (see POST /v1/suppressions/check), with when it started and, once ended, ' +
        'when and why (`lifted`, `rejected`, `cancelled`). Empty for a request that suppresses nothing or whose identity is not verified yet. ' +
        'The person\'s identifiers are never shown: the list holds them as keyed hashes.',
      params: IdParamsSchema,
      response: { 200: ref(RequestSuppressionsSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.suppressionsService.ofRequest(request.params.id))
}

export default requestSuppressions
