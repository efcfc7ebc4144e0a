import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authErrorResponses, ref } from '../../../src/schemas/common.js'
import { DeadlineReportSchema } from '../../../src/schemas/operations.js'

/** Operational reports. */
const reports: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/deadlines', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['reports'],
      operationId: 'deadlineReport',
      summary: 'Open requests due within the window, and those overdue',
      description: 'Open requests whose effective deadline falls within the window asked for, and those already past it, for the people who must answer them in time.',
      querystring: Type.Object({
        window_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 8760, description: 'Default DEADLINE_WARNING_HOURS (72)' }))
      }, { additionalProperties: false }),
      response: { 200: ref(DeadlineReportSchema), ...authErrorResponses }
    }
  }, async (request) => fastify.reportsService.deadlines(request.query.window_hours))
}

export default reports
