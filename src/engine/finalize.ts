import type { TxHandle } from '../db/client.js'
import { createPendingArchive } from '../db/repositories/archives-repository.js'
import { transitionIn } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { ARCHIVE_QUEUE, archiveJobOptions, type ArchiveJob, type Boss } from './queue.js'

/**
 * Closes a request once every task is terminal: completed only when none failed; with failures,
 * partially_completed if some system did its part, failed otherwise. The caller holds the request
 * lock, so two tasks finishing at once cannot both miss the last one. A completed access or
 * portability request gets its archive row and build job in the same transaction.
 */
export async function finalizeIfDone (tx: TxHandle, requestId: string, tasks: TasksRepository, actor: string, boss: Boss): Promise<RequestStatus | null> {
  const counts = await tasks.statusCounts(tx, requestId)
  const n = (s: string) => counts.get(s as never) ?? 0
  const open = n('pending') + n('running') + n('retry_wait') + n('waiting')
  if (open > 0 || counts.size === 0) return null
  const failed = n('failed')
  const done = n('succeeded') + n('skipped')
  const final: RequestStatus = failed === 0 ? 'completed' : done > 0 ? 'partially_completed' : 'failed'
  const moved = await transitionIn(tx, requestId, final, actor,
    failed === 0 ? 'every task finished' : `${failed} task(s) failed`, { succeeded: n('succeeded'), skipped: n('skipped'), failed })
  if (moved.status !== 'moved') return null
  if (final === 'completed' && (moved.row.type === 'access' || moved.row.type === 'portability')) {
    await createPendingArchive(tx, requestId)
    await boss.send(ARCHIVE_QUEUE, { requestId } satisfies ArchiveJob, archiveJobOptions(tx.executor))
  }
  return final
}
