import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authErrorResponses, problem, IdParamsSchema, ref } from '../../../src/schemas/common.js'
import {
  ArchiveLinkParamsSchema, ArchiveLinkSchema, ArchiveSummarySchema, CreateArchiveLinkSchema, DownloadHeadersSchema, downloadRefusals, zipResponse
} from '../../../src/schemas/archives.js'

const downloadResponses = {
  200: zipResponse('The whole zip (Content-Length, strong ETag = its SHA-256, Accept-Ranges: bytes)'),
  206: zipResponse('One byte range of the zip (Content-Range)', { partial: true }),
  ...authErrorResponses,
  404: problem(),
  410: problem(),
  ...downloadRefusals
}
const downloadDescription = 'The archive of a completed or partially completed access or portability request, streamed: ' +
  'manifest.json, index.html, README.txt, and per system and data set NDJSON, CSV and a JSON Schema, with the collected files. ' +
  'A partial archive holds everything that was collected; manifest.json ("completeness") and the top of index.html and ' +
  'README.txt name each system that was not searched, with its error code or skip reason. One byte range per request ' +
  '(Range: bytes=a-b, bytes=a-, bytes=-n) is answered with 206, a range past the end with 416; If-Range with another ETag ' +
  'gets the whole file. 409 DSR_ARCHIVE_NOT_READY while it is being built (with Retry-After), 410 DSR_ARCHIVE_EXPIRED ' +
  'once retention deleted it. Each download is recorded in the audit trail.'
const rebuildDescription = 'Builds the archive again from the collected data, when its build failed (archive status failed) ' +
  'or it expired, or a closed request has none. The build runs in the background: 202 with the archive, now building; ' +
  'poll the request or this archive. The previous archive is superseded: its signed links answer 410 DSR_LINK_SUPERSEDED. ' +
  '409 DSR_ARCHIVE_NOT_REBUILDABLE for a ready or building archive, an open request or a request type without archive; ' +
  '409 DSR_ARCHIVE_ITEMS_SWEPT once retention deleted the collected data (the request must be run again). ' +
  'Admin scope; recorded in the audit trail (archive_rebuild_requested, archive_superseded).'

/** The archive of a request: download (with ranges) and the signed links handed to the person. */
const archive: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/:id/archive', {
    exposeHeadRoute: false,
    config: { scope: 'archives:read' },
    schema: {
      tags: ['archives'],
      operationId: 'downloadArchive',
      summary: "Download the request's archive (zip)",
      description: downloadDescription,
      params: IdParamsSchema,
      headers: DownloadHeadersSchema,
      response: downloadResponses
    }
  }, async (request, reply) => {
    const d = await fastify.archivesService.download(request.params.id, request.principal!.name,
      { range: request.headers.range, ifRange: request.headers['if-range'], head: false })
    return reply.status(d.status).headers(d.headers).send(d.body)
  })

  fastify.head('/:id/archive', {
    // In the document: the one HEAD route written on purpose (fastify's automatic ones are left out).
    config: { scope: 'archives:read', swagger: { exposeHeadRoute: true } },
    schema: {
      tags: ['archives'],
      operationId: 'headArchive',
      summary: "The archive's headers (size, ETag) without its content",
      description: 'What GET answers, headers only: Content-Length, ETag (to check a download or resume it with If-Range), ' +
        'Content-Disposition, Accept-Ranges; 206 with Content-Range for a Range. Not recorded as a download.',
      params: IdParamsSchema,
      headers: DownloadHeadersSchema,
      response: downloadResponses
    }
  }, async (request, reply) => {
    const d = await fastify.archivesService.download(request.params.id, request.principal!.name,
      { range: request.headers.range, ifRange: request.headers['if-range'], head: true })
    return reply.status(d.status).headers(d.headers).send()
  })

  fastify.post('/:id/archive/links', {
    config: { scope: 'archives:read' },
    schema: {
      tags: ['archives'],
      operationId: 'createArchiveLink',
      summary: 'Create a signed download link for the person (no API key needed to use it)',
      description: 'The link works until it expires (ARCHIVE_LINK_TTL_SECONDS, 7 days, by default; at most 30 days and never ' +
        'past the archive\'s expiry) or is revoked. Its signature is not stored: keep the URL, it cannot be shown again.',
      params: IdParamsSchema,
      body: ref(CreateArchiveLinkSchema),
      response: { 201: ref(ArchiveLinkSchema), ...authErrorResponses, 404: problem(), 409: problem(), 410: problem() }
    }
  }, async (request, reply) => {
    const link = await fastify.archivesService.createLink(request.params.id, request.principal!.name, request.body.expires_in_seconds)
    return reply.status(201).send(link)
  })

  fastify.post('/:id/archive/rebuild', {
    config: { scope: 'admin' },
    schema: {
      tags: ['archives'],
      operationId: 'rebuildArchive',
      summary: 'Rebuild an archive whose build failed or that expired',
      description: rebuildDescription,
      params: IdParamsSchema,
      response: { 202: ref(ArchiveSummarySchema), ...authErrorResponses, 404: problem(), 409: problem() }
    }
  }, async (request, reply) => {
    const archive = await fastify.archivesService.rebuild(request.params.id, request.principal!.name)
    return reply.status(202).send(archive)
  })

  fastify.delete('/:id/archive/links/:linkId', {
    config: { scope: 'archives:write' },
    schema: {
      tags: ['archives'],
      operationId: 'revokeArchiveLink',
      summary: 'Revoke a signed download link',
      description: 'The link answers 403 DSR_LINK_REVOKED from now on. Revoking twice is not an error.',
      params: ArchiveLinkParamsSchema,
      response: { 204: Type.Null({ description: 'Revoked' }), ...authErrorResponses, 404: problem() }
    }
  }, async (request, reply) => {
    await fastify.archivesService.revokeLink(request.params.id, request.params.linkId, request.principal!.name)
    return reply.status(204).send(null)
  })
}

export default archive
