import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type, type TProperties } from 'typebox'
import { REFUSAL_GROUND_CODES } from '../../src/domain/refusal-grounds.js'
import { VERIFICATION_METHODS } from '../../src/schemas/requests.js'
import { ControllerDecisionSchema } from '../../src/schemas/accounts.js'
import { CreateTransferSchema } from '../../src/schemas/transfers.js'
import { CODE_PATTERN } from '../../src/domain/verification-codes.js'
import { validationError } from '../../src/errors.js'
import { ConsoleIdParamsSchema, renderRequest } from './request.js'

const csrf = { _csrf: Type.Optional(Type.String({ maxLength: 200 })) }
const form = <P extends TProperties>(props: P) => Type.Object({ ...props, ...csrf }, { additionalProperties: false })
const text = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: '\\S' })
/** A day as a date field sends it (UTC). */
const day = Type.String({ format: 'date' })
const TaskParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }), taskId: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
const LinkParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
/** A refusal on a legal ground, of a whole request or of one system's part, with what the person is told. */
const RefusalFormSchema = form({ ground: Type.Enum([...REFUSAL_GROUND_CODES]), explanation: text(4000) })

/**
 * The instant recorded for "the person was told on day d": the end of that day (UTC), or now for
 * today, so a person told on the day the request arrived is not recorded as told before it arrived.
 */
const toldOn = (d: string) => new Date(Math.min(Date.parse(`${d}T23:59:59.999Z`), Date.now())).toISOString()
const backToRequest = (reply: FastifyReply, id: string) => reply.redirect(`/console/requests/${id}`, 303)

/**
 * Every action of a request's page, each a form posting to the service method its API route calls,
 * under the same scope; the audit trail records them exactly as it records the API's.
 */
const actions: FastifyPluginAsyncTypebox = async (fastify) => {
  const svc = () => fastify.requestsService
  const hidden = { hide: true }

  fastify.post('/console/requests/:id/approve', {
    config: { public: 'console', consoleScope: 'requests:approve' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ note: Type.Optional(text(1000)) }) }
  }, async (request, reply) => {
    await svc().approve(request.params.id, request.operator!, request.body.note ?? null)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/reject', {
    config: { public: 'console', consoleScope: 'requests:approve' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: RefusalFormSchema }
  }, async (request, reply) => {
    await svc().reject(request.params.id, request.operator!, { ground: request.body.ground, explanation: request.body.explanation })
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/tasks/:taskId/refuse', {
    config: { public: 'console', consoleScope: 'requests:approve' },
    schema: { ...hidden, params: TaskParamsSchema, body: RefusalFormSchema }
  }, async (request, reply) => {
    await svc().refuseTask(request.params.id, request.params.taskId, request.operator!, { ground: request.body.ground, explanation: request.body.explanation })
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/cancel', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ reason: text(1000) }) }
  }, async (request, reply) => {
    await svc().transition(request.params.id, 'cancelled', request.operator!, request.body.reason)
    return backToRequest(reply, request.params.id)
  })

  // A dry run, which the request's trail records (erasure_previewed): shown this once, on the request's page.
  fastify.post('/console/requests/:id/erasure-preview', {
    config: { public: 'console', consoleScope: 'requests:approve' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({}) }
  }, async (request, reply) => {
    const preview = await fastify.erasurePreviewService.preview(request.params.id, request.operator!.name)
    return renderRequest(request, reply, request.params.id, { preview })
  })

  fastify.post('/console/requests/:id/verify', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ method: Type.Enum([...VERIFICATION_METHODS]) }) }
  }, async (request, reply) => {
    await svc().verify(request.params.id, request.operator!, request.body.method)
    return backToRequest(reply, request.params.id)
  })

  // The identity check held the request: the reviewer names the person who asked (GET …/identity, POST …/identity/choose).
  fastify.post('/console/requests/:id/identity/choose', {
    config: { public: 'console', consoleScope: 'requests:approve' },
    schema: {
      ...hidden,
      params: ConsoleIdParamsSchema,
      body: form({ candidate: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })), email: Type.Optional(Type.String({ format: 'email', maxLength: 320 })) })
    }
  }, async (request, reply) => {
    const { candidate, email } = request.body
    // One of the two, as the API takes it: a person picked from the list wins over a typed address.
    const choice = candidate !== undefined ? { candidate: Number(candidate) } : email !== undefined ? { email } : null
    if (!choice) throw validationError([{ in: 'body', field: 'candidate', message: 'choose a person, or give their e-mail address' }])
    await fastify.identityReviewService.choose(request.params.id, request.operator!.name, choice)
    return backToRequest(reply, request.params.id)
  })

  // The service's own verification (POST …/verification, …/verification/confirm): a code and link e-mailed, the code the person reads out.
  fastify.post('/console/requests/:id/verification', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({}) }
  }, async (request, reply) => {
    await fastify.verificationService.start(request.params.id, request.operator!.name)
    return renderRequest(request, reply, request.params.id, { notice: 'A code and a link were e-mailed to the address on the request.' })
  })

  fastify.post('/console/requests/:id/verification/confirm', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ code: Type.String({ pattern: CODE_PATTERN }) }) }
  }, async (request, reply) => {
    await fastify.verificationService.confirmCode(request.params.id, request.body.code, request.operator!.name)
    return backToRequest(reply, request.params.id)
  })

  // Direct transfer of the ready archive to another controller (POST …/transfers, scope archives:transfer).
  fastify.post('/console/requests/:id/transfers', {
    config: { public: 'console', consoleScope: 'archives:transfer' },
    schema: {
      ...hidden,
      params: ConsoleIdParamsSchema,
      // The API's own fields, so that the console takes exactly what the API takes.
      body: form({ ...CreateTransferSchema.properties })
    }
  }, async (request, reply) => {
    const { destination, authorization, notes } = request.body
    await fastify.transfersService.create(request.params.id, { destination, ...(authorization ? { authorization } : {}), ...(notes ? { notes } : {}) }, request.operator!)
    return backToRequest(reply, request.params.id)
  })

  // A status callback that ran out of attempts, sent again (POST …/callbacks/{deliveryId}/redeliver).
  fastify.post('/console/requests/:id/callbacks/:deliveryId/redeliver', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: Type.Object({ id: Type.String({ format: 'uuid' }), deliveryId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }), body: form({}) }
  }, async (request, reply) => {
    await fastify.callbacksService.redeliver(request.params.id, request.params.deliveryId)
    return renderRequest(request, reply, request.params.id, { notice: 'The callback is queued to be sent again.' })
  })

  fastify.post('/console/requests/:id/tasks/:taskId/complete', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: {
      ...hidden,
      params: TaskParamsSchema,
      body: form({ outcome: Type.Enum(['done', 'nothing_found']), note: text(4000), evidence_ref: Type.Optional(text(500)) })
    }
  }, async (request, reply) => {
    const { outcome, note, evidence_ref: evidenceRef } = request.body
    await svc().completeTask(request.params.id, request.params.taskId, request.operator!, { outcome, note, ...(evidenceRef ? { evidence_ref: evidenceRef } : {}) })
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/tasks/:taskId/retry', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: TaskParamsSchema, body: form({}) }
  }, async (request, reply) => {
    await svc().retryTask(request.params.id, request.params.taskId, request.operator!)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/tasks/:taskId/skip', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: TaskParamsSchema, body: form({ reason: text(1000) }) }
  }, async (request, reply) => {
    await svc().skipTask(request.params.id, request.params.taskId, request.operator!, request.body.reason)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/extension', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ reason: text(1000), notified_subject_at: Type.Optional(day) }) }
  }, async (request, reply) => {
    const { reason, notified_subject_at: told } = request.body
    await svc().extend(request.params.id, { reason, ...(told ? { notified_subject_at: toldOn(told) } : {}) }, request.operator!)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/extension/notice', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ notified_subject_at: day }) }
  }, async (request, reply) => {
    await svc().recordExtensionNotice(request.params.id, { notified_subject_at: toldOn(request.body.notified_subject_at) }, request.operator!)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/controller-decision', {
    config: { public: 'console', consoleScope: 'accounts:instruct' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form(ControllerDecisionSchema.properties) }
  }, async (request, reply) => {
    const { _csrf, ...decision } = request.body
    await fastify.accountsService.decide(request.params.id, decision, request.operator!.name)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/restriction/lift', {
    config: { public: 'console', consoleScope: 'requests:write' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ reason: text(1000), notified_subject_at: day }) }
  }, async (request, reply) => {
    await svc().liftRestriction(request.params.id, { reason: request.body.reason, notified_subject_at: toldOn(request.body.notified_subject_at) }, request.operator!)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/archive/rebuild', {
    config: { public: 'console', consoleScope: 'admin' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({}) }
  }, async (request, reply) => {
    await fastify.archivesService.rebuild(request.params.id, request.operator!.name)
    return backToRequest(reply, request.params.id)
  })

  fastify.post('/console/requests/:id/archive/links', {
    config: { public: 'console', consoleScope: 'archives:read' },
    schema: { ...hidden, params: ConsoleIdParamsSchema, body: form({ expires_in_days: Type.Optional(Type.String({ pattern: '^([1-9]|[12][0-9]|30)$', description: 'Form fields are text: 1 to 30' })) }) }
  }, async (request, reply) => {
    const days = request.body.expires_in_days
    const link = await fastify.archivesService.createLink(request.params.id, request.operator!.name, days === undefined ? undefined : Number(days) * 86_400)
    // The signature is not stored: the URL is shown this once, on this page, and not cached.
    return renderRequest(request, reply.status(201), request.params.id, { createdLink: link, notice: 'Download link created: copy it now, it cannot be shown again.' })
  })

  fastify.post('/console/requests/:id/archive/links/revoke', {
    config: { public: 'console', consoleScope: 'archives:write' },
    schema: { ...hidden, params: LinkParamsSchema, body: form({ link_id: Type.String({ format: 'uuid' }) }) }
  }, async (request, reply) => {
    await fastify.archivesService.revokeLink(request.params.id, request.body.link_id, request.operator!.name)
    return backToRequest(reply, request.params.id)
  })
}

export default actions
