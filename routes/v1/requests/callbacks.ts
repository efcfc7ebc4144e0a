import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import { CallbackDeliveryListSchema, CallbackDeliverySchema, CallbackListQuerySchema, CallbackParamsSchema } from '../../../src/schemas/callbacks.js'

/** Status callbacks: what was sent to the request's callback_url, and sending one again. */
const callbacks: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/callbacks', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['callbacks'],
      operationId: 'listCallbacks',
      summary: "The request's status callbacks, oldest first, with every attempt",
      description: 'One delivery per status change (its creation included) of a request with a callback_url: a signed POST ' +
        '(DSR-Signature: t=<unix>,kid=<key id>,v1=<HMAC-SHA256 hex over "<t>.<body>">), retried on 5xx, 408, 429 and failed ' +
        'connections with backoff, up to CALLBACK_MAX_ATTEMPTS. Redirects are not followed.',
      params: IdParamsSchema,
      querystring: CallbackListQuerySchema,
      response: { 200: ref(CallbackDeliveryListSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.callbacksService.list(request.params.id, request.query))

  fastify.post('/:id/callbacks/:deliveryId/redeliver', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['callbacks'],
      operationId: 'redeliverCallback',
      summary: 'Send a status callback again, with the same delivery id',
      description: 'Due at once, with a fresh round of CALLBACK_MAX_ATTEMPTS; the body and DSR-Delivery-Id are those of the ' +
        'first sending (a new signature and timestamp), so the receiver can drop it as a repeat.',
      params: CallbackParamsSchema,
      response: { 202: ref(CallbackDeliverySchema), ...authErrorResponses, 404: problem(), 409: problem() }
    }
  }, async (request, reply) => reply.status(202).send(await fastify.callbacksService.redeliver(request.params.id, request.params.deliveryId)))
}

export default callbacks
