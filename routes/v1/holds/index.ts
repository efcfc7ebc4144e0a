import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, ref } from '../../../src/schemas/common.js'
import { CreateHoldSchema, HoldGroundListSchema, HoldListQuerySchema, HoldParamsSchema, LegalHoldListSchema, LegalHoldSchema, ReleaseHoldSchema } from '../../../src/schemas/holds.js'

/** Legal holds on a person: an erasure keeps what a hold covers, reported retained with its ground. */
const holds: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/grounds', {
    config: { scope: 'holds:manage' },
    schema: {
      tags: ['holds'],
      operationId: 'listHoldGrounds',
      summary: 'The legal grounds data may be kept on, with the GDPR provision each rests on',
      description: 'The grounds a legal hold, or a column the Postgres connector keeps (`keep` with `ground`), names: each an exception to the right to erasure in GDPR Art 17(3).',
      response: { 200: ref(HoldGroundListSchema), ...authErrorResponses }
    }
  }, async () => fastify.holdsService.grounds())

  fastify.post('', {
    config: { scope: 'holds:manage' },
    schema: {
      tags: ['holds'],
      operationId: 'createHold',
      summary: 'Place a legal hold on a person',
      description: 'While the hold is active, an erasure of this person (a child\'s included) leaves what it `covers` as it is: ' +
        'each covered stream is reported `retained`, with the hold\'s `ground` and `reference`, in the task outcomes and the ' +
        'erasure receipt, and everything else is erased as usual. `covers` lists systems (connector ids), optionally with streams; ' +
        'empty or absent, every system. A system whose connector cannot keep single streams keeps all of itself for a hold on some of them. ' +
        'The person is matched by any identifier given (e-mail, phone, ids, their SHA-256), kept only as keyed hashes: the identifiers ' +
        'are never stored, answered or logged. The deadline monitor warns once the review date has passed. Recorded as the system event `legal_hold_placed`.\n\n' +
        'Refused with 422: `DSR_HOLD_COVERS_INVALID` (a connector or stream this deployment does not have), `DSR_HOLD_REVIEW_INVALID` ' +
        '(a review date not in the future, or more than ten years ahead).',
      body: ref(CreateHoldSchema),
      response: { 201: ref(LegalHoldSchema), ...authErrorResponses, 413: problem(), 415: problem(), 422: problem() }
    }
  }, async (request, reply) => reply.code(201).send(await fastify.holdsService.create(request.body, request.principal!.name)))

  fastify.get('', {
    config: { scope: 'holds:manage' },
    schema: {
      tags: ['holds'],
      operationId: 'listHolds',
      summary: 'Legal holds, newest first',
      description: 'Every hold placed, active and released (filter with `status`), newest first. A hold answers how many identifiers ' +
        'it knows the person by, never which: they are kept only as keyed hashes.',
      querystring: HoldListQuerySchema,
      response: { 200: ref(LegalHoldListSchema), ...authErrorResponses }
    }
  }, async (request) => fastify.holdsService.list(request.query))

  fastify.get('/:id', {
    config: { scope: 'holds:manage' },
    schema: {
      tags: ['holds'],
      operationId: 'getHold',
      summary: 'One legal hold',
      description: 'The hold with its ground, reference, review date (`review_due` once it has passed while the hold is active), what it covers, and its release.',
      params: HoldParamsSchema,
      response: { 200: ref(LegalHoldSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.holdsService.get(request.params.id))

  fastify.post('/:id/release', {
    config: { scope: 'holds:manage' },
    schema: {
      tags: ['holds'],
      operationId: 'releaseHold',
      summary: 'Release a legal hold, with the reason',
      description: 'From now on an erasure of the person erases what the hold kept (an erasure that already ran is not repeated: ' +
        'make a new erasure request). Released once: a second release answers 409 `DSR_HOLD_ALREADY_RELEASED`. ' +
        'Recorded as the system event `legal_hold_released`; the reason is kept with the hold and never logged.',
      params: HoldParamsSchema,
      body: ref(ReleaseHoldSchema),
      response: { 200: ref(LegalHoldSchema), ...authErrorResponses, 404: problem(), 409: problem(), 413: problem(), 415: problem() }
    }
  }, async (request) => fastify.holdsService.release(request.params.id, request.body, request.principal!.name))
}

export default holds
