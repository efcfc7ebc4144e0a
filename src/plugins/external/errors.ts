import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply } from 'fastify'
import { DsrError, Errors, problemTitle, problemType, type ErrorDetail } from '../../errors.js'
import { PROBLEM_JSON } from '../../schemas/common.js'
import { isDatabaseUnreachable, RETRY_AFTER_SECONDS } from '../../db/unreachable.js'
import { isStoreUnavailable } from '../../storage/unavailable.js'

interface ApiError { statusCode: number, code: string, message: string, details?: ErrorDetail[] }

/** Fastify's own 4xx errors, given the service's stable codes. */
const FASTIFY_CODES: Record<string, () => Error> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new Errors.UnsupportedMediaType(),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new Errors.PayloadTooLarge(),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new Errors.EmptyBody(),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new Errors.InvalidJson(),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new Errors.InvalidJson(),
  // The console's forms (@fastify/csrf-protection): no token, a wrong one, or no session secret to check it against.
  FST_CSRF_INVALID_TOKEN: () => new Errors.CsrfTokenInvalid(),
  FST_CSRF_MISSING_SECRET: () => new Errors.CsrfTokenInvalid()
}

/**
 * The body of an error answer: RFC 9457's `type`, `title`, `status` and `detail`, and the service's
 * own `statusCode`, `code`, `message` and `details?`, which callers written before keep reading.
 */
export function problemBody (e: ApiError) {
  return { type: problemType(e.code), title: problemTitle(e.code), status: e.statusCode, detail: e.message, ...e }
}

/**
 * One error shape for every response, served as `application/problem+json` (problemBody).
 * Validation failures name each offending field; a 5xx says only "Internal error" and is logged
 * without values (see loggableError).
 */
export default fp(async function errorsPlugin (fastify) {
  fastify.setErrorHandler((err: FastifyError & { details?: ErrorDetail[], headers?: Record<string, string> }, request, reply) => {
    if (isDatabaseUnreachable(err) || isStoreUnavailable(err)) {
      // The database (or the object store) is stopped, restarting or out of connections: nothing is
      // wrong with the request, and nothing of it was stored unless its transaction committed. Try again shortly.
      request.log.warn({ code: Errors.Unavailable.code, dbCode: dbErrorCode(err) }, isStoreUnavailable(err) ? 'object store unavailable' : 'database unreachable')
      return unavailable(reply)
    }
    const body = toApiError(err)
    if (body.statusCode >= 500) request.log.error({ err }, 'request failed')
    else request.log.info({ code: body.code, statusCode: body.statusCode }, 'request refused')
    // A 4xx may name headers that belong with it (Content-Range on a 416, Retry-After).
    if (body.statusCode < 500 && err.headers) reply.headers(err.headers)
    return reply.status(body.statusCode).type(PROBLEM_JSON).send(problemBody(body))
  })

  // Once the service is closing, a new request is answered 503 with Retry-After: another instance
  // (or this one, restarted) takes it. Requests already under way finish.
  let closing = false
  fastify.addHook('preClose', async () => { closing = true })
  fastify.addHook('onRequest', async (_request, reply) => {
    if (closing) return unavailable(reply)
  })

  fastify.setNotFoundHandler((request, reply) => {
    const err = new Errors.RouteNotFound(request.method, request.url.split('?')[0] ?? '')
    return reply.status(404).type(PROBLEM_JSON).send(problemBody({ statusCode: 404, code: err.code, message: err.message }))
  })
}, { name: 'errors' })

/** 503 DSR_UNAVAILABLE with Retry-After: nothing is wrong with the request; try it again shortly. */
function unavailable (reply: FastifyReply) {
  const e = new Errors.Unavailable()
  return reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS)).type(PROBLEM_JSON)
    .send(problemBody({ statusCode: 503, code: e.code, message: e.message }))
}

/**
 * 503 DSR_UNAVAILABLE, with the seconds for Retry-After, when the database or the object store is away;
 * null otherwise. For error handlers of their own (the console's pages) that answer as the API does.
 */
export function unavailableError (err: unknown): (ApiError & { retryAfter: number }) | null {
  if (!isDatabaseUnreachable(err) && !isStoreUnavailable(err)) return null
  const e = new Errors.Unavailable()
  return { statusCode: 503, code: e.code, message: e.message, retryAfter: RETRY_AFTER_SECONDS }
}

export function toApiError (err: FastifyError & { details?: ErrorDetail[] }): ApiError {
  if (err.validation) {
    const part = (err.validationContext ?? 'body') as ErrorDetail['in']
    const details = err.validation.map((v) => ({ in: part, ...describe(v) }))
    return {
      statusCode: 400,
      code: Errors.ValidationFailed.code,
      message: details.map((d) => `${part}${d.field} ${d.message}`).join('; '),
      details
    }
  }
  // JSON.parse failures reach the handler as a SyntaxError with a 400 status and no code.
  const mapped = (err.code && FASTIFY_CODES[err.code]?.()) ||
    (err instanceof SyntaxError && err.statusCode === 400 ? new Errors.InvalidJson() : undefined)
  const e = (mapped ?? err) as FastifyError & { details?: ErrorDetail[] }
  const status = e.statusCode ?? 500
  // A 502 of the catalogue is an outside service's refusal (the mail relay), with a message written for
  // the caller (its reason code only): kept, so the caller knows to try again. Any other 5xx is masked.
  if (status === 502 && e instanceof DsrError) return { statusCode: 502, code: e.code, message: e.message }
  if (status >= 500) return { statusCode: 500, code: Errors.Internal.code, message: 'Internal error' }
  const code = e instanceof DsrError ? e.code : Errors.BadRequest.code
  return { statusCode: status, code, message: e.message, ...(e.details ? { details: e.details } : {}) }
}

/** The driver's code of a database error (on the error or its cause), for the log: never its message or values. */
function dbErrorCode (err: unknown): string | undefined {
  const e = err as { code?: unknown, cause?: { code?: unknown } }
  const code = typeof e.code === 'string' ? e.code : e.cause?.code
  return typeof code === 'string' ? code : undefined
}

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, unknown> }

function describe (v: AjvError): { field: string, message: string } {
  const p = v.params
  if (v.keyword === 'required') return { field: `${v.instancePath}/${String(p.missingProperty)}`, message: 'is required' }
  if (v.keyword === 'additionalProperties') {
    return { field: `${v.instancePath}/${String(p.additionalProperty)}`, message: 'is not a known field' }
  }
  if (v.keyword === 'enum' && Array.isArray(p.allowedValues)) {
    return { field: v.instancePath || '/', message: `must be one of: ${p.allowedValues.join(', ')}` }
  }
  return { field: v.instancePath || '/', message: v.message ?? 'is invalid' }
}
