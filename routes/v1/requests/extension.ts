import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, IdempotentReplayedHeader, IdParamsSchema, json, problem, ref } from '../../../src/schemas/common.js'
import { DataSubjectRequestSchema } from '../../../src/schemas/requests.js'
import { ExtensionNoticeSchema, TakeExtensionSchema } from '../../../src/schemas/request-actions.js'

/** Taking the statutory deadline extension, explicitly and on record. */
const extension: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/:id/extension', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'extendDeadline',
      summary: "Take the statutory extension of the request's deadline, with the reason on record",
      description: 'Records that the controller extends the deadline as the law allows (GDPR and UK GDPR Art 12(3): ' +
        'two further months given the complexity and number of requests; CCPA: 45 more days; PIPEDA s.8(4): 30 more days), ' +
        'and writes an `extension_taken` audit event in the same transaction. From then on the request is judged by ' +
        '`deadline.extended_due_at`: it becomes its `effective_due_at`. The law requires telling the person of the ' +
        'extension and its reasons within the first period: record when that happened in `notified_subject_at`.\n\n' +
        'Taken once per request, while it is open, and only before its statutory `due_at` has passed:\n' +
        '- 422 `DSR_EXTENSION_NOT_AVAILABLE`: the regime has no extension (LGPD, FADP, PIPL);\n' +
        '- 409 `DSR_EXTENSION_REQUEST_CLOSED`: the request is completed, failed, rejected or cancelled;\n' +
        '- 409 `DSR_EXTENSION_TOO_LATE`: its statutory `due_at` has passed;\n' +
        '- 409 `DSR_EXTENSION_ALREADY_TAKEN`: the extension was taken before, by another call.\n\n' +
        'Repeating exactly the call that took it (same API key, `reason` and `notified_subject_at`) is safe: ' +
        'it answers 200 with the request as it stands and the header `Idempotent-Replayed: true`, and writes nothing.\n\n' +
        'The reason may name people or circumstances: it is kept with the request and its audit trail, and never logged.',
      params: IdParamsSchema,
      body: ref(TakeExtensionSchema),
      response: {
        200: json(ref(DataSubjectRequestSchema), { description: 'The request as it stands', headers: { 'Idempotent-Replayed': IdempotentReplayedHeader } }),
        ...authErrorResponses,
        404: problem(),
        409: problem(),
        413: problem(),
        415: problem(),
        422: problem()
      }
    }
  }, async (request, reply) => {
    const { request: extended, replayed } = await fastify.requestsService.extend(request.params.id, request.body, request.principal!)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return extended
  })

  fastify.post('/:id/extension/notice', {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['requests'],
      operationId: 'recordExtensionNotice',
      summary: 'Record when the person was told of the extension and its reasons',
      description: 'For an extension taken without `notified_subject_at` (the letter often goes out after the extension is ' +
        'recorded): records the date once, with an `extension_notice_recorded` audit event that says whether it fell within ' +
        'the first period, as the law asks. Not in the future, not before the request was received (400). Allowed after ' +
        'the request closed: it records a fact about the past.\n\n' +
        '- 409 `DSR_EXTENSION_NOT_TAKEN`: the deadline was not extended;\n' +
        '- 409 `DSR_EXTENSION_NOTICE_ALREADY_RECORDED`: a different date is on record.\n\n' +
        'Repeating the call with the date on record answers 200 with `Idempotent-Replayed: true` and writes nothing.',
      params: IdParamsSchema,
      body: ref(ExtensionNoticeSchema),
      response: {
        200: json(ref(DataSubjectRequestSchema), { description: 'The request as it stands', headers: { 'Idempotent-Replayed': IdempotentReplayedHeader } }),
        ...authErrorResponses,
        404: problem(),
        409: problem(),
        413: problem(),
        415: problem()
      }
    }
  }, async (request, reply) => {
    const { request: updated, replayed } = await fastify.requestsService.recordExtensionNotice(request.params.id, request.body, request.principal!)
    if (replayed) reply.header('idempotent-replayed', 'true')
    return updated
  })
}

export default extension
