import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { authErrorResponses, problem, ref } from '../../../src/schemas/common.js'
import { VerificationConfirmedSchema, VerificationLinkQuerySchema } from '../../../src/schemas/verification.js'
import { Errors } from '../../../src/errors.js'

const page = (title: string, body: string) => '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
  `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>` +
  `<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem"><h1>${title}</h1>${body}</body></html>`

const html = { 'content-type': 'text/html; charset=utf-8', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' }

/**
 * The verification link e-mailed to the person: no API key, the one-time token is the authority.
 * Opening it (GET) changes nothing, since mail scanners open links too: it shows a button that
 * confirms (POST). A form post is answered with a page, any other with JSON. Refusals:
 * 401 DSR_VERIFICATION_LINK_INCOMPLETE (no token), 403 DSR_VERIFICATION_LINK_INVALID (unknown, used
 * or replaced), 410 DSR_VERIFICATION_EXPIRED, 423 DSR_VERIFICATION_LOCKED.
 */
/** The link's token (its pattern checked by the schema); 401 without one. */
function tokenOf (query: { token?: string | undefined }): string {
  if (query.token === undefined) throw new Errors.VerificationLinkIncomplete()
  return query.token
}

const verificationLinks: FastifyPluginAsyncTypebox = async (fastify) => {
  // The page's button posts a form with no fields: accepted in this plugin only, and read as no body.
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_req, _body, done) => done(null, undefined))

  fastify.get('', {
    config: { public: 'verification_link' },
    schema: {
      tags: ['verification'],
      operationId: 'openVerificationLink',
      summary: 'The page the e-mailed link opens: a button that confirms (nothing is confirmed by opening it)',
      querystring: VerificationLinkQuerySchema,
      response: { 200: Type.String({ description: 'An HTML page' }), ...authErrorResponses }
    }
  }, async (request, reply) => {
    const token = tokenOf(request.query)
    return reply.headers(html).send(page('Confirm your privacy request',
      '<p>Press the button to confirm that you made this request.</p>' +
      `<form method="post" action="/v1/verification-links?token=${token}"><button type="submit">Confirm</button></form>`))
  })

  fastify.post('', {
    config: { public: 'verification_link' },
    schema: {
      tags: ['verification'],
      operationId: 'confirmVerificationLink',
      summary: 'Confirm the identity with the e-mailed link; fulfilment starts',
      querystring: VerificationLinkQuerySchema,
      response: { 200: ref(VerificationConfirmedSchema), ...authErrorResponses, 409: problem(), 410: problem(), 423: problem() }
    }
  }, async (request, reply) => {
    const requestId = await fastify.verificationService.confirmLink(tokenOf(request.query))
    if (request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      // A page, not the JSON of the response schema (a string is sent as it is).
      return (reply as FastifyReply).headers(html).send(page('Thank you', '<p>Your request is confirmed. We will answer it within the time the law sets.</p>'))
    }
    return { request_id: requestId, status: 'confirmed' as const }
  })
}

export default verificationLinks
