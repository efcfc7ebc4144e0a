import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import { AccountPartListSchema, ControllerDecisionSchema } from '../../../src/schemas/accounts.js'

/** The parts of a request that belong to managed customer accounts, and their administrators' decisions. */
const accountParts: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/accounts', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'listRequestAccountParts',
      summary: "The request's parts that belong to managed customer accounts",
      description: 'Records of the person found in a managed account are acted on only on the instruction of its administrator (the controller; ' +
        'the company is its processor). Each part: its state (`awaiting`, `instructed`, `declined`), the systems holding the records, when the ' +
        'company\'s assistance is due (GDPR Art 28(3)(e)), and `message`, what the person is told. A key bound to an account sees its own part only.',
      params: IdParamsSchema,
      response: { 200: ref(AccountPartListSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.accountsService.parts(request.params.id))

  fastify.post('/:id/controller-decision', {
    config: { scope: 'accounts:instruct' },
    schema: {
      tags: ['requests'],
      operationId: 'decideAccountPart',
      summary: "A managed account's administrator instructs the company to fulfil their part of a request, or declines",
      description: 'By the administrator with a key bound to the account, or by the company acting on their documented instruction (`reference`). ' +
        '`instruct` plans the request\'s tasks on the systems holding the person\'s records of that account, limited to those records; ' +
        '`decline` leaves them alone. A request with nothing left to do is closed: by its tasks, or rejected on the ground `controller_declined` ' +
        'when every part was declined. 409 `DSR_ACCOUNT_PART_NOT_AWAITING` when the part was decided before, or the request has none of that account.',
      params: IdParamsSchema,
      body: ref(ControllerDecisionSchema),
      response: { 200: ref(AccountPartListSchema), ...authErrorResponses, 404: problem(), 409: problem(), 413: problem(), 415: problem() }
    }
  }, async (request) => fastify.accountsService.decide(request.params.id, request.body, request.principal!.name))
}

export default accountParts
