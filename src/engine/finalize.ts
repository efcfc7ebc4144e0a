import type { DbHandle, TxHandle } from '../db/client.js'
import type { RequestRow, RequestsRepository } from '../db/repositories/requests-repository.js'
import type { TasksRepository } from '../db/repositories/tasks-repository.js'
import { OPEN_TASK_STATUSES, type TaskStatus } from '../domain/statuses.js'
import type { RequestStatus } from '../domain/lifecycle.js'
import { createAccountsRepository } from '../db/repositories/accounts-repository.js'

/** A request that has just closed: its row as it now stands, how it ended, and who closed it. */
export interface RequestClosed {
  request: RequestRow
  final: Extract<RequestStatus, 'completed' | 'partially_completed' | 'failed'>
  actor: string
}

/**
 * What follows from a request closing, written in the transaction that closes it: the archive
 * queues its build, the backups record tombstones. Wired by whoever starts the engine, so the
 * engine knows none of them.
 */
export type RequestClosedListener = (closed: RequestClosed, tx: TxHandle) => Promise<unknown>

/**
 * Closes requests once every task is terminal: completed only when none failed; with failures,
 * partially_completed if some system did its part, failed otherwise. Each listener is told, in the
 * closing transaction, so what follows a close commits with it or not at all.
 */
export function createFinalizer (deps: {
  dbh: DbHandle
  tasks: TasksRepository
  requests: RequestsRepository
  onClosed: readonly RequestClosedListener[]
}) {
  const { dbh, tasks, requests } = deps
  const accounts = createAccountsRepository(dbh)

  /**
   * Closes the request when none of its tasks is open. The caller holds the request lock, so two
   * tasks finishing at once cannot both miss the last one. Answers the status it closed with, or
   * null when it stays open (or another closed it).
   */
  async function finalizeIfDone (
    requestId: string, actor: string, opts: {
      /** The request's task counts, when the caller has them from this transaction. */
      known?: Map<TaskStatus, number>
      /** The request's row, when the caller locked and read it in this transaction. */
      locked?: RequestRow
    }, tx: TxHandle
  ): Promise<RequestStatus | null> {
    const counts = opts.known ?? await tasks.statusCounts(requestId, tx)
    const n = (s: string) => counts.get(s as never) ?? 0
    const open = OPEN_TASK_STATUSES.reduce((sum, s) => sum + n(s), 0)
    if (open > 0 || counts.size === 0) return null
    // The company's part is done and a managed account's part still waits for its administrator.
    if (await accounts.awaiting(requestId, tx) > 0) {
      const reason = 'the company\'s own part is done; the part of a managed account waits for its administrator\'s instruction'
      if (opts.locked) await requests.transitionFrom(opts.locked, 'awaiting_controller', actor, reason, undefined, tx)
      else await requests.transitionIn(requestId, 'awaiting_controller', actor, reason, undefined, tx)
      return null
    }
    const failed = n('failed')
    const done = n('succeeded') + n('skipped')
    const final: RequestClosed['final'] = failed === 0 ? 'completed' : done > 0 ? 'partially_completed' : 'failed'
    const why = failed === 0 ? 'every task finished' : `${failed} task(s) failed`
    const outcome = { succeeded: n('succeeded'), skipped: n('skipped'), failed }
    const moved = opts.locked
      ? await requests.transitionFrom(opts.locked, final, actor, why, outcome, tx)
      : await requests.transitionIn(requestId, final, actor, why, outcome, tx)
    if (moved.status !== 'moved') return null
    for (const listener of deps.onClosed) await listener({ request: moved.row, final, actor }, tx)
    return final
  }

  /**
   * Closes a request whose tasks may all be finished, in a transaction of its own that takes the
   * request's lock first and only then counts its tasks: for a worker that finished a task outside
   * the lock (TasksRepository.finish) and found none open, and for the reaper's stranded requests.
   * Of several callers at once, one closes it and the others find it closed. The count waits for
   * the lock: sent together, the count could reach the server first and read the tasks as they were
   * before a retry that held the lock, closing the reopened request with its retried task as failed.
   *
   * With `ifFree`, a caller that finds the lock held does not wait for it: it answers `busy`. Two
   * workers that finish a request's last tasks at the same moment both find none open; the second
   * would otherwise hold a connection waiting for the first one's close to commit.
   */
  async function closeIfDone (requestId: string, actor: string, opts: { ifFree?: boolean } = {}): Promise<RequestStatus | 'busy' | null> {
    return dbh.transaction(async (tx) => {
      const locked = await tasks.lockRequest(requestId, { skipLocked: opts.ifFree === true }, tx)
      if (!locked) return opts.ifFree && (await tasks.statusCounts(requestId, tx)).size > 0 ? 'busy' : null
      return finalizeIfDone(requestId, actor, { known: await tasks.statusCounts(requestId, tx), locked }, tx)
    })
  }

  return { finalizeIfDone, closeIfDone }
}

export type Finalizer = ReturnType<typeof createFinalizer>
