import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdParamsSchema, json, LocationHeader, problem, ref } from '../../../src/schemas/common.js'
import { CreateTransferSchema, TransferListSchema, TransferParamsSchema, TransferSchema } from '../../../src/schemas/transfers.js'

/** Direct transmission of a request's archive to another controller (GDPR Art 20(2), PIPL Art 45). */
const transfers: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/transfers', {
    config: { scope: 'archives:transfer' },
    schema: {
      tags: ['transfers'],
      operationId: 'createTransfer',
      summary: "Send the request's archive directly to another controller",
      description: 'Checks the destination against TRANSFER_ALLOWLIST and its DNS answers before anything connects to it, ' +
        'then queues the delivery: one streamed POST of the zip (Content-Digest, Idempotency-Key = transfer id), retried ' +
        'on 5xx, 408, 429, timeouts and dropped connections. Redirects are not followed.',
      params: IdParamsSchema,
      body: ref(CreateTransferSchema),
      response: {
        202: json(ref(TransferSchema), { description: 'Queued: the transfer, delivered by the workers', headers: { Location: LocationHeader } }),
        ...authErrorResponses,
        404: problem(),
        409: problem(),
        413: problem(),
        415: problem(),
        422: problem()
      }
    }
  }, async (request, reply) => {
    const transfer = await fastify.transfersService.create(request.params.id, request.body, request.principal!)
    return reply.status(202).header('location', transfer.links.self).send(transfer)
  })

  fastify.get('/:id/transfers', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['transfers'],
      operationId: 'listTransfers',
      summary: "The request's direct transfers, oldest first, with every attempt",
      description: 'The request\'s direct transfers to other controllers, oldest first, each with its status and every delivery attempt.',
      params: IdParamsSchema,
      response: { 200: ref(TransferListSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => ({ data: await fastify.transfersService.list(request.params.id) }))

  fastify.get('/:id/transfers/:transferId', {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['transfers'],
      operationId: 'getTransfer',
      summary: 'One direct transfer, with every attempt and the receiver\'s answers',
      description: 'One direct transfer of the request\'s archive to another controller, with its status, every delivery attempt and the receiver\'s answers.',
      params: TransferParamsSchema,
      response: { 200: ref(TransferSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.transfersService.get(request.params.id, request.params.transferId))
}

export default transfers
