import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import { DataSubjectRequestSchema } from '../../../src/schemas/requests.js'
import { LiftRestrictionSchema } from '../../../src/schemas/request-actions.js'

/** Lifting a restriction of processing, explicitly, once, after the person was told. */
const restriction: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/restriction/lift', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'liftRestriction',
      summary: 'Lift the restriction of processing a completed restriction or objection request placed',
      description: 'A restriction (GDPR Art 18) marks the person\'s data in every system able to mark it, and holds until ' +
        'it is lifted here: when the accuracy of the data was verified, an objection was weighed, or the need for it ended. ' +
        'The person must be told before the restriction is lifted (Art 18(3)): `notified_subject_at` records when, and ' +
        'may be neither in the future nor before the request was received.\n\n' +
        'In one transaction the lift is recorded on the request (`restriction.lifted_at`, `lifted_by`, `lift_reason`, ' +
        '`notified_subject_at`) with a `restriction_lifted` audit event, and an `unrestrict` task is planned for every ' +
        'system that placed the restriction. The request stays `completed`; the unrestrict tasks appear with its other ' +
        'tasks, and a failed one is retried or skipped like any other. An objection\'s marketing opt-out is not undone: ' +
        'an objection to direct marketing is absolute (Art 21(3)).\n\n' +
        'Refused with 409:\n' +
        '- `DSR_RESTRICTION_NOT_PLACED`: not a restriction or objection request, or no system marked anything;\n' +
        '- `DSR_RESTRICTION_NOT_COMPLETED`: the request has not completed;\n' +
        '- `DSR_RESTRICTION_ALREADY_LIFTED`: it was lifted before (a restriction is lifted once);\n' +
        '- `DSR_RESTRICTION_SUBJECT_REDACTED`: the request\'s identifiers were removed, so the systems cannot find the records.\n\n' +
        'The reason may name people or circumstances: it is kept with the request and its audit trail, and never logged.',
      params: IdParamsSchema,
      body: ref(LiftRestrictionSchema),
      response: {
        202: ref(DataSubjectRequestSchema),
        ...authErrorResponses,
        404: problem(),
        409: problem(),
        413: problem(),
        415: problem()
      }
    }
  }, async (request, reply) => {
    const lifted = await fastify.requestsService.liftRestriction(request.params.id, request.body, request.principal!)
    return reply.code(202).send(lifted)
  })
}

export default restriction
