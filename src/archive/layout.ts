import { extname } from 'node:path'

/**
 * Where everything sits inside an archive, and how each entry is compressed. One place, so the
 * builder, the manifest, index.html and README.txt cannot disagree about a path.
 */

/**
 * The archive format's version, in manifest.json and README.txt. Readers ignore fields they do not
 * know, so adding one (as `completeness` was) keeps the version; it changes only when a path, a
 * file's format or an existing field's meaning changes.
 */
export const ARCHIVE_FORMAT_VERSION = 1

export const PATHS = {
  manifest: 'manifest.json',
  index: 'index.html',
  readme: 'README.txt',
  records: (connector: string, stream: string) => `data/${segment(connector)}/${segment(stream)}.ndjson`,
  table: (connector: string, stream: string) => `data/${segment(connector)}/${segment(stream)}.csv`,
  schema: (connector: string, stream: string) => `schemas/${segment(connector)}/${segment(stream)}.schema.json`,
  /** Attachments are numbered within their stream: unique without remembering the names used. */
  attachment: (connector: string, stream: string, n: number, name: string) =>
    `files/${segment(connector)}/${segment(stream)}/${n}-${safeFileName(name)}`
} as const

export const MEDIA_TYPES = {
  records: 'application/x-ndjson',
  table: 'text/csv',
  schema: 'application/schema+json',
  index: 'text/html',
  readme: 'text/plain'
} as const

/** The storage key of an archive: one file per build attempt, under the request's folder. */
export const archiveStorageKey = (requestId: string, archiveId: string) => `archives/${requestId}/${archiveId}.zip`
export const archivePrefix = (requestId: string) => `archives/${requestId}`
/** Where the engine keeps collected files (see the task runner). */
export const itemFilesPrefix = (requestId: string) => `items/${requestId}`

/** A connector or stream name as one path segment (ids are validated; this is defence in depth). */
function segment (name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_')
  return s.length > 0 ? s.slice(0, 100) : '_'
}

/**
 * A file name that is safe on every common file system and in a zip: letters and digits of any
 * script, with `. _ - ( ) space`; no path separators, control characters or leading dots; at most
 * 120 characters, keeping the extension.
 */
export function safeFileName (name: string): string {
  const cleaned = name.normalize('NFC')
    .replace(/[^\p{L}\p{N}._() -]+/gu, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[.\s]+/, '')
    .trim()
  const ext = extname(cleaned).slice(0, 16)
  const stem = cleaned.slice(0, cleaned.length - ext.length).slice(0, 120 - ext.length)
  const safe = `${stem}${ext}`
  return safe.length > 0 && safe !== ext ? safe : `file${ext}`
}

const STORED_TYPES = new Set([
  'application/pdf', 'application/zip', 'application/gzip', 'application/x-gzip', 'application/x-bzip2',
  'application/x-xz', 'application/x-7z-compressed', 'application/vnd.rar', 'application/x-rar-compressed',
  'application/zstd', 'application/epub+zip', 'application/java-archive'
])
const STORED_TYPE_PREFIXES = ['image/', 'video/', 'audio/', 'application/vnd.openxmlformats-officedocument.', 'application/vnd.oasis.opendocument.']
/** Uncompressed formats within those families: deflate still pays off for them. */
const DEFLATED_EXCEPTIONS = new Set(['image/svg+xml', 'image/bmp', 'image/x-ms-bmp', 'image/tiff', 'audio/wav', 'audio/x-wav', 'audio/wave'])
const STORED_EXTENSIONS = new Set([
  '.png', '.jpg', '.jpeg', '.gif', '.webp', '.avif', '.heic', '.heif', '.pdf', '.zip', '.gz', '.tgz', '.bz2', '.xz',
  '.7z', '.rar', '.zst', '.mp3', '.mp4', '.m4a', '.m4v', '.mov', '.ogg', '.oga', '.webm', '.flac', '.aac',
  '.docx', '.xlsx', '.pptx', '.odt', '.ods', '.odp', '.epub', '.jar'
])

/** Already-compressed content (by content type or extension) is stored; deflating it again only costs time. */
export function isCompressed (contentType: string, name: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase()
  if (DEFLATED_EXCEPTIONS.has(type)) return false
  return STORED_TYPES.has(type) || STORED_TYPE_PREFIXES.some((p) => type.startsWith(p)) ||
    STORED_EXTENSIONS.has(extname(name).toLowerCase())
}
