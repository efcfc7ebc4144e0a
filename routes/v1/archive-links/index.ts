import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authErrorResponses, problem } from '../../../src/schemas/common.js'
import { DownloadHeadersSchema, downloadRefusals, SignedLinkParamsSchema, SignedLinkQuerySchema, zipResponse } from '../../../src/schemas/archives.js'

/**
 * Signed archive links, for the person: no API key, the link's signature instead. Refusals are
 * 401 DSR_LINK_UNSIGNED (no exp/sig), 403 DSR_LINK_INVALID (tampered, or unknown), DSR_LINK_EXPIRED
 * and DSR_LINK_REVOKED.
 */
const ReferrerPolicyHeader = { type: 'string', enum: ['no-referrer'], description: 'The signed URL is not passed on to other sites' } as const

const archiveLinks: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:linkId', {
    exposeHeadRoute: false,
    config: { public: 'signed_link' },
    schema: {
      tags: ['archives'],
      operationId: 'downloadArchiveByLink',
      summary: 'Download an archive through a signed link',
      description: 'Streams the zip like GET /v1/requests/{id}/archive, with the same byte ranges, without an API key. ' +
        'Every use is counted on the link and recorded in the request\'s audit trail (actor link:<id>).',
      params: SignedLinkParamsSchema,
      querystring: SignedLinkQuerySchema,
      headers: DownloadHeadersSchema,
      response: {
        200: zipResponse('The whole zip', { extra: { 'Referrer-Policy': ReferrerPolicyHeader } }),
        206: zipResponse('One byte range of the zip', { partial: true, extra: { 'Referrer-Policy': ReferrerPolicyHeader } }),
        ...authErrorResponses,
        410: problem(),
        ...downloadRefusals
      }
    }
  }, async (request, reply) => {
    const d = await fastify.archivesService.downloadByLink(request.params.linkId, request.query.exp, request.query.sig,
      { range: request.headers.range, ifRange: request.headers['if-range'], head: false })
    return reply.status(d.status).headers({ ...d.headers, 'referrer-policy': 'no-referrer' }).send(d.body)
  })
}

export default archiveLinks
