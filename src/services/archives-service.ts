import type { Readable } from 'node:stream'
import type { DbHandle } from '../db/client.js'
import { SUPERSEDED_BY, type ArchivesRepository } from '../db/repositories/archives-repository.js'
import type { ItemsRepository } from '../db/repositories/items-repository.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import type { Boss } from '../jobs/queue.js'
import { Errors } from '../errors.js'
import type { BlobStore } from '../storage/blob-store.js'
import type { ManifestSummary } from '../archive/manifest.js'
import { isReady, openPlaintext, type ReadyArchive } from '../archive/read.js'
import type { LinkSigner } from '../archive/links.js'
import { parseRange, rangeApplies } from '../archive/range.js'
import { queueArchiveBuild } from '../archive/rebuild.js'
import type { ArchiveSummary } from '../schemas/archives.js'

/** What a download route sends: status, headers, and the body (none for HEAD). */
export interface Download { status: 200 | 206, headers: Record<string, string>, body: Readable | null }

export interface DownloadOptions { range?: string | undefined, ifRange?: string | undefined, head: boolean }

/**
 * Serving archives: downloads with single byte ranges (decrypting only the segments needed),
 * signed links for the person, and the archive's place in a request's resource. Every download
 * leaves an audit event on the request, with the range and byte count and never any content.
 */
export function createArchivesService (deps: {
  dbh: DbHandle
  storage: BlobStore
  archives: ArchivesRepository
  items: ItemsRepository
  requests: RequestsRepository
  signer: LinkSigner
  encryptionKey: Buffer | null
  linkTtlSeconds: number
  /** Where a rebuild's build job is queued. */
  boss: Boss
  /** The workers' lease (TASK_LEASE_SECONDS): see ArchiveBuildDeps. */
  leaseMs: number
  now?: () => Date
}) {
  const { archives } = deps
  const now = deps.now ?? (() => new Date())

  async function readyArchive (requestId: string): Promise<ReadyArchive> {
    const archive = await archives.forRequest(requestId)
    if (!archive) {
      if (!(await deps.requests.findById(requestId))) throw new Errors.RequestNotFound(requestId)
      throw new Errors.ArchiveNotReady()
    }
    // Past its expiry it is gone for readers, even before the retention sweep has deleted it.
    if (archive.status === 'expired' || (archive.expiresAt && archive.status === 'ready' && archive.expiresAt <= now())) {
      throw new Errors.ArchiveExpired()
    }
    if (!isReady(archive)) {
      throw Object.assign(new Errors.ArchiveNotReady(), archive.status === 'building' ? { headers: { 'retry-after': '10' } } : {})
    }
    return archive
  }

  async function deliver (archive: ReadyArchive, opts: DownloadOptions, who: { actor: string, linkId?: string }): Promise<Download> {
    const etag = `"${archive.sha256}"`
    const size = archive.size
    const range = rangeApplies(opts.ifRange, etag) ? parseRange(opts.range, size) : { kind: 'whole' as const }
    if (range.kind === 'unsatisfiable') {
      throw Object.assign(new Errors.RangeNotSatisfiable(size), { headers: { 'content-range': `bytes */${size}` } })
    }
    const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1]
    const headers: Record<string, string> = {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="personal-data-${archive.requestId}.zip"`,
      'content-length': String(end - start + 1),
      etag,
      'accept-ranges': 'bytes',
      'last-modified': (archive.readyAt ?? archive.createdAt).toUTCString(),
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
      ...(range.kind === 'partial' ? { 'content-range': `bytes ${start}-${end}/${size}` } : {})
    }
    const status = range.kind === 'partial' ? 206 : 200
    if (opts.head) return { status, headers, body: null }
    const stream = await openPlaintext(deps.storage, deps.encryptionKey, archive, start, end)
    try {
      await deps.dbh.transaction(async (tx) => {
        if (who.linkId) await archives.countDownload(who.linkId, tx)
        await deps.requests.recordEvent(archive.requestId, who.actor, 'archive_downloaded', null, {
          archive_id: archive.id, range: range.kind === 'partial' ? `bytes=${start}-${end}` : null, bytes: end - start + 1, status
        }, tx)
      })
    } catch (err) {
      stream.destroy() // no download without its audit event
      throw err
    }
    return { status, headers, body: stream }
  }

  /** From the stored manifest: whether every system was searched, and which were not (codes only, no free text). */
  function completenessOf (manifest: Record<string, unknown> | null): Pick<ArchiveSummary, 'complete' | 'missing'> {
    const completeness = (manifest as Partial<ManifestSummary> | null)?.completeness
    if (!completeness) return { complete: null, missing: [] }
    return {
      complete: completeness.complete,
      missing: completeness.systems.filter((s) => s.status !== 'collected').map((s) => ({
        connector: s.connector, status: s.status as 'failed' | 'skipped', ...(s.error_code ? { error_code: s.error_code } : {})
      }))
    }
  }

  async function summary (requestId: string): Promise<ArchiveSummary | null> {
    const a = await archives.forRequest(requestId)
    if (!a) return null
    const self = `/v1/requests/${requestId}/archive`
    return {
      status: a.status,
      size: a.size,
      sha256: a.sha256,
      ready_at: a.readyAt?.toISOString() ?? null,
      expires_at: a.expiresAt?.toISOString() ?? null,
      ...completenessOf(a.manifest),
      links: { download: self, links: `${self}/links` }
    }
  }

  return {
    summary,

    async download (requestId: string, actor: string, opts: DownloadOptions): Promise<Download> {
      return deliver(await readyArchive(requestId), opts, { actor })
    },

    /** A download through a signed link: the signature first, then expiry and revocation. */
    async downloadByLink (linkId: string, exp: string | undefined, sig: string | undefined, opts: DownloadOptions): Promise<Download> {
      if (!exp || !sig) throw new Errors.LinkUnsigned()
      const verdict = deps.signer.verify(linkId, exp, sig, now())
      if (verdict === 'invalid') throw new Errors.LinkInvalid()
      if (verdict === 'expired') throw new Errors.LinkExpired()
      const link = await archives.link(linkId)
      if (!link) throw new Errors.LinkInvalid()
      if (link.revokedAt) throw link.revokedBy === SUPERSEDED_BY ? new Errors.LinkSuperseded() : new Errors.LinkRevoked()
      if (link.expiresAt.getTime() <= now().getTime()) throw new Errors.LinkExpired()
      return deliver(await readyArchive(link.requestId), opts, { actor: `link:${linkId}`, linkId })
    },

    async createLink (requestId: string, actor: string, expiresInSeconds?: number): Promise<{ id: string, url: string, expires_at: string }> {
      const archive = await readyArchive(requestId)
      const wanted = now().getTime() + (expiresInSeconds ?? deps.linkTtlSeconds) * 1000
      // Whole seconds, as in the signed URL; never past the archive's own expiry.
      const expiresAt = new Date(Math.floor(Math.min(wanted, archive.expiresAt?.getTime() ?? wanted) / 1000) * 1000)
      const link = await deps.dbh.transaction(async (tx) => {
        const row = await archives.createLink({ requestId, createdBy: actor, expiresAt }, tx)
        await deps.requests.recordEvent(requestId, actor, 'archive_link_created', null, { link_id: row.id, expires_at: expiresAt.toISOString() }, tx)
        return row
      })
      return { id: link.id, url: deps.signer.url(link.id, expiresAt), expires_at: expiresAt.toISOString() }
    },

    /**
     * Builds again the archive of a closed access or portability request whose build failed or
     * whose archive expired, or whose build was abandoned by a worker that died (or that has none:
     * closed before partial results were archived), from
     * the collected items, in one transaction with its job: the old archive's links are revoked as
     * superseded. Refused (409) for a ready or building archive, an open request, and once retention
     * deleted the collected items: then only running the request again helps.
     */
    async rebuild (requestId: string, actor: string): Promise<ArchiveSummary> {
      await deps.dbh.transaction(async (tx) => {
        const request = await deps.requests.lockTypeAndStatus(requestId, tx)
        if (!request) throw new Errors.RequestNotFound(requestId)
        if (request.type !== 'access' && request.type !== 'portability') {
          throw new Errors.ArchiveNotRebuildable(`a ${request.type} request has no archive`)
        }
        if (request.status !== 'completed' && request.status !== 'partially_completed') {
          throw new Errors.ArchiveNotRebuildable(`the request is ${request.status}`)
        }
        const current = await archives.lockArchive(requestId, tx)
        const expired = current !== null && (current.status === 'expired' || (current.status === 'ready' && current.expiresAt !== null && current.expiresAt <= now()))
        // A build whose worker died (its lease ran out) may be queued again without waiting for the reaper.
        const abandoned = current !== null && archives.isAbandoned(current, now())
        if (current && current.status !== 'failed' && !expired && !abandoned) throw new Errors.ArchiveNotRebuildable(`the archive is ${current.status}`)
        if (await deps.items.itemsSweptAt(requestId, tx)) throw new Errors.ArchiveItemsSwept()
        const queued = await queueArchiveBuild(requestId, deps, { actor, reason: 'rebuild requested' }, tx)
        if (queued.kind !== 'queued') throw new Errors.ArchiveItemsSwept() // not reached: checked above under the same locks
        await deps.requests.recordEvent(requestId, actor, 'archive_rebuild_requested', null, {
          archive_id: current?.id ?? null, previous_status: current?.status ?? null, error_code: current?.errorCode ?? null
        }, tx)
      })
      return (await summary(requestId))!
    },

    /** The request's download links as the console lists them: when made and by whom, expiry, revocation, downloads. */
    async links (requestId: string) {
      return (await archives.links(requestId)).map((l) => ({
        id: l.id,
        created_by: l.createdBy,
        created_at: l.createdAt.toISOString(),
        expires_at: l.expiresAt.toISOString(),
        revoked_at: l.revokedAt?.toISOString() ?? null,
        revoked_by: l.revokedBy,
        downloads: l.downloads
      }))
    },

    async revokeLink (requestId: string, linkId: string, actor: string): Promise<void> {
      await deps.dbh.transaction(async (tx) => {
        const revoked = await archives.revokeLink(requestId, linkId, actor, tx)
        if (revoked === null) throw new Errors.LinkNotFound(linkId)
        if (revoked) await deps.requests.recordEvent(requestId, actor, 'archive_link_revoked', null, { link_id: linkId }, tx)
      })
    }
  }
}

export type ArchivesService = ReturnType<typeof createArchivesService>
