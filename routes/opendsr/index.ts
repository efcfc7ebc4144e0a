import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { json, PROBLEM_JSON, ref, RetryAfterHeader, type HeaderSpec } from '../../src/schemas/common.js'
import {
  OpenDsrCancelledSchema, OpenDsrCreatedSchema, OpenDsrDiscoverySchema, OpenDsrErrorSchema, OpenDsrParamsSchema,
  OpenDsrRequestSchema, OpenDsrStatusSchema, OpenGdprRequestSchema
} from '../../src/schemas/opendsr.js'
import { FLAVOURS, signatureHeaders, type Flavour } from '../../src/domain/opendsr.js'
import { jsonBodyParser } from '../../src/json-body.js'

/** Each body as received, for `encoded_request` (§7.3). */
const rawBodies = new WeakMap<FastifyRequest, Buffer>()

function opendsrProblem (description?: string, headers?: Record<string, HeaderSpec>) {
  return { ...(description ? { description } : {}), ...(headers ? { headers } : {}), content: { [PROBLEM_JSON]: { schema: ref(OpenDsrErrorSchema) } } }
}

/** The §7.6 error object of a problem document: `code` the HTTP status, the service's code as `reason`. */
function withErrorObject (payload: string): string {
  let p: { status: number, code: string, message: string, details?: Array<{ field: string, message: string }> }
  try {
    p = JSON.parse(payload) as typeof p
  } catch {
    return payload
  }
  const domain = p.status === 400 ? 'Validation' : 'Request'
  const errors = p.details?.length
    ? p.details.map((d) => ({ domain, reason: p.code, message: `${d.field} ${d.message}` }))
    : [{ domain, reason: p.code, message: p.message }]
  return JSON.stringify({ ...p, error: { code: p.status, message: p.message, errors } })
}

/**
 * OpenDSR 2.0 (`v2`: /requests, X-OpenDSR-*) or its v1 names (`v1`: /opengdpr_requests,
 * X-OpenGDPR-*), over the service's requests. Every answer (errors included) is signed over its
 * exact bytes with the processor certificate's key; without one configured, every route answers
 * 404 DSR_OPENDSR_NOT_CONFIGURED once the input is valid.
 */
const opendsr: FastifyPluginAsyncTypebox<{ flavour: Flavour }> = async (fastify, opts) => {
  const { flavour } = opts
  const f = FLAVOURS[flavour]
  const names = signatureHeaders(flavour)
  const service = fastify.opendsrService
  const signed: Record<string, HeaderSpec> = {
    [names.signature]: { type: 'string', description: 'Base64 signature of the exact body bytes, SHA-256, with the key of the certificate discovery names' },
    [names.domain]: { type: 'string', description: 'The domain the signing certificate is issued to' }
  }
  const errors = {
    400: opendsrProblem(),
    401: opendsrProblem(),
    403: opendsrProblem(),
    404: opendsrProblem(),
    500: opendsrProblem(),
    503: opendsrProblem('Unavailable (DSR_UNAVAILABLE): retry after Retry-After', { 'Retry-After': RetryAfterHeader })
  }
  const v = flavour === 'v2' ? 'opendsr' : 'opengdpr'

  const parse = jsonBodyParser(fastify)
  fastify.removeContentTypeParser('application/json')
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    rawBodies.set(request, body as Buffer)
    parse(request, (body as Buffer).toString('utf8'), done)
  })
  fastify.addHook('onSend', async (_request, reply, payload) => {
    let body = payload
    if (reply.statusCode >= 400 && typeof body === 'string' && String(reply.getHeader('content-type')).startsWith(PROBLEM_JSON)) body = withErrorObject(body)
    const signer = service.signer
    if (signer && typeof body === 'string') reply.header(names.signature, signer.sign(body)).header(names.domain, signer.domain)
    return body
  })

  fastify.get('/discovery', {
    config: { public: 'opendsr_discovery' },
    schema: {
      tags: ['opendsr'],
      operationId: `${v}Discovery`,
      summary: `${flavour === 'v2' ? 'OpenDSR' : 'OpenGDPR'} discovery: what this processor accepts`,
      description: 'The identity types and formats, request types and API version accepted, and where the certificate that signs answers ' +
        'and callbacks is published (§6). No API key needed: a controller reads it to verify callbacks.',
      response: { 200: json(ref(OpenDsrDiscoverySchema), { description: 'The processor\'s OpenDSR support', headers: signed }), 404: opendsrProblem(), 500: opendsrProblem() }
    }
  }, async () => service.discovery(flavour))

  if (flavour === 'v2') {
    fastify.get('/certificate.pem', {
      config: { public: 'opendsr_discovery' },
      schema: {
        tags: ['opendsr'],
        operationId: 'opendsrCertificate',
        summary: 'The certificate that signs OpenDSR answers and callbacks (PEM)',
        description: 'The X.509 certificate issued to the processor domain, then any intermediates: what discovery\'s processor_certificate names.',
        response: {
          200: { description: 'The certificate chain', content: { 'application/x-pem-file': { schema: { type: 'string' } } } },
          404: opendsrProblem(),
          500: opendsrProblem()
        }
      }
    }, async (_request, reply) => reply.type('application/x-pem-file').send(service.certificate()))
  }

  fastify.post(`/${f.requests}`, {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['opendsr'],
      operationId: `${v}CreateRequest`,
      summary: 'Submit an OpenDSR request (access, portability, erasure)',
      description: 'Creates the service\'s request, verified (the controller vouches for the person), with the deadline of the regulation counted ' +
        'from submitted_time. The same subject_request_id and body sent again is answered as before; with another body, 409 DSR_OPENDSR_REQUEST_ID_REUSED. ' +
        'An identity no connector can match is refused (400 DSR_OPENDSR_IDENTITY_UNSUPPORTED), a callback URL outside CALLBACK_ALLOWLIST too (422).',
      body: ref(flavour === 'v2' ? OpenDsrRequestSchema : OpenGdprRequestSchema),
      response: { 201: json(ref(OpenDsrCreatedSchema), { description: 'Received', headers: signed }), ...errors, 409: opendsrProblem(), 413: opendsrProblem(), 415: opendsrProblem(), 422: opendsrProblem() }
    }
  }, async (request, reply) => {
    const created = await service.create(flavour, request.body, rawBodies.get(request) ?? Buffer.alloc(0), request.principal!)
    return reply.status(201).send(created)
  })

  fastify.get(`/${f.requests}/:id`, {
    config: { scope: 'requests:read' },
    schema: {
      tags: ['opendsr'],
      operationId: `${v}GetRequest`,
      summary: 'The status of an OpenDSR request',
      description: 'pending, in_progress, completed or cancelled, read from the service\'s request (the README maps each status), with its deadline. ' +
        'Only the controller (API key) that sent it sees it.',
      params: OpenDsrParamsSchema,
      response: { 200: json(ref(OpenDsrStatusSchema), { description: 'Its status', headers: signed }), ...errors }
    }
  }, async (request) => service.status(flavour, request.params.id, request.principal!))

  fastify.delete(`/${f.requests}/:id`, {
    config: { scope: 'requests:write' },
    schema: {
      tags: ['opendsr'],
      operationId: `${v}CancelRequest`,
      summary: 'Cancel a pending OpenDSR request',
      description: 'Cancels the service\'s request, with the reason on record in its audit trail, while it is pending (§9); ' +
        '409 DSR_OPENDSR_NOT_CANCELLABLE once it is in progress or closed, 409 DSR_OPENDSR_REQUEST_SHARED when another OpenDSR request was merged into it.',
      params: OpenDsrParamsSchema,
      response: { 202: json(ref(OpenDsrCancelledSchema), { description: 'Cancelled', headers: signed }), ...errors, 409: opendsrProblem() }
    }
  }, async (request, reply) => reply.status(202).send(await service.cancel(flavour, request.params.id, request.principal!)))
}

export default opendsr
