import type { TxHandle } from '../db/client.js'
import {
  createPendingArchive, lockArchive, markSweptArchiveDue, supersedeArchive, type ArchiveRow
} from '../db/repositories/archives-repository.js'
import { itemsSweptAt } from '../db/repositories/items-repository.js'
import { recordEvent } from '../db/repositories/requests-repository.js'
import { archiveJob, enqueue, type Boss } from '../jobs/queue.js'
import { Errors } from '../errors.js'

/** Why an archive cannot be built again: retention deleted what it would be built from. */
export const ITEMS_SWEPT_CODE = Errors.ArchiveItemsSwept.code

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
export async function queueArchiveBuild (tx: TxHandle, requestId: string, boss: Boss, opts: { actor: string, reason: string }): Promise<QueuedBuild> {
  // Sent together: one round trip.
  const [current, swept] = await Promise.all([lockArchive(tx, requestId), itemsSweptAt(tx, requestId)])
  if (swept) {
    if (current?.status === 'expired') await markSweptArchiveDue(tx, current.id, ITEMS_SWEPT_CODE, new Date())
    await recordEvent(tx, requestId, opts.actor, 'archive_not_rebuilt', opts.reason, { archive_id: current?.id ?? null, error_code: ITEMS_SWEPT_CODE })
    return { kind: 'items_swept', archive: current }
  }
  if (!current) {
    // Sent together with the job: one round trip.
    await Promise.all([createPendingArchive(tx, requestId), enqueue(tx, boss, [archiveJob(requestId)])])
    return { kind: 'queued', superseded: null }
  } else {
    const next = await supersedeArchive(tx, current)
    // The build claims the row under yet another id: archive_ready names the one that was built.
    await recordEvent(tx, requestId, opts.actor, 'archive_superseded', opts.reason, {
      archive_id: current.id, previous_status: current.status, links_revoked: next.linksRevoked
    })
  }
  await enqueue(tx, boss, [archiveJob(requestId)])
  return { kind: 'queued', superseded: current }
}
