import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import { ApproveSchema, CompleteTaskSchema, RefuseSchema } from '../../../src/schemas/decisions.js'
import { DataSubjectRequestSchema, TaskParamsSchema } from '../../../src/schemas/requests.js'

const withRequest = { ...authErrorResponses, 404: problem(), 409: problem() }
const withGround = { ...withRequest, 422: problem() }

/** What people decide about a request: approval, refusal on a legal ground, and the outcome of a manual task. */
const decisions: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/approve', {
    config: { scope: 'requests:approve' },
    schema: {
      tags: ['requests'],
      operationId: 'approveRequest',
      summary: 'Approve a request that policy held for approval; fulfilment starts',
      description: 'Only a request in awaiting_approval (APPROVAL_REQUIRED): it becomes ready and its tasks are planned, atomically.',
      params: IdParamsSchema,
      body: ref(ApproveSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withRequest }
    }
  }, async (request) => fastify.requestsService.approve(request.params.id, request.principal!, request.body.note ?? null))

  fastify.post('/:id/reject', {
    config: { scope: 'requests:approve' },
    schema: {
      tags: ['requests'],
      operationId: 'rejectRequest',
      summary: 'Refuse a request on a legal ground, with the reasons the person is given',
      description: 'Before any system was asked to act (received, verifying, ready, awaiting_approval, on_hold). The ground must have a provision ' +
        "for the request's regime and type (GET /v1/refusal-grounds); 422 DSR_REFUSAL_GROUND_NOT_APPLICABLE otherwise. Once work started, refuse a " +
        "system's part instead (POST …/tasks/{taskId}/refuse).",
      params: IdParamsSchema,
      body: ref(RefuseSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withGround }
    }
  }, async (request) => fastify.requestsService.reject(request.params.id, request.principal!, request.body))

  fastify.post('/:id/tasks/:taskId/refuse', {
    config: { scope: 'requests:approve' },
    schema: {
      tags: ['requests'],
      operationId: 'refuseTask',
      summary: "Refuse one system's part of a request on a legal ground",
      description: 'The task (not running, not done) is skipped with the refusal in its result; the request closes when no task is left open.',
      params: TaskParamsSchema,
      body: ref(RefuseSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withGround }
    }
  }, async (request) => fastify.requestsService.refuseTask(request.params.id, request.params.taskId, request.principal!, request.body))

  fastify.post('/:id/tasks/:taskId/complete', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'completeTask',
      summary: 'Record the outcome of a manual task',
      description: 'Only a task in status manual: it succeeds with the outcome, the note and the evidence reference on record. ' +
        'The request closes when no task is left open.',
      params: TaskParamsSchema,
      body: ref(CompleteTaskSchema),
      response: { 200: ref(DataSubjectRequestSchema), ...withRequest }
    }
  }, async (request) => fastify.requestsService.completeTask(request.params.id, request.params.taskId, request.principal!, request.body))
}

export default decisions
