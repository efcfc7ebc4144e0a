import { and, eq, isNull, sql } from 'drizzle-orm'
import type { DbHandle, TxHandle } from '../client.js'
import { taskRuns, tasks } from '../schema.js'

/** A task put back on its queue: what queueing it and recording its event need. */
export interface ResumedTask { id: string, requestId: string, connectorId: string }

/**
 * Tasks parked as `waiting` on a down connector (the circuit breaker, engine/circuit.ts), and
 * their way back to `pending`. Both writes belong in the caller's transaction, with its events.
 */
export function createWaitingTasksRepository (dbh: DbHandle) {
  return {
    /**
     * Parks a running task as waiting, only if `worker` still holds its lease: the attempt claim
     * counted is given back (`attempts` less one), the lease is dropped, `code` and `reason` go to
     * last_error_*, and the worker's open run record is closed with outcome `waiting`. False when
     * the lease was lost: nothing is written.
     */
    async parkTask (taskId: string, worker: string, code: string, reason: string, tx: TxHandle = dbh): Promise<boolean> {
      const rows = await tx.db.update(tasks).set({
        status: 'waiting',
        attempts: sql`greatest(${tasks.attempts} - 1, 0)`,
        leaseOwner: null,
        leaseExpiresAt: null,
        nextAttemptAt: null,
        lastErrorCode: code,
        lastErrorMessage: reason,
        updatedAt: sql`now()`
      }).where(and(eq(tasks.id, taskId), eq(tasks.leaseOwner, worker), eq(tasks.status, 'running'))).returning({ id: tasks.id })
      if (rows.length === 0) return false
      await tx.db.update(taskRuns).set({ endedAt: sql`now()`, outcome: 'waiting' })
        .where(and(eq(taskRuns.taskId, taskId), eq(taskRuns.worker, worker), isNull(taskRuns.endedAt)))
      return true
    },

    /** Every waiting task of the connector becomes pending again (its last error cleared); returns those tasks. */
    async resumeTasks (connectorId: string, tx: TxHandle = dbh): Promise<ResumedTask[]> {
      return tx.db.update(tasks).set({ status: 'pending', lastErrorCode: null, lastErrorMessage: null, updatedAt: sql`now()` })
        .where(and(eq(tasks.connectorId, connectorId), eq(tasks.status, 'waiting'))).returning({ id: tasks.id, requestId: tasks.requestId, connectorId: tasks.connectorId })
    }
  }
}

export type WaitingTasksRepository = ReturnType<typeof createWaitingTasksRepository>
