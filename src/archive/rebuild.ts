import type { TxHandle } from '../db/client.js'
import type { ArchiveRow, ArchivesRepository } from '../db/repositories/archives-repository.js'
import type { ItemsRepository } from '../db/repositories/items-repository.js'
import type { RequestsRepository } from '../db/repositories/requests-repository.js'
import { archiveJob, archivePickupMs, enqueue, type Boss } from '../jobs/queue.js'
import type { RequestClosedListener } from '../engine/finalize.js'
import { Errors } from '../errors.js'

/** Why an archive cannot be built again: retention deleted what it would be built from. */
export const ITEMS_SWEPT_CODE = Errors.ArchiveItemsSwept.code

/** What a build is queued through: made once, by the factory of whoever queues builds (the finalizer, the archives service). */
export interface ArchiveBuildDeps {
  archives: ArchivesRepository
  items: ItemsRepository
  requests: RequestsRepository
  /** Where the build job is queued. */
  boss: Boss
  /** The lease of workers (TASK_LEASE_SECONDS): a queued build not claimed in time is looked at by the reaper. */
  leaseMs: number
}

export type QueuedBuild =
  | { kind: 'queued', superseded: ArchiveRow | null }
  | { kind: 'items_swept', archive: ArchiveRow | null }

/**
 * Queues the build of a request's archive in the caller's transaction, which holds the request's
 * lock: the row and the `dsr_archive` job commit together or not at all.
 *
 *  - no archive yet: a pending row and the job;
 *  - an archive already (ready, failed, building; or expired by time): it is superseded (its row
 *    rebuilt under a fresh id, its links revoked, `archive_superseded` on the trail) and the job queued;
 *  - retention already deleted the request's collected items: nothing is built (what is left is
 *    not what was collected), `archive_not_rebuilt` goes on the trail; an expired archive is made
 *    due again so the next sweep deletes what was collected since.
 */
export async function queueArchiveBuild (requestId: string, deps: ArchiveBuildDeps, opts: { actor: string, reason: string }, tx: TxHandle): Promise<QueuedBuild> {
  const { archives, requests, boss } = deps
  // Sent together: one round trip.
  const [current, swept] = await Promise.all([archives.lockArchive(requestId, tx), deps.items.itemsSweptAt(requestId, tx)])
  if (swept) {
    if (current?.status === 'expired') await archives.markSweptArchiveDue(current.id, ITEMS_SWEPT_CODE, new Date(), tx)
    await requests.recordEvent(requestId, opts.actor, 'archive_not_rebuilt', opts.reason, { archive_id: current?.id ?? null, error_code: ITEMS_SWEPT_CODE }, tx)
    return { kind: 'items_swept', archive: current }
  }
  if (!current) {
    // Sent together with the job: one round trip.
    await Promise.all([archives.createPendingArchive(requestId, archivePickupMs(deps.leaseMs), tx), enqueue(boss, [archiveJob(requestId)], tx)])
    return { kind: 'queued', superseded: null }
  } else {
    const next = await archives.supersedeArchive(current, archivePickupMs(deps.leaseMs), tx)
    // The build claims the row under yet another id: archive_ready names the one that was built.
    await requests.recordEvent(requestId, opts.actor, 'archive_superseded', opts.reason, {
      archive_id: current.id, previous_status: current.status, links_revoked: next.linksRevoked
    }, tx)
  }
  await enqueue(boss, [archiveJob(requestId)], tx)
  return { kind: 'queued', superseded: current }
}

/**
 * The request-closed listener of archives: an access or portability request that closed completed
 * or partially completed gets its archive built, with what was found (the archive says which
 * systems were not searched). One closed again by a retried task gets it rebuilt, and the earlier
 * one, with its links, superseded.
 */
export function archiveOnClose (deps: ArchiveBuildDeps): RequestClosedListener {
  return async ({ request, final, actor }, tx) => {
    if (final === 'failed' || (request.type !== 'access' && request.type !== 'portability')) return
    await queueArchiveBuild(request.id, deps, { actor, reason: `request ${final}` }, tx)
  }
}
