import { Readable } from 'node:stream'
import { archiveKeyBytes, type Config } from '../config.js'
import type { DbHandle } from '../db/client.js'
import { createArchivesRepository, type ArchiveRow } from '../db/repositories/archives-repository.js'
import type { BlobStore } from '../storage/blob-store.js'
import { openRange, segmentSpan, storedSize, type EncryptionLayout } from './crypto.js'
import { JobErrors } from '../errors.js'

/** A ready archive row: its file, size and hash are set. */
export type ReadyArchive = ArchiveRow & { size: number, sha256: string, storageKey: string }

export function isReady (row: ArchiveRow | null): row is ReadyArchive {
  return row !== null && row.status === 'ready' && row.size !== null && row.sha256 !== null && row.storageKey !== null
}

/** A stored archive that does not match its row (truncated, replaced, or sealed under another key). */
export const ArchiveUnreadable = JobErrors.ArchiveUnreadable

/**
 * The plaintext bytes [start, end] (inclusive) of a ready archive, decrypting only the segments
 * they lie in when it is stored encrypted. The stored size is checked, and the first segment is
 * authenticated, before this returns, so a route can still answer with an error status; a later
 * segment that fails authentication ends the stream with an error, never with wrong bytes.
 */
export async function openPlaintext (storage: BlobStore, key: Buffer | null, archive: ReadyArchive, start: number, end: number): Promise<Readable> {
  const layout = archive.encryption as EncryptionLayout | null
  const stored = await storage.size(archive.storageKey)
  if (stored !== (layout ? storedSize(layout) : archive.size)) throw new ArchiveUnreadable('the stored archive has the wrong size')
  if (!layout) return storage.get(archive.storageKey, { start, end })
  if (!key) throw new ArchiveUnreadable('the archive is stored encrypted but ARCHIVE_ENCRYPTION_KEY is not set')
  const span = segmentSpan(layout, start, end)
  const sealed = await storage.get(archive.storageKey, { start: span.cipherStart, end: span.cipherEnd })
  const plain = openRange(key, archive.id, layout, sealed, start, end)
  let first: IteratorResult<Buffer>
  try {
    first = await plain.next()
  } catch (err) {
    throw new ArchiveUnreadable('the stored archive failed authentication', { cause: err })
  }
  return Readable.from((async function * () {
    if (!first.done) yield first.value
    yield * plain
  })(), { objectMode: false })
}

export interface ArchiveReadDeps {
  dbh: DbHandle
  storage: BlobStore
  config?: Pick<Config, 'ARCHIVE_ENCRYPTION_KEY'>
}

/**
 * The request's ready archive as the plaintext zip stream, with its size and SHA-256 as recorded
 * when it was built; null when there is none (not built, failed, expired, or its file is gone).
 * Used by direct transfers.
 */
export async function openArchiveStream (deps: ArchiveReadDeps, requestId: string): Promise<{ stream: Readable, size: number, sha256: string } | null> {
  const row = await createArchivesRepository(deps.dbh).forRequest(requestId)
  if (!isReady(row) || await deps.storage.size(row.storageKey) === null) return null
  const key = deps.config?.ARCHIVE_ENCRYPTION_KEY ? archiveKeyBytes(deps.config.ARCHIVE_ENCRYPTION_KEY) : null
  return { stream: await openPlaintext(deps.storage, key, row, 0, row.size - 1), size: row.size, sha256: row.sha256 }
}
