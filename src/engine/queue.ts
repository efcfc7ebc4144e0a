import PgBoss from 'pg-boss'
import type { DbHandle, SqlExecutor } from '../db/client.js'

/** Job names and payloads, in one place. */
export const taskQueue = (connectorId: string) => `dsr_task_${connectorId}`
export interface TaskJob { taskId: string }

/** pg-boss on the service's own connection (Postgres or the embedded database). */
export function createBoss (dbh: DbHandle, opts: { supervise: boolean, schedule: boolean }) {
  return new PgBoss({
    db: dbh.executor,
    schema: 'pgboss',
    supervise: opts.supervise,
    schedule: opts.schedule,
    migrate: true
  })
}

export type Boss = PgBoss

/** Job options for a task: pg-boss retries only infrastructure failures; task retries are ours. */
export function taskJobOptions (timeoutMs: number, startAfter?: Date, db?: SqlExecutor): PgBoss.SendOptions {
  return {
    retryLimit: 3,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: Math.ceil(timeoutMs / 1000) + 60,
    ...(startAfter ? { startAfter } : {}),
    ...(db ? { db } : {})
  } as PgBoss.SendOptions
}
