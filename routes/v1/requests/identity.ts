import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdParamsSchema, problem, ref } from '../../../src/schemas/common.js'
import { DataSubjectRequestSchema } from '../../../src/schemas/requests.js'
import { ChooseIdentitySchema, IdentityReviewSchema } from '../../../src/schemas/identity.js'

/** The wrong-person guard's review: whom a request's identifiers led to, and the reviewer's choice. */
const identity: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/identity', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'getRequestIdentity',
      summary: "The identity check's finding: the people the request's identifiers led to, masked, with their systems and record counts",
      description: 'IDENTITY_CHECK checks a request before any task: whom its identifiers lead to in every system that can say. ' +
        'Several people (different e-mail addresses or names behind one phone number) hold the request (on_hold) for a reviewer. ' +
        'Identifiers are shown masked; choose by index, or by the right e-mail address.',
      params: IdParamsSchema,
      response: { 200: ref(IdentityReviewSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.identityReviewService.get(request.params.id))

  fastify.post('/:id/identity/choose', {
    config: { scope: 'requests:approve' },
    schema: {
      tags: ['requests'],
      operationId: 'chooseRequestIdentity',
      summary: 'Choose the right person of a request the identity check held; fulfilment starts for that person only',
      description: 'Only a request on hold for its identity review (409 DSR_IDENTITY_NOT_IN_REVIEW otherwise). The request resumes and is planned ' +
        "with the chosen person's identifiers, less any another candidate shares (the phone number that led to both), so no task reaches " +
        'the other person. To refuse the request instead, reject it on a legal ground (POST /v1/requests/{id}/reject).',
      params: IdParamsSchema,
      body: ref(ChooseIdentitySchema),
      response: { 200: ref(DataSubjectRequestSchema), ...authErrorResponses, 404: problem(), 409: problem(), 422: problem() }
    }
  }, async (request) => {
    await fastify.identityReviewService.choose(request.params.id, request.principal!.name, request.body)
    return fastify.requestsService.get(request.params.id)
  })
}

export default identity
