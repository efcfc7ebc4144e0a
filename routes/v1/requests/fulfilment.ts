import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import {
  CollectedItemListSchema, DataSubjectRequestSchema, ItemsQuerySchema, SkipTaskSchema, TaskParamsSchema, VerificationSchema
} from '../../../src/schemas/requests.js'

const withRequest = { ...authErrorResponses, 404: problem(), 409: problem() }

/** Moving a request through fulfilment: verification, the operator's task actions, and what was collected. */
const fulfilment: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/verify', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'verifyRequest',
      summary: "Record that the requester's identity was verified; fulfilment starts",
      description: 'Moves the request to ready and plans one task per connector that can carry out its action, atomically.',
      params: IdParamsSchema,
      body: ref(VerificationSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withRequest }
    }
  }, async (request) => fastify.requestsService.verify(request.params.id, request.principal!, request.body.method))

  fastify.post('/:id/tasks/:taskId/retry', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'retryTask',
      summary: 'Run a failed task again (after fixing the cause)',
      description: 'Puts a failed task of the request back in the queue to run again (once its cause is fixed), recorded in the audit trail; 409 when the task or request is in a state that cannot be retried.',
      params: TaskParamsSchema,
      response: { 200: ref(DataSubjectRequestSchema), ...withRequest }
    }
  }, async (request) => fastify.requestsService.retryTask(request.params.id, request.params.taskId, request.principal!))

  fastify.post('/:id/tasks/:taskId/skip', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'skipTask',
      summary: 'Mark a task as not to be done, with the reason on record',
      description: 'Marks a task as not to be done, with the reason on record in the audit trail, so that the request can complete without it; 409 when the task or request is in a state that cannot be skipped.',
      params: TaskParamsSchema,
      body: ref(SkipTaskSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withRequest }
    }
  }, async (request) =>
    fastify.requestsService.skipTask(request.params.id, request.params.taskId, request.principal!, request.body.reason))

  fastify.get('/:id/items', {
    config: { scope: 'archives:read' },
    schema: {
      tags: ['requests'],
      operationId: 'listCollectedItems',
      summary: 'What was collected about the subject, in collection order',
      description: 'The records collected from each system for the request, in the order they were collected, a page at a time: what the archive is built from.',
      params: IdParamsSchema,
      querystring: ItemsQuerySchema,
      response: { 200: ref(CollectedItemListSchema), ...authErrorResponses, 404: problem() }
    }
  }, async (request) => fastify.requestsService.items(request.params.id, request.query))
}

export default fulfilment
