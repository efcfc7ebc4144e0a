import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { DsrError } from '../../src/errors.js'
import { refusalGroundList } from '../../src/schemas/decisions.js'
import { daysLeft } from '../../src/services/console-service.js'
import { hasScope } from '../../src/services/api-keys.js'
import { TERMINAL_STATUSES } from '../../src/domain/lifecycle.js'
import { OPEN_TASK_TO_REFUSE } from '../../src/services/decisions.js'
import { PREVIEWABLE } from '../../src/services/erasure-preview.js'
import type { ErasurePreviewReport } from '../../src/schemas/receipts.js'

export const ConsoleIdParamsSchema = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false })
const CsrfOnlySchema = Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false })

/** What a page may add to a request's page: the identifiers once revealed, a link just created, an erasure preview just made. */
export interface RequestPageExtras {
  subject?: unknown
  createdLink?: { id: string, url: string, expires_at: string }
  preview?: ErasurePreviewReport
  notice?: string
}

/**
 * Renders a request's page: the request with its deadline, tasks and archive, its parts of managed
 * accounts, its audit trail and whether its chain verifies, and its receipt where it has one.
 * Identifiers stay masked unless revealed.
 */
export async function renderRequest (request: FastifyRequest, reply: FastifyReply, id: string, extras: RequestPageExtras = {}) {
  const { server } = request
  const dsr = await server.requestsService.get(id)
  const confirming = dsr.status === 'received' || dsr.status === 'verifying'
  const [events, chain, receipt, links, parts, identity, verification, transfers, callbacks, suppressions] = await Promise.all([
    server.requestsService.events(id),
    server.auditService.verifyRequest(id),
    server.receiptsService.forRequest(id).then((r) => ({ ok: true as const, receipt: r }), (err: unknown) => {
      if (err instanceof DsrError) return { ok: false as const, code: err.code, message: err.message }
      throw err
    }),
    dsr.archive ? server.archivesService.links(id) : [],
    server.accountsService.parts(id),
    // The identity check's finding, for a request it held; the latest e-mail verification, for one waiting for it.
    dsr.status === 'on_hold' ? server.identityReviewService.get(id) : null,
    confirming ? server.verificationService.latest(id) : null,
    // Where the data went and who was told: direct transfers, status callbacks (the latest 20), suppressions in force or ended.
    server.transfersService.list(id),
    dsr.callback_url ? server.callbacksService.list(id, { limit: 20 }).then((p) => p.data) : [],
    server.suppressionsService.ofRequest(id).then((s) => s.entries)
  ])
  const operator = request.operator!
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').view('console/request', {
    title: `Request ${id.slice(0, 8)}`,
    operator,
    csrf: reply.generateCsrf(),
    r: dsr,
    daysLeft: daysLeft(new Date(dsr.effective_due_at), new Date()),
    // Offered only where the API would take it: open, not taken, available in the regime, before the statutory due_at.
    canExtend: !TERMINAL_STATUSES.includes(dsr.status) && dsr.extension === null && dsr.deadline.extended_due_at !== null && new Date(dsr.due_at) > new Date(),
    canCancel: !TERMINAL_STATUSES.includes(dsr.status),
    // The statuses the services take these actions from, so that a form is offered only where it would be.
    refusable: OPEN_TASK_TO_REFUSE as readonly string[],
    canPreview: dsr.type === 'erasure' && (PREVIEWABLE as readonly string[]).includes(dsr.status),
    parts: parts.data,
    transfers,
    callbacks,
    suppressions,
    // A direct transfer (GDPR Art 20(2)) sends the ready archive, as the API does.
    canTransfer: dsr.archive?.status === 'ready',
    identity: identity && (identity.status === 'conflict' || identity.status === 'failed') ? identity : null,
    verification,
    // Offered where the service can e-mail the person: an e-mail address on the request, and a relay.
    canSendVerification: confirming && server.verificationService.configured && typeof (dsr.subject as { email?: unknown }).email === 'string',
    masked: maskSubject(dsr.subject as Record<string, unknown>),
    subject: extras.subject ?? null,
    events,
    chain,
    receipt,
    links,
    createdLink: extras.createdLink ?? null,
    preview: extras.preview ?? null,
    notice: extras.notice ?? null,
    grounds: refusalGroundList().data.filter((g) => g.provisions[dsr.regime] !== undefined && (g.types === null || g.types.includes(dsr.type))),
    can: (scope: Parameters<typeof hasScope>[1]) => hasScope(operator, scope)
  })
}

/** Each identifier as its kind and a mask that shows only its shape: `a•••@e•••.com`. */
export function maskSubject (subject: Record<string, unknown>): Array<{ kind: string, masked: string }> {
  const out: Array<{ kind: string, masked: string }> = []
  for (const [kind, value] of Object.entries(subject ?? {})) {
    if (typeof value === 'string') out.push({ kind, masked: maskValue(value) })
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push({ kind: `${kind}.${k}`, masked: maskValue(String(v)) })
  }
  return out
}

function maskValue (value: string): string {
  const at = value.indexOf('@')
  if (at > 0) {
    const domain = value.slice(at + 1)
    const dot = domain.lastIndexOf('.')
    return `${value[0]}•••@${domain[0] ?? ''}•••${dot > 0 ? domain.slice(dot) : ''}`
  }
  return value.length <= 2 ? '••' : `${'•'.repeat(Math.max(3, value.length - 2))}${value.slice(-2)}`
}

/** A request's page, its archive for the operator, and revealing its identifiers (each on its audit trail). */
const requestPage: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/console/requests/:id', {
    config: { public: 'console', consoleScope: 'requests:read' },
    schema: { hide: true, params: ConsoleIdParamsSchema }
  }, async (request, reply) => renderRequest(request, reply, request.params.id))

  // The operator's own download, as GET /v1/requests/{id}/archive (recorded on the trail as archive_downloaded).
  fastify.get('/console/requests/:id/archive', {
    exposeHeadRoute: false,
    config: { public: 'console', consoleScope: 'archives:read' },
    schema: { hide: true, params: ConsoleIdParamsSchema }
  }, async (request, reply) => {
    const d = await fastify.archivesService.download(request.params.id, request.operator!.name, { range: undefined, ifRange: undefined, head: false })
    return reply.status(d.status).headers(d.headers).send(d.body)
  })

  fastify.post('/console/requests/:id/reveal', {
    config: { public: 'console', consoleScope: 'requests:read' },
    schema: { hide: true, params: ConsoleIdParamsSchema, body: CsrfOnlySchema }
  }, async (request, reply) => {
    const subject = await fastify.consoleService.reveal(request.params.id, request.operator!.name)
    return renderRequest(request, reply, request.params.id, { subject })
  })
}

export default requestPage
