import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { catalogued, Errors, problemTitle, problemType } from '../src/errors.js'
import { ErrorTypeSchema, problem, ref } from '../src/schemas/common.js'

/**
 * GET /errors/{code}: what the `type` of an error answer (RFC 9457) points at, the catalogue's entry
 * of its code. Open, like the OpenAPI document: it describes the API, nothing in it.
 */
const errors: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/errors/:code', {
    config: { public: 'docs' },
    schema: {
      tags: ['errors'],
      operationId: 'getErrorType',
      summary: 'What an error code means (the `type` of an error answer)',
      description: 'The entry of the error catalogue for one code: its HTTP status (null for a code only recorded on a task, ' +
        'archive, transfer, job or callback), where it is recorded, whether the work is retried, and when it happens. No API key needed.',
      params: Type.Object({ code: Type.String({ pattern: '^DSR_[A-Z0-9_]+$', maxLength: 100, examples: ['DSR_REQUEST_NOT_FOUND'] }) }, { additionalProperties: false }),
      response: { 200: ref(ErrorTypeSchema), 400: problem(), 404: problem(), 500: problem() }
    }
  }, async (request) => {
    const entry = catalogued(request.params.code)
    if (!entry) throw new Errors.RouteNotFound('GET', `/errors/${request.params.code}`)
    return {
      type: problemType(entry.code),
      title: problemTitle(entry.code),
      code: entry.code,
      status: entry.status,
      recorded_on: [...entry.on],
      retryable: entry.retryable,
      when: entry.when
    }
  })
}

export default errors
