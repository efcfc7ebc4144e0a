import { Type, type Static } from 'typebox'
import { Nullable, problem, RetryAfterHeader, type HeaderSpec } from './common.js'

const dateTime = Type.String({ format: 'date-time' })

export const ArchiveSummarySchema = Type.Object({
  status: Type.Enum(['building', 'ready', 'failed', 'expired'], {
    description: 'building until the zip is stored; ready to download; failed after its last attempt; expired once deleted by retention'
  }),
  size: Nullable(Type.Integer(), { description: 'Bytes of the zip as downloaded' }),
  sha256: Nullable(Type.String({ pattern: '^[a-f0-9]{64}$' }), { description: 'SHA-256 of the zip as downloaded; also its ETag' }),
  ready_at: Nullable(dateTime),
  expires_at: Nullable(dateTime, { description: 'When the archive and the collected data are deleted' }),
  complete: Nullable(Type.Boolean(), {
    description: 'Whether every system the request covers was searched (null until built); when false, missing names the others'
  }),
  missing: Type.Array(Type.Object({
    connector: Type.String(),
    status: Type.Enum(['failed', 'skipped']),
    error_code: Type.Optional(Type.String({ description: 'Why a failed system could not be searched' }))
  }, { additionalProperties: false }), { description: 'Systems whose data is not in the archive (their reasons are in the archive\'s manifest)' }),
  links: Type.Object({
    download: Type.String({ description: 'GET: the zip (API key with archives:read)' }),
    links: Type.String({ description: 'POST: a signed download link for the person' })
  }, { additionalProperties: false })
}, {
  $id: 'ArchiveSummary',
  additionalProperties: false,
  description: 'The portability archive of an access or portability request, built when the request completes',
  examples: [{
    status: 'ready',
    size: 48213,
    sha256: '9f2c1a7be0d4c3f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3',
    ready_at: '2026-02-03T10:02:41.118Z',
    expires_at: '2026-03-05T10:02:41.118Z',
    complete: true,
    missing: [],
    links: {
      download: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/archive',
      links: '/v1/requests/0b6f3a52-4a8e-4d3c-9c0e-2f1e8a7b5c11/archive/links'
    }
  }]
})
export type ArchiveSummary = Static<typeof ArchiveSummarySchema>

export const CreateArchiveLinkSchema = Type.Object({
  expires_in_seconds: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 2_592_000,
    description: 'Lifetime of the link; ARCHIVE_LINK_TTL_SECONDS (7 days) by default, at most 30 days, never past the archive\'s expiry'
  }))
}, { $id: 'CreateArchiveLink', additionalProperties: false, examples: [{ expires_in_seconds: 86400 }] })

export const ArchiveLinkSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String({ description: 'Path of the signed link, to prefix with the service\'s public address; works without an API key' }),
  expires_at: dateTime
}, {
  $id: 'ArchiveLink',
  additionalProperties: false,
  examples: [{
    id: '5d1e9c40-7b2a-4f36-8e05-3c9a1b2d4e6f',
    url: '/v1/archive-links/5d1e9c40-7b2a-4f36-8e05-3c9a1b2d4e6f?exp=1770804000&sig=3q2-7wAAAAAbbbCCCdddEEEfffGGGhhhIIIjjjKKKlll',
    expires_at: '2026-02-11T10:00:00.000Z'
  }]
})

export const ArchiveLinkParamsSchema = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Request id' }),
  linkId: Type.String({ format: 'uuid' })
}, { additionalProperties: false })

export const SignedLinkParamsSchema = Type.Object({
  linkId: Type.String({ format: 'uuid' })
}, { additionalProperties: false })

export const SignedLinkQuerySchema = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20, description: 'Expiry, Unix seconds' })),
  sig: Type.Optional(Type.String({ maxLength: 100, description: 'HMAC-SHA256 signature of the link' }))
}, { additionalProperties: false })

export const DownloadHeadersSchema = Type.Object({
  range: Type.Optional(Type.String({ maxLength: 200, description: 'One byte range, e.g. bytes=0-1048575' })),
  'if-range': Type.Optional(Type.String({ maxLength: 200, description: 'The ETag the range refers to; another tag gets the whole file' }))
})

/** The headers of every archive download, whole or a range, GET or HEAD. */
const downloadHeaders: Record<string, HeaderSpec> = {
  'Content-Disposition': { type: 'string', description: 'attachment; filename="personal-data-{request id}.zip"' },
  'Content-Length': { type: 'integer', minimum: 0, description: 'Bytes in this answer: the whole zip, or the range' },
  ETag: { type: 'string', description: 'Strong entity tag: the SHA-256 of the whole zip, quoted; give it in If-Range' },
  'Accept-Ranges': { type: 'string', enum: ['bytes'], description: 'Byte ranges are served (one per request)' },
  'Last-Modified': { type: 'string', description: 'When the archive was built (HTTP date)' },
  'Cache-Control': { type: 'string', enum: ['private, no-store'], description: 'Personal data: never stored by a cache' },
  'X-Content-Type-Options': { type: 'string', enum: ['nosniff'], description: 'Read as the zip it is, never sniffed as something else' }
}
export const ContentRangeHeader: HeaderSpec = {
  type: 'string', description: 'The range sent, `bytes a-b/size` (206); `bytes */size` when the range asked for cannot be served (416)'
}

/** A zip download: its body is binary, never serialised. A range also names itself in Content-Range. */
export const zipResponse = (description: string, opts: { partial?: boolean, extra?: Record<string, HeaderSpec> } = {}) => ({
  description,
  headers: { ...downloadHeaders, ...(opts.partial ? { 'Content-Range': ContentRangeHeader } : {}), ...opts.extra },
  content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } }
})

/** The refusals of a download that carry headers: 409 (not ready; Retry-After while it is being built) and 416 (Content-Range). */
export const downloadRefusals = {
  409: problem({
    description: 'Not ready yet (DSR_ARCHIVE_NOT_READY), with Retry-After while it is being built',
    headers: { 'Retry-After': { ...RetryAfterHeader, description: 'Seconds to wait: sent while the archive is being built' } }
  }),
  416: problem({ description: 'The range cannot be served (DSR_RANGE_NOT_SATISFIABLE)', headers: { 'Content-Range': ContentRangeHeader } })
}

export const archiveSchemas = [ArchiveSummarySchema, CreateArchiveLinkSchema, ArchiveLinkSchema] as const
