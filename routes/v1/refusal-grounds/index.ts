import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, ref } from '../../../src/schemas/common.js'
import { RefusalGroundListSchema, refusalGroundList } from '../../../src/schemas/decisions.js'

/** The legal grounds a request, or a system's part of it, may be refused on. */
const refusalGrounds: FastifyPluginAsyncTypebox = async (fastify) => {
  const list = refusalGroundList()
  fastify.get('', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'listRefusalGrounds',
      summary: 'The legal grounds for refusing a request, with the provision per regime',
      description: 'The legal grounds a request may be refused on, with the provision that allows it under each regime; POST /v1/requests/{id}/reject names one of them.',
      response: { 200: ref(RefusalGroundListSchema), ...authErrorResponses }
    }
  }, async () => list)
}

export default refusalGrounds
