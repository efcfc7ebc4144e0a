import type { DbHandle, TxHandle } from '../db/client.js'
import { queueArchiveBuild } from '../archive/rebuild.js'
import { recordTombstones } from '../backups/tombstones.js'
import { transitionFrom, transitionIn, type RequestRow } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import { OPEN_TASK_STATUSES, type TaskStatus } from '../domain/statuses.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import type { Boss } from '../jobs/queue.js'

/**
 * Closes a request once every task is terminal: completed only when none failed; with failures,
 * partially_completed if some system did its part, failed otherwise. The caller holds the request
 * lock, so two tasks finishing at once cannot both miss the last one.
 *
 * An access or portability request that closes completed or partially_completed gets its archive
 * row and build job in the same transaction: the person gets what was found, and the archive says
 * which systems were not searched. When a retried task closes the request again, the archive is
 * rebuilt and the earlier one, with its links, superseded (see queueArchiveBuild).
 */
export async function finalizeIfDone (
  tx: TxHandle, requestId: string, tasks: TasksRepository, actor: string, boss: Boss,
  /** The request's task counts, when the caller has them from this transaction. */
  known?: Map<TaskStatus, number>,
  /** The request's row, when the caller locked and read it in this transaction. */
  locked?: RequestRow
): Promise<RequestStatus | null> {
  const counts = known ?? await tasks.statusCounts(tx, requestId)
  const n = (s: string) => counts.get(s as never) ?? 0
  const open = OPEN_TASK_STATUSES.reduce((sum, s) => sum + n(s), 0)
  if (open > 0 || counts.size === 0) return null
  const failed = n('failed')
  const done = n('succeeded') + n('skipped')
  const final: RequestStatus = failed === 0 ? 'completed' : done > 0 ? 'partially_completed' : 'failed'
  const why = failed === 0 ? 'every task finished' : `${failed} task(s) failed`
  const outcome = { succeeded: n('succeeded'), skipped: n('skipped'), failed }
  const moved = locked ? await transitionFrom(tx, locked, final, actor, why, outcome) : await transitionIn(tx, requestId, final, actor, why, outcome)
  if (moved.status !== 'moved') return null
  if (final !== 'failed' && (moved.row.type === 'access' || moved.row.type === 'portability')) {
    await queueArchiveBuild(tx, requestId, boss, { actor, reason: `request ${final}` })
  }
  // An erasure leaves backup tombstones for the systems that erased something (src/backups/tombstones.ts).
  await recordTombstones(tx, moved.row, final)
  return final
}

/**
 * Closes a request whose tasks may all be finished, in a transaction of its own that takes the
 * request's lock first and counts its tasks after it (both sent together): for a worker that
 * finished a task outside the lock (TasksRepository.finish) and found none open, and for the
 * reaper's stranded requests. Of several callers at once, one closes it and the others find it
 * closed.
 *
 * With `ifFree`, a caller that finds the lock held does not wait for it: it answers `busy`. Two
 * workers that finish a request's last tasks at the same moment both find none open; the second
 * would otherwise hold a connection waiting for the first one's close to commit.
 */
export async function closeIfDone (
  dbh: DbHandle, requestId: string, tasks: TasksRepository, actor: string, boss: Boss, opts: { ifFree?: boolean } = {}
): Promise<RequestStatus | 'busy' | null> {
  return dbh.transaction(async (tx) => {
    const [locked, counts] = await Promise.all([tasks.lockRequest(tx, requestId, { skipLocked: opts.ifFree === true }), tasks.statusCounts(tx, requestId)])
    if (!locked) return opts.ifFree && counts.size > 0 ? 'busy' : null
    return finalizeIfDone(tx, requestId, tasks, actor, boss, counts, locked)
  })
}
