import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authErrorResponses, IdempotentReplayedHeader, IdParamsSchema, json, LocationHeader, problem, ref } from '../../../src/schemas/common.js'
import {
  CancelRequestSchema, CreateRequestSchema, DataSubjectRequestSchema, ListRequestsQuerySchema,
  RequestEventListSchema, RequestListSchema
} from '../../../src/schemas/requests.js'

const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: '^[\\x21-\\x7e]+$',
    description: 'Retry-safe creation: the same key with the same body returns the same request'
  }))
})

const requests: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'createRequest',
      summary: 'Submit a data subject request',
      description: 'Stores the request with its legal deadline and an audit event, and returns it. ' +
        'Retries with the same Idempotency-Key and body return the same request (header Idempotent-Replayed: true). ' +
        'A second open request for the same person and type is handled by DUPLICATE_POLICY: linked to the open one (`duplicate_of`), ' +
        'answered with the open one (200), or refused (409 DSR_DUPLICATE_REQUEST).',
      headers: IdempotencyHeadersSchema,
      body: ref(CreateRequestSchema),
      response: {
        200: json(ref(DataSubjectRequestSchema), {
          description: 'Merged (DUPLICATE_POLICY merge): the open request for the same person and type',
          headers: { Location: LocationHeader, 'Idempotent-Replayed': IdempotentReplayedHeader }
        }),
        202: json(ref(DataSubjectRequestSchema), {
          description: 'Stored: the request, to be carried out by the workers',
          headers: { Location: LocationHeader, 'Idempotent-Replayed': IdempotentReplayedHeader }
        }),
        ...authErrorResponses,
        409: problem(),
        413: problem(),
        415: problem(),
        422: problem()
      }
    }
  }, async (request, reply) => {
    const principal = request.principal!
    const { request: created, replayed, merged } = await fastify.requestsService.create(
      request.body, principal, request.headers['idempotency-key'])
    if (replayed) reply.header('idempotent-replayed', 'true')
    return reply.status(merged === true ? 200 : 202).header('location', created.links.self).send(created)
  })

  fastify.get('', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'listRequests',
      summary: 'List requests, newest first',
      description: 'Requests newest first, filtered by status, type, regime and deadline; `limit` per page (50 by default, at most 200) and `next_cursor` to page on.',
      querystring: ListRequestsQuerySchema,
      response: { 200: ref(RequestListSchema), ...authErrorResponses }
    }
  }, async (request) => fastify.requestsService.list(request.query))

  fastify.get('/:id', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'getRequest',
      summary: 'Get one request with its status and deadline',
      description: 'The request with its status, legal deadline (and any extension), tasks per system, and its archive once there is one. 404 DSR_REQUEST_NOT_FOUND for an unknown id.',
      params: IdParamsSchema,
      response: { 200: ref(DataSubjectRequestSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.requestsService.get(request.params.id))

  fastify.post('/:id/cancel', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'cancelRequest',
      summary: 'Cancel an open request, with a reason',
      description: 'Moves an open request to cancelled, with the reason on record in its audit trail; 409 DSR_ILLEGAL_TRANSITION for a request that is already closed.',
      params: IdParamsSchema,
      body: ref(CancelRequestSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...authErrorResponses, 404: problem(), 409: problem() }
    }
  }, async (request) =>
    fastify.requestsService.transition(request.params.id, 'cancelled', request.principal!, request.body.reason))

  fastify.get('/:id/events', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['requests'],
      operationId: 'listRequestEvents',
      summary: "The request's audit trail, oldest first",
      description: 'Every event of the request\'s audit trail, oldest first: who did what and when, for proof of how the request was handled.',
      params: IdParamsSchema,
      response: { 200: ref(RequestEventListSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => ({ data: await fastify.requestsService.events(request.params.id) }))
}

export default requests
