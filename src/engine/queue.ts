import PgBoss from 'pg-boss'
import type { DbHandle, SqlExecutor } from '../db/client.js'

/** Job names and payloads, in one place. */
export const taskQueue = (connectorId: string) => `dsr_task_${connectorId}`
export interface TaskJob { taskId: string }
/** Direct transfers of archives to other controllers (GDPR Art 20(2)). */
export const TRANSFER_QUEUE = 'dsr_transfer'
export interface TransferJob { transferId: string }
/** Builds the portability archive of a completed access or portability request. */
export const ARCHIVE_QUEUE = 'dsr_archive'
export interface ArchiveJob { requestId: string }

/** pg-boss on the service's own connection (Postgres or the embedded database). */
export function createBoss (dbh: DbHandle, opts: { supervise: boolean, schedule: boolean }) {
  const boss = new PgBoss({
    db: dbh.executor,
    schema: 'pgboss',
    supervise: opts.supervise,
    schedule: opts.schedule,
    migrate: true
  })
  // pg-boss 10's create_queue inserts the queue row, then alters tables: two processes creating one
  // new queue at once (workers starting together) deadlock, and the loser would die at boot. It
  // tries again; the queue then exists and the call does nothing.
  const createQueue = boss.createQueue.bind(boss)
  boss.createQueue = async (name: string, options?: Parameters<PgBoss['createQueue']>[1]) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await createQueue(name, options)
      } catch (err) {
        if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.floor(Math.random() * 100)))
      }
    }
  }
  return boss
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

/** Job options for a transfer attempt: the job outlives the longest attempt; retries are ours. */
export function transferJobOptions (maxDurationMs: number, startAfter?: Date, db?: SqlExecutor): PgBoss.SendOptions {
  return taskJobOptions(maxDurationMs, startAfter, db)
}

/** Job options for an archive build: pg-boss retries it (the job is idempotent); the last failure marks it failed. */
export function archiveJobOptions (db: SqlExecutor): PgBoss.SendOptions {
  return { retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 6 * 3600, db } as PgBoss.SendOptions
}
