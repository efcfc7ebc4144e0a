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
/** The headers sent with every page, as the OpenAPI document describes them. */
const pageHeaders = {
  'Referrer-Policy': { type: 'string', enum: ['no-referrer'], description: 'The link (its token) is not passed on to other sites' },
  'Cache-Control': { type: 'string', enum: ['no-store'], description: 'Never cached' }
} as const
const htmlPage = { 'text/html': { schema: Type.String({ description: 'An HTML page' }) } }

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
      description: 'The page the person\'s e-mailed link opens. It shows a button that confirms; opening it changes nothing, since mail scanners open links too. No API key: the link\'s one-time token.',
      querystring: VerificationLinkQuerySchema,
      response: { 200: { description: 'A page with a button that confirms', headers: pageHeaders, content: htmlPage }, ...authErrorResponses }
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
      description: 'Confirms the person\'s identity with the e-mailed link\'s one-time token; fulfilment of the request starts. Answered with a page for the page\'s form post, with JSON otherwise. No API key: the token.',
      querystring: VerificationLinkQuerySchema,
      response: {
        200: {
          description: 'Confirmed: JSON, or a page for a form post (Content-Type application/x-www-form-urlencoded, as the page\'s button sends)',
          content: { 'application/json': { schema: ref(VerificationConfirmedSchema) }, ...htmlPage }
        },
        ...authErrorResponses,
        409: problem(),
        410: problem(),
        423: problem()
      }
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
